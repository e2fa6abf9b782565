package feed

import (
	"fmt"
	"runtime"
	"sync"

	"github.com/hyperfs/hyperfs/index"
	"github.com/hyperfs/hyperfs/tree"
)

// parallelHashBytes is the batch size above which leaf hashes are computed
// on several cores; below it goroutine start-up costs more than it saves.
const parallelHashBytes = 64 << 10

// overlapWriteBytes is the batch size above which the data write runs on
// its own goroutine while the leaves are hashed.
const overlapWriteBytes = 32 << 10

// Append adds blocks to a writable feed as one batch with one signature,
// laid out exactly as JavaScript hypercore 9 lays it out (spec 3.8). The
// blocks are readable when Append returns and durable after Sync.
func (f *Feed) Append(blocks ...[]byte) error {
	if f.secretKey == nil {
		return ErrNotWritable
	}
	if f.readOnly {
		return fmt.Errorf("append to feed %x: %w", f.key[:8], ErrReadOnly)
	}
	if len(blocks) == 0 {
		return nil
	}
	var total int
	for i, b := range blocks {
		if len(b) > MaxBlockSize {
			return fmt.Errorf("append block %d of batch: %w (%d bytes)", i, ErrBlockTooLarge, len(b))
		}
		total += len(b)
	}
	f.writeMu.Lock()
	defer f.writeMu.Unlock()

	f.mu.RLock()
	closed := f.mu.closed
	length, byteLength := f.mu.length, f.mu.byteLength
	roots := append([]tree.Node(nil), f.mu.roots...)
	f.mu.RUnlock()
	if closed {
		return ErrClosed
	}

	// The data write needs no hash, so for a large batch it runs beside
	// the hashing; tree and signature records follow once both are done.
	// Written even when empty: JavaScript creates the data file on the
	// first append, and its audit fails every block of a feed without one.
	var dataErr error
	var wg sync.WaitGroup
	writeData := func() { dataErr = writeBlocks(f.data, blocks, int64(byteLength)) }
	if total >= overlapWriteBytes {
		wg.Go(writeData)
	} else {
		writeData()
	}
	leaves := hashLeaves(length, blocks, total)
	nodes, roots := grow(roots, leaves)
	var sig []byte
	if !f.deferSign {
		sig = tree.Sign(f.secretKey, roots, length+uint64(len(blocks)))
	}
	wg.Wait()
	if dataErr != nil {
		return fmt.Errorf("append to feed %x at block %d: write data: %w", f.key[:8], length, dataErr)
	}
	if err := f.writeTree(length, len(blocks), nodes, sig); err != nil {
		return fmt.Errorf("append to feed %x at block %d: %w", f.key[:8], length, err)
	}

	n := uint64(len(blocks))
	f.mu.Lock()
	bits := f.mu.bits
	var scratch []uint64
	for _, nd := range nodes {
		scratch = bits.SetNode(nd.Index, scratch[:0])
	}
	end := byteLength
	// With an index the offsets live there, not in memory.
	contiguous := uint64(len(f.mu.ends)) == length && f.index() == nil
	bits.setBlocks(length, length+n)
	for _, l := range leaves {
		end += l.Size
		if contiguous {
			f.mu.ends = append(f.mu.ends, end)
		}
	}
	f.growVerifiedLocked(length, length+n)
	f.mu.length = length + n
	f.mu.byteLength = end
	f.mu.roots = roots
	if sig != nil {
		f.mu.signed = length + n
	}
	f.mu.unsynced = true
	f.notifyLocked(Event{Kind: EventAppend, Start: length, End: length + n})
	f.mu.Unlock()
	if f.index() != nil {
		spans := make([]index.BlockSpan, len(leaves))
		end := byteLength
		for i, l := range leaves {
			spans[i] = index.BlockSpan{Index: length + uint64(i), Start: end, End: end + l.Size}
			end += l.Size
		}
		f.indexed(spans, nodes)
	}
	return nil
}

// hashLeaves computes the leaf nodes of a batch starting at block first.
func hashLeaves(first uint64, blocks [][]byte, total int) []tree.Node {
	leaves := make([]tree.Node, len(blocks))
	workers := min(runtime.GOMAXPROCS(0), len(blocks))
	if total < parallelHashBytes || workers < 2 {
		for i, b := range blocks {
			leaves[i] = tree.Leaf(first+uint64(i), b)
		}
		return leaves
	}
	// Workers take interleaved blocks, which balances uneven sizes well
	// enough; each writes only its own slots.
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < len(blocks); i += workers {
				leaves[i] = tree.Leaf(first+uint64(i), blocks[i])
			}
		})
	}
	wg.Wait()
	return leaves
}

// grow adds leaves to a tree with the given roots, merging roots as they
// become siblings (the merkle generator), and returns every new node in
// order and the new roots.
func grow(roots, leaves []tree.Node) (nodes, newRoots []tree.Node) {
	nodes = make([]tree.Node, 0, 2*len(leaves))
	for _, l := range leaves {
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

// writeTree writes a batch's tree records and signature (none when sig is
// nil: signing is deferred). Records in
// [2L, 2L+2n-1) go out as one write with zeros for parents that are not
// complete yet, as JavaScript writes them; completed parents left of that
// range are written one by one.
func (f *Feed) writeTree(length uint64, count int, nodes []tree.Node, sig []byte) error {
	first := 2 * length
	span := make([]byte, (2*uint64(count)-1)*nodeSize)
	for _, n := range nodes {
		if n.Index >= first {
			encodeNode(span[(n.Index-first)*nodeSize:], n)
			continue
		}
		var rec [nodeSize]byte
		encodeNode(rec[:], n)
		if err := writeAll(f.treeF, rec[:], nodeOffset(n.Index)); err != nil {
			return fmt.Errorf("write tree node %d: %w", n.Index, err)
		}
	}
	if err := writeAll(f.treeF, span, nodeOffset(first)); err != nil {
		return fmt.Errorf("write tree nodes from %d: %w", first, err)
	}
	if sig == nil {
		return nil
	}
	slot := length + uint64(count) - 1
	if err := writeAll(f.sigs, sig, signatureOffset(slot)); err != nil {
		return fmt.Errorf("write signature %d: %w", slot, err)
	}
	return nil
}

// growVerifiedLocked marks blocks [start, end) as hashed (we wrote them).
func (f *Feed) growVerifiedLocked(start, end uint64) {
	for uint64(len(f.mu.verified))*64 < end {
		f.mu.verified = append(f.mu.verified, 0)
	}
	for i := start; i < end; i++ {
		f.mu.verified[i/64] |= 1 << (i % 64)
	}
}

func (f *Feed) isVerifiedLocked(i uint64) bool {
	return i/64 < uint64(len(f.mu.verified)) && f.mu.verified[i/64]&(1<<(i%64)) != 0
}
