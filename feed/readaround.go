package feed

import (
	"sync"

	"github.com/hyperfs/hyperfs/tree"
)

// A random reader's first read of a block pays its hash (BLAKE2b of 4 KiB:
// ~4.3 us on one core here), a read of its leaf and one of its bytes.
// Instead, a first read out of order verifies the aligned group of
// aroundBlocks blocks holding it, as the kernel reads around a page fault:
// one read of the group's leaves, one of its bytes, and their hashes
// together (tree.LeafHashes hashes eight blocks in about 2.3 times the
// time of one). Later reads in the group only copy bytes.
//
// The price is paid by a reader with no locality at all, which comes back
// to no group: BenchmarkGet/sparse (one block of each group of 4 KiB
// blocks, each read once) costs ~16 us per first read instead of ~8. Any
// return to a group pays it back: uniform random reads of as many blocks
// as the feed holds (BenchmarkGet/random) went from ~6 to ~4.5 us per
// read. Groups past aroundBytes are not read around, so the worst case
// stays bounded at about twice a single first read; blocks of 8 KiB and
// more (the CLI appends 64 KiB blocks by default) are read alone.
const (
	aroundBlocks = 8        // blocks per group: a power of two
	aroundBytes  = 64 << 10 // the most a group reads
)

// verifyAround verifies the group of block i as above, marks the blocks
// that match their leaves, and returns block i's bytes. ok is false when
// nothing was done (some block of the group not stored or not located, a
// group too large, a failed read) and the caller should read i alone,
// which also reports what is wrong.
func (f *Feed) verifyAround(i uint64) (block []byte, ok bool, err error) {
	g := i &^ (aroundBlocks - 1)
	f.mu.RLock()
	n := min(aroundBlocks, f.mu.length-g)
	stored := n > 1
	for j := g; j < g+n && stored; j++ {
		stored = f.mu.bits.HasBlock(j)
	}
	f.mu.RUnlock()
	if !stored {
		return nil, false, nil
	}
	start, _, ok1 := f.spanOf(g)
	_, end, ok2 := f.spanOf(g + n - 1)
	if !ok1 || !ok2 || end < start || end-start > aroundBytes {
		return nil, false, nil
	}
	var nodes [(2*aroundBlocks - 1) * nodeSize]byte
	// The group's bytes only pass through: a pooled buffer, since a fresh
	// one (zeroed, then collected) cost as much as hashing the group.
	buf := aroundBufs.Get().(*[]byte)
	defer aroundBufs.Put(buf)
	data := (*buf)[:end-start]
	if _, err := readFull(f.treeF, nodes[:(2*n-1)*nodeSize], nodeOffset(2*g)); err != nil {
		return nil, false, nil
	}
	if _, err := readFull(f.data, data, int64(start)); err != nil {
		return nil, false, nil
	}
	var (
		leaves [aroundBlocks]tree.Node
		blocks [aroundBlocks][]byte
		sums   [aroundBlocks]tree.Node
		good   [aroundBlocks]bool
	)
	if cut, used := cutByLeaves(g, nodes[:(2*n-1)*nodeSize], data, leaves[:n], blocks[:n]); cut != n || used != uint64(len(data)) {
		return nil, false, nil // the leaves disagree with the offsets
	}
	got := tree.LeafHashes(sums[:0], g, blocks[:n])
	for k := range n {
		good[k] = got[k].Hash == leaves[k].Hash
	}
	f.markVerified(g, good[:n])
	if !good[i-g] {
		return nil, true, f.failedHash(i)
	}
	// A copy: the caller keeps it, and should not keep the whole group.
	return append([]byte(nil), blocks[i-g]...), true, nil
}

// aroundBufs holds buffers of aroundBytes for verifyAround.
var aroundBufs = sync.Pool{New: func() any { b := make([]byte, aroundBytes); return &b }}

// spanOf returns block i's byte range if memory or the index knows it,
// without reading the tree (BlockRange goes on to do that).
func (f *Feed) spanOf(i uint64) (start, end uint64, ok bool) {
	f.mu.RLock()
	if i < uint64(len(f.mu.ends)) {
		start, end = f.offsetLocked(i), f.mu.ends[i]
		f.mu.RUnlock()
		return start, end, true
	}
	f.mu.RUnlock()
	return f.locate(i)
}
