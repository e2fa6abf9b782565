package feed_test

import (
	"bytes"
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

// One batch of more blocks than one pwritev takes (IOV_MAX 1024), empty
// ones among them, lands in the data file in order.
func TestAppendManyBuffers(t *testing.T) {
	dir := t.TempDir()
	w, err := feed.Create(feed.DirStorage{Dir: dir}, feed.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	batch := make([][]byte, 2500)
	for i := range batch {
		batch[i] = bytes.Repeat([]byte{byte(i)}, i%7*13) // every 7th is empty
	}
	batch[len(batch)-1] = make([]byte, 40<<10) // the batch passes overlapWriteBytes
	want := bytes.Join(batch, nil)
	if err := w.Append(batch...); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dir, "data"))
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("data file: %d bytes, want %d (%v)", len(got), len(want), err)
	}
	if w.ByteLength() != uint64(len(want)) {
		t.Fatalf("byte length %d, want %d", w.ByteLength(), len(want))
	}
}
