package feed

import (
	"fmt"
	"time"

	"github.com/hyperfs/hyperfs/index"
	"github.com/hyperfs/hyperfs/tree"
)

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

	n := uint64(len(blocks))
	f.mu.RLock()
	closed := f.mu.closed
	length, byteLength := f.mu.length, f.mu.byteLength
	// A new slice: the published one is never changed. Room for the
	// leaves keeps grow from copying it again.
	roots := append(make([]tree.Node, 0, len(f.mu.roots)+min(len(blocks), 64)), f.mu.roots...)
	ends := f.mu.ends
	f.mu.RUnlock()
	if closed {
		return ErrClosed
	}

	// The data write needs no hash, so for a large batch it runs beside
	// the hashing; tree and signature records follow once both are done.
	// Written even when empty: JavaScript creates the data file on the
	// first append, and its audit fails every block of a feed without one.
	// When the in-memory offsets need more room, the copy into a larger
	// table is made beside the hashing too: for a long feed it costs more
	// than the rest of the batch's publishing under f.mu. Only holders of
	// writeMu change ends, so the snapshot stays current. A small batch
	// does both itself, without closures that would cost it allocations.
	var (
		dataErr error
		grown   []uint64
		span    []tree.Node
	)
	if total >= shareBytes {
		// The closures' variables live on the heap: only here.
		var werr error
		var g []uint64
		span = hashBatch(f.scratch.span, length, blocks, total,
			func() { werr = writeBlocks(f.data, blocks, int64(byteLength)) },
			func() { g = growEnds(ends, length, n) })
		dataErr, grown = werr, g
	} else {
		dataErr = writeBlocks(f.data, blocks, int64(byteLength))
		grown = growEnds(ends, length, n)
		span = hashBatch(f.scratch.span, length, blocks, total)
	}
	nodes, roots := grow(f.scratch.nodes[:0], roots, length, span)
	f.scratch.span, f.scratch.nodes = keepScratch(span), keepScratch(nodes)
	sig, err := f.writeRecords(length, len(blocks), nodes, roots, shared(len(blocks), total), dataErr)
	if err != nil {
		return fmt.Errorf("append to feed %x at block %d: %w", f.key[:8], length, err)
	}

	f.mu.Lock()
	bits := f.mu.bits
	var scratch []uint64
	for _, nd := range nodes {
		scratch = bits.SetNode(nd.Index, scratch[:0])
	}
	end := byteLength
	// With an index the offsets live there, not in memory.
	contiguous := uint64(len(f.mu.ends)) == length && f.index() == nil
	if contiguous && grown != nil {
		f.mu.ends = grown
	}
	bits.setBlocks(length, length+n)
	for _, b := range blocks {
		end += uint64(len(b))
		if contiguous {
			f.mu.ends = append(f.mu.ends, end)
		}
	}
	f.growVerifiedLocked(length, length+n)
	f.mu.length = length + n
	f.mu.grown = time.Now()
	f.mu.byteLength = end
	f.mu.roots = roots
	if sig != nil {
		f.mu.signed = length + n
	}
	f.mu.unsynced = true
	f.notifyLocked(Event{Kind: EventAppend, Start: length, End: length + n})
	f.mu.Unlock()
	if f.index() != nil {
		spans := make([]index.BlockSpan, len(blocks))
		end := byteLength
		for i, b := range blocks {
			spans[i] = index.BlockSpan{Index: length + uint64(i), Start: end, End: end + uint64(len(b))}
			end += uint64(len(b))
		}
		// The new nodes stay out of the node cache, which fills as
		// nodes are read: caching two per one-block append cost more
		// than the rest of the index update.
		f.indexed(spans, nil)
	}
	return nil
}

// scratchMax bounds what f.scratch keeps of one batch's buffers: a
// million-block append must not leave a hundred megabytes behind.
const scratchMax = 1 << 16

// keepScratch returns b to keep for the next append, or nil if too large.
func keepScratch[T any](b []T) []T {
	if cap(b) > scratchMax {
		return nil
	}
	return b
}

// growEnds returns a larger copy of the in-memory offsets when they
// would need more room for n more blocks, else nil. Doubling: fewer
// copies of a table that only grows.
func growEnds(ends []uint64, length, n uint64) []uint64 {
	if uint64(len(ends)) != length || uint64(cap(ends)-len(ends)) >= n {
		return nil
	}
	grown := make([]uint64, len(ends), max(2*cap(ends), len(ends)+int(n)))
	copy(grown, ends)
	return grown
}

// writeRecords signs the new roots (unless signing is deferred) and
// writes the batch's tree records, then the signature, once the data
// write has succeeded (dataErr is its result). With shared set the tree
// write is offered to the helpers while the caller signs, the longer of
// the two; the files still see data, tree, signature in that order.
func (f *Feed) writeRecords(length uint64, count int, nodes, roots []tree.Node, shared bool, dataErr error) (sig []byte, err error) {
	if shared {
		var treeErr error // on the heap, as the helper's closure needs
		writing := offer(1, func(uint64) { treeErr = f.writeAppended(length, count, nodes, dataErr) })
		sig = f.signAppend(roots, length+uint64(count))
		writing.finish()
		err = treeErr
	} else {
		// No closure here: it would cost a small append an allocation.
		err = f.writeAppended(length, count, nodes, dataErr)
		sig = f.signAppend(roots, length+uint64(count))
	}
	if err != nil || sig == nil {
		return sig, err
	}
	slot := length + uint64(count) - 1
	if err := writeAll(f.sigs, sig, signatureOffset(slot)); err != nil {
		return nil, fmt.Errorf("write signature %d: %w", slot, err)
	}
	return sig, nil
}

// writeAppended writes an append's tree records once its data is written.
func (f *Feed) writeAppended(length uint64, count int, nodes []tree.Node, dataErr error) error {
	if dataErr != nil {
		return fmt.Errorf("write data: %w", dataErr)
	}
	return f.writeTree(length, count, nodes)
}

// signAppend signs roots for length, unless signing is deferred.
func (f *Feed) signAppend(roots []tree.Node, length uint64) []byte {
	if f.deferSign {
		return nil
	}
	return tree.Sign(f.secretKey, roots, length)
}

// writeTree writes a batch's tree records. Records in [2L, 2L+2n-1) go
// out as one write with zeros for parents that are not complete yet, as
// JavaScript writes them; completed parents left of that range are
// written one by one.
//
// The bytes are built in f.scratch.tree (writeMu is held): the tree file
// copies what it holds.
func (f *Feed) writeTree(length uint64, count int, nodes []tree.Node) error {
	first := 2 * length
	size := int(2*uint64(count)-1) * nodeSize
	if cap(f.scratch.tree) < size+nodeSize {
		f.scratch.tree = make([]byte, size+nodeSize)
	}
	span, rec := f.scratch.tree[:size], f.scratch.tree[size:size+nodeSize]
	clear(span) // parents not complete yet stay zero
	for _, n := range nodes {
		if n.Index >= first {
			encodeNode(span[(n.Index-first)*nodeSize:], n)
			continue
		}
		encodeNode(rec, n)
		if err := writeAll(f.treeF, rec, nodeOffset(n.Index)); err != nil {
			return fmt.Errorf("write tree node %d: %w", n.Index, err)
		}
	}
	err := writeAll(f.treeF, span, nodeOffset(first))
	f.scratch.tree = keepScratch(f.scratch.tree)
	if err != nil {
		return fmt.Errorf("write tree nodes from %d: %w", first, err)
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
