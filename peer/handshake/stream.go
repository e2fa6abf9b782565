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
	ahead  [aheadSize]byte
	used   int // bytes of ahead already consumed; aheadSize when none are left
}

// aheadSize is the keystream a call that ends inside a block computes for
// the calls after it: one group of the widest xsalsa kernel (16 blocks)
// costs about what one or two lone blocks cost (x/crypto does them one at
// a time), and then serves the next kilobyte of small frames for free.
const aheadSize = 16 * 64

// zeros is XORed with the keystream to obtain the keystream itself.
var zeros [aheadSize]byte

// NewStream returns the XSalsa20 stream for key and nonce, positioned at
// its first byte.
func NewStream(key [32]byte, nonce [NonceSize]byte) *Stream {
	s := &Stream{used: aheadSize}
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
	// Use up the keystream a previous call computed ahead.
	if s.used < aheadSize && len(src) > 0 {
		n := subtle.XORBytes(dst, src, s.ahead[s.used:])
		s.used += n
		dst, src = dst[n:], src[n:]
	}
	// Whole groups go straight from src to dst. Only whole groups: xsalsa
	// would finish a shorter rest with lone blocks, or with a group whose
	// unused keystream it drops; the ahead buffer below keeps it instead.
	if full := len(src) - len(src)%aheadSize; full > 0 {
		xsalsa.XORKeyStream(dst[:full], src[:full], &s.nonce, s.block, &s.subKey)
		s.block += uint64(full / 64)
		dst, src = dst[full:], src[full:]
	}
	// Compute the next group for the rest and keep what it leaves.
	if len(src) > 0 {
		xsalsa.XORKeyStream(s.ahead[:], zeros[:], &s.nonce, s.block, &s.subKey)
		s.block += aheadSize / 64
		s.used = subtle.XORBytes(dst, src, s.ahead[:])
	}
}
