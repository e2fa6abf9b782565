package feed_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/hyperfs/hyperfs/feed"
	"github.com/hyperfs/hyperfs/internal/testvectors"
)

func openDir(t *testing.T, dir string) (*feed.Feed, error) {
	t.Helper()
	f, err := feed.Open(feed.DirStorage{Dir: dir}, feed.Options{})
	if err == nil {
		t.Cleanup(func() { f.Close() })
	}
	return f, err
}

// TESTING.md L1: a flipped data byte makes that block ErrCorrupt, leaves
// the others readable, and audit reports and clears it.
func TestFlippedDataByte(t *testing.T) {
	v := testvectors.Load(t)
	fv := v.FeedByName(t, "seven")
	dir := testvectors.CopyFeed(t, "seven")
	path := filepath.Join(dir, "data")
	b, _ := os.ReadFile(path)
	b[fv.Blocks[4].ByteOffset+10] ^= 0x40
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := openDir(t, dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if got, err := f.Get(ctx, 4); !errors.Is(err, feed.ErrCorrupt) || got != nil {
		t.Fatalf("Get(4) = %d bytes, %v; want ErrCorrupt", len(got), err)
	}
	for _, i := range []uint64{0, 1, 2, 3, 5, 6} {
		if got, err := f.Get(ctx, i); err != nil || !bytes.Equal(got, fv.BlockData(t, int(i))) {
			t.Errorf("Get(%d) = %v", i, err)
		}
	}
	r, err := f.Audit(ctx)
	if err != nil || r.Valid != 6 || r.Invalid != 1 || len(r.Bad) != 1 || r.Bad[0] != 4 {
		t.Fatalf("audit = %+v, %v", r, err)
	}
	if f.Has(4) || f.Length() != 7 {
		t.Fatalf("after audit: has(4) %v length %d", f.Has(4), f.Length())
	}
}

// TESTING.md L2: truncating any file at random sizes gives a clear error or
// a shorter feed whose every readable block is the right one, never a
// panic and never bad bytes.
func TestTruncatedFiles(t *testing.T) {
	v := testvectors.Load(t)
	rng := rand.New(rand.NewPCG(2, 3))
	for _, name := range []string{"thousand", "seven", "pages-8200"} {
		fv := v.FeedByName(t, name)
		for _, file := range []string{"tree", "signatures", "bitfield", "data", "key", "secret_key"} {
			orig, _ := os.ReadFile(filepath.Join(testvectors.FeedPath(t, name), file))
			sizes := []int{0, 1, 31, 32, len(orig) - 1, len(orig) / 2}
			for range 4 {
				sizes = append(sizes, rng.IntN(len(orig)+1))
			}
			for _, size := range sizes {
				if size < 0 || size > len(orig) {
					continue
				}
				t.Run(name+"/"+file, func(t *testing.T) {
					dir := testvectors.CopyFeed(t, name)
					if err := os.Truncate(filepath.Join(dir, file), int64(size)); err != nil {
						t.Fatal(err)
					}
					f, err := openDir(t, dir)
					if err != nil {
						return // a clear error is acceptable
					}
					checkPrefix(t, f, fv)
				})
			}
		}
	}
}

// checkPrefix asserts that everything f serves agrees with the vector.
func checkPrefix(t *testing.T, f *feed.Feed, fv *testvectors.Feed) {
	t.Helper()
	if f.Length() > fv.Length {
		t.Fatalf("length %d grew past %d", f.Length(), fv.Length)
	}
	ctx := context.Background()
	for i := range f.Length() {
		got, err := f.Get(ctx, i)
		if err != nil {
			continue // missing or corrupt is fine; wrong bytes are not
		}
		if !bytes.Equal(got, fv.BlockData(t, int(i))) {
			t.Fatalf("block %d: wrong bytes served", i)
		}
	}
	if n := f.Length(); n > 0 {
		sig, _, err := f.Signature(n - 1)
		if err != nil || f.Verify(n-1, sig) != nil {
			t.Fatalf("recovered length %d has no valid signature: %v", n, err)
		}
	}
}

// TESTING.md L3 and spec 3.3: another key, garbage headers, a foreign
// secret key, and a second opener are refused clearly.
func TestOpenRefusals(t *testing.T) {
	other, _, _ := ed25519.GenerateKey(nil)
	tests := []struct {
		name   string
		mutate func(t *testing.T, dir string)
		opts   feed.Options
		want   error
	}{
		{"wrong key", nil, feed.Options{Key: other}, feed.ErrWrongKey},
		{"garbage tree header", func(t *testing.T, dir string) { overwrite(t, dir, "tree", 0, []byte("garbage!")) }, feed.Options{}, feed.ErrCorrupt},
		{"garbage signatures header", func(t *testing.T, dir string) { overwrite(t, dir, "signatures", 7, []byte{3, 'R', 'S', 'A'}) }, feed.Options{}, feed.ErrCorrupt},
		{"bitfield type byte", func(t *testing.T, dir string) { overwrite(t, dir, "bitfield", 3, []byte{2}) }, feed.Options{}, feed.ErrCorrupt},
		{"bitfield page size", func(t *testing.T, dir string) { overwrite(t, dir, "bitfield", 5, []byte{0, 7}) }, feed.Options{}, feed.ErrCorrupt},
		{"foreign secret key", func(t *testing.T, dir string) { overwrite(t, dir, "secret_key", 0, bytes.Repeat([]byte{1}, 32)) }, feed.Options{}, feed.ErrCorrupt},
		{"no key", func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, "key")) }, feed.Options{}, feed.ErrNoFeed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := testvectors.CopyFeed(t, "seven")
			if tc.mutate != nil {
				tc.mutate(t, dir)
			}
			f, err := feed.Open(feed.DirStorage{Dir: dir}, tc.opts)
			if err == nil {
				f.Close()
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("open = %v, want %v", err, tc.want)
			}
		})
	}
	t.Run("locked", func(t *testing.T) {
		dir := testvectors.CopyFeed(t, "seven")
		f, err := openDir(t, dir)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := feed.Open(feed.DirStorage{Dir: dir}, feed.Options{}); !errors.Is(err, feed.ErrLocked) {
			t.Fatalf("second open = %v, want ErrLocked", err)
		}
		f.Close()
		g, err := openDir(t, dir)
		if err != nil {
			t.Fatalf("open after close: %v", err)
		}
		g.Close()
	})
}

