package index

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/cockroachdb/pebble/v2"

	"github.com/hyperfs/hyperfs/tree"
)

// FeedIndex is the offsets, nodes and state of one feed (see the package
// doc for the key layout). It has the method set of feed.Index.
type FeedIndex struct {
	db    *DB
	key   [32]byte
	pages *feedPages // in db.offsets
	nodes *nodeFeed  // in db.nodes

	// flushMu orders commits of pending updates, so that states reach
	// Pebble in the order the feed reached them. It is held across a
	// commit, which writes Pebble's WAL without syncing it.
	flushMu sync.Mutex
	// mu guards pend, and is held for in-memory work only.
	mu   sync.Mutex
	pend pending
}

// pending is what Updates recorded and no commit has written yet (see
// "Write-behind" in the package doc).
type pending struct {
	spans []BlockSpan // ascending by index, and so by offset
	// The state of the latest Update, if one came since the last commit;
	// seq counts Updates so that a commit knows whether it wrote the last.
	length   uint64
	rootHash [32]byte
	// roots, when set, are what rootHash is to be the hash of: hashed
	// at the first commit or State after the Update that gave them.
	roots    []tree.Node
	hasState bool
	seq      uint64
}

// hashRootsLocked turns roots given by an Update into rootHash; the
// FeedIndex's mu is held.
func (p *pending) hashRootsLocked() {
	if p.roots != nil {
		p.rootHash = tree.TreeHash(p.roots)
		p.roots = nil
	}
}

// maxPending bounds the spans kept before an Update commits them itself.
const maxPending = 4096

// find returns the pending span of block i.
func (p *pending) find(i uint64) (BlockSpan, bool) {
	k, ok := slices.BinarySearchFunc(p.spans, i, func(s BlockSpan, i uint64) int { return cmpU64(s.Index, i) })
	if !ok {
		return BlockSpan{}, false
	}
	return p.spans[k], true
}

// at returns the pending non-empty block holding byte off.
func (p *pending) at(off uint64) (BlockSpan, bool) {
	k, _ := slices.BinarySearchFunc(p.spans, off+1, func(s BlockSpan, end uint64) int { return cmpU64(s.End, end) })
	if k == len(p.spans) || p.spans[k].Start > off {
		return BlockSpan{}, false
	}
	return p.spans[k], true
}

// follows reports whether blocks, ascending, come after the pending ones,
// so that appending them keeps the run ascending. After a commit nothing
// is pending and any blocks follow.
func (p *pending) follows(blocks []BlockSpan) bool {
	n := len(p.spans)
	return n == 0 || len(blocks) == 0 || blocks[0].Index > p.spans[n-1].Index
}

func byIndex(a, b BlockSpan) int { return cmpU64(a.Index, b.Index) }

// Update is one append batch, verified download or rebuild step of a
// feed, applied as one batch.
type Update struct {
	Blocks []BlockSpan
	// Nodes go to the node cache (memory) once the batch is committed.
	Nodes    []tree.Node
	Length   uint64   // the feed's length after this update
	RootHash [32]byte // tree.TreeHash of the roots of Length
	// Roots, when set, stand for RootHash: the roots of Length, hashed
	// only when the state is committed or asked for, so a stream of
	// one-block appends hashes them once per commit, not per append.
	// The caller must not change them afterwards.
	Roots []tree.Node
	// Partial leaves the state as it was: a rebuild step before the
	// last, so that a rebuild cut short is redone, not trusted.
	Partial bool
}

// BlockSpan is the byte range [Start, End) of block Index.
type BlockSpan struct {
	Index, Start, End uint64
}

// Feed returns the index of the feed with public key key.
func (d *DB) Feed(key []byte) (*FeedIndex, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("index feed: key of %d bytes", len(key))
	}
	fi := &FeedIndex{db: d}
	copy(fi.key[:], key)
	fi.pages = d.offsets.pagesOf(fi.key)
	fi.nodes = d.nodes.newFeed()
	return fi, nil
}

func u64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

func (fi *FeedIndex) prefix(tag byte) []byte { return key(tag, fi.key[:]) }

// stateSize is length, byte length (informational) and the root hash.
const stateSize = 8 + 32

// State implements feed.Index.
func (fi *FeedIndex) State() (length uint64, rootHash [32]byte, ok bool, err error) {
	fi.mu.Lock()
	if fi.pend.hasState {
		fi.pend.hashRootsLocked()
		length, rootHash = fi.pend.length, fi.pend.rootHash
		fi.mu.Unlock()
		return length, rootHash, true, nil
	}
	fi.mu.Unlock()
	v, closer, err := fi.db.db.Get(fi.prefix(tagState))
	if errors.Is(err, pebble.ErrNotFound) {
		return 0, rootHash, false, nil
	}
	if err != nil {
		return 0, rootHash, false, fmt.Errorf("index state %x: %w", fi.key[:8], err)
	}
	defer closer.Close()
	if len(v) != stateSize {
		// A value we cannot read is as good as none: rebuild.
		return 0, rootHash, false, nil
	}
	copy(rootHash[:], v[8:])
	return binary.BigEndian.Uint64(v), rootHash, true, nil
}

