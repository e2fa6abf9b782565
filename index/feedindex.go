package index

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

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
}

// Update is one append batch, verified download or rebuild step of a
// feed, applied as one batch.
type Update struct {
	Blocks []BlockSpan
	// Nodes go to the node cache (memory) once the batch is committed.
	Nodes    []tree.Node
	Length   uint64   // the feed's length after this update
	RootHash [32]byte // tree.TreeHash of the roots of Length
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
	b := fi.db.db.NewBatch()
	defer b.Close()
	for _, tag := range []byte{tagState, tagBlock, tagOffset} {
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

// Update implements feed.Index: one batch, state last, no sync.
func (fi *FeedIndex) Update(u Update) error {
	if fi.db.readOnly {
		return ErrReadOnly
	}
	b := fi.db.db.NewBatch()
	defer b.Close()
	bp, op := fi.prefix(tagBlock), fi.prefix(tagOffset)
	var val [16]byte
	for _, s := range u.Blocks {
		binary.BigEndian.PutUint64(val[:], s.Start)
		binary.BigEndian.PutUint64(val[8:], s.End)
		if err := b.Set(append(bp[:len(bp):len(bp)], u64(s.Index)...), val[:16], nil); err != nil {
			return fmt.Errorf("index block %d: %w", s.Index, err)
		}
		k := append(append(op[:len(op):len(op)], u64(s.End)...), u64(s.Index)...)
		if err := b.Set(k, val[:8], nil); err != nil {
			return fmt.Errorf("index block %d: %w", s.Index, err)
		}
	}
	if !u.Partial {
		var st [stateSize]byte
		binary.BigEndian.PutUint64(st[:], u.Length)
		copy(st[8:], u.RootHash[:])
		if err := b.Set(fi.prefix(tagState), st[:], nil); err != nil {
			return fmt.Errorf("index state: %w", err)
		}
	}
	if err := fi.db.write("update", func() error { return b.Commit(pebble.NoSync) }); err != nil {
		return fmt.Errorf("update index %x: %w", fi.key[:8], err)
	}
	if len(u.Blocks) > 0 {
		fi.db.offsets.changed(fi.key, u.Blocks)
	}
	fi.db.nodes.put(fi.nodes, u.Nodes...)
	return nil
}

// Block implements feed.Index from the offset cache, which it fills with
// the page of block i on a miss.
func (fi *FeedIndex) Block(i uint64) (start, end uint64, ok bool, err error) {
	if start, end, ok, hit := fi.db.offsets.block(fi.pages, i); hit {
		return start, end, ok, nil
	}
	gen := fi.db.offsets.generation(fi.key)
	if page, err := fi.loadPage(i / pageBlocks); err == nil {
		fi.db.offsets.put(page, gen)
		if j, found := slices.BinarySearch(page.idx, uint32(i%pageBlocks)); found {
			return page.start[j], page.end[j], true, nil
		}
		return 0, 0, false, nil
	}
	return fi.blockGet(i)
}

// blockGet reads block i's span with one Get.
func (fi *FeedIndex) blockGet(i uint64) (start, end uint64, ok bool, err error) {
	v, closer, err := fi.db.db.Get(append(fi.prefix(tagBlock), u64(i)...))
	if errors.Is(err, pebble.ErrNotFound) {
		return 0, 0, false, nil
	}
	if err != nil {
		return 0, 0, false, fmt.Errorf("index block %d: %w", i, err)
	}
	defer closer.Close()
	if len(v) != 16 {
		return 0, 0, false, nil
	}
	start, end = binary.BigEndian.Uint64(v), binary.BigEndian.Uint64(v[8:])
	if end < start {
		return 0, 0, false, nil
	}
	return start, end, true, nil
}

// BlockAt implements feed.Index from the offset cache, or on a miss with
// one SeekGE after which the cache gets the page of the block found.
func (fi *FeedIndex) BlockAt(off uint64) (i, start, end uint64, ok bool, err error) {
	if i, start, end, ok, hit := fi.db.offsets.at(fi.pages, off); hit {
		return i, start, end, ok, nil
	}
	gen := fi.db.offsets.generation(fi.key)
	i, start, end, ok, err = fi.seek(off)
	if ok {
		if page, err := fi.loadPage(i / pageBlocks); err == nil {
			fi.db.offsets.put(page, gen)
		}
	}
	return i, start, end, ok, err
}

// seek finds the block holding off with one SeekGE: the first known
// block whose end is past off, which holds off if its start is not past
// it.
func (fi *FeedIndex) seek(off uint64) (i, start, end uint64, ok bool, err error) {
	p := fi.prefix(tagOffset)
	it, err := fi.db.db.NewIter(&pebble.IterOptions{LowerBound: p, UpperBound: prefixEnd(p)})
	if err != nil {
		return 0, 0, 0, false, fmt.Errorf("index seek %d: %w", off, err)
	}
	defer it.Close()
	if off == ^uint64(0) || !it.SeekGE(append(append(p, u64(off+1)...), u64(0)...)) {
		return 0, 0, 0, false, it.Error()
	}
	k := it.Key()
	if len(k) != len(p)+16 {
		return 0, 0, 0, false, nil
	}
	v, err := it.ValueAndErr()
	if err != nil || len(v) != 8 {
		return 0, 0, 0, false, err
	}
	end, i = binary.BigEndian.Uint64(k[len(p):]), binary.BigEndian.Uint64(k[len(p)+8:])
	start = binary.BigEndian.Uint64(v)
	if start > off || end < start {
		return 0, 0, 0, false, nil // a gap of unknown blocks
	}
	return i, start, end, true, nil
}

// Node implements feed.Index from the node cache.
func (fi *FeedIndex) Node(n uint64) (tree.Node, bool) {
	return fi.db.nodes.get(fi.nodes, n)
}

// CacheNode implements feed.Index: node was read from the feed's tree file.
func (fi *FeedIndex) CacheNode(node tree.Node) {
	fi.db.nodes.put(fi.nodes, node)
}
