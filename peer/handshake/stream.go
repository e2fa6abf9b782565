package handshake

import (
	"crypto/subtle"
	"encoding/binary"

	// The package is deprecated for new designs, but the wire format is
	// fixed, and only it exposes the block counter a continuous stream
	// needs (golang.org/x/crypto/salsa20 restarts at block 0 per call).
	//lint:ignore SA1019 hypercore-protocol 8 mandates streamed XSalsa20 (spec 4.3)
	"golang.org/x/crypto/salsa20/salsa"
)

// Stream is one direction of the transport: a continuous XSalsa20
// keystream XORed over every byte, however the bytes are cut into calls
// (spec 4.3). salsa20.XORKeyStream cannot do this: it restarts the
// keystream at every call.
//
// A Stream is not safe for concurrent use.
type Stream struct {
	subKey [32]byte // HSalsa20(key, nonce[0:16])
	// counter is the Salsa20 input: nonce[16:24] || u64le(next block).
	counter [16]byte
	block   uint64 // number of the next keystream block to generate
	tail    [64]byte
	used    int // bytes of tail already consumed; 64 when none are left
}

// zeros is XORed with the keystream to obtain the keystream itself.
var zeros [64]byte

// NewStream returns the XSalsa20 stream for key and nonce, positioned at
// its first byte.
func NewStream(key [32]byte, nonce [NonceSize]byte) *Stream {
	s := &Stream{used: len(zeros)}
	var hNonce [16]byte
	copy(hNonce[:], nonce[:16])
	salsa.HSalsa20(&s.subKey, &hNonce, &key, &salsa.Sigma)
	copy(s.counter[:8], nonce[16:])
	return s
}

// XORKeyStream XORs src with the next len(src) bytes of the keystream
// into dst. dst must be at least as long as src, and the two must overlap
// entirely or not at all.
func (s *Stream) XORKeyStream(dst, src []byte) {
	dst = dst[:len(src)]
	// Finish the block a previous call started.
	if s.used < len(s.tail) && len(src) > 0 {
		n := subtle.XORBytes(dst, src, s.tail[s.used:])
		s.used += n
		dst, src = dst[n:], src[n:]
	}
	// Whole blocks go straight from src to dst; salsa advances the block
	// counter inside the call.
	if full := len(src) &^ 63; full > 0 {
		binary.LittleEndian.PutUint64(s.counter[8:], s.block)
		salsa.XORKeyStream(dst[:full], src[:full], &s.counter, &s.subKey)
		s.block += uint64(full / 64)
		dst, src = dst[full:], src[full:]
	}
	// Start a new block for the rest and keep its unused tail.
	if len(src) > 0 {
		binary.LittleEndian.PutUint64(s.counter[8:], s.block)
		salsa.XORKeyStream(s.tail[:], zeros[:], &s.counter, &s.subKey)
		s.block++
		s.used = subtle.XORBytes(dst, src, s.tail[:])
	}
}
