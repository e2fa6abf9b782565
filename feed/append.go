package feed

import (
	"fmt"

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

	f.mu.RLock()
	closed := f.mu.closed
	length, byteLength := f.mu.length, f.mu.byteLength
	roots := append([]tree.Node(nil), f.mu.roots...)
	ends := f.mu.ends
	f.mu.RUnlock()
	if closed {
		return ErrClosed
	}

	// The data write needs no hash, so for a large batch it runs beside
	// the hashing; tree and signature records follow once both are done.
	// Written even when empty: JavaScript creates the data file on the
	// first append, and its audit fails every block of a feed without one.
	var dataErr error
	writeData := func() { dataErr = writeBlocks(f.data, blocks, int64(byteLength)) }
	// When the in-memory offsets need more room, the copy into a larger
	// table is made beside the hashing too: for a long feed it costs more
	// than the rest of the batch's publishing under f.mu. Only holders of
	// writeMu change ends, so the snapshot stays current.
	n := uint64(len(blocks))
	var grown []uint64
	growEnds := func() {
		if uint64(len(ends)) == length && uint64(cap(ends)-len(ends)) < n {
			// Doubling: fewer copies of a table that only grows.
			grown = make([]uint64, len(ends), max(2*cap(ends), len(ends)+int(n)))
			copy(grown, ends)
		}
	}
	span := hashBatch(length, blocks, total, writeData, growEnds)
	nodes, roots := grow(roots, length, span)
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

// writeRecords signs the new roots (unless signing is deferred) and
// writes the batch's tree records, then the signature, once the data
// write has succeeded (dataErr is its result). With shared set the tree
// write is offered to the helpers while the caller signs, the longer of
// the two; the files still see data, tree, signature in that order.
func (f *Feed) writeRecords(length uint64, count int, nodes, roots []tree.Node, shared bool, dataErr error) (sig []byte, err error) {
	var treeErr error
	records := func(uint64) {
		if dataErr != nil {
			treeErr = fmt.Errorf("write data: %w", dataErr)
			return
		}
		treeErr = f.writeTree(length, count, nodes)
	}
	var writing *job
	if shared {
		writing = offer(1, records)
	} else {
		records(0)
	}
	if !f.deferSign {
		sig = tree.Sign(f.secretKey, roots, length+uint64(count))
	}
	if writing != nil {
		writing.finish()
	}
	err = treeErr
	if err != nil || sig == nil {
		return sig, err
	}
	slot := length + uint64(count) - 1
	if err := writeAll(f.sigs, sig, signatureOffset(slot)); err != nil {
		return nil, fmt.Errorf("write signature %d: %w", slot, err)
	}
	return sig, nil
}

// writeTree writes a batch's tree records. Records in [2L, 2L+2n-1) go
// out as one write with zeros for parents that are not complete yet, as
// JavaScript writes them; completed parents left of that range are
// written one by one.
func (f *Feed) writeTree(length uint64, count int, nodes []tree.Node) error {
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
