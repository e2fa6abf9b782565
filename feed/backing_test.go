package feed

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

func localState(t *testing.T, f *Feed) LocalState {
	t.Helper()
	s, err := f.LocalState()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// A feed's data file may be read behind the engine only when LocalState
// is Complete: after appends (ours, so hashed), not after a reopen until
// every block is hashed again, not with a cleared block, not with bytes
// past the byte length.
func TestLocalStateAndDataFile(t *testing.T) {
	dir := t.TempDir()
	f, err := Create(DirStorage{Dir: dir}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.DataFile(); !errors.Is(err, ErrNotAvailable) {
		t.Errorf("DataFile of a feed without data: %v, want ErrNotAvailable", err)
	}
	blocks := [][]byte{[]byte("hello "), {}, []byte("world"), bytes.Repeat([]byte("x"), 5000)}
	want := bytes.Join(blocks, nil)
	if err := f.Append(blocks...); err != nil {
		t.Fatal(err)
	}
	if s := localState(t, f); !s.Complete() || s.Length != 4 || s.ByteLength != uint64(len(want)) {
		t.Errorf("after append: %+v, want complete", s)
	}
	// The small blocks wait in memory until the file is shared.
	if fi, err := os.Stat(filepath.Join(dir, "data")); err == nil && fi.Size() != 0 {
		t.Errorf("data file before ShareData holds %d bytes, want none (the appends held)", fi.Size())
	}
	unshare, err := f.ShareData()
	if err != nil {
		t.Fatal(err)
	}
	df, err := f.DataFile()
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(df)
	if err != nil || !bytes.Equal(got, want) {
		t.Errorf("DataFile holds %q (%v), want %q", got, err, want)
	}
	// While shared, an append is in the file when Append returns; after
	// the share ends, small appends wait again.
	for i, b := range [][]byte{[]byte("shared"), []byte("held")} {
		if err := f.Append(b); err != nil {
			t.Fatal(err)
		}
		want = append(want, b...)
		if i == 1 {
			want = want[:len(want)-len(b)]
		}
		got, err := io.ReadAll(io.NewSectionReader(df, 0, 1<<20))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("after append %d the data file holds %q (%v), want %q", i, got, err, want)
		}
		unshare()
		unshare() // a second call does nothing
	}
	df.Close()
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	want = append(want, "held"...)

	f, err = Open(DirStorage{Dir: dir}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if s := localState(t, f); s.Complete() || s.Verified != 0 || s.Stored != 6 {
		t.Errorf("after reopen: %+v, want 6 stored, none verified", s)
	}
	if bad, err := f.HashStored(context.Background()); err != nil || len(bad) != 0 {
		t.Fatalf("HashStored: %v %v", bad, err)
	}
	if s := localState(t, f); !s.Complete() {
		t.Errorf("after HashStored: %+v, want complete", s)
	}

	// Bytes past the byte length (a failed write's leftovers).
	data := filepath.Join(dir, "data")
	w, err := os.OpenFile(data, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("junk"))
	if s := localState(t, f); s.Complete() || s.DataSize != int64(len(want))+4 {
		t.Errorf("with trailing bytes: %+v, want not complete", s)
	}
	w.Close()
	if err := os.Truncate(data, int64(len(want))); err != nil {
		t.Fatal(err)
	}

	if err := f.Clear(2, 3); err != nil {
		t.Fatal(err)
	}
	if s := localState(t, f); s.Complete() || s.Stored != 5 || s.Verified != 5 {
		t.Errorf("after clear: %+v, want 5 stored and verified", s)
	}
}

// HashStored reports a block whose bytes fail their hash and leaves it
// unverified; it stops when its context ends.
func TestHashStored(t *testing.T) {
	s := NewMemStorage()
	f, err := Create(s, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for range 10 {
		if err := f.Append([]byte("aaaa"), []byte("bbbb")); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	s.Corrupt("data", func(b []byte) []byte { b[13] ^= 1; return b }) // block 3
	f, err = Open(s, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.DataFile(); !errors.Is(err, ErrNotAvailable) {
		t.Errorf("DataFile on memory storage: %v, want ErrNotAvailable", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := f.HashStored(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("HashStored with an ended context: %v", err)
	}
	bad, err := f.HashStored(context.Background())
	if err != nil || len(bad) != 1 || bad[0] != 3 {
		t.Fatalf("HashStored: bad %v, %v; want [3]", bad, err)
	}
	if st := localState(t, f); st.Complete() || st.Verified != 19 || st.Stored != 20 {
		t.Errorf("after HashStored: %+v, want 19 of 20 verified", st)
	}
}

func TestCountBits(t *testing.T) {
	words := []uint64{^uint64(0), 0b1011}
	for _, c := range []struct{ n, want uint64 }{{0, 0}, {1, 1}, {64, 64}, {65, 65}, {66, 66}, {67, 66}, {68, 67}, {200, 67}} {
		if got := countBits(words, c.n); got != c.want {
			t.Errorf("countBits(n=%d) = %d, want %d", c.n, got, c.want)
		}
	}
}