// Reset implements feed.Index: one range deletion per table.
func (fi *FeedIndex) Reset() error {
	if fi.db.readOnly {
		return ErrReadOnly
	}
	fi.flushMu.Lock()
	defer fi.flushMu.Unlock()
	fi.mu.Lock()
	fi.pend = pending{seq: fi.pend.seq + 1}
	fi.mu.Unlock()
	b := fi.db.db.NewBatch()
	defer b.Close()
	for _, tag := range []byte{tagState, tagPage, tagPageEnd} {
		p := fi.prefix(tag)
		if err := b.DeleteRange(p, prefixEnd(p), nil); err != nil {
			return fmt.Errorf("reset index %x: %w", fi.key[:8], err)
		}
	}
	if err := fi.db.write("reset", func() error { return b.Commit(pebble.NoSync) }); err != nil {
		return fmt.Errorf("reset index %x: %w", fi.key[:8], err)
	}
	fi.db.offsets.changed(fi.key, nil) // after the commit: see offsetcache.go
	fi.db.nodes.reset(fi.nodes)
	return nil
}

// Update implements feed.Index. Blocks that follow the pending ones
// wait with them for the next commit (Flush, Sync of the feed, or
// maxPending reached); nodes go to the node cache at once. A rebuild
// step (Partial) commits at once, behind what is pending.
func (fi *FeedIndex) Update(u Update) error {
	if fi.db.readOnly {
		return ErrReadOnly
	}
	fi.db.nodes.put(fi.nodes, u.Nodes...)
	if u.Partial {
		if err := fi.Flush(); err != nil {
			return err
		}
		fi.flushMu.Lock()
		defer fi.flushMu.Unlock()
		return fi.commit(u.Blocks, nil)
	}
	blocks := u.Blocks
	if !slices.IsSortedFunc(blocks, byIndex) {
		blocks = slices.SortedFunc(slices.Values(blocks), byIndex)
	}
	for {
		fi.mu.Lock()
		if !fi.pend.follows(blocks) {
			// A download out of order: commit what is pending first, so
			// that pending spans stay one ascending run.
			fi.mu.Unlock()
			if err := fi.Flush(); err != nil {
				return err
			}
			continue
		}
		fi.pend.spans = append(fi.pend.spans, blocks...)
		fi.pend.length, fi.pend.rootHash, fi.pend.roots, fi.pend.hasState = u.Length, u.RootHash, u.Roots, true
		fi.pend.seq++
		full := len(fi.pend.spans) >= maxPending
		fi.mu.Unlock()
		if full {
			return fi.Flush()
		}
		return nil
	}
}

// Flush commits the pending updates as one batch, without sync. Readers
// keep finding the spans in pending until the commit is done and the
// cached pages it changes are dropped.
func (fi *FeedIndex) Flush() error {
	if fi.db.readOnly {
		return nil
	}
	fi.flushMu.Lock()
	defer fi.flushMu.Unlock()
	fi.mu.Lock()
	spans := fi.pend.spans[:len(fi.pend.spans):len(fi.pend.spans)]
	var st *[stateSize]byte
	if fi.pend.hasState {
		fi.pend.hashRootsLocked()
		st = new([stateSize]byte)
		binary.BigEndian.PutUint64(st[:], fi.pend.length)
		copy(st[8:], fi.pend.rootHash[:])
	}
	seq := fi.pend.seq
	fi.mu.Unlock()
	if len(spans) == 0 && st == nil {
		return nil
	}
	if err := fi.commit(spans, st); err != nil {
		return err
	}
	fi.mu.Lock()
	// Updates only append to pend.spans while flushMu is held here, so
	// the committed spans are still its first len(spans).
	fi.pend.spans = append(fi.pend.spans[:0], fi.pend.spans[len(spans):]...)
	if fi.pend.seq == seq {
		fi.pend.hasState = false
	}
	fi.mu.Unlock()
	return nil
}

