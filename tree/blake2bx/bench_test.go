package blake2bx

import (
	"fmt"
	"runtime"
	"testing"
)

// BenchmarkSum256Prefixed hashes leaves as the tree does (a 9-byte
// prefix) with every implementation; impl=xcrypto is the same work one
// message at a time through golang.org/x/crypto/blake2b. Besides the
// wall-clock MB/s it reports cpu-MB/s, the bytes per second of the
// benchmark thread's own CPU time (Linux), which other jobs on a shared
// machine do not inflate.
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
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
				t0 := threadCPU()
				for b.Loop() {
					Sum256Prefixed(out, prefixes, msgs)
				}
				if cpu := threadCPU() - t0; cpu > 0 {
					b.ReportMetric(float64(c.size*c.n)*float64(b.N)/cpu.Seconds()/1e6, "cpu-MB/s")
				}
			})
		}
	}
}
