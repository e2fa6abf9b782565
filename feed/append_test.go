package feed_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/hyperfs/hyperfs/feed"
	"github.com/hyperfs/hyperfs/tree"
)

// A feed whose blocks are all empty still has a data file, on the writer
// and on a replica: JavaScript creates it on the first append and its
// audit fails every block of a directory without one.
func TestEmptyBlocksCreateData(t *testing.T) {
	wdir, rdir := t.TempDir(), t.TempDir()
	w, err := feed.Create(feed.DirStorage{Dir: wdir}, feed.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := w.Append(nil, []byte{}); err != nil {
		t.Fatal(err)
	}
	r, err := feed.CreateReplica(feed.DirStorage{Dir: rdir}, w.Key(), feed.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := r.Put(serve(t, w, &tree.NodeMarks{}, 1, 0)); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{wdir, rdir} {
		st, err := os.Stat(filepath.Join(dir, "data"))
		if err != nil || st.Size() != 0 {
			t.Fatalf("%s/data: %v", dir, err)
		}
	}
	if b, err := r.Get(context.Background(), 1); err != nil || len(b) != 0 {
		t.Fatalf("replica Get(1) = %q, %v", b, err)
	}
}
