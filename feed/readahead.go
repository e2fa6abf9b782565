package feed

import (
	"sync/atomic"

	"github.com/hyperfs/hyperfs/tree"
)

// Sequential readers (cat, a mount streaming data, a full download being
// served) would pay a hash, a tree read and a data read per block on the
// first pass. When Get sees reads in order it instead verifies a window of
// the following blocks at once: one read of their leaves, one read of
// their bytes, hashing spread over the cores. The later Gets of the window
// then only copy bytes. Random readers never trigger it.
//
// Windows are pipelined: when a window is installed, the next one is read
// and its hashing offered to the append helpers (append_share.go), which
// hash it while the reader copies blocks out of the current one. Reaching
// the next window, the reader finishes what no helper took, marks the
// blocks whose hashes match, and installs it. A goroutine started per
// window would not do: on the machines we measure, one first runs only
// once its starter waits, which left the hashing on one core.
//
// Memory: a feed read in order holds two windows (the one read from and
// the next), at most 2*aheadBytes, and a window is dropped once its last
// block is served. All feeds of the process together hold at most
// aheadBudget; a window that does not fit is not read, and its blocks go
// the single-block way. Windows of 512 blocks hashed 4 KiB first reads at
// ~230k/s against ~160k/s with 64 (BenchmarkGet/seq, 2 cores).
const (
	aheadBlocks = 512      // blocks verified per window
	aheadBytes  = 2 << 20  // and at most this many bytes
	aheadTask   = 8        // blocks hashed per shared task
	aheadBudget = 64 << 20 // bytes of windows held by all feeds
)

// aheadHeld is the bytes of windows held by all feeds (aheadBudget).
var aheadHeld atomic.Int64

// window is a run of stored blocks read at once, with their leaves and,
// once its job is finished, which of them match their leaves.
type window struct {
	first  uint64
	blocks [][]byte
	leaves []tree.Node
	good   []bool
	job    *job  // hashes the blocks into good
	size   int64 // bytes counted in aheadHeld
}

// drop gives the window's bytes back to aheadBudget; a nil window is
// nothing to drop.
func (w *window) drop() {
	if w != nil {
		w.job.cancel() // hashing not done yet is not wanted
		aheadHeld.Add(-w.size)
	}
}

// verifyAhead verifies the window of stored, unverified, located blocks
// from i on (the pending one, if it starts at i), marks those that match
// their leaves, keeps the window for the Gets that follow and starts the
// next one. It returns block i's bytes when block i was among them; ok is
// false when nothing was done and the caller should read i alone.
func (f *Feed) verifyAhead(i uint64) (block []byte, ok bool, err error) {
	f.ahead.Lock()
	w := f.ahead.next
	f.ahead.next = nil
	f.ahead.Unlock()
	if w != nil && w.first != i {
		w.drop() // not the reader's next block
		w = nil
	}
	if w == nil {
		if w = f.readWindow(i); w == nil {
			return nil, false, nil
		}
	}
	w.job.finish()
	f.markVerified(i, w.good)
	if !w.good[0] {
		w.drop()
		return nil, true, f.failedHash(i)
	}
	next := f.readWindow(i + uint64(len(w.blocks)))
	f.ahead.Lock()
	old, stale := f.ahead.cur, f.ahead.next
	f.ahead.cur, f.ahead.next = w, next
	f.ahead.Unlock()
	old.drop()
	stale.drop() // another reader's, raced in meanwhile
	return append([]byte(nil), w.blocks[0]...), true, nil
}

// readWindow reads the stored, unverified, located blocks from i on, up to
// a window, with their leaves, and offers their hashing to the helpers.
// It returns nil for fewer than two such blocks or a failed read (the
// single-block path then reports what is wrong).
func (f *Feed) readWindow(i uint64) *window {
	start, end, n, nodes := f.windowExtent(i)
	if n < 2 || end-start > MaxBlockSize {
		return nil
	}
	size := int64(end-start) + int64(n)*(nodeSize+64) // data, nodes, slices
	if aheadHeld.Add(size) > aheadBudget {
		aheadHeld.Add(-size)
		return nil
	}
	w := &window{first: i, size: size}
	data := make([]byte, end-start)
	if _, err := readFull(f.data, data, int64(start)); err != nil {
		aheadHeld.Add(-size)
		return nil
	}
	if nodes == nil {
		nodes = make([]byte, (2*n-1)*nodeSize)
		if _, err := readFull(f.treeF, nodes, nodeOffset(2*i)); err != nil {
			aheadHeld.Add(-size)
			return nil
		}
	}
	w.blocks, w.leaves = make([][]byte, n), make([]tree.Node, n)
	n, _ = cutByLeaves(i, nodes, data, w.leaves, w.blocks)
	if n == 0 {
		aheadHeld.Add(-size)
		return nil
	}
	w.blocks, w.leaves, w.good = w.blocks[:n], w.leaves[:n], make([]bool, n)
	w.job = offer((n+aheadTask-1)/aheadTask, func(t uint64) {
		lo, hi := t*aheadTask, min(n, (t+1)*aheadTask)
		var sums [aheadTask]tree.Node
		got := tree.LeafHashes(sums[:0], i+lo, w.blocks[lo:hi])
		for k := lo; k < hi; k++ {
			// A leaf's stored size cut the block, so only its hash can differ.
			w.good[k] = got[k-lo].Hash == w.leaves[k].Hash
		}
	})
	return w
}

