package xsalsa

import (
	"bytes"
	"encoding/binary"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	//lint:ignore SA1019 the reference implementation
	"golang.org/x/crypto/salsa20/salsa"
)

// paths is every implementation this machine runs: the kernels and the
// fallback (nil).
func paths() []*kernel { return append(available(), nil) }

func pathName(k *kernel) string {
	if k == nil {
		return "fallback"
	}
	return k.name
}

// forEachPath runs f with each path active in turn.
func forEachPath(t *testing.T, f func(t *testing.T)) {
	for _, k := range paths() {
		t.Run(pathName(k), func(t *testing.T) {
			saved := active
			active = k
			defer func() { active = saved }()
			f(t)
		})
	}
}

func reference(src []byte, nonce *[8]byte, counter uint64, key *[32]byte) []byte {
	var in [16]byte
	copy(in[:8], nonce[:])
	binary.LittleEndian.PutUint64(in[8:], counter)
	out := make([]byte, len(src))
	salsa.XORKeyStream(out, src, &in, key)
	return out
}

func randomInputs(rng *mrand.Rand, n int) (src []byte, nonce [8]byte, key [32]byte) {
	src = make([]byte, n)
	for i := range src {
		src[i] = byte(rng.Uint32())
	}
	for i := range nonce {
		nonce[i] = byte(rng.Uint32())
	}
	for i := range key {
		key[i] = byte(rng.Uint32())
	}
	return src, nonce, key
}

func testLengths() []int {
	var ls []int
	for n := 0; n <= 1100; n++ {
		ls = append(ls, n)
	}
	return append(ls, 2047, 2048, 2049, 4095, 4096, 65536, 65537, 1<<20+13)
}

// Counters near the carry of the low word into the high one (word 8 into
// 9), and near the wrap of the whole 64-bit counter.
var testCounters = []uint64{0, 1, 1<<32 - 1, 1<<32 - 5, 1<<32 - 16, 1<<32 - 17, 1 << 32, 3<<32 - 9, 1<<64 - 3, 1<<64 - 1}

func TestDifferential(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		rng := mrand.New(mrand.NewPCG(7, 8))
		for _, n := range testLengths() {
			counters := testCounters
			if n > 4096 {
				counters = counters[:4]
			}
			for _, c := range counters {
				src, nonce, key := randomInputs(rng, n)
				want := reference(src, &nonce, c, &key)
				got := make([]byte, n)
				XORKeyStream(got, src, &nonce, c, &key)
				if !bytes.Equal(got, want) {
					t.Fatalf("len %d counter %#x: first difference at byte %d", n, c, firstDiff(got, want))
				}
				XORKeyStream(src, src, &nonce, c, &key)
				if !bytes.Equal(src, want) {
					t.Fatalf("len %d counter %#x in place: first difference at byte %d", n, c, firstDiff(src, want))
				}
			}
		}
	})
}

// Slices at every offset within a cache line, dst and src apart.
func TestMisaligned(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		rng := mrand.New(mrand.NewPCG(9, 10))
		for _, n := range []int{1000, 1024, 4096 + 77} {
			backing, nonce, key := randomInputs(rng, 2*n+128)
			for so := range 64 {
				do := (so*7 + 3) % 64
				src := backing[so : so+n]
				want := reference(src, &nonce, 1<<32-3, &key)
				dstBacking := make([]byte, n+64)
				dst := dstBacking[do : do+n]
				XORKeyStream(dst, src, &nonce, 1<<32-3, &key)
				if !bytes.Equal(dst, want) {
					t.Fatalf("len %d src+%d dst+%d: first difference at byte %d", n, so, do, firstDiff(dst, want))
				}
				// Bytes around dst are untouched.
				for i, b := range dstBacking[:do] {
					if b != 0 {
						t.Fatalf("byte %d before dst written", i)
					}
				}
				for i, b := range dstBacking[do+n:] {
					if b != 0 {
						t.Fatalf("byte %d after dst written", i)
					}
				}
			}
		}
	})
}

// A dst shorter than src gets the keystream XOR of src's first len(dst)
// bytes, and nothing is read or written past it.
func TestShortDst(t *testing.T) {
	forEachPath(t, testShortDst)
}

func testShortDst(t *testing.T) {
	key, nonce := new([32]byte), new([8]byte)
	key[0], nonce[0] = 7, 9
	for _, n := range []int{0, 10, 1000, 5000} {
		src := make([]byte, n+100)
		for i := range src {
			src[i] = byte(i)
		}
		want := reference(src[:n], nonce, 0, key)
		dst := make([]byte, n)
		XORKeyStream(dst, src, nonce, 0, key)
		if !bytes.Equal(dst, want) {
			t.Errorf("dst of %d bytes: differs from x/crypto on src[:%d]", n, n)
		}
	}
}

// The hook must not test one path twice (the fallback for a kernel the
// CPU lacks, say), and the default is the first kernel the CPU runs.
func TestDispatch(t *testing.T) {
	var names []string
	for _, k := range paths() {
		name := pathName(k)
		if slices.Contains(names, name) {
			t.Errorf("path %s twice", name)
		}
		names = append(names, name)
	}
	if pathName(active) != names[0] {
		t.Errorf("active path %s, want %s", pathName(active), names[0])
	}
	t.Logf("paths: %v", names)
}

// xsalsa_amd64.s is what internal/asmgen writes.
func TestGeneratedAssembly(t *testing.T) {
	fresh := filepath.Join(t.TempDir(), "out.s")
	if b, err := exec.Command("go", "run", "./internal/asmgen", "-o", fresh).CombinedOutput(); err != nil {
		t.Fatalf("go run ./internal/asmgen: %v\n%s", err, b)
	}
	want, err := os.ReadFile(fresh)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("xsalsa_amd64.s")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Error("xsalsa_amd64.s is stale: run go generate")
	}
}

func firstDiff(a, b []byte) int {
	for i := range a {
		if a[i] != b[i] {
			return i
		}
	}
	return -1
}

// A kernel asked for no groups writes nothing (and returns).
func TestZeroGroups(t *testing.T) {
	var st [16]uint32
	dst := []byte{7}
	for _, k := range available() {
		xorGroups(k, &dst[0], &dst[0], 0, &st)
		if dst[0] != 7 {
			t.Errorf("%s wrote with zero groups", k.name)
		}
	}
}
