package blake2bx

import (
	"encoding/binary"
	"math/bits"

	"github.com/hyperfs/hyperfs/tree/blake2bx/internal/rfc7693"
)

// compressGeneric is the lane layout in plain Go, one lane after another.
// It is slower than x/crypto and never chosen for speed: it lets the
// batching be tested on every architecture and in purego builds, and it is
// the reference the assembly is checked against.
func compressGeneric(h *state, steps []step, width int) {
	for i := range steps {
		s := &steps[i]
		for j := 0; j < width; j++ {
			var m [16]uint64
			for w := range m {
				m[w] = binary.LittleEndian.Uint64(s.blk[j][8*w:])
			}
			var v [16]uint64
			for w := 0; w < 8; w++ {
				v[w], v[w+8] = h[w][j], rfc7693.IV[w]
			}
			v[12] ^= s.t[j]
			v[14] ^= s.f[j]
			for r := 0; r < 12; r++ {
				x := &rfc7693.Sigma[r%10]
				mix(&v, 0, 4, 8, 12, m[x[0]], m[x[1]])
				mix(&v, 1, 5, 9, 13, m[x[2]], m[x[3]])
				mix(&v, 2, 6, 10, 14, m[x[4]], m[x[5]])
				mix(&v, 3, 7, 11, 15, m[x[6]], m[x[7]])
				mix(&v, 0, 5, 10, 15, m[x[8]], m[x[9]])
				mix(&v, 1, 6, 11, 12, m[x[10]], m[x[11]])
				mix(&v, 2, 7, 8, 13, m[x[12]], m[x[13]])
				mix(&v, 3, 4, 9, 14, m[x[14]], m[x[15]])
			}
			for w := 0; w < 8; w++ {
				h[w][j] ^= v[w] ^ v[w+8]
			}
		}
	}
}

// mix is the G function (RFC 7693, 3.1).
func mix(v *[16]uint64, a, b, c, d int, x, y uint64) {
	v[a] += v[b] + x
	v[d] = bits.RotateLeft64(v[d]^v[a], -32)
	v[c] += v[d]
	v[b] = bits.RotateLeft64(v[b]^v[c], -24)
	v[a] += v[b] + y
	v[d] = bits.RotateLeft64(v[d]^v[a], -16)
	v[c] += v[d]
	v[b] = bits.RotateLeft64(v[b]^v[c], -63)
}