func overwrite(t *testing.T, dir, file string, off int64, b []byte) {
	t.Helper()
	fh, err := os.OpenFile(filepath.Join(dir, file), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	if _, err := fh.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

// Trailing garbage after an interrupted JS batch (TESTING.md 5.1) is
// ignored, then cut off by a writer.
func TestTrailingGarbage(t *testing.T) {
	v := testvectors.Load(t)
	fv := v.FeedByName(t, "seven")
	dir := testvectors.CopyFeed(t, "seven")
	fh, _ := os.OpenFile(filepath.Join(dir, "data"), os.O_APPEND|os.O_WRONLY, 0)
	fh.Write(bytes.Repeat([]byte{0xee}, 262))
	fh.Close()
	f, err := openDir(t, dir)
	if err != nil {
		t.Fatal(err)
	}
	checkPrefix(t, f, fv)
	if f.Length() != 7 {
		t.Fatalf("length %d", f.Length())
	}
	if err := f.Append([]byte("next")); err != nil {
		t.Fatal(err)
	}
	f.Close()
	st, _ := os.Stat(filepath.Join(dir, "data"))
	if st.Size() != int64(fv.ByteLength)+4 {
		t.Fatalf("data is %d bytes, want %d", st.Size(), fv.ByteLength+4)
	}
}

// Appending to a replica fails with ErrNotWritable; oversized blocks with
// ErrBlockTooLarge; and neither changes the feed.
func TestAppendRefusals(t *testing.T) {
	dir := testvectors.CopyFeed(t, "sparse-replica")
	f, err := openDir(t, dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Append([]byte("x")); !errors.Is(err, feed.ErrNotWritable) {
		t.Fatalf("append to replica = %v", err)
	}
	w, err := feed.Create(feed.NewMemStorage(), feed.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := w.Append([]byte("ok"), make([]byte, feed.MaxBlockSize+1)); !errors.Is(err, feed.ErrBlockTooLarge) {
		t.Fatalf("oversized append = %v", err)
	}
	if w.Length() != 0 {
		t.Fatalf("length %d after a refused batch", w.Length())
	}
	if _, err := w.Get(context.Background(), 0); !errors.Is(err, feed.ErrOutOfRange) {
		t.Fatalf("Get past length = %v", err)
	}
}
