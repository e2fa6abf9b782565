package xsalsa

import (
	"bytes"
	"testing"
)

// FuzzXORKeyStream checks every path against x/crypto for arbitrary
// lengths, counters (the interesting ones are near 2^32 and 2^64, where
// lanes of one group carry differently), keys, nonces and split points: a
// stream continues where one call stopped.
func FuzzXORKeyStream(f *testing.F) {
	f.Add([]byte("abc"), uint64(0), uint16(0), byte(1))
	f.Add(make([]byte, 1500), uint64(1<<32-7), uint16(700), byte(2))
	f.Add(make([]byte, 3000), uint64(1<<64-20), uint16(1030), byte(3))
	f.Add(make([]byte, 1024+512+191), uint64(1<<32-16), uint16(1024), byte(4))
	f.Fuzz(func(t *testing.T, src []byte, counter uint64, split uint16, seed byte) {
		var nonce [8]byte
		var key [32]byte
		for i := range nonce {
			nonce[i] = seed ^ byte(i*29)
		}
		for i := range key {
			key[i] = seed + byte(i*7)
		}
		want := reference(src, &nonce, counter, &key)
		cut := int(split) % (len(src) + 1) &^ 63
		for _, k := range paths() {
			saved := active
			active = k
			got := make([]byte, len(src))
			XORKeyStream(got[:cut], src[:cut], &nonce, counter, &key)
			XORKeyStream(got[cut:], src[cut:], &nonce, counter+uint64(cut/64), &key)
			active = saved
			if !bytes.Equal(got, want) {
				t.Fatalf("%s: len %d counter %#x cut %d: first difference at byte %d",
					pathName(k), len(src), counter, cut, firstDiff(got, want))
			}
		}
	})
}
