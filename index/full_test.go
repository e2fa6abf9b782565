package index_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"

	"github.com/hyperfs/hyperfs/feed"
	"github.com/hyperfs/hyperfs/index"
)

// An index whose disk fills up must not take the feed down. Pebble
// panics when a WAL write fails, and can die with an unrecoverable fatal
// error while rotating its WAL, so the index refuses writes once its disk
// reports less than MinFreeBytes free. The feed goes on appending and
// reading from its own files, saying so once, and a healthy index opened
// later rebuilds what was missed. (The disk also fails every write with
// ENOSPC, as a full one does, so a write that got through would show.)
func TestIndexDiskFull(t *testing.T) {
	defer index.SetDiskCheckEvery(0)()
	var full atomic.Bool
	mem := vfs.NewMem()
	mem.TestingSetDiskUsage(vfs.DiskUsage{AvailBytes: 1 << 30, TotalBytes: 2 << 30})
	fs := errorfs.Wrap(mem, errorfs.InjectorFunc(func(op errorfs.Op) error {
		if full.Load() && op.Kind.ReadOrWrite() == errorfs.OpIsWrite {
			return syscall.ENOSPC
		}
		return nil
	}))
	var logs bytes.Buffer
	db := openIndexWith(t, index.Options{FS: fs})
	store := feed.NewMemStorage()
	w, _ := feed.Create(store, feed.Options{})
	key := w.Key()
	w.Close()
	fi, _ := db.Feed(key)
	f, err := feed.Open(store, feed.Options{Index: fi, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 1))
	sizes := randomFeed(t, f, rng, 300)
	full.Store(true)
	mem.TestingSetDiskUsage(vfs.DiskUsage{AvailBytes: 1 << 20, TotalBytes: 2 << 30})
	// Enough index writes to fill Pebble's WAL blocks, whose writes then
	// fail; Pebble reports that on the commit after.
	sizes = append(sizes, randomFeed(t, f, rng, 3000)...)
	// Updates wait in memory for a Sync (see "Write-behind"): this one
	// meets the full disk.
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}

	if n := strings.Count(logs.String(), "index unusable"); n != 1 || !strings.Contains(logs.String(), index.ErrDiskFull.Error()) {
		t.Errorf("the fallback was logged %d times:\n%s", n, logs.String())
	}
	var off uint64
	for i, size := range sizes {
		b, err := f.Get(context.Background(), uint64(i))
		j := i // randomFeed counts from 0 in each call
		if i >= 300 {
			j -= 300
		}
		if err != nil || !bytes.Equal(b, blockBytes(j, size)) {
			t.Fatalf("block %d after the disk filled: %d bytes, %v", i, len(b), err)
		}
		if size > 0 {
			if j, in, err := f.Seek(off + uint64(size) - 1); err != nil || j != uint64(i) || in != uint64(size)-1 {
				t.Fatalf("Seek into block %d = %d, %d, %v", i, j, in, err)
			}
		}
		off += uint64(size)
	}
	if _, err := db.Put(index.Feed{Key: [32]byte(key), Name: "late"}); !errors.Is(err, index.ErrDiskFull) {
		t.Errorf("register on the full disk: %v, want ErrDiskFull", err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	db.Close() // fails (its memtable cannot be flushed), but returns

	// Room again, in a new index: rebuilt from the tree file.
	db = openIndex(t, vfs.NewMem())
	defer db.Close()
	f, fi = withIndex(t, store, db, key)
	defer f.Close()
	checkAgainst(t, f, fi, sizes, rng)
}
