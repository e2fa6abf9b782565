package feed_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/hyperfs/hyperfs/feed"
	"github.com/hyperfs/hyperfs/index"
)

// A sparse replica with an index reopens to what it downloaded, though its
// data file ends before the byte length and the tree lacks the nodes above
// the first byte past the file's end (block 3 of 8 only: the walk to byte
// end-of-3 meets node 9, never downloaded).
func TestSparseReplicaReopensWithIndex(t *testing.T) {
	w, err := feed.Create(feed.NewMemStorage(), feed.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	for i := range 8 {
		if err := w.Append(bytes.Repeat([]byte{byte('a' + i)}, 100)); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	db, err := index.Open(filepath.Join(dir, "index"), index.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	open := func(create bool) *feed.Feed {
		t.Helper()
		fi, err := db.Feed(w.Key())
		if err != nil {
			t.Fatal(err)
		}
		opts := feed.Options{Index: fi}
		s := feed.DirStorage{Dir: filepath.Join(dir, "feed")}
		var r *feed.Feed
		if create {
			r, err = feed.CreateReplica(s, w.Key(), opts)
		} else {
			r, err = feed.Open(s, opts)
		}
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	r := open(true)
	for _, i := range []uint64{3, 6} {
		if err := r.Put(serve(t, w, nil, i, 0)); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	// The file loses block 6 (a crash before the data reached the disk):
	// that block, and only it, is missing after the reopen.
	if err := os.Truncate(filepath.Join(dir, "feed", "data"), 400); err != nil {
		t.Fatal(err)
	}
	r = open(false)
	defer r.Close()
	if r.Length() != 8 || !r.Has(3) || r.Has(2) || r.Has(4) || r.Has(6) {
		t.Fatalf("reopened: length %d, has 2/3/4/6 = %v %v %v %v; want 8, only block 3", r.Length(), r.Has(2), r.Has(3), r.Has(4), r.Has(6))
	}
	if b, err := r.GetLocal(3); err != nil || !bytes.Equal(b, bytes.Repeat([]byte{'d'}, 100)) {
		t.Fatalf("block 3 after reopen: %q, %v", b, err)
	}
}