// windowExtent finds the window from block i on: the stored, unverified
// blocks that follow it, up to aheadBlocks and aheadBytes, and their byte
// range. With the offsets in memory that is all it reads; with them in
// the index (the feeds of a home's owner) it locates block i there and
// reads the candidates' leaves to size the window, and returns them.
func (f *Feed) windowExtent(i uint64) (start, end, n uint64, nodes []byte) {
	f.mu.RLock()
	if i < uint64(len(f.mu.ends)) {
		defer f.mu.RUnlock()
		start = f.offsetLocked(i)
		end = start
		for j := i; j < i+aheadBlocks && j < uint64(len(f.mu.ends)) && f.mu.bits.HasBlock(j) && !f.isVerifiedLocked(j); j++ {
			if f.mu.ends[j]-start > aheadBytes && n > 0 {
				break
			}
			end = f.mu.ends[j]
			n++
		}
		return start, end, n, nil
	}
	m := uint64(0)
	for j := i; j < i+aheadBlocks && j < f.mu.length && f.mu.bits.HasBlock(j) && !f.isVerifiedLocked(j); j++ {
		m++
	}
	f.mu.RUnlock()
	if m < 2 {
		return 0, 0, 0, nil
	}
	start, _, ok := f.spanOf(i)
	if !ok {
		return 0, 0, 0, nil
	}
	nodes = make([]byte, (2*m-1)*nodeSize)
	if _, err := readFull(f.treeF, nodes, nodeOffset(2*i)); err != nil {
		return 0, 0, 0, nil
	}
	end = start
	for ; n < m; n++ {
		leaf, ok := decodeNode(2*(i+n), nodes[2*n*nodeSize:])
		if !ok || (end+leaf.Size-start > aheadBytes && n > 0) {
			break
		}
		end += leaf.Size
	}
	if n == 0 {
		return 0, 0, 0, nil
	}
	return start, end, n, nodes[:(2*n-1)*nodeSize]
}

// cutByLeaves decodes the leaves of blocks first, first+1, ... from nodes
// (the tree file from node 2*first) into leaves, and cuts each block's
// bytes out of data, which starts at block first, by its leaf's size, so
// that each leaf is checked against its own bytes. It stops at
// len(leaves), at a leaf it cannot decode or one past data's end, and
// returns how many blocks it cut and the bytes they hold.
func cutByLeaves(first uint64, nodes, data []byte, leaves []tree.Node, blocks [][]byte) (n, used uint64) {
	for ; n < uint64(len(leaves)) && int(2*n+1)*nodeSize <= len(nodes); n++ {
		leaf, ok := decodeNode(2*(first+n), nodes[2*n*nodeSize:])
		if !ok || used+leaf.Size > uint64(len(data)) {
			break
		}
		leaves[n], blocks[n] = leaf, data[used:used+leaf.Size:used+leaf.Size]
		used += leaf.Size
	}
	return n, used
}

// markVerified sets the verified bit of each block first+k whose good[k]
// is set. A block cleared meanwhile keeps none.
func (f *Feed) markVerified(first uint64, good []bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for k, g := range good {
		j := first + uint64(k)
		if g && f.mu.bits.HasBlock(j) && j/64 < uint64(len(f.mu.verified)) {
			f.mu.verified[j/64] |= 1 << (j % 64)
		}
	}
}

// fromAhead copies block i out of the last verified window, so the
// window's blocks are not read from the file a second time, and drops the
// window after its last block. A block's bytes never change while it is
// stored, and the caller checked that it still is (and was verified), so
// the copy is current.
func (f *Feed) fromAhead(i uint64) ([]byte, bool) {
	f.ahead.Lock()
	w := f.ahead.cur
	if w == nil || i < w.first || i-w.first >= uint64(len(w.blocks)) {
		f.ahead.Unlock()
		return nil, false
	}
	b := append([]byte(nil), w.blocks[i-w.first]...)
	last := i-w.first == uint64(len(w.blocks))-1
	if last {
		f.ahead.cur = nil
	}
	f.ahead.Unlock()
	if last {
		w.drop()
	}
	return b, true
}

// dropAhead gives back the windows a closing feed holds.
func (f *Feed) dropAhead() {
	f.ahead.Lock()
	cur, next := f.ahead.cur, f.ahead.next
	f.ahead.cur, f.ahead.next = nil, nil
	f.ahead.Unlock()
	cur.drop()
	next.drop()
}
