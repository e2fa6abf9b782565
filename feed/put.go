package feed

import (
	"errors"
	"fmt"
	"time"

	"github.com/hyperfs/hyperfs/index"
	"github.com/hyperfs/hyperfs/tree"
)

// ErrForkedWriter: a proof claims a longer history than a writer has
// written itself, which only a leaked secret key can produce.
var ErrForkedWriter = errors.New("feed: proof extends a writable feed")

// ErrFork: a proof verifies against the key but disagrees with nodes
// stored here. Only the holder of the secret key can sign two histories,
// so the key has leaked or its holder forked the feed; what is stored is
// kept.
var ErrFork = errors.New("feed: fork detected: the key signed another history")

// Put verifies a Data message's proof against the stored tree and the
// feed's key, and stores what it proves (spec 3.12, 4.8.5): the block at
// its absolute offset, every node used or computed, and the signature in
// slot length-1 when the proof ends in signed roots. Nothing is written
// unless the whole proof verifies. A proof of a longer length grows the
// feed. Errors from verification wrap tree.ErrInvalidProof. Put may keep
// p.Value for a local reader that asked for the block (fresh.go): the
// caller must not change it afterwards.
func (f *Feed) Put(p tree.Proof) error {
	if f.readOnly {
		return fmt.Errorf("put block %d into feed %x: %w", p.Block, f.key[:8], ErrReadOnly)
	}
	f.writeMu.Lock()
	defer f.writeMu.Unlock()
	f.mu.RLock()
	closed, length := f.mu.closed, f.mu.length
	f.mu.RUnlock()
	if closed {
		return ErrClosed
	}
	v, err := tree.VerifyProof(f.key, f, p)
	if err != nil {
		return fmt.Errorf("put block %d into feed %x: %w", p.Block, f.key[:8], err)
	}
	if v.Length > length && f.Writable() {
		return fmt.Errorf("put block %d: %w (length %d > %d)", p.Block, ErrForkedWriter, v.Length, length)
	}
	if err := f.checkFork(v); err != nil {
		return fmt.Errorf("put block %d into feed %x: %w", p.Block, f.key[:8], err)
	}
	batch := map[uint64]tree.Node{}
	for _, n := range v.Nodes {
		batch[n.Index] = n
	}
	batch[v.Leaf.Index] = v.Leaf
	if err := f.completeParents(batch); err != nil {
		return fmt.Errorf("put block %d: %w", p.Block, err)
	}
	storeData := p.HasValue && !f.Has(p.Block)
	off, err := f.writeVerified(p, v, batch, storeData)
	if err != nil {
		return fmt.Errorf("put block %d into feed %x: %w", p.Block, f.key[:8], err)
	}
	if storeData {
		f.fresh.keep(p.Block, p.Value) // before a waiting Get wakes
	}
	f.publishPut(p.Block, v, batch, storeData)
	if f.index() != nil {
		nodes := make([]tree.Node, 0, len(batch))
		for _, n := range batch {
			nodes = append(nodes, n)
		}
		var spans []index.BlockSpan
		if storeData {
			spans = []index.BlockSpan{{Index: p.Block, Start: off, End: off + v.Leaf.Size}}
		}
		f.indexed(spans, nodes)
	}
	return nil
}

// checkFork compares every node a proof established with the node stored
// at the same index, if any.
func (f *Feed) checkFork(v *tree.Verified) error {
	check := func(n tree.Node) error {
		if !f.HasNode(n.Index) {
			return nil
		}
		stored, err := f.readNode(n.Index)
		if err != nil {
			return err
		}
		if stored != n {
			return fmt.Errorf("%w: node %d", ErrFork, n.Index)
		}
		return nil
	}
	if err := check(v.Leaf); err != nil {
		return err
	}
	for _, n := range v.Nodes {
		if err := check(n); err != nil {
			return err
		}
	}
	for _, n := range v.Roots {
		if err := check(n); err != nil {
			return err
		}
	}
	return nil
}

