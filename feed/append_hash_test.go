package feed

import (
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/hyperfs/hyperfs/tree"
)

// growSerial is the merkle generator as Append ran it before batches were
// hashed in chunks: every node hashed in order, one at a time.
func growSerial(roots []tree.Node, first uint64, blocks [][]byte) (nodes, newRoots []tree.Node) {
	for i, b := range blocks {
		l := tree.Leaf(first+uint64(i), b)
		nodes = append(nodes, l)
		roots = append(roots, l)
		for len(roots) > 1 {
			a, b := roots[len(roots)-2], roots[len(roots)-1]
			if tree.Sibling(b.Index) != a.Index {
				break
			}
			p := tree.ParentOf(a, b)
			nodes = append(nodes, p)
			roots = append(roots[:len(roots)-2], p)
		}
	}
	return nodes, roots
}

// hashBatch then grow give exactly the nodes, in the order, and the roots
// of the serial generator, for batches of every shape: any start (so
// chunks and old roots fall anywhere), sizes below and above shareBytes,
// empty and uneven blocks. The beside tasks each run once.
func TestHashBatchMatchesSerial(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 9))
	data := make([]byte, 8<<10)
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	for _, tc := range []struct{ first, count, maxSize int }{
		{0, 1, 10}, {0, 2, 0}, {1, 3, 10}, {5, 128, 1 << 10}, {128, 128, 1 << 10},
		{127, 128, 1 << 10}, {3, 300, 400}, {1000, 64, 8 << 10}, {7, 1000, 100},
		{0, 2500, 90}, {4096 - 3, 40, 4 << 10},
	} {
		// The feed before the batch: the serial generator's roots.
		var blocks0 [][]byte
		for range tc.first {
			blocks0 = append(blocks0, data[:r.IntN(50)])
		}
		_, roots := growSerial(nil, 0, blocks0)
		blocks := make([][]byte, tc.count)
		total := 0
		for i := range blocks {
			n := r.IntN(tc.maxSize + 1)
			blocks[i] = data[:n]
			total += n
		}
		wantNodes, wantRoots := growSerial(slices.Clone(roots), uint64(tc.first), blocks)
		var ran [2]atomic.Int32
		span := hashBatch(nil, uint64(tc.first), blocks, total,
			func() { ran[0].Add(1) }, func() { ran[1].Add(1) })
		nodes, gotRoots := grow(nil, slices.Clone(roots), uint64(tc.first), span)
		if !slices.Equal(nodes, wantNodes) || !slices.Equal(gotRoots, wantRoots) {
			t.Errorf("first %d, %d blocks, %d bytes: nodes or roots differ from the serial generator", tc.first, tc.count, total)
		}
		if ran[0].Load() != 1 || ran[1].Load() != 1 {
			t.Errorf("first %d, %d blocks: beside tasks ran %d and %d times", tc.first, tc.count, ran[0].Load(), ran[1].Load())
		}
	}
}

// Chunks are powers of two, near chunkBytes, at least one block, and
// several per worker.
func TestChunkSize(t *testing.T) {
	for _, tc := range []struct{ n, total, workers, want uint64 }{
		{128, 128 << 10, 2, 8},
		{128, 128 * 64 << 10, 2, 8},
		{16, 16 * 64 << 10, 2, 2},
		{2500, 2500 * 100, 2, 64},
		{10, 0, 2, 1},
		{1 << 20, 1 << 20, 16, 8192},
	} {
		if got := chunkSize(tc.n, tc.total, tc.workers); got != tc.want {
			t.Errorf("chunkSize(%d, %d, %d) = %d, want %d", tc.n, tc.total, tc.workers, got, tc.want)
		}
	}
}

// Jobs offered at once from several goroutines (Appends on different
// feeds) each run every task exactly once, whoever takes them.
func TestShareConcurrentJobs(t *testing.T) {
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for range 200 {
				n := uint64(1 + g*7)
				counts := make([]atomic.Int32, n)
				share(n, func(k uint64) { counts[k].Add(1) })
				for k := range counts {
					if c := counts[k].Load(); c != 1 {
						t.Errorf("task %d of %d ran %d times", k, n, c)
						return
					}
				}
			}
		})
	}
	wg.Wait()
}
