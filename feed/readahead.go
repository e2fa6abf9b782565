package feed

import (
	"sync"

	"github.com/hyperfs/hyperfs/tree"
)

// Sequential readers (cat, a mount streaming data, a full download being
// served) would pay a hash, a tree read and a data read per block on the
// first pass. When Get sees reads in order it instead verifies a window of
// the following blocks at once: one read of their leaves, one read of
// their bytes, hashing spread over the cores. The later Gets of the window
// then only read bytes. Random readers never trigger it.
const (
	aheadBlocks = 64      // blocks verified per window
	aheadBytes  = 1 << 20 // and at most this many bytes
)

// verifyAhead hashes the stored, unverified, located blocks from i on, up
// to a window, marks those that match their leaves and keeps the window
// for the Gets that follow. It returns block
// i's bytes when block i was among them; ok is false when nothing was
// done and the caller should read i alone.
func (f *Feed) verifyAhead(i uint64) (block []byte, ok bool, err error) {
	f.mu.RLock()
	if i >= uint64(len(f.mu.ends)) {
		// Not in the in-memory table (a feed opened with an Index keeps
		// none): the single-block path locates it.
		f.mu.RUnlock()
		return nil, false, nil
	}
	start := f.offsetLocked(i)
	end, n := start, uint64(0)
	for j := i; j < i+aheadBlocks && j < uint64(len(f.mu.ends)) && f.mu.bits.HasBlock(j) && !f.isVerifiedLocked(j); j++ {
		if f.mu.ends[j]-start > aheadBytes && n > 0 {
			break
		}
		end = f.mu.ends[j]
		n++
	}
	f.mu.RUnlock()
	if n < 2 || end-start > MaxBlockSize {
		return nil, false, nil
	}
	data := make([]byte, end-start)
	if _, err := readFull(f.data, data, int64(start)); err != nil {
		return nil, false, nil // let the single-block path report it
	}
	nodes := make([]byte, (2*n-1)*nodeSize)
	if _, err := readFull(f.treeF, nodes, nodeOffset(2*i)); err != nil {
		return nil, false, nil
	}
	// Each leaf is checked against its own bytes, cut by the leaf's size.
	blocks := make([][]byte, n)
	leaves := make([]tree.Node, n)
	var off uint64
	for k := range n {
		leaf, ok := decodeNode(2*(i+k), nodes[2*k*nodeSize:])
		if !ok || off+leaf.Size > uint64(len(data)) {
			n = k
			break
		}
		leaves[k], blocks[k] = leaf, data[off:off+leaf.Size]
		off += leaf.Size
	}
	if n == 0 {
		return nil, false, nil
	}
	good := make([]bool, n)
	var wg sync.WaitGroup
	half := n / 2
	wg.Go(func() {
		for k := half; k < n; k++ {
			good[k] = leafMatches(leaves[k], blocks[k])
		}
	})
	for k := range half {
		good[k] = leafMatches(leaves[k], blocks[k])
	}
	wg.Wait()

	f.mu.Lock()
	for k := range n {
		j := i + k
		// A block cleared meanwhile keeps no verified bit.
		if good[k] && f.mu.bits.HasBlock(j) && j/64 < uint64(len(f.mu.verified)) {
			f.mu.verified[j/64] |= 1 << (j % 64)
		}
	}
	f.mu.Unlock()
	if !good[0] {
		return nil, true, f.failedHash(i)
	}
	f.ahead.Lock()
	f.ahead.first, f.ahead.blocks = i, blocks
	f.ahead.Unlock()
	return append([]byte(nil), blocks[0]...), true, nil
}

// fromAhead copies block i out of the last verified window, so the
// window's blocks are not read from the file a second time. A block's
// bytes never change while it is stored, and the caller checked that it
// still is (and was verified), so the copy is current.
func (f *Feed) fromAhead(i uint64) ([]byte, bool) {
	f.ahead.Lock()
	defer f.ahead.Unlock()
	if i < f.ahead.first || i-f.ahead.first >= uint64(len(f.ahead.blocks)) {
		return nil, false
	}
	return append([]byte(nil), f.ahead.blocks[i-f.ahead.first]...), true
}
