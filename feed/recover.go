package feed

import (
	"fmt"

	"github.com/hyperfs/hyperfs/tree"
)

// recover derives length and byteLength from the committed bitfield (spec
// 3.9), then keeps the longest length at or below it whose stored signature
// verifies over stored roots. Anything past that point (a torn bitfield
// page, a batch whose bitfield write was cut short, nodes written but never
// committed) is discarded from the in-memory bitfield, and the repair is
// written by the next Sync.
func (f *Feed) recover() error {
	bits := f.mu.bits
	span := uint64(len(bits.pages)) * nodesPerPage
	var n, top uint64
	for tree.RightSpan(n) < span {
		n = tree.Parent(n)
		if bits.HasNode(n) {
			top = n
		}
	}
	var length uint64
	if bits.HasNode(top) {
		length = tree.VerifiedBy(bits, top) / 2
	}
	claimed := length
	// Files too short to hold the claimed length's roots or signature
	// bound it from above before anything is read. A sparse replica's
	// tree file may end at its last root, which for length L lies at
	// index 2L-k-1 (k the lowest set bit of L) and so never below L-1.
	if size, err := f.treeF.Size(); err != nil {
		return fmt.Errorf("stat tree: %w", err)
	} else if nodes := uint64(max(size-headerSize, 0)) / nodeSize; length > nodes {
		length = nodes
	}
	if size, err := f.sigs.Size(); err != nil {
		return fmt.Errorf("stat signatures: %w", err)
	} else if slots := uint64(max(size-headerSize, 0)) / signatureSize; length > slots {
		length = slots
	}
	var roots []tree.Node
	for ; length > 0; length-- {
		var err error
		if roots, err = f.signedRoots(length); err == nil {
			break
		}
		if length == claimed {
			f.log.Warn("committed length does not verify; stepping back", "key", fmt.Sprintf("%x", f.key[:8]), "length", length, "err", err)
		}
	}
	if length < claimed {
		f.log.Warn("recovered a shorter feed", "key", fmt.Sprintf("%x", f.key[:8]), "claimed", claimed, "length", length)
		f.discardPast(length, roots)
	}
	f.mu.length = length
	f.mu.signed = length
	f.mu.roots = roots
	f.mu.byteLength = sumSizes(roots)
	if f.index() != nil {
		err := f.syncIndex()
		if err == nil {
			f.mu.verified = make([]uint64, (length+63)/64)
			return f.trimData()
		}
		f.dropIndex("bring the index up to date", err)
	}
	return f.loadEnds()
}

// signedRoots returns the roots of length if they are all stored and the
// signature in slot length-1 verifies over them.
func (f *Feed) signedRoots(length uint64) ([]tree.Node, error) {
	sig := make([]byte, signatureSize)
	if _, err := readFull(f.sigs, sig, signatureOffset(length-1)); err != nil {
		return nil, fmt.Errorf("read signature %d: %w", length-1, err)
	}
	if isZero(sig) {
		return nil, fmt.Errorf("no signature for length %d", length)
	}
	for _, r := range tree.FullRoots(2 * length) {
		if !f.mu.bits.HasNode(r) {
			return nil, fmt.Errorf("root %d of length %d not stored", r, length)
		}
	}
	roots, err := f.readRoots(length)
	if err != nil {
		return nil, err
	}
	if !tree.VerifyRoots(f.key, roots, length, sig) {
		return nil, fmt.Errorf("%w: signature for length %d does not verify", ErrCorrupt, length)
	}
	return roots, nil
}

// discardPast clears every bit that claims more than length blocks: data
// bits of later blocks, tree bits of nodes right of the last leaf, and of
// the incomplete parents above the roots.
func (f *Feed) discardPast(length uint64, roots []tree.Node) {
	bits := f.mu.bits
	for i := length; i < uint64(len(bits.pages))*blocksPerPage; i++ {
		if bits.HasBlock(i) {
			bits.SetBlock(i, false)
		}
	}
	for n := 2 * length; n < uint64(len(bits.pages))*nodesPerPage; n++ {
		if bits.HasNode(n) {
			bits.ClearNode(n)
		}
	}
	for _, r := range roots {
		for p := tree.Parent(r.Index); p < 2*length; p = tree.Parent(p) {
			bits.ClearNode(p)
		}
	}
	f.mu.unsynced = true
}

// loadEnds reads the sizes of the contiguous prefix of known leaves into
// ends, in large sequential reads of the tree file.
func (f *Feed) loadEnds() error {
	length := f.mu.length
	const chunk = 16384 // leaves per read
	ends := make([]uint64, 0, length)
	buf := make([]byte, 2*chunk*nodeSize)
	var end uint64
	for i := uint64(0); i < length; {
		n := min(chunk, length-i)
		b := buf[:(2*n-1)*nodeSize]
		if _, err := readFull(f.treeF, b, nodeOffset(2*i)); err != nil {
			// A short tree file: keep the leaves that are there.
			b = b[:0]
		}
		for j := range n {
			off := 2 * j * nodeSize
			if int(off+nodeSize) > len(b) || !f.mu.bits.HasNode(2*(i+j)) {
				return f.finishEnds(ends, end)
			}
			node, ok := decodeNode(2*(i+j), b[off:off+nodeSize])
			if !ok {
				return f.finishEnds(ends, end)
			}
			end += node.Size
			ends = append(ends, end)
		}
		i += n
	}
	return f.finishEnds(ends, end)
}

