package xsalsa

import (
	"fmt"
	"testing"
)

// BenchmarkXORKeyStream compares each path with x/crypto (the fallback)
// per call size, in place.
func BenchmarkXORKeyStream(b *testing.B) {
	for _, size := range []int{64, 128, 192, 512, 1 << 10, 1500, 64 << 10} {
		for _, k := range paths() {
			name := pathName(k)
			if k == nil {
				name = "xcrypto"
			}
			b.Run(fmt.Sprintf("size=%s/impl=%s", sizeName(size), name), func(b *testing.B) {
				saved := active
				active = k
				defer func() { active = saved }()
				buf := make([]byte, size)
				var nonce [8]byte
				var key [32]byte
				b.SetBytes(int64(size))
				var counter uint64
				for b.Loop() {
					XORKeyStream(buf, buf, &nonce, counter, &key)
					counter += uint64(size / 64)
				}
			})
		}
	}
}

func sizeName(n int) string {
	switch {
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%dKiB", n>>10)
	default:
		return fmt.Sprintf("%dB", n)
	}
}
