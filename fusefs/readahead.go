package fusefs

// Readahead of remote data. A READ of a block that a sparse replica lacks
// waits for it (feed.Get asks the Fetcher, and the peer layer fetches it):
// one network round trip per block if nothing else happens, so cat of a
// remote feed would crawl. A handle whose READs run in order therefore
// asks the engine, without waiting, for the blocks after the one it is
// reading, a bounded window ahead, each block once; they download while
// the reader is still busy with earlier ones. A random reader asks for
// nothing beyond what it reads. The engine's own readahead (feed
// verifyAhead) is another matter: it hashes stored blocks in windows.
const (
	aheadBlocks = 64      // at most this many blocks ahead of a reader
	aheadBytes  = 8 << 20 // and about this many bytes, at the mean block size
	aheadMin    = 2       // but at least this many blocks
)

// What is asked ahead (feed.Prefetch) downloads even if the handle
// closes first: the Fetcher has no way to withdraw an ask, so a closed
// handle costs at most one window.

// aheadWindow is how many blocks to keep asked ahead of a reader of a
// feed of length blocks and byteLength bytes.
func aheadWindow(length, byteLength uint64) uint64 {
	if length == 0 {
		return 0
	}
	mean := max(byteLength/length, 1)
	return min(aheadBlocks, max(aheadMin, aheadBytes/mean))
}

// readAhead runs at the start of a READ of data that begins in block i.
// The READ is in order when it begins no later than the blocks read or
// asked for so far and no more than a window before the latest READ: the
// next READ of cat, and also the READs the kernel's own readahead sends
// several at a time, which go-fuse serves in any order (cat of a remote
// feed shows one in six or so starting before its predecessor). Then
// every block of the window after i that is not asked yet is asked for.
// Any other READ is a jump: it asks for nothing, and the window restarts
// after it. It runs in the request's goroutine and starts none: asking is
// cheap and never waits.
func (m *mfeed) readAhead(c *cursor, i uint64) {
	length := m.f.Length()
	w := aheadWindow(length, m.f.ByteLength())
	c.mu.Lock()
	if i+w < c.first || i > max(c.end, c.asked) {
		c.first, c.end, c.asked = i, i, i+1
		c.mu.Unlock()
		return
	}
	c.first = max(c.first, i)
	from := max(c.asked, i+1)
	to := min(i+1+w, length)
	c.asked = max(c.asked, to)
	c.mu.Unlock()
	for j := from; j < to; j++ {
		m.f.Prefetch(j)
	}
}
