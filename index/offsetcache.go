package index

import (
	"container/list"
	"encoding/binary"
	"fmt"
	"slices"
	"sync"

	"github.com/cockroachdb/pebble/v2"
)

// The offset cache keeps pages of block spans in memory in front of the
// 'b' and 'o' tables, so that a seek that hits costs two binary searches
// instead of a Pebble iterator (about 5 us). A page holds the known blocks
// among pageBlocks consecutive indexes, read with one scan of 'b'. Pages
// are shared by every FeedIndex of a DB and evicted least recently used
// past Options.OffsetCacheSize bytes, so the memory a feed costs is
// bounded by that option, not by the feed.
//
// Pages are immutable. An Update drops the pages of the blocks it writes
// and a Reset all of a feed's pages; a page read from Pebble while such a
// change ran is not kept (the feed's generation moved on).

// pageBlocks is the number of consecutive block indexes one page covers.
const pageBlocks = 256

// pageOverhead approximates a page's memory beyond its spans.
const pageOverhead = 128

type offsetPage struct {
	feed  [32]byte
	n     uint64 // covers indexes [n*pageBlocks, (n+1)*pageBlocks)
	idx   []uint32
	start []uint64 // of the known blocks, ascending with their index
	end   []uint64
	elem  *list.Element
}

func (p *offsetPage) size() int64 { return int64(len(p.idx))*20 + pageOverhead }

// find returns the known block holding byte off: the first whose end is
// past off, if it starts at or before off.
func (p *offsetPage) find(off uint64) (i, start, end uint64, ok bool) {
	k, _ := slices.BinarySearchFunc(p.end, off+1, func(e, t uint64) int {
		switch {
		case e < t:
			return -1
		case e > t:
			return 1
		}
		return 0
	})
	if k == len(p.end) || p.start[k] > off {
		return 0, 0, 0, false
	}
	return p.n*pageBlocks + uint64(p.idx[k]), p.start[k], p.end[k], true
}

// feedPages are one feed's cached pages, ascending by n (and so by offset).
type feedPages struct {
	pages []*offsetPage
	gen   uint64 // bumped by every change to the feed's spans
}

type offsetCache struct {
	max int64
	// mu guards everything below; it is held for in-memory work only,
	// never across a Pebble read.
	mu    sync.Mutex
	feeds map[[32]byte]*feedPages
	lru   list.List // of *offsetPage, most recent first
	used  int64
}

func newOffsetCache(max int64) *offsetCache {
	return &offsetCache{max: max, feeds: map[[32]byte]*feedPages{}}
}

func (c *offsetCache) feedLocked(key [32]byte) *feedPages {
	fp := c.feeds[key]
	if fp == nil {
		fp = &feedPages{}
		c.feeds[key] = fp
	}
	return fp
}

// at looks up the block holding off among key's cached pages. hit is set
// when a page covers off, whatever the answer.
func (c *offsetCache) at(key [32]byte, off uint64) (i, start, end uint64, ok, hit bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	fp := c.feeds[key]
	if fp == nil {
		return 0, 0, 0, false, false
	}
	k, _ := slices.BinarySearchFunc(fp.pages, off+1, func(p *offsetPage, t uint64) int {
		if p.end[len(p.end)-1] < t {
			return -1
		}
		return 1
	})
	if k == len(fp.pages) || fp.pages[k].start[0] > off {
		return 0, 0, 0, false, false
	}
	p := fp.pages[k]
	c.lru.MoveToFront(p.elem)
	i, start, end, ok = p.find(off)
	return i, start, end, ok, true
}

// block looks up block i in key's cached pages.
func (c *offsetCache) block(key [32]byte, i uint64) (start, end uint64, ok, hit bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	fp := c.feeds[key]
	if fp == nil {
		return 0, 0, false, false
	}
	n := i / pageBlocks
	k, found := slices.BinarySearchFunc(fp.pages, n, func(p *offsetPage, n uint64) int {
		return cmpU64(p.n, n)
	})
	if !found {
		return 0, 0, false, false
	}
	p := fp.pages[k]
	c.lru.MoveToFront(p.elem)
	j, found := slices.BinarySearch(p.idx, uint32(i%pageBlocks))
	if !found {
		return 0, 0, false, true
	}
	return p.start[j], p.end[j], true, true
}

