package feed_test

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/hyperfs/hyperfs/feed"
	"github.com/hyperfs/hyperfs/tree"
)

// serve answers a request for block i the way a responder does.
func serve(t *testing.T, w *feed.Feed, marks *tree.NodeMarks, i, digest uint64) tree.Proof {
	t.Helper()
	p, err := w.Proof(i, false, digest, marks)
	if err != nil {
		t.Fatal(err)
	}
	if p.Signature == nil && len(p.Nodes) > 0 && digest == 0 {
		t.Fatalf("proof of block %d with an empty digest carries no signature", i)
	}
	return p
}

// memPair is a writer opened with opts and an empty replica of it, both in
// memory and closed at the end of the test.
func memPair(t *testing.T, opts feed.Options) (w, r *feed.Feed) {
	t.Helper()
	w, err := feed.Create(feed.NewMemStorage(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	r, err = feed.CreateReplica(feed.NewMemStorage(), w.Key(), feed.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return w, r
}

// A replica fed proofs for random blocks stores exactly those, serves them,
// survives a reopen, and once complete holds a data file identical to the
// writer's (spec 3.12, 4.8.4-4.8.5).
func TestReplicaFromProofs(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	wdir, rdir := t.TempDir(), filepath.Join(t.TempDir(), "replica")
	w, err := feed.Create(feed.DirStorage{Dir: wdir}, feed.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	const n = 3000
	for i := 0; i < n; {
		k := min(1+rng.IntN(40), n-i)
		batch := make([][]byte, k)
		for j := range batch {
			batch[j] = make([]byte, rng.IntN(300))
			for x := range batch[j] {
				batch[j][x] = byte(rng.Uint32())
			}
		}
		if err := w.Append(batch...); err != nil {
			t.Fatal(err)
		}
		i += k
	}
	r, err := feed.CreateReplica(feed.DirStorage{Dir: rdir}, w.Key(), feed.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	marks := &tree.NodeMarks{}
	want := map[uint64]bool{}
	for range 60 {
		i := uint64(rng.IntN(n))
		d := tree.Digest(r, 2*i, 2*n)
		if err := r.Put(serve(t, w, marks, i, d)); err != nil {
			t.Fatalf("put %d (digest %d): %v", i, d, err)
		}
		want[i] = true
	}
	if r.Length() != n || r.ByteLength() != w.ByteLength() {
		t.Fatalf("replica length %d/%d, want %d/%d", r.Length(), r.ByteLength(), n, w.ByteLength())
	}
	check := func(f *feed.Feed) {
		t.Helper()
		for i := range uint64(n) {
			if f.Has(i) != want[i] {
				t.Fatalf("Has(%d) = %v, want %v", i, f.Has(i), want[i])
			}
			if !want[i] {
				if _, err := f.Get(ctx, i); !errors.Is(err, feed.ErrNotAvailable) {
					t.Fatalf("Get(%d) of an absent block = %v", i, err)
				}
				continue
			}
			got, err := f.Get(ctx, i)
			exp, _ := w.Get(ctx, i)
			if err != nil || !bytes.Equal(got, exp) {
				t.Fatalf("replica block %d: %v", i, err)
			}
		}
	}
	check(r)
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if r, err = feed.Open(feed.DirStorage{Dir: rdir}, feed.Options{}); err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	check(r)
	// Download the rest in order on a fresh connection (new marks).
	marks = &tree.NodeMarks{}
	for i := range uint64(n) {
		if r.Has(i) {
			continue
		}
		if err := r.Put(serve(t, w, marks, i, tree.Digest(r, 2*i, 2*n))); err != nil {
			t.Fatalf("put %d: %v", i, err)
		}
	}
	if got := r.Downloaded(0, n); got != n {
		t.Fatalf("downloaded %d of %d", got, n)
	}
	if err := r.Sync(); err != nil {
		t.Fatal(err)
	}
	wd, _ := os.ReadFile(filepath.Join(wdir, "data"))
	rd, _ := os.ReadFile(filepath.Join(rdir, "data"))
	if !bytes.Equal(wd, rd) {
		t.Fatalf("replica data differs (%d vs %d bytes)", len(rd), len(wd))
	}
	if a, err := r.Audit(ctx); err != nil || a.Invalid != 0 || a.Valid != n {
		t.Fatalf("audit %+v %v", a, err)
	}
}

// A forged proof (another key's signature, or flipped data) stores nothing.
func TestPutRejectsForgery(t *testing.T) {
	w, _ := feed.Create(feed.NewMemStorage(), feed.Options{})
	evil, _ := feed.Create(feed.NewMemStorage(), feed.Options{})
	for _, f := range []*feed.Feed{w, evil} {
		if err := f.Append([]byte("a"), []byte("b"), []byte("c")); err != nil {
			t.Fatal(err)
		}
	}
	r, err := feed.CreateReplica(feed.NewMemStorage(), w.Key(), feed.Options{})
	if err != nil {
		t.Fatal(err)
	}
	forged := serve(t, evil, nil, 1, 0)
	if err := r.Put(forged); !errors.Is(err, tree.ErrInvalidProof) {
		t.Fatalf("put with another key's signature = %v", err)
	}
	bad := serve(t, w, nil, 1, 0)
	bad.Value = []byte("x")
	if err := r.Put(bad); !errors.Is(err, tree.ErrInvalidProof) {
		t.Fatalf("put with wrong data = %v", err)
	}
	if r.Length() != 0 || r.Has(1) {
		t.Fatalf("forgery stored: length %d", r.Length())
	}
	// A writer refuses a proof of a longer history than its own.
	if err := w.Put(serve(t, w, nil, 2, 0)); err != nil {
		t.Fatalf("writer re-put of its own block: %v", err)
	}
}

// Get on a replica asks the Fetcher and returns when the block arrives.
type fetchFunc func(f *feed.Feed, i uint64)

func (fn fetchFunc) Want(f *feed.Feed, i uint64) { fn(f, i) }

func TestGetWaitsForFetch(t *testing.T) {
	w, _ := feed.Create(feed.NewMemStorage(), feed.Options{})
	if err := w.Append([]byte("zero"), []byte("one")); err != nil {
		t.Fatal(err)
	}
	r, _ := feed.CreateReplica(feed.NewMemStorage(), w.Key(), feed.Options{})
	r.SetFetcher(fetchFunc(func(f *feed.Feed, i uint64) {
		p := serve(t, w, nil, i, 0)
		go func() { _ = f.Put(p) }()
	}))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got, err := r.Get(ctx, 1)
	if err != nil || string(got) != "one" {
		t.Fatalf("Get = %q, %v", got, err)
	}
	r.SetFetcher(fetchFunc(func(*feed.Feed, uint64) {}))
	short, cancel2 := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel2()
	if _, err := r.Get(short, 0); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Get with an unanswered fetch = %v", err)
	}
}

// Prefetch asks the Fetcher for a missing block and returns at once; it
// asks nothing for a stored block, without a Fetcher, or past the length
// of a writable feed (only its writer could add that block).
func TestPrefetch(t *testing.T) {
	w, _ := feed.Create(feed.NewMemStorage(), feed.Options{})
	if err := w.Append([]byte("zero"), []byte("one")); err != nil {
		t.Fatal(err)
	}
	r, _ := feed.CreateReplica(feed.NewMemStorage(), w.Key(), feed.Options{})
	if err := r.Put(serve(t, w, nil, 0, 0)); err != nil {
		t.Fatal(err)
	}
	var asked []uint64
	record := fetchFunc(func(_ *feed.Feed, i uint64) { asked = append(asked, i) })
	for _, c := range []struct {
		name    string
		f       *feed.Feed
		fetcher feed.Fetcher
		i       uint64
		want    bool
	}{
		{"missing block of a replica", r, record, 1, true},
		{"past a replica's known length", r, record, 9, true},
		{"stored block", r, record, 0, false},
		{"no fetcher", r, nil, 1, false},
		{"past a writer's length", w, record, 2, false},
		{"a writer's block", w, record, 1, false},
	} {
		c.f.SetFetcher(c.fetcher)
		asked = nil
		got := c.f.Prefetch(c.i)
		if got != c.want || (got && !slices.Equal(asked, []uint64{c.i})) || (!got && asked != nil) {
			t.Errorf("%s: Prefetch(%d) = %v, asked %v; want %v", c.name, c.i, got, asked, c.want)
		}
	}
}

// BlockBits equals Has bit for bit, for ranges that start and end
// anywhere on byte boundaries or not, across bitfield pages.
func TestBlockBits(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	w, r := memPair(t, feed.Options{})
	const n = 20000
	blocks := make([][]byte, n)
	for i := range blocks {
		blocks[i] = []byte{byte(i)}
	}
	if err := w.Append(blocks...); err != nil {
		t.Fatal(err)
	}
	var marks tree.NodeMarks
	for range 3000 {
		i := rng.Uint64N(n)
		if err := r.Put(serve(t, w, &marks, i, 0)); err != nil {
			t.Fatal(err)
		}
	}
	for range 200 {
		start := rng.Uint64N(n+100) &^ 7
		end := start + rng.Uint64N(20000)
		bits, err := r.BlockBits(start, end)
		if err != nil {
			t.Fatal(err)
		}
		for i := start; i < min(end, r.Length()); i++ {
			k := i - start
			got := int(k/8) < len(bits) && bits[k/8]&(0x80>>(k%8)) != 0
			if got != r.Has(i) {
				t.Fatalf("BlockBits(%d, %d): block %d = %v, Has = %v", start, end, i, got, r.Has(i))
			}
		}
		if want := (min(end, r.Length()) - min(start, r.Length()) + 7) / 8; uint64(len(bits)) != want {
			t.Fatalf("BlockBits(%d, %d): %d bytes, want %d", start, end, len(bits), want)
		}
	}
	if _, err := r.BlockBits(3, 9); err == nil {
		t.Fatal("unaligned start accepted")
	}
}

// A block a local reader asked for (Prefetch, or a waiting Get) is handed
// from Put to the next Get as the very bytes Put was given, once; one
// nobody asked for, a second Get, and a cleared block are read from the
// file.
func TestGetTakesFreshDownload(t *testing.T) {
	w, r := memPair(t, feed.Options{})
	for i := range 4 {
		if err := w.Append(bytes.Repeat([]byte{byte('a' + i)}, 1000)); err != nil {
			t.Fatal(err)
		}
	}
	r.SetFetcher(fetchFunc(func(*feed.Feed, uint64) {}))
	same := func(a, b []byte) bool { return len(a) > 0 && len(b) > 0 && &a[0] == &b[0] }
	get := func(i uint64) []byte {
		t.Helper()
		b, err := r.Get(context.Background(), i)
		if err != nil || !bytes.Equal(b, bytes.Repeat([]byte{byte('a' + i)}, 1000)) {
			t.Fatalf("Get(%d) = %d bytes, %v", i, len(b), err)
		}
		return b
	}
	put := func(i uint64) tree.Proof {
		t.Helper()
		p := serve(t, w, nil, i, 0)
		if err := r.Put(p); err != nil {
			t.Fatal(err)
		}
		return p
	}

	r.Prefetch(0)
	p0 := put(0)
	put(1) // not asked for
	if b := get(0); !same(b, p0.Value) {
		t.Error("the asked block was read back, not handed over")
	}
	if b := get(0); same(b, p0.Value) {
		t.Error("the handed-over bytes were handed out twice")
	}
	p1 := serve(t, w, nil, 1, 0)
	if b := get(1); same(b, p1.Value) {
		t.Error("a block nobody asked for was kept")
	}

	// A Get waiting for the block.
	served := make(chan []byte, 1)
	r.SetFetcher(fetchFunc(func(f *feed.Feed, i uint64) {
		p := serve(t, w, nil, i, 0)
		served <- p.Value
		go func() { _ = f.Put(p) }()
	}))
	if b := get(2); !same(b, <-served) {
		t.Error("the block a Get waited for was read back, not handed over")
	}

	r.SetFetcher(fetchFunc(func(*feed.Feed, uint64) {}))
	r.Prefetch(3)
	p3 := put(3)
	if err := r.Clear(3, 4); err != nil {
		t.Fatal(err)
	}
	if err := r.Put(serve(t, w, nil, 3, 0)); err != nil { // stored again, not asked
		t.Fatal(err)
	}
	if b := get(3); same(b, p3.Value) {
		t.Error("a cleared block's kept bytes survived")
	}
}

// A replica's time moves when its length grows, not when a block below
// the length arrives: a FUSE kernel drops a file's cached pages when its
// time changes, and a replica read while it downloads would lose them.
func TestModTimeOfReplica(t *testing.T) {
	w, r := memPair(t, feed.Options{})
	for i := range 3 {
		if err := w.Append([]byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	before := time.Now()
	if err := r.Put(serve(t, w, nil, 2, 0)); err != nil { // learns length 3
		t.Fatal(err)
	}
	grown := r.ModTime()
	if grown.Before(before) {
		t.Fatalf("ModTime after the length grew = %v, want after %v", grown, before)
	}
	time.Sleep(time.Millisecond) // a later clock reading would differ
	if err := r.Put(serve(t, w, nil, 0, 0)); err != nil {
		t.Fatal(err)
	}
	if got := r.ModTime(); !got.Equal(grown) {
		t.Errorf("ModTime after a download below the length = %v, want %v", got, grown)
	}
}
