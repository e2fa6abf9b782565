package xsalsa

import (
	"encoding/binary"

	//lint:ignore SA1019 the fallback and the reference: hypercore-protocol 8 mandates streamed XSalsa20 (spec 4.3)
	"golang.org/x/crypto/salsa20/salsa"
)

// kernel XORs whole groups of lanes consecutive keystream blocks
// (xorGroups; not a func value, which escape analysis cannot see through:
// the tail buffer would go to the heap).
type kernel struct {
	name  string
	lanes int
	// smaller takes over the groups too short for this kernel.
	smaller *kernel
	// tailMin is the shortest rest, under one group, for which one group
	// of keystream into a buffer beats the fallback.
	tailMin int
}

// active is the fastest kernel the CPU runs, or nil for the fallback
// alone. Tests swap it to cover every path on one machine.
var active = fastest()

// maxGroup is the largest group of any kernel, in bytes.
const maxGroup = 16 * 64

// XORKeyStream XORs src with the Salsa20/20 keystream of key and nonce,
// starting at the given 64-bit block counter, into dst. The counter
// advances by one per 64 bytes and wraps at 2^64, as in
// golang.org/x/crypto/salsa20/salsa, whose 16-byte counter input is
// nonce || u64le(counter). For XSalsa20, key is the HSalsa20 subkey and
// nonce the last 8 bytes of the 24-byte nonce.
//
// dst and src must overlap entirely or not at all. Only as many bytes as
// the shorter of the two holds are processed (x/crypto panics instead; we
// never do).
func XORKeyStream(dst, src []byte, nonce *[8]byte, counter uint64, key *[32]byte) {
	if len(dst) < len(src) {
		src = src[:len(dst)]
	}
	if len(src) == 0 {
		return
	}
	dst = dst[:len(src)]
	k := active
	if k == nil || len(src) < smallest(k).tailMin {
		fallback(dst, src, nonce, counter, key)
		return
	}
	st := inputWords(nonce, counter, key)
	for ; ; k = k.smaller {
		if g := len(src) / (64 * k.lanes); g > 0 {
			st[8], st[9] = uint32(counter), uint32(counter>>32)
			xorGroups(k, &dst[0], &src[0], g, &st)
			n := g * 64 * k.lanes
			dst, src = dst[n:], src[n:]
			counter += uint64(g * k.lanes)
		}
		if k.smaller == nil {
			break
		}
	}
	switch {
	case len(src) == 0:
	case len(src) >= k.tailMin:
		// One more group, computed in place in a buffer; the keystream
		// beyond src is thrown away.
		var buf [maxGroup]byte
		st[8], st[9] = uint32(counter), uint32(counter>>32)
		copy(buf[:], src)
		xorGroups(k, &buf[0], &buf[0], 1, &st)
		copy(dst, buf[:len(src)])
	default:
		fallback(dst, src, nonce, counter, key)
	}
}

func smallest(k *kernel) *kernel {
	for k.smaller != nil {
		k = k.smaller
	}
	return k
}

// inputWords is the Salsa20 input block: constants on the diagonal, key,
// nonce, and the block counter low word first (words 8 and 9).
func inputWords(nonce *[8]byte, counter uint64, key *[32]byte) [16]uint32 {
	var st [16]uint32
	st[0], st[5], st[10], st[15] = 0x61707865, 0x3320646e, 0x79622d32, 0x6b206574
	for i := range 4 {
		st[1+i] = binary.LittleEndian.Uint32(key[4*i:])
		st[11+i] = binary.LittleEndian.Uint32(key[16+4*i:])
	}
	st[6] = binary.LittleEndian.Uint32(nonce[0:])
	st[7] = binary.LittleEndian.Uint32(nonce[4:])
	st[8], st[9] = uint32(counter), uint32(counter>>32)
	return st
}

func fallback(dst, src []byte, nonce *[8]byte, counter uint64, key *[32]byte) {
	var in [16]byte
	copy(in[:8], nonce[:])
	binary.LittleEndian.PutUint64(in[8:], counter)
	salsa.XORKeyStream(dst, src, &in, key)
}
