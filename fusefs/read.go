package fusefs

import (
	"context"
	"fmt"
	"sync"

	"github.com/hyperfs/hyperfs/feed"
)

// lastBlock remembers the last block a handle read, so that reads smaller
// than a block (4 KiB reads of 1 MiB blocks) fetch it once. Blocks never
// change, so it needs no invalidation.
type lastBlock struct {
	// mu guards i and b.
	mu sync.Mutex
	i  uint64
	b  []byte // nil: nothing remembered
}

func (c *lastBlock) get(i uint64) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.b, c.b != nil && c.i == i
}

func (c *lastBlock) put(i uint64, b []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.i, c.b = i, b
}

// block returns block i for a reader. A block that is not local is waited
// for (feed.Get asks the Fetcher) up to the fetch timeout, unless nonblock
// is set: then errWouldBlock at once. ctx is the request's: an interrupt
// (Ctrl-C) cancels it. No lock is held while waiting.
func (m *mfeed) block(ctx context.Context, c *lastBlock, i uint64, nonblock bool) ([]byte, error) {
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
		c.put(i, b)
	}
	return b, nil
}

// seek finds the block holding byte off. A sparse replica may have to
// fetch blocks to place it (feed.SeekFetch), within the fetch timeout,
// unless nonblock is set.
func (m *mfeed) seek(ctx context.Context, off uint64, nonblock bool) (uint64, uint64, error) {
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
// fails the whole read, so a short read always means EOF.
func (m *mfeed) readData(ctx context.Context, c *lastBlock, p []byte, off uint64, nonblock bool) (int, error) {
	size := m.f.ByteLength()
	if off >= size {
		return 0, nil
	}
	if rem := size - off; uint64(len(p)) > rem {
		p = p[:rem]
	}
	n := 0
	for n < len(p) {
		i, in, err := m.seek(ctx, off+uint64(n), nonblock)
		if err != nil {
			return 0, fmt.Errorf("seek to byte %d: %w", off+uint64(n), err)
		}
		b, err := m.block(ctx, c, i, nonblock)
		if err != nil {
			return 0, err
		}
		if in >= uint64(len(b)) {
			return 0, fmt.Errorf("%w: byte %d is past block %d (%d bytes)", feed.ErrCorrupt, off+uint64(n), i, len(b))
		}
		n += copy(p[n:], b[in:])
	}
	return n, nil
}
