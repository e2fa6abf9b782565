package blake2bx

import (
	"math/rand/v2"
	"testing"

	"golang.org/x/crypto/blake2b"
)

// forEachImpl runs f with every implementation this CPU and build offer
// made the active one, so the assembly, the plain Go lanes (the batching
// on any architecture) and the x/crypto fallback are all held to the same
// tests.
func forEachImpl(t *testing.T, f func(t *testing.T)) {
	saved := active
	defer func() { active = saved }()
	for _, k := range available() {
		active = k
		t.Run(k.String(), f)
	}
}

func reference(prefix, msg []byte) [32]byte {
	return blake2b.Sum256(append(append([]byte(nil), prefix...), msg...))
}

// check hashes msgs with prefixes in one call and compares each digest
// with x/crypto over the concatenation.
func check(t *testing.T, prefixes, msgs [][]byte) {
	t.Helper()
	out := make([][32]byte, len(msgs)+1)
	sentinel := [32]byte{1, 2, 3}
	out[len(msgs)] = sentinel
	Sum256Prefixed(out, prefixes, msgs)
	for i := range msgs {
		if want := reference(prefixOf(prefixes, i), msgs[i]); out[i] != want {
			t.Fatalf("message %d of %d (prefix %d, %d bytes): %x, want %x",
				i, len(msgs), len(prefixOf(prefixes, i)), len(msgs[i]), out[i], want)
		}
	}
	if out[len(msgs)] != sentinel {
		t.Fatalf("digest written past the %d messages", len(msgs))
	}
}

func randBytes(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

var lengths = []int{0, 1, 55, 56, 63, 64, 100, 111, 112, 119, 127, 128, 129,
	255, 256, 1023, 1024, 1033, 4096, 65536}

// Equal lengths, every count of messages from 1 to 17 (full batches, tails
// and the one-at-a-time path), with prefixes of several lengths.
func TestEqualLengths(t *testing.T) {
	forEachImpl(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(1, 2))
		for _, n := range lengths {
			for _, pre := range []int{0, 1, 9, 64, 127, MaxPrefix} {
				for count := 1; count <= 17; count++ {
					if n >= 4096 && count%4 != 1 {
						continue // long messages: fewer counts keep the test fast
					}
					msgs := make([][]byte, count)
					prefixes := make([][]byte, count)
					for i := range msgs {
						msgs[i] = randBytes(r, n)
						prefixes[i] = randBytes(r, pre)
					}
					check(t, prefixes, msgs)
				}
			}
		}
	})
}

// Mixed lengths in one call: lanes finish at different steps, and the
// sort puts neighbours of unequal length into one batch.
func TestMixedLengths(t *testing.T) {
	forEachImpl(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(3, 4))
		for round := 0; round < 200; round++ {
			count := 1 + r.IntN(40)
			if round%50 == 0 {
				count = 300 // more than one sorted chunk
			}
			msgs := make([][]byte, count)
			var prefixes [][]byte
			if round%3 != 0 {
				prefixes = make([][]byte, count)
			}
			for i := range msgs {
				n := lengths[r.IntN(len(lengths)-1)] // leave out 64 KiB
				if r.IntN(2) == 0 {
					n = r.IntN(3000)
				}
				msgs[i] = randBytes(r, n)
				if prefixes != nil {
					prefixes[i] = randBytes(r, r.IntN(MaxPrefix+40))
				}
			}
			check(t, prefixes, msgs)
		}
	})
}

// A message that is a view into a larger buffer must not be read past its
// end: the last block is staged, not read in place.
func TestNoReadPastEnd(t *testing.T) {
	forEachImpl(t, func(t *testing.T) {
		buf := make([]byte, 4096)
		for i := range buf {
			buf[i] = 0xff
		}
		msgs := make([][]byte, 8)
		for i := range msgs {
			msgs[i] = buf[512*i : 512*i+300]
		}
		check(t, nil, msgs)
	})
}

func TestNoAllocations(t *testing.T) {
	forEachImpl(t, func(t *testing.T) {
		if raceEnabled && active == implNone {
			// .ci/test runs tree/... again without -race, where it counts.
			t.Skip("sync.Pool drops hashers under the race detector")
		}
		msgs, prefixes := make([][]byte, 64), make([][]byte, 64)
		for i := range msgs {
			msgs[i] = make([]byte, 1024+i%3)
			prefixes[i] = make([]byte, 9)
		}
		out := make([][32]byte, len(msgs))
		Sum256Prefixed(out, prefixes, msgs) // fill the x/crypto pool
		if a := testing.AllocsPerRun(20, func() { Sum256Prefixed(out, prefixes, msgs) }); a != 0 {
			t.Errorf("%v allocations per call, want 0", a)
		}
	})
}

func TestConcurrent(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	msgs := make([][]byte, 33)
	for i := range msgs {
		msgs[i] = randBytes(r, 1000+i)
	}
	done := make(chan struct{})
	for g := 0; g < 4; g++ {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := 0; i < 50; i++ {
				check(t, nil, msgs)
			}
		}()
	}
	for g := 0; g < 4; g++ {
		<-done
	}
}

func FuzzSum256Prefixed(f *testing.F) {
	f.Add([]byte("abc"), uint8(9), uint16(1024), uint8(5))
	f.Add([]byte{}, uint8(0), uint16(0), uint8(4))
	f.Add([]byte{0xff, 7}, uint8(128), uint16(119), uint8(9))
	f.Add([]byte{1, 2, 3, 4, 5}, uint8(200), uint16(300), uint8(17))
	f.Fuzz(func(t *testing.T, seed []byte, pre uint8, size uint16, count uint8) {
		// The seed sets each message's length and bytes, so one input
		// spans equal and mixed lengths.
		r := rand.New(rand.NewPCG(uint64(len(seed)), uint64(pre)<<16|uint64(size)))
		for _, b := range seed {
			r = rand.New(rand.NewPCG(r.Uint64(), uint64(b)))
		}
		n := 1 + int(count)%24
		msgs, prefixes := make([][]byte, n), make([][]byte, n)
		for i := range msgs {
			l := int(size) % 5000
			if len(seed) > 0 && seed[i%len(seed)]&1 == 1 {
				l = r.IntN(l + 1)
			}
			msgs[i] = randBytes(r, l)
			prefixes[i] = randBytes(r, int(pre)%(MaxPrefix+20))
		}
		saved := active
		defer func() { active = saved }()
		for _, k := range available() {
			active = k
			check(t, prefixes, msgs)
		}
	})
}

func TestBestIsAvailable(t *testing.T) {
	for _, k := range available() {
		if k == best() {
			return
		}
	}
	t.Errorf("best() = %v, not among %v", best(), available())
}
