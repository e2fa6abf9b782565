package feed_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/hyperfs/hyperfs/feed"
)

// corruptedFeed writes a feed of n blocks, block i of pairs(i) copies of
// two bytes of i, then flips the second byte of each block in bad (none
// may be empty) in the data file.
func corruptedFeed(t *testing.T, n int, pairs func(i int) int, bad map[uint64]bool) (dir string, blocks [][]byte) {
	t.Helper()
	dir = t.TempDir()
	w, err := feed.Create(feed.DirStorage{Dir: dir}, feed.Options{})
	if err != nil {
		t.Fatal(err)
	}
	blocks = make([][]byte, n)
	for i := range blocks {
		blocks[i] = bytes.Repeat([]byte{byte(i), byte(i >> 8)}, pairs(i))
	}
	if err := w.Append(blocks...); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "data")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var off int
	for i, b := range blocks {
		if bad[uint64(i)] {
			if len(b) == 0 {
				t.Fatalf("block %d to corrupt is empty", i)
			}
			data[off+1] ^= 0x01
		}
		off += len(b)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, blocks
}

// readTwice reads every block twice, block order(k) k-th: corrupt ones
// must fail with ErrCorrupt each time, the others read back.
func readTwice(t *testing.T, f *feed.Feed, blocks [][]byte, bad map[uint64]bool, order func(k uint64) uint64) {
	t.Helper()
	for pass := range 2 {
		for k := range uint64(len(blocks)) {
			i := order(k)
			got, err := f.Get(context.Background(), i)
			if bad[i] {
				if !errors.Is(err, feed.ErrCorrupt) {
					t.Fatalf("pass %d: Get(%d) = %v, want ErrCorrupt", pass, i, err)
				}
				continue
			}
			if err != nil || !bytes.Equal(got, blocks[i]) {
				t.Fatalf("pass %d: Get(%d) = %v", pass, i, err)
			}
		}
	}
}

// Reading in order verifies windows of blocks at once (readahead.go): a
// corrupt block inside a window (the first, or one hashed ahead while the
// reader was in the one before) is still ErrCorrupt every time it is
// read, its neighbours still read back, a block cleared after its window
// was verified is not served from the window, and the windows' memory is
// given back.
func TestSequentialReadsVerifyEveryBlock(t *testing.T) {
	const n = 3000 // several windows of 512
	bad := map[uint64]bool{70: true, 1300: true, 2047: true}
	dir, blocks := corruptedFeed(t, n, func(i int) int { return 1 + i%50 }, bad)
	f, err := openDir(t, dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	readTwice(t, f, blocks, bad, func(k uint64) uint64 { return k })
	// Block 1 sits in the window that Get(0) verified; once cleared it
	// is gone, however the reads go.
	if _, err := f.Get(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if err := f.Clear(1, 2); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Get(ctx, 1); !errors.Is(err, feed.ErrNotAvailable) {
		t.Fatalf("Get of a cleared block = %v", err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if held := feed.AheadHeld(); held != 0 {
		t.Fatalf("%d bytes of windows held after reading to the end and Close", held)
	}
	// A reader that stops inside a window, with the next one being
	// hashed: Close gives their memory back.
	g, err := feed.Open(feed.DirStorage{Dir: dir}, feed.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := uint64(100); i < 200; i++ {
		if _, err := g.Get(ctx, i); err != nil {
			t.Fatal(err)
		}
	}
	if held := feed.AheadHeld(); held == 0 {
		t.Fatal("no window held while reading in order")
	}
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
	if held := feed.AheadHeld(); held != 0 {
		t.Fatalf("%d bytes of windows held after Close", held)
	}
}

// A first read out of order verifies the aligned group of eight blocks
// holding it (readaround.go): a corrupt block is ErrCorrupt every time
// whichever block of its group is read first, its neighbours read back
// and count as verified, and the last, shorter group works the same.
func TestRandomReadsVerifyAround(t *testing.T) {
	const n = 205 // a last group of five
	bad := map[uint64]bool{13: true, 42: true, 203: true}
	dir, blocks := corruptedFeed(t, n, func(i int) int { return i % 40 }, bad) // some empty
	f, err := openDir(t, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ctx := context.Background()
	verified := func() uint64 {
		s, err := f.LocalState()
		if err != nil {
			t.Fatal(err)
		}
		return s.Verified
	}
	// Block 11 first: its group [8, 16) holds the corrupt 13.
	if got, err := f.Get(ctx, 11); err != nil || !bytes.Equal(got, blocks[11]) {
		t.Fatalf("Get(11) = %v", err)
	}
	if v := verified(); v != 7 {
		t.Errorf("%d blocks verified after one read of group [8, 16) with a corrupt block, want 7", v)
	}
	// Then every block, out of order, twice; 42 is its group's first read.
	readTwice(t, f, blocks, bad, func(k uint64) uint64 { return (k*37 + 42) % n })
	if v := verified(); v != n-uint64(len(bad)) {
		t.Errorf("%d blocks verified after reading all, want %d", v, n-len(bad))
	}
}