// completeParents adds to batch every parent that marking the batch's
// nodes completes (both children known), computed from its children, so a
// tree bit is never set for a node the tree file lacks.
func (f *Feed) completeParents(batch map[uint64]tree.Node) error {
	get := func(i uint64) (tree.Node, bool, error) {
		if n, ok := batch[i]; ok {
			return n, true, nil
		}
		if !f.HasNode(i) {
			return tree.Node{}, false, nil
		}
		n, err := f.readNode(i)
		return n, err == nil, err
	}
	queue := make([]uint64, 0, len(batch))
	for i := range batch {
		queue = append(queue, i)
	}
	for len(queue) > 0 {
		i := queue[len(queue)-1]
		queue = queue[:len(queue)-1]
		p := tree.Parent(i)
		if _, ok := batch[p]; ok || f.HasNode(p) || p >= tree.MaxIndex {
			continue
		}
		a, ok, err := get(i)
		if err != nil || !ok {
			return err
		}
		b, ok, err := get(tree.Sibling(i))
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		batch[p] = tree.ParentOf(a, b)
		queue = append(queue, p)
	}
	return nil
}

// writeVerified writes a verified proof's data (when storeData), new tree
// nodes and signature, and returns the block's byte offset when its data
// was written.
func (f *Feed) writeVerified(p tree.Proof, v *tree.Verified, batch map[uint64]tree.Node, storeData bool) (off uint64, err error) {
	if storeData { // even when empty, so the data file exists (see writeTree)
		if off, err = f.offsetWith(p.Block, batch); err != nil {
			return 0, err
		}
		if err := writeAll(f.data, p.Value, int64(off)); err != nil {
			return 0, fmt.Errorf("write data: %w", err)
		}
	}
	var rec [nodeSize]byte
	for _, n := range batch {
		if f.HasNode(n.Index) {
			continue
		}
		encodeNode(rec[:], n)
		if err := writeAll(f.treeF, rec[:], nodeOffset(n.Index)); err != nil {
			return 0, fmt.Errorf("write tree node %d: %w", n.Index, err)
		}
	}
	if v.Length > 0 && v.Signature != nil {
		if err := writeAll(f.sigs, v.Signature, signatureOffset(v.Length-1)); err != nil {
			return 0, fmt.Errorf("write signature %d: %w", v.Length-1, err)
		}
	}
	return off, nil
}

// offsetWith is block i's offset from the roots left of it, taken from the
// batch or the tree file.
func (f *Feed) offsetWith(i uint64, batch map[uint64]tree.Node) (uint64, error) {
	// The block right after the known-offset prefix (every block of an
	// in-order download) starts where the prefix ends: no tree reads.
	f.mu.RLock()
	if i <= uint64(len(f.mu.ends)) {
		off := f.offsetLocked(i)
		f.mu.RUnlock()
		return off, nil
	}
	f.mu.RUnlock()
	if off, _, err := f.BlockRange(i); err == nil {
		return off, nil
	}
	var off uint64
	for _, r := range tree.FullRoots(2 * i) {
		n, ok := batch[r]
		if !ok {
			var err error
			if n, err = f.readNode(r); err != nil {
				return 0, fmt.Errorf("offset of block %d: %w", i, err)
			}
		}
		off += n.Size
	}
	return off, nil
}

// publishPut makes a stored proof visible: tree and data bits, a longer
// length, offsets, and the events.
func (f *Feed) publishPut(block uint64, v *tree.Verified, batch map[uint64]tree.Node, storeData bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	bits := f.mu.bits
	var scratch []uint64
	for i := range batch {
		scratch = bits.SetNode(i, scratch[:0])
	}
	old := f.mu.length
	if v.Length > old {
		f.mu.grown = time.Now()
		f.mu.length = v.Length
		f.mu.roots = v.Roots
		f.mu.byteLength = sumSizes(v.Roots)
	}
	if f.index() == nil {
		f.extendEndsLocked(batch)
	}
	if storeData {
		bits.SetBlock(block, true)
		f.growVerifiedLocked(block, block+1)
	}
	f.mu.unsynced = true
	if v.Length > old {
		f.notifyLocked(Event{Kind: EventAppend, Start: old, End: v.Length})
	}
	if storeData {
		f.notifyLocked(Event{Kind: EventDownload, Start: block, End: block + 1})
	}
}

// extendEndsLocked grows the known-offset prefix over leaves the batch
// supplied (leaves already stored were read at open or on earlier puts).
func (f *Feed) extendEndsLocked(batch map[uint64]tree.Node) {
	for i := uint64(len(f.mu.ends)); i < f.mu.length; i++ {
		leaf, ok := batch[2*i]
		if !ok {
			return
		}
		var prev uint64
		if i > 0 {
			prev = f.mu.ends[i-1]
		}
		f.mu.ends = append(f.mu.ends, prev+leaf.Size)
	}
}
