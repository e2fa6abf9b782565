package feed

import (
	"fmt"

	"github.com/hyperfs/hyperfs/index"
	"github.com/hyperfs/hyperfs/tree"
)

// index returns the feed's Index, or nil.
func (f *Feed) index() Index {
	if p := f.idx.Load(); p != nil {
		return *p
	}
	return nil
}

// dropIndex stops using a failed index, saying so once: reads fall back
// to the tree file, and the next open rebuilds what is missing.
func (f *Feed) dropIndex(what string, err error) {
	if f.idx.Swap(nil) != nil {
		f.log.Warn("index unusable; using the tree file", "key", fmt.Sprintf("%x", f.key[:8]), "op", what, "err", err)
	}
}

// indexChunk is how many leaves one rebuild step reads and indexes.
const indexChunk = 16384

// syncIndex checks the index against the recovered feed (called by
// recover with the length and roots set) and brings it up to date: from
// its own length when it agrees on that length's roots, else from zero.
func (f *Feed) syncIndex() error {
	idx := f.index()
	length, roots := f.mu.length, f.mu.roots
	want := tree.TreeHash(roots)
	l, h, ok, err := idx.State()
	if err != nil {
		return err
	}
	if ok && l == length && h == want {
		return nil
	}
	from := uint64(0)
	if ok && l > 0 && l < length {
		if r, err := f.readRoots(l); err == nil && tree.TreeHash(r) == h {
			from = l
		}
	}
	if from == 0 {
		if ok {
			f.log.Info("index disagrees with the feed; rebuilding", "key", fmt.Sprintf("%x", f.key[:8]), "index_length", l, "length", length)
		}
		if err := idx.Reset(); err != nil {
			return err
		}
	}
	return f.indexLeaves(idx, from, length, want)
}

// indexLeaves records the offsets of the known leaves from block first on,
// in large sequential reads of the tree file, stopping at the first leaf
// the feed lacks (a sparse replica's later offsets are found from the tree
// when needed). Only the last step writes the state, so an interrupted
// rebuild resumes or restarts on the next open.
func (f *Feed) indexLeaves(idx Index, first, length uint64, rootHash [32]byte) error {
	var end uint64
	if first > 0 {
		r, err := f.readRoots(first)
		if err != nil {
			return err
		}
		end = sumSizes(r)
	}
	buf := make([]byte, (2*indexChunk-1)*nodeSize)
	spans := make([]index.BlockSpan, 0, indexChunk)
	for i := first; ; {
		n := min(indexChunk, length-i)
		spans = spans[:0]
		if n > 0 {
			b := buf[:(2*n-1)*nodeSize]
			if _, err := readFull(f.treeF, b, nodeOffset(2*i)); err != nil {
				b = b[:0] // a short tree file: index the leaves that are there
			}
			for j := range n {
				off := 2 * j * nodeSize
				if int(off+nodeSize) > len(b) || !f.mu.bits.HasNode(2*(i+j)) {
					n = 0
					break
				}
				node, ok := decodeNode(2*(i+j), b[off:off+nodeSize])
				if !ok {
					n = 0
					break
				}
				spans = append(spans, index.BlockSpan{Index: i + j, Start: end, End: end + node.Size})
				end += node.Size
			}
			i += uint64(len(spans))
		}
		last := n == 0 || i >= length
		u := index.Update{Blocks: spans, Length: length, RootHash: rootHash, Partial: !last}
		if err := idx.Update(u); err != nil {
			return err
		}
		if last {
			return nil
		}
	}
}

// indexed updates the index after an append or a download, outside f.mu;
// nodes go to the node cache. The roots are handed over unhashed: a
// published roots slice is never changed, only replaced.
func (f *Feed) indexed(spans []index.BlockSpan, nodes []tree.Node) {
	idx := f.index()
	if idx == nil {
		return
	}
	f.mu.RLock()
	length, roots := f.mu.length, f.mu.roots
	f.mu.RUnlock()
	u := index.Update{Blocks: spans, Nodes: nodes, Length: length, Roots: roots}
	if err := idx.Update(u); err != nil {
		f.dropIndex("update", err)
	}
}

// flushIndex writes the index's pending updates.
func (f *Feed) flushIndex() {
	if idx := f.index(); idx != nil {
		if err := idx.Flush(); err != nil {
			f.dropIndex("flush", err)
		}
	}
}

// locate returns block i's byte range from the index.
func (f *Feed) locate(i uint64) (start, end uint64, ok bool) {
	idx := f.index()
	if idx == nil {
		return 0, 0, false
	}
	start, end, ok, err := idx.Block(i)
	if err != nil {
		f.dropIndex("read", err)
		return 0, 0, false
	}
	return start, end, ok
}