func (f *Feed) finishEnds(ends []uint64, end uint64) error {
	if uint64(len(ends)) == f.mu.length && end != f.mu.byteLength {
		f.log.Error("tree leaves disagree with the signed roots; offsets will be computed from the tree", "key", fmt.Sprintf("%x", f.key[:8]), "leaves", end, "roots", f.mu.byteLength)
		ends = nil
	}
	f.mu.ends = ends
	f.mu.verified = make([]uint64, (len(ends)+63)/64)
	return f.trimData()
}

// trimData reconciles the data file with the verified feed: a complete
// local feed's trailing garbage (an interrupted batch) is cut off, and
// blocks the file no longer holds are marked missing.
func (f *Feed) trimData() error {
	size, err := f.data.Size()
	if err != nil {
		return fmt.Errorf("stat data: %w", err)
	}
	bits := f.mu.bits
	ends := f.mu.ends
	missing := func(i uint64) {
		if bits.HasBlock(i) {
			f.log.Warn("block missing from the data file", "key", fmt.Sprintf("%x", f.key[:8]), "block", i)
			bits.SetBlock(i, false)
			f.mu.unsynced = true
		}
	}
	for i := len(ends) - 1; i >= 0 && ends[i] > uint64(size); i-- {
		missing(uint64(i))
	}
	known := uint64(len(ends)) == f.mu.length
	if idx := f.index(); idx != nil {
		// Offsets are not in memory; a short data file is rare enough
		// to find its first missing block by walking the tree.
		known = true
		if uint64(size) < f.mu.byteLength {
			first, _, err := f.seekTree(f.mu.roots, uint64(size))
			if err != nil {
				// A sparse replica need not hold the nodes above the
				// byte past its file's end; its stored blocks, each
				// placed by the nodes of its own proof, tell instead.
				first = f.firstPastEnd(uint64(size))
			}
			for i := first; i < f.mu.length; i++ {
				missing(i)
			}
		}
	}
	complete := known && bits.CountBlocks(0, f.mu.length) == f.mu.length
	if complete && uint64(size) > f.mu.byteLength && !f.readOnly {
		f.log.Info("cutting unverified bytes off the data file", "key", fmt.Sprintf("%x", f.key[:8]), "size", size, "byteLength", f.mu.byteLength)
		if err := f.data.Truncate(int64(f.mu.byteLength)); err != nil {
			return fmt.Errorf("trim data: %w", err)
		}
	}
	return nil
}

// firstPastEnd returns the first block of a run of stored blocks, ending
// the feed's stored blocks, that reach past byte size of the data file:
// offsets grow with the index, so they are found from the last stored
// block down. A stored block that cannot be placed ends the search (its
// reads will say if its bytes are gone).
func (f *Feed) firstPastEnd(size uint64) uint64 {
	bits := f.mu.bits
	first := f.mu.length
	for i := f.mu.length; i > 0; i-- {
		if !bits.HasBlock(i - 1) {
			continue
		}
		off, n, err := f.BlockRange(i - 1)
		if err != nil || off+n <= size {
			break
		}
		first = i - 1
	}
	return first
}

// Sync makes every append and download so far durable: the data, tree and
// signatures files are synced first, then the changed bitfield pages (the
// commit record) are written and synced. A crash at any point leaves the
// previous commit or this one.
func (f *Feed) Sync() error {
	if f.readOnly {
		// What changed (blocks an open or an audit found missing) is
		// in memory only; the next writable open finds it again.
		return nil
	}
	f.syncMu.Lock()
	defer f.syncMu.Unlock()
	f.mu.Lock()
	if f.mu.closed {
		f.mu.Unlock()
		return nil
	}
	pages := f.mu.bits.takeDirty()
	unsynced := f.mu.unsynced
	f.mu.unsynced = false
	signLen, roots := f.pendingSignatureLocked()
	f.mu.Unlock()
	// The index's pending updates go out with each Sync, so that a feed
	// that stays open keeps its index within a Sync of its length.
	defer f.flushIndex()
	if !unsynced && pages == nil {
		return nil
	}
	// The pages commit the length of this moment: its signature goes
	// first (sign.go).
	err := f.signLength(signLen, roots)
	if err == nil {
		err = f.commit(pages)
	}
	if err != nil {
		f.mu.Lock()
		f.mu.bits.markDirty(pages)
		f.mu.unsynced = true
		f.mu.Unlock()
		return fmt.Errorf("sync feed %x: %w", f.key[:8], err)
	}
	return nil
}

func (f *Feed) commit(pages []dirtyPage) error {
	for _, file := range []File{f.data, f.treeF, f.sigs} {
		if err := file.Sync(); err != nil {
			return err
		}
	}
	if len(pages) == 0 {
		return nil
	}
	for _, p := range pages {
		if err := writeAll(f.bitsF, p.data, headerSize+int64(p.n)*pageSize); err != nil {
			return fmt.Errorf("write bitfield page %d: %w", p.n, err)
		}
	}
	return f.bitsF.Sync()
}
