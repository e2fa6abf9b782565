package blake2bx

import (
	"fmt"
	"testing"
)

// BenchmarkSum256Prefixed hashes leaves as the tree does (a 9-byte
// prefix) with every implementation; impl=xcrypto is the same work one
// message at a time through golang.org/x/crypto/blake2b.
func BenchmarkSum256Prefixed(b *testing.B) {
	for _, c := range []struct {
		name string
		size int
		n    int
	}{{"1KiB", 1 << 10, 128}, {"4KiB", 4 << 10, 64}, {"64KiB", 64 << 10, 16}} {
		msgs, prefixes := make([][]byte, c.n), make([][]byte, c.n)
		for i := range msgs {
			msgs[i] = make([]byte, c.size)
			for j := range msgs[i] {
				msgs[i][j] = byte(i + j)
			}
			prefixes[i] = []byte{0, 0, 0, 0, 0, 0, 0, byte(c.size >> 8), byte(c.size)}
		}
		out := make([][32]byte, c.n)
		for _, k := range available() {
			if k == implGeneric4 || k == implGeneric8 {
				continue
			}
			b.Run(fmt.Sprintf("size=%s/n=%d/impl=%s", c.name, c.n, k), func(b *testing.B) {
				saved := active
				defer func() { active = saved }()
				active = k
				b.SetBytes(int64(c.size * c.n))
				b.ReportAllocs()
				for b.Loop() {
					Sum256Prefixed(out, prefixes, msgs)
				}
			})
		}
	}
}
