package fusefs

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sync"
	"syscall"
	"testing"

	"github.com/hyperfs/hyperfs/feed"
	"github.com/hyperfs/hyperfs/tree"
)

// server is a Fetcher standing for the peer layer: it records every block
// asked for and delivers it at once from the writer, as a proof the
// replica verifies (feed.Put).
type server struct {
	w *feed.Feed
	// mu guards marks, asked and err; held across Put, which never calls
	// back into the server.
	mu    sync.Mutex
	marks tree.NodeMarks
	asked []uint64
	err   error
}

func (s *server) Want(f *feed.Feed, i uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.asked = append(s.asked, i)
	p, err := s.w.Proof(i, false, tree.Digest(f, 2*i, 2*f.Length()+2), &s.marks)
	if err == nil {
		err = f.Put(p)
	}
	if err != nil && s.err == nil {
		s.err = fmt.Errorf("deliver block %d: %w", i, err)
	}
}

// take returns and forgets the blocks asked so far, failing the test if
// a delivery failed.
func (s *server) take(t *testing.T) []uint64 {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		t.Fatal(s.err)
	}
	a := s.asked
	s.asked = nil
	return a
}

// remote mounts a replica of a writer holding n blocks of size bytes. It
// knows the length (from a proof of the last block's hash, as a peer's
// first answer gives it) and, with nodes, every tree node but no block
// (the blocks were cleared); without, nothing else. Its Fetcher is the
// returned server.
func remote(t *testing.T, n, size int, nodes bool) (*mfeed, *server, []byte) {
	t.Helper()
	blocks := make([][]byte, n)
	for k := range blocks {
		blocks[k] = bytes.Repeat([]byte{byte(k)}, size)
	}
	w, _ := testFeed(t, blocks...)
	r, err := feed.CreateReplica(feed.NewMemStorage(), w.Key(), feed.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	s := &server{w: w}
	last := uint64(n - 1)
	p, err := w.Proof(last, true, tree.Digest(r, 2*last, 2), &s.marks)
	if err == nil {
		err = r.Put(p)
	}
	if err != nil || r.Length() != uint64(n) {
		t.Fatalf("replica learning the length: %v (length %d)", err, r.Length())
	}
	r.SetFetcher(s)
	if nodes {
		for i := range uint64(n) {
			s.Want(r, i)
		}
		if err := r.Clear(0, uint64(n)); err != nil {
			t.Fatal(err)
		}
		s.take(t)
	}
	fsys, _ := testFS(t, Options{Feeds: []Entry{{Name: "r", Feed: r}}})
	return fsys.feed("r"), s, concat(blocks, nil)
}

func span(from, to uint64) []uint64 {
	var s []uint64
	for i := from; i < to; i++ {
		s = append(s, i)
	}
	return s
}

// A reader going through data in order (cat) asks for the window of
// blocks after the one it reads before reading it, each block once, and
// never past the length; a sparse replica places such reads without
// fetching blocks to seek.
func TestReadAheadSequential(t *testing.T) {
	const n, size = 200, 1000 // window: aheadBlocks
	m, s, all := remote(t, n, size, false)
	d := m.dataOps()
	h := openData(t, m, syscall.O_RDONLY)
	ctx := context.Background()
	r, errno := d.Read(ctx, h, make([]byte, 4096), 0)
	if got, _ := r.Bytes(nil); errno != 0 || !bytes.Equal(got, all[:4096]) {
		t.Fatalf("first read: %d bytes, %v", len(got), errno)
	}
	// Blocks 1..64 are asked ahead, then block 0 by the read itself;
	// 1..4, which the read needs too, are there by then.
	if got, want := s.take(t), append(span(1, 1+aheadBlocks), 0); !slices.Equal(got, want) {
		t.Fatalf("first read asked for %v, want %v", got, want)
	}
	rest := readAll(t, d, h, 4096)[4096:]
	if !bytes.Equal(rest, all[4096:]) {
		t.Fatalf("reading on gave %d bytes, want %d", len(rest), len(all)-4096)
	}
	// The window moved along with the reader: every other block was
	// asked ahead of it, once, in order, and none past the length.
	if got, want := s.take(t), span(1+aheadBlocks, n); !slices.Equal(got, want) {
		t.Errorf("reading on asked for %v, want %v", got, want)
	}
}

// Random reads ask for the blocks they read and nothing else, and a
// reader that jumps and then reads on in order gets a new window.
func TestReadAheadRandom(t *testing.T) {
	const n, size = 400, 1000
	m, s, all := remote(t, n, size, true)
	d := m.dataOps()
	h := openData(t, m, syscall.O_RDONLY)
	ctx := context.Background()
	read := func(off, length int) {
		t.Helper()
		r, errno := d.Read(ctx, h, make([]byte, length), int64(off))
		if got, _ := r.Bytes(nil); errno != 0 || !bytes.Equal(got, all[off:off+length]) {
			t.Fatalf("read(%d, %d): %d bytes, %v", off, length, len(got), errno)
		}
	}
	for _, b := range []int{250, 30, 390, 120, 121 + aheadBlocks, 7} {
		read(b*size+10, 500)
		if got := s.take(t); !slices.Equal(got, []uint64{uint64(b)}) {
			t.Fatalf("a read in block %d asked for %v, want only it", b, got)
		}
	}
	// Reading on from inside block 7: the window after it, but for
	// block 30, which an earlier read brought.
	read(7*size+510, size)
	want := slices.DeleteFunc(span(8, 8+aheadBlocks), func(i uint64) bool { return i == 30 })
	if got := s.take(t); !slices.Equal(got, want) {
		t.Errorf("reading on from block 7 asked for %v, want %v", got, want)
	}
}

// Handles without readahead: a nonblocking one never asks (its reads of
// missing blocks are EAGAIN), and a local feed has nothing to ask for.
func TestReadAheadNone(t *testing.T) {
	m, s, _ := remote(t, 100, 1000, false)
	_, errno := m.dataOps().Read(context.Background(), openData(t, m, syscall.O_RDONLY|syscall.O_NONBLOCK), make([]byte, 4096), 0)
	wantErrno(t, "nonblocking read of a missing block", errno, syscall.EAGAIN)
	if got := s.take(t); len(got) != 0 {
		t.Errorf("a nonblocking read asked for %v", got)
	}
	if w := aheadWindow(0, 0); w != 0 {
		t.Errorf("window of an empty feed: %d", w)
	}
	if w := aheadWindow(10, 10*feed.MaxBlockSize-10); w != aheadMin {
		t.Errorf("window over blocks of 8 MiB: %d, want %d", w, aheadMin)
	}
	if w := aheadWindow(100, 100<<20); w != aheadBytes>>20 {
		t.Errorf("window over blocks of 1 MiB: %d, want %d", w, aheadBytes>>20)
	}
}

// READs the kernel sends several at a time arrive in any order: one that
// starts a little before the previous one is still in order, asks for
// nothing new and does not restart the window.
func TestReadAheadOutOfOrder(t *testing.T) {
	const n, size = 400, 1000
	m, s, all := remote(t, n, size, true)
	d := m.dataOps()
	h := openData(t, m, syscall.O_RDONLY)
	for _, c := range []struct {
		block int
		want  []uint64
	}{
		{0, append(span(1, 65), 0)},
		{20, span(65, 85)},
		{10, nil},
		{24, span(85, 89)},
		// A jump: only the blocks the READ itself needs, as it needs them.
		{100 + aheadBlocks, span(100+aheadBlocks, 104+aheadBlocks)},
	} {
		off := c.block * size
		r, errno := d.Read(context.Background(), h, make([]byte, 4*size), int64(off))
		if got, _ := r.Bytes(nil); errno != 0 || !bytes.Equal(got, all[off:off+4*size]) {
			t.Fatalf("read in block %d: %d bytes, %v", c.block, len(got), errno)
		}
		if got := s.take(t); !slices.Equal(got, c.want) {
			t.Errorf("a read in block %d asked for %v, want %v", c.block, got, c.want)
		}
	}
}
