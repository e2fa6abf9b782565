package tree_test

import (
	"math/rand/v2"
	"testing"

	"github.com/hyperfs/hyperfs/tree"
)

// LeafHashes gives Leaf's nodes for batches of equal and of mixed sizes,
// across the 128-leaf batches it hashes in and below the count it hashes
// one at a time, appending to what dst holds.
func TestLeafHashes(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for round := 0; round < 60; round++ {
		n := r.IntN(300)
		if round < 12 {
			n = round % 6 // 0 to 5: both sides of the one-at-a-time count
		}
		size := []int{0, 1, 119, 1024, 4096}[r.IntN(5)]
		blocks := make([][]byte, n)
		for i := range blocks {
			l := size
			if round%2 == 1 {
				l = r.IntN(5000)
			}
			blocks[i] = make([]byte, l)
			for j := range blocks[i] {
				blocks[i][j] = byte(r.Uint32())
			}
		}
		first := r.Uint64N(1 << 40)
		head := tree.Node{Index: 1, Size: 2}
		got := tree.LeafHashes([]tree.Node{head}, first, blocks)
		if len(got) != n+1 || got[0] != head {
			t.Fatalf("round %d: %d nodes after %+v, want %d after it", round, len(got), got[0], n+1)
		}
		for i, b := range blocks {
			if want := tree.Leaf(first+uint64(i), b); got[i+1] != want {
				t.Fatalf("round %d, block %d of %d (%d bytes): %+v, want %+v", round, i, n, len(b), got[i+1], want)
			}
		}
	}
}

func TestLeafHashesNoAllocations(t *testing.T) {
	blocks := make([][]byte, 200)
	for i := range blocks {
		blocks[i] = make([]byte, 1024)
	}
	dst := make([]tree.Node, 0, len(blocks))
	tree.LeafHashes(dst, 0, blocks)
	if a := testing.AllocsPerRun(20, func() { tree.LeafHashes(dst, 5, blocks) }); a != 0 {
		t.Errorf("%v allocations per call, want 0", a)
	}
	// One block, hashed alone with a pooled x/crypto hasher: nothing of
	// its own is allocated. Under the race detector sync.Pool drops a
	// quarter of what it is given, so a new hasher (two allocations) is
	// made about every fourth call: half an allocation per call on
	// average, where a header or digest that escaped would add two.
	want := 0.0
	if raceEnabled {
		want = 1.5
	}
	if a := testing.AllocsPerRun(400, func() { tree.LeafHashes(dst, 5, blocks[:1]) }); a > want {
		t.Errorf("%v allocations per one-block call, want at most %v", a, want)
	}
}

func BenchmarkLeafHashes(b *testing.B) {
	blocks := make([][]byte, 128)
	for i := range blocks {
		blocks[i] = make([]byte, 1024)
	}
	dst := make([]tree.Node, 0, len(blocks))
	b.Run("batch", func(b *testing.B) {
		b.SetBytes(128 * 1024)
		for b.Loop() {
			tree.LeafHashes(dst, 0, blocks)
		}
	})
	b.Run("LeafHasher", func(b *testing.B) {
		lh := tree.NewLeafHasher()
		b.SetBytes(128 * 1024)
		for b.Loop() {
			d := dst
			for i, blk := range blocks {
				d = append(d, lh.Leaf(uint64(i), blk))
			}
		}
	})
	// A one-block append of 100 bytes: the common call through the mount.
	small := [][]byte{make([]byte, 100)}
	b.Run("one-100B", func(b *testing.B) {
		b.SetBytes(100)
		for b.Loop() {
			tree.LeafHashes(dst, 0, small)
		}
	})
}
