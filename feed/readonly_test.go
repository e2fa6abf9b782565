package feed_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/hyperfs/hyperfs/feed"
	"github.com/hyperfs/hyperfs/tree"
)

// A feed on a read-only file system opens for reading: every stored block
// reads and verifies, a corrupt one is still ErrCorrupt, audit reports it,
// and appends, downloads and clears fail with ErrReadOnly. Nothing is
// written, not even the repairs a writable open makes (trailing bytes of
// an interrupted batch, a block the data file lost).
func TestReadOnlyStorage(t *testing.T) {
	mem := feed.NewMemStorage()
	w, err := feed.Create(mem, feed.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var blocks [][]byte
	for i := range 40 {
		blocks = append(blocks, bytes.Repeat([]byte{byte(i)}, 100+i))
	}
	if err := w.Append(blocks...); err != nil {
		t.Fatal(err)
	}
	w.Close()
	// An interrupted batch's bytes after the end, and a flipped byte in
	// block 7 (offset 7*100+21 falls inside it).
	mem.Corrupt("data", func(b []byte) []byte {
		b[7*100+21+5] ^= 1
		return append(b, "garbage"...)
	})
	mem.SetReadOnly(true)
	before := map[string][]byte{}
	for _, name := range []string{"key", "secret_key", "data", "tree", "signatures", "bitfield"} {
		before[name] = bytes.Clone(mem.Bytes(name))
	}

	if _, err := feed.Create(mem, feed.Options{}); !errors.Is(err, feed.ErrReadOnly) {
		t.Fatalf("Create on read-only storage: %v, want ErrReadOnly", err)
	}
	f, err := feed.Open(mem, feed.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !f.ReadOnly() || f.Length() != 40 {
		t.Fatalf("ReadOnly %v, length %d", f.ReadOnly(), f.Length())
	}
	ctx := context.Background()
	for i := range uint64(40) {
		got, err := f.Get(ctx, i)
		if i == 7 {
			if !errors.Is(err, feed.ErrCorrupt) {
				t.Fatalf("Get(7) of the flipped block: %v, want ErrCorrupt", err)
			}
			continue
		}
		if err != nil || !bytes.Equal(got, blocks[i]) {
			t.Fatalf("Get(%d) = %d bytes, %v", i, len(got), err)
		}
	}
	if err := f.Append([]byte("x")); !errors.Is(err, feed.ErrReadOnly) {
		t.Fatalf("Append: %v, want ErrReadOnly", err)
	}
	if err := f.Clear(0, 1); !errors.Is(err, feed.ErrReadOnly) {
		t.Fatalf("Clear: %v, want ErrReadOnly", err)
	}
	if err := f.Put(tree.Proof{Block: 40}); !errors.Is(err, feed.ErrReadOnly) {
		t.Fatalf("Put: %v, want ErrReadOnly", err)
	}
	res, err := f.Audit(ctx)
	if err != nil || res.Invalid != 1 || res.Valid != 39 {
		t.Fatalf("audit %+v, %v; want 39 valid, 1 invalid", res, err)
	}
	if err := f.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	for name, b := range before {
		if !bytes.Equal(mem.Bytes(name), b) {
			t.Errorf("%s changed on read-only storage", name)
		}
	}

	// Writable again: the open repairs what it found.
	mem.SetReadOnly(false)
	f, err = feed.Open(mem, feed.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.ReadOnly() {
		t.Fatal("still read-only")
	}
	if err := f.Append([]byte("x")); err != nil {
		t.Fatal(err)
	}
}