func cmpU64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// generation is read before a page is loaded from Pebble.
func (c *offsetCache) generation(key [32]byte) uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.feedLocked(key).gen
}

// put keeps p unless the feed changed since gen was read.
func (c *offsetCache) put(p *offsetPage, gen uint64) {
	if len(p.idx) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	fp := c.feedLocked(p.feed)
	if fp.gen != gen {
		return
	}
	k, found := slices.BinarySearchFunc(fp.pages, p.n, func(q *offsetPage, n uint64) int { return cmpU64(q.n, n) })
	if found {
		return // another reader loaded it meanwhile
	}
	fp.pages = slices.Insert(fp.pages, k, p)
	p.elem = c.lru.PushFront(p)
	c.used += p.size()
	for c.used > c.max && c.lru.Len() > 1 {
		c.removeLocked(c.lru.Back().Value.(*offsetPage))
	}
}

func (c *offsetCache) removeLocked(p *offsetPage) {
	c.lru.Remove(p.elem)
	c.used -= p.size()
	fp := c.feeds[p.feed]
	if k, found := slices.BinarySearchFunc(fp.pages, p.n, func(q *offsetPage, n uint64) int { return cmpU64(q.n, n) }); found {
		fp.pages = slices.Delete(fp.pages, k, k+1)
	}
}

// changed drops the pages holding blocks (all of key's pages if blocks is
// nil) and moves the feed's generation on.
func (c *offsetCache) changed(key [32]byte, blocks []BlockSpan) {
	c.mu.Lock()
	defer c.mu.Unlock()
	fp := c.feeds[key]
	if fp == nil {
		return
	}
	fp.gen++
	if blocks == nil {
		for _, p := range slices.Clone(fp.pages) {
			c.removeLocked(p)
		}
		return
	}
	last := ^uint64(0)
	for _, s := range blocks {
		n := s.Index / pageBlocks
		if n == last {
			continue
		}
		last = n
		if k, found := slices.BinarySearchFunc(fp.pages, n, func(q *offsetPage, n uint64) int { return cmpU64(q.n, n) }); found {
			c.removeLocked(fp.pages[k])
		}
	}
}

// loadPage reads page n of the feed from the 'b' table.
func (fi *FeedIndex) loadPage(n uint64) (*offsetPage, error) {
	p := fi.prefix(tagBlock)
	first := n * pageBlocks
	it, err := fi.db.db.NewIter(&pebble.IterOptions{
		LowerBound: append(p[:len(p):len(p)], u64(first)...),
		UpperBound: append(p[:len(p):len(p)], u64(first+pageBlocks)...),
	})
	if err != nil {
		return nil, fmt.Errorf("index page %d: %w", n, err)
	}
	defer it.Close()
	page := &offsetPage{feed: fi.key, n: n}
	for valid := it.First(); valid; valid = it.Next() {
		k := it.Key()
		v, err := it.ValueAndErr()
		if err != nil {
			return nil, fmt.Errorf("index page %d: %w", n, err)
		}
		if len(k) != len(p)+8 || len(v) != 16 {
			continue
		}
		i := binary.BigEndian.Uint64(k[len(p):])
		start, end := binary.BigEndian.Uint64(v), binary.BigEndian.Uint64(v[8:])
		if end < start || (len(page.end) > 0 && start < page.end[len(page.end)-1]) {
			continue // not a span we can order: leave it to Pebble
		}
		page.idx = append(page.idx, uint32(i-first))
		page.start = append(page.start, start)
		page.end = append(page.end, end)
	}
	if err := it.Error(); err != nil {
		return nil, fmt.Errorf("index page %d: %w", n, err)
	}
	return page, nil
}
