package fusefs

import (
	"bytes"
	"context"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/hyperfs/hyperfs/feed"
)

// testFeed makes a writable in-memory feed holding blocks.
func testFeed(t testing.TB, blocks ...[]byte) (*feed.Feed, *feed.MemStorage) {
	t.Helper()
	s := feed.NewMemStorage()
	f, err := feed.Create(s, feed.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	if len(blocks) > 0 {
		if err := f.Append(blocks...); err != nil {
			t.Fatal(err)
		}
	}
	return f, s
}

// notes records kernel notifications instead of sending them.
type notes struct {
	mu    sync.Mutex
	inode []int64 // offsets of InodeNotify calls
	ch    chan struct{}
}

func newNotes() *notes { return &notes{ch: make(chan struct{}, 1000)} }

func (n *notes) DeleteNotify(parent, child uint64, name string) fuse.Status { return fuse.OK }
func (n *notes) EntryNotify(parent uint64, name string) fuse.Status         { return fuse.OK }
func (n *notes) InodeNotify(node uint64, off, length int64) fuse.Status {
	n.mu.Lock()
	n.inode = append(n.inode, off)
	n.mu.Unlock()
	n.ch <- struct{}{}
	return fuse.OK
}
func (n *notes) InodeRetrieveCache(node uint64, offset int64, dest []byte) (int, fuse.Status) {
	return 0, fuse.ENOSYS
}
func (n *notes) InodeNotifyStoreCache(node uint64, offset int64, data []byte) fuse.Status {
	return fuse.OK
}

// testFS builds an unmounted FS over the entries, its nodes attached to a
// go-fuse bridge (so NewInode works) whose notifications go to the
// returned notes.
func testFS(t testing.TB, opts Options) (*FS, *notes) {
	t.Helper()
	fsys, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	n := newNotes()
	fs.NewNodeFS(fsys.Root(), &fs.Options{ServerCallbacks: n})
	t.Cleanup(func() { fsys.Close() })
	return fsys, n
}

// oneFeed mounts one feed named "f" holding blocks; it returns the mounted
// feed.
func oneFeed(t testing.TB, blocks ...[]byte) *mfeed {
	t.Helper()
	f, _ := testFeed(t, blocks...)
	fsys, _ := testFS(t, Options{Feeds: []Entry{{Name: "f", Feed: f}}})
	return fsys.feed("f")
}

func (m *mfeed) dataOps() *dataNode    { return m.dir.data.Operations().(*dataNode) }
func (m *mfeed) blocksOps() *blocksDir { return m.dir.blocks.Operations().(*blocksDir) }
func (m *mfeed) infoOps() *infoNode    { return m.dir.info.Operations().(*infoNode) }

// readAll reads data through node methods in pieces of size n.
func readAll(t *testing.T, d *dataNode, h fs.FileHandle, n int) []byte {
	t.Helper()
	var out []byte
	for {
		r, errno := d.Read(context.Background(), h, make([]byte, n), int64(len(out)))
		if errno != 0 {
			t.Fatalf("read at %d: %v", len(out), errno)
		}
		b, _ := r.Bytes(nil)
		if len(b) == 0 {
			return out
		}
		out = append(out, b...)
	}
}

// openData opens data with flags and fails the test on an errno.
func openData(t *testing.T, m *mfeed, flags uint32) fs.FileHandle {
	t.Helper()
	h, _, errno := m.dataOps().Open(context.Background(), flags)
	if errno != 0 {
		t.Fatalf("open data %#o: %v", flags, errno)
	}
	return h
}

func wantErrno(t *testing.T, what string, got, want syscall.Errno) {
	t.Helper()
	if got != want {
		t.Errorf("%s: errno %v (%d), want %v (%d)", what, got, int(got), want, int(want))
	}
}

// waitFor waits for a notification, failing after a generous deadline
// that only a broken watcher reaches.
func (n *notes) waitFor(t *testing.T) {
	t.Helper()
	select {
	case <-n.ch:
	case <-time.After(10 * time.Second):
		t.Fatal("no kernel notification within 10 s")
	}
}

var concat = bytes.Join
