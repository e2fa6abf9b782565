package fusefs

import (
	"context"
	"fmt"
	"sync"

	"github.com/hyperfs/hyperfs/feed"
)

// cursor is what one read handle remembers of where it is: the last block
// it read, with the byte offset where that block starts, and for data how
// far ahead it asked for blocks. Blocks never change once appended, so it
// needs no invalidation.
type cursor struct {
	// mu guards the fields below. It is never held while reading or
	// fetching a block.
	mu    sync.Mutex
	i     uint64 // the last block read
	start uint64 // its byte offset in data
	b     []byte // its bytes; nil: nothing read yet
	// The readahead state of a data handle (see readAhead), since the
	// reader last jumped: first is the block where the latest READ began,
	// end is past the highest block read, and blocks below asked were
	// asked of the engine ahead of the reader.
	first, end, asked uint64
}

// get returns block i if it is the remembered one.
func (c *cursor) get(i uint64) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.b, c.b != nil && c.i == i
}

func (c *cursor) put(i, start uint64, b []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.i, c.start, c.b = i, start, b
	c.end = max(c.end, i+1)
}

// at places byte off without a seek when it lies in the remembered block
// or right after it (where the next block starts: a sequential reader's
// next READ). A sparse replica often cannot seek without fetching blocks
// (feed.SeekFetch), so a streaming reader must not have to.
func (c *cursor) at(off uint64) (i, in uint64, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.b == nil || off < c.start:
		return 0, 0, false
	case off < c.start+uint64(len(c.b)):
		return c.i, off - c.start, true
	case off == c.start+uint64(len(c.b)):
		// Empty blocks after i hold no bytes: readData walks past them.
		return c.i + 1, 0, true
	}
	return 0, 0, false
}

// block returns block i for a reader. A block that is not local is waited
// for (feed.Get asks the Fetcher) up to the fetch timeout, unless nonblock
// is set: then errWouldBlock at once. ctx is the request's: an interrupt
// (Ctrl-C) cancels it. No lock is held while waiting. start is the block's
// byte offset, which c remembers with it.
func (m *mfeed) block(ctx context.Context, c *cursor, i, start uint64, nonblock bool) ([]byte, error) {
	if c != nil {
		if b, ok := c.get(i); ok {
			return b, nil
		}
	}
	if !m.f.Has(i) {
		if nonblock && i < m.f.Length() {
			return nil, fmt.Errorf("block %d: %w", i, errWouldBlock)
		}
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, m.fsys.opts.FetchTimeout)
		defer cancel()
	}
	b, err := m.f.Get(ctx, i)
	if err != nil {
		return nil, err
	}
	if c != nil {
		c.put(i, start, b)
	}
	return b, nil
}

// seek finds the block holding byte off. A sparse replica may have to
// fetch blocks to place it (feed.SeekFetch), within the fetch timeout,
// unless nonblock is set. Byte 0 is in block 0 (or, if that is empty, in
// a later one readData walks to) without a seek.
func (m *mfeed) seek(ctx context.Context, off uint64, nonblock bool) (uint64, uint64, error) {
	if off == 0 {
		return 0, 0, nil
	}
	i, in, err := m.f.Seek(off)
	if err == nil || m.f.Writable() {
		return i, in, err
	}
	if nonblock {
		return 0, 0, fmt.Errorf("seek to byte %d: %w", off, errWouldBlock)
	}
	ctx, cancel := context.WithTimeout(ctx, m.fsys.opts.FetchTimeout)
	defer cancel()
	return m.f.SeekFetch(ctx, off)
}

// readData fills p with the bytes of the concatenated blocks from off on,
// as far as the byte length, and returns how many. It never returns fewer
// bytes than remain before the byte length: a block that cannot be read
// fails the whole read, so a short read always means EOF. It places off
// once (from the cursor, else by a seek), then walks block by block.
func (m *mfeed) readData(ctx context.Context, c *cursor, p []byte, off uint64, nonblock bool) (int, error) {
	size := m.f.ByteLength()
	if off >= size {
		return 0, nil
	}
	if rem := size - off; uint64(len(p)) > rem {
		p = p[:rem]
	}
	i, in, ok := uint64(0), uint64(0), false
	if c != nil {
		i, in, ok = c.at(off)
	}
	if !ok {
		var err error
		if i, in, err = m.seek(ctx, off, nonblock); err != nil {
			return 0, fmt.Errorf("seek to byte %d: %w", off, err)
		}
	}
	if c != nil && !nonblock {
		// Ask ahead before reading, so the blocks of this READ past i are
		// fetched together, not one round trip each.
		m.readAhead(c, i)
	}
	n := 0
	for n < len(p) {
		if i >= m.f.Length() {
			return 0, fmt.Errorf("%w: byte %d is past the last block", feed.ErrCorrupt, off+uint64(n))
		}
		b, err := m.block(ctx, c, i, off+uint64(n)-in, nonblock)
		if err != nil {
			return 0, err
		}
		if in > uint64(len(b)) || (in == uint64(len(b)) && in > 0) {
			return 0, fmt.Errorf("%w: byte %d is past block %d (%d bytes)", feed.ErrCorrupt, off+uint64(n), i, len(b))
		}
		n += copy(p[n:], b[in:])
		i, in = i+1, 0
	}
	if off+uint64(n) == size {
		m.hashEmptyTail(i)
	}
	return n, nil
}

// hashEmptyTail hashes the empty blocks from i to the end of the feed.
// They hold no bytes, so no READ reads them, and without this a full
// read of a feed ending in empty blocks would never leave every block
// verified, which passthrough waits for. Past the last block (the usual
// case) it does nothing.
func (m *mfeed) hashEmptyTail(i uint64) {
	for ; i < m.f.Length(); i++ {
		if _, size, err := m.f.BlockRange(i); err != nil || size != 0 {
			return
		}
		if _, err := m.f.GetLocal(i); err != nil {
			return
		}
	}
}