// commit writes spans and, when st is set, the state last, as one batch
// without sync, then drops the cached pages the spans change. Each page
// the spans fall in is read, merged and written whole, with its entry in
// the page-end table moved if its last end changed. Called with flushMu
// held, so no other commit of this feed rewrites the same pages.
func (fi *FeedIndex) commit(spans []BlockSpan, st *[stateSize]byte) error {
	if !slices.IsSortedFunc(spans, byIndex) {
		spans = slices.SortedFunc(slices.Values(spans), byIndex)
	}
	b := fi.db.db.NewBatch()
	defer b.Close()
	err := spansByPage(spans, func(n uint64, run []BlockSpan) error {
		old, err := fi.loadPage(n)
		if err != nil {
			return err
		}
		page, err := mergePage(old, run)
		if err != nil {
			return err
		}
		if err := b.Set(fi.pageKey(n), encodePage(page), nil); err != nil {
			return err
		}
		newEnd := page.end[len(page.end)-1]
		if len(old.idx) > 0 {
			oldEnd := old.end[len(old.end)-1]
			if oldEnd == newEnd {
				return nil
			}
			if err := b.Delete(fi.pageEndKey(oldEnd, n), nil); err != nil {
				return err
			}
		}
		return b.Set(fi.pageEndKey(newEnd, n), nil, nil)
	})
	if err != nil {
		return fmt.Errorf("index blocks %d..%d: %w", spans[0].Index, spans[len(spans)-1].Index, err)
	}
	if st != nil {
		if err := b.Set(fi.prefix(tagState), st[:], nil); err != nil {
			return fmt.Errorf("index state: %w", err)
		}
	}
	if err := fi.db.write("update", func() error { return b.Commit(pebble.NoSync) }); err != nil {
		return fmt.Errorf("update index %x: %w", fi.key[:8], err)
	}
	if len(spans) > 0 {
		fi.db.offsets.changed(fi.key, spans)
	}
	return nil
}

// pageKey is page n's key in the page table.
func (fi *FeedIndex) pageKey(n uint64) []byte {
	return binary.BigEndian.AppendUint64(fi.prefix(tagPage), n)
}

// pageEndKey is page n's key in the page-end table, where its last
// block ends at end.
func (fi *FeedIndex) pageEndKey(end, n uint64) []byte {
	return binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(fi.prefix(tagPageEnd), end), n)
}

// Block implements feed.Index from the offset cache, which it fills with
// the page of block i on a miss.
func (fi *FeedIndex) Block(i uint64) (start, end uint64, ok bool, err error) {
	fi.mu.Lock()
	s, pending := fi.pend.find(i)
	fi.mu.Unlock()
	if pending {
		return s.Start, s.End, true, nil
	}
	if start, end, ok, hit := fi.db.offsets.block(fi.pages, i); hit {
		return start, end, ok, nil
	}
	gen := fi.db.offsets.generation(fi.key)
	page, err := fi.loadPage(i / pageBlocks)
	if err != nil {
		return 0, 0, false, err
	}
	fi.db.offsets.put(page, gen)
	if j, found := slices.BinarySearch(page.idx, uint32(i%pageBlocks)); found {
		return page.start[j], page.end[j], true, nil
	}
	return 0, 0, false, nil
}

// BlockAt implements feed.Index from the offset cache, or on a miss with
// one SeekGE in the page-end table and the Get of the page it names,
// which the cache then keeps.
func (fi *FeedIndex) BlockAt(off uint64) (i, start, end uint64, ok bool, err error) {
	fi.mu.Lock()
	s, pending := fi.pend.at(off)
	fi.mu.Unlock()
	if pending {
		return s.Index, s.Start, s.End, true, nil
	}
	if i, start, end, ok, hit := fi.db.offsets.at(fi.pages, off); hit {
		return i, start, end, ok, nil
	}
	gen := fi.db.offsets.generation(fi.key)
	n, found, err := fi.seekPage(off)
	if err != nil || !found {
		return 0, 0, 0, false, err
	}
	page, err := fi.loadPage(n)
	if err != nil {
		return 0, 0, 0, false, err
	}
	fi.db.offsets.put(page, gen)
	i, start, end, ok = page.find(off)
	return i, start, end, ok, nil
}

// seekPage finds the first page whose last block ends past off: blocks
// ascend by offset as by index, so if a known block holds off, it is in
// that page.
func (fi *FeedIndex) seekPage(off uint64) (n uint64, found bool, err error) {
	p := fi.prefix(tagPageEnd)
	it, err := fi.db.db.NewIter(&pebble.IterOptions{LowerBound: p, UpperBound: prefixEnd(p)})
	if err != nil {
		return 0, false, fmt.Errorf("index seek %d: %w", off, err)
	}
	defer it.Close()
	if off == ^uint64(0) || !it.SeekGE(binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(p, off+1), 0)) {
		return 0, false, it.Error()
	}
	k := it.Key()
	if len(k) != len(p)+16 {
		return 0, false, fmt.Errorf("index seek %d: %w: page-end key of %d bytes", off, errBadPage, len(k))
	}
	return binary.BigEndian.Uint64(k[len(p)+8:]), true, nil
}

// Node implements feed.Index from the node cache.
func (fi *FeedIndex) Node(n uint64) (tree.Node, bool) {
	return fi.db.nodes.get(fi.nodes, n)
}

// CacheNode implements feed.Index: node was read from the feed's tree file.
func (fi *FeedIndex) CacheNode(node tree.Node) {
	fi.db.nodes.put(fi.nodes, node)
}
