package handshake

import (
	"crypto/subtle"

	"github.com/hyperfs/hyperfs/peer/handshake/xsalsa"
	// The package is deprecated for new designs, but the wire format is
	// fixed; it gives the HSalsa20 subkey of XSalsa20.
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
	nonce  [8]byte  // nonce[16:24], the Salsa20 nonce
	block  uint64   // number of the next keystream block to generate
	tail   [64]byte
	used   int // bytes of tail already consumed; 64 when none are left
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
	copy(s.nonce[:], nonce[16:])
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
	// Whole blocks go straight from src to dst.
	if full := len(src) &^ 63; full > 0 {
		xsalsa.XORKeyStream(dst[:full], src[:full], &s.nonce, s.block, &s.subKey)
		s.block += uint64(full / 64)
		dst, src = dst[full:], src[full:]
	}
	// Start a new block for the rest and keep its unused tail.
	if len(src) > 0 {
		xsalsa.XORKeyStream(s.tail[:], zeros[:], &s.nonce, s.block, &s.subKey)
		s.block++
		s.used = subtle.XORBytes(dst, src, s.tail[:])
	}
}
