package index

import (
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/cockroachdb/pebble/v2"
)

// The offset cache keeps pages of block spans in memory in front of the
// page tables, so that a seek that hits costs two binary searches
// instead of a Pebble iterator (about 5 us). A page holds the known blocks
// among pageBlocks consecutive indexes, read with one Get (page.go). Pages
// are shared by every FeedIndex of a DB and evicted past
// Options.OffsetCacheSize bytes by the clock algorithm (a hit only sets a
// flag, cheaper than reordering a list on every seek), so the memory a feed costs is
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
	ref   bool // used since the clock hand last passed
	slot  int  // in offsetCache.ring
}

func (p *offsetPage) size() int64 { return int64(len(p.idx))*20 + pageOverhead }

// find returns the known block holding byte off: the first whose end is
// past off, if it starts at or before off.
func (p *offsetPage) find(off uint64) (i, start, end uint64, ok bool) {
	k, _ := slices.BinarySearch(p.end, off+1)
	if k == len(p.end) || p.start[k] > off {
		return 0, 0, 0, false
	}
	return p.n*pageBlocks + uint64(p.idx[k]), p.start[k], p.end[k], true
}

// feedPages are one feed's cached pages, ascending by n (and so by
// offset), with each page's last end beside it so that finding a page
// reads one contiguous array, not a page per step.
type feedPages struct {
	pages   []*offsetPage
	lastEnd []uint64 // lastEnd[k] = pages[k].end[len-1]
	gen     uint64   // bumped by every change to the feed's spans
}

type offsetCache struct {
	max int64
	// mu guards everything below; it is held for in-memory work only,
	// never across a Pebble read.
	mu    sync.Mutex
	feeds map[[32]byte]*feedPages
	ring  []*offsetPage // every cached page, in no order
	hand  int           // the clock's next candidate in ring
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

// pagesOf returns key's pages, which a FeedIndex keeps so that look-ups
// skip the map. Entries are never removed from the map.
func (c *offsetCache) pagesOf(key [32]byte) *feedPages {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.feedLocked(key)
}

// at looks up the block holding off among fp's cached pages. hit is set
// when a page covers off, whatever the answer.
func (c *offsetCache) at(fp *feedPages, off uint64) (i, start, end uint64, ok, hit bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	k, _ := slices.BinarySearch(fp.lastEnd, off+1) // first page ending past off
	if k == len(fp.pages) || fp.pages[k].start[0] > off {
		return 0, 0, 0, false, false
	}
	p := fp.pages[k]
	p.ref = true
	i, start, end, ok = p.find(off)
	return i, start, end, ok, true
}

// block looks up block i in fp's cached pages.
func (c *offsetCache) block(fp *feedPages, i uint64) (start, end uint64, ok, hit bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := i / pageBlocks
	k, found := slices.BinarySearchFunc(fp.pages, n, func(p *offsetPage, n uint64) int {
		return cmpU64(p.n, n)
	})
	if !found {
		return 0, 0, false, false
	}
	p := fp.pages[k]
	p.ref = true
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
	fp.lastEnd = slices.Insert(fp.lastEnd, k, p.end[len(p.end)-1])
	p.slot = len(c.ring)
	c.ring = append(c.ring, p)
	c.used += p.size()
	for c.used > c.max && len(c.ring) > 1 {
		if c.hand >= len(c.ring) {
			c.hand = 0
		}
		q := c.ring[c.hand]
		if q.ref || q == p {
			q.ref = false
			c.hand++
			continue
		}
		c.removeLocked(q)
	}
}

func (c *offsetCache) removeLocked(p *offsetPage) {
	last := c.ring[len(c.ring)-1]
	c.ring[p.slot], last.slot = last, p.slot
	c.ring = c.ring[:len(c.ring)-1]
	c.used -= p.size()
	fp := c.feeds[p.feed]
	if k, found := slices.BinarySearchFunc(fp.pages, p.n, func(q *offsetPage, n uint64) int { return cmpU64(q.n, n) }); found {
		fp.pages = slices.Delete(fp.pages, k, k+1)
		fp.lastEnd = slices.Delete(fp.lastEnd, k, k+1)
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

// loadPage reads page n of the feed from the page table; a page never
// written is empty.
func (fi *FeedIndex) loadPage(n uint64) (*offsetPage, error) {
	v, closer, err := fi.db.db.Get(fi.pageKey(n))
	if errors.Is(err, pebble.ErrNotFound) {
		return &offsetPage{feed: fi.key, n: n}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("index page %d: %w", n, err)
	}
	defer closer.Close()
	return decodePage(fi.key, n, v)
}
