package index_test

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/hyperfs/hyperfs/feed"
	"github.com/hyperfs/hyperfs/index"
	"github.com/hyperfs/hyperfs/tree"
)

var _ feed.Index = (*index.FeedIndex)(nil)

// randomFeed appends n blocks in random batches to f, with runs of empty
// blocks, and returns the blocks' sizes.
func randomFeed(t testing.TB, f *feed.Feed, rng *rand.Rand, n int) []int {
	t.Helper()
	var sizes []int
	for len(sizes) < n {
		batch := make([][]byte, min(1+rng.IntN(64), n-len(sizes)))
		for i := range batch {
			size := rng.IntN(200)
			if rng.IntN(4) == 0 {
				size = 0 // runs of empty blocks
			}
			batch[i] = blockBytes(len(sizes), size)
			sizes = append(sizes, size)
		}
		if err := f.Append(batch...); err != nil {
			t.Fatal(err)
		}
	}
	return sizes
}

// blockBytes is the content of block i, of size bytes.
func blockBytes(i, size int) []byte {
	b := make([]byte, size)
	for k := range b {
		b[k] = byte(i*31 + k)
	}
	return b
}

// readAll reads every block in order, as cat and a mount do (which makes
// the engine verify windows ahead), and a few at random.
func readAll(t *testing.T, f *feed.Feed, sizes []int, rng *rand.Rand) {
	t.Helper()
	check := func(i int) {
		b, err := f.Get(context.Background(), uint64(i))
		if err != nil || !bytes.Equal(b, blockBytes(i, sizes[i])) {
			t.Fatalf("block %d of an indexed feed: %d bytes, %v; want %d", i, len(b), err, sizes[i])
		}
	}
	for range 20 {
		check(rng.IntN(len(sizes)))
	}
	for i := range sizes {
		check(i)
	}
}

func openIndex(t testing.TB, fs vfs.FS) *index.DB {
	t.Helper()
	return openIndexWith(t, index.Options{FS: fs})
}

func openIndexWith(t testing.TB, opts index.Options) *index.DB {
	t.Helper()
	db, err := index.Open("index", opts)
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func withIndex(t testing.TB, s feed.Storage, db *index.DB, key []byte) (*feed.Feed, *index.FeedIndex) {
	t.Helper()
	fi, err := db.Feed(key)
	if err != nil {
		t.Fatal(err)
	}
	f, err := feed.Open(s, feed.Options{Index: fi})
	if err != nil {
		t.Fatal(err)
	}
	return f, fi
}

// checkAgainst compares the index's answers with the sizes appended: every
// block's range, and seeks to random offsets plus 0, the byte length and
// every block start (which covers offsets inside runs of empty blocks).
func checkAgainst(t *testing.T, f *feed.Feed, fi *index.FeedIndex, sizes []int, rng *rand.Rand) {
	t.Helper()
	starts := make([]uint64, len(sizes)+1)
	for i, s := range sizes {
		starts[i+1] = starts[i] + uint64(s)
	}
	total := starts[len(sizes)]
	if f.ByteLength() != total {
		t.Fatalf("byte length %d, want %d", f.ByteLength(), total)
	}
	for i := range sizes {
		start, end, ok, err := fi.Block(uint64(i))
		if err != nil || !ok || start != starts[i] || end != starts[i+1] {
			t.Fatalf("Block(%d) = %d, %d, %v, %v; want %d, %d", i, start, end, ok, err, starts[i], starts[i+1])
		}
	}
	// want returns the block holding byte off: the last block whose start
	// is at or before off and which is not empty.
	want := func(off uint64) (uint64, uint64) {
		i := len(sizes) - 1
		for starts[i] > off || sizes[i] == 0 {
			i--
		}
		return uint64(i), off - starts[i]
	}
	offs := []uint64{0, total}
	for range 3000 {
		offs = append(offs, rng.Uint64N(total+1))
	}
	offs = append(offs, starts...)
	for _, off := range offs {
		i, in, err := f.Seek(off)
		if off == total {
			if err != nil || i != uint64(len(sizes)) || in != 0 {
				t.Fatalf("Seek(byte length %d) = %d, %d, %v", off, i, in, err)
			}
			if _, _, _, ok, _ := fi.BlockAt(off); ok {
				t.Fatalf("BlockAt(byte length) found a block")
			}
			continue
		}
		wi, win := want(off)
		if err != nil || i != wi || in != win {
			t.Fatalf("Seek(%d) = %d, %d, %v; want %d, %d", off, i, in, err, wi, win)
		}
		bi, bs, be, ok, err := fi.BlockAt(off)
		if err != nil || !ok || bi != wi || bs != starts[wi] || be != starts[wi+1] {
			t.Fatalf("BlockAt(%d) = %d [%d, %d) %v %v; want %d", off, bi, bs, be, ok, err, wi)
		}
	}
	checkNodes(t, f, fi)
}

// checkNodes recomputes every stored tree node of f from its blocks and
// children, and compares it with what the feed reads (node cache first)
// and with what the node cache holds.
func checkNodes(t *testing.T, f *feed.Feed, fi *index.FeedIndex) {
	t.Helper()
	for n := range 2 * f.Length() {
		if !f.HasNode(n) {
			continue
		}
		got, err := f.Node(n)
		if err != nil {
			t.Fatalf("node %d: %v", n, err)
		}
		var want tree.Node
		if n%2 == 0 {
			b, err := f.GetLocal(n / 2)
			if err != nil {
				t.Fatalf("block %d: %v", n/2, err)
			}
			want = tree.Leaf(n/2, b)
		} else {
			l, err1 := f.Node(tree.LeftChild(n))
			r, err2 := f.Node(tree.RightChild(n))
			if err1 != nil || err2 != nil {
				t.Fatalf("children of node %d: %v, %v", n, err1, err2)
			}
			want = tree.ParentOf(l, r)
		}
		if got != want {
			t.Fatalf("node %d = %x/%d, recomputed %x/%d", n, got.Hash[:4], got.Size, want.Hash[:4], want.Size)
		}
		if c, ok := fi.Node(n); ok && c != want {
			t.Fatalf("node cache %d = %x/%d, recomputed %x/%d", n, c.Hash[:4], c.Size, want.Hash[:4], want.Size)
		}
	}
}

// Seeks and block ranges from the index equal the sizes appended, for
// feeds filled through the index and for the same feed re-indexed from its
// tree file after the index was deleted. Odd seeds run with a node cache
// of a few dozen nodes, so that nodes are evicted and read again.
func TestIndexAgreesWithFeed(t *testing.T) {
	for seed := range uint64(4) {
		opts := index.Options{}
		if seed%2 == 1 {
			opts.NodeCacheSize = 40 * 112
		}
		rng := rand.New(rand.NewPCG(seed, 7))
		mem := feed.NewMemStorage()
		w, err := feed.Create(mem, feed.Options{})
		if err != nil {
			t.Fatal(err)
		}
		key := w.Key()
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		opts.FS = vfs.NewMem()
		db := openIndexWith(t, opts)
		f, fi := withIndex(t, mem, db, key)
		sizes := randomFeed(t, f, rng, 500+rng.IntN(3000))
		checkAgainst(t, f, fi, sizes, rng)
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		db.Close()

		// Reopened with its index: nothing in memory per block.
		db = openIndexWith(t, opts)
		f, _ = withIndex(t, mem, db, key)
		readAll(t, f, sizes, rng)
		f.Close()
		db.Close()

		// A new, empty index: rebuilt on open from the tree file.
		opts.FS = vfs.NewMem()
		db = openIndexWith(t, opts)
		f, fi = withIndex(t, mem, db, key)
		checkAgainst(t, f, fi, sizes, rng)
		f.Close()
		db.Close()
	}
}

// An index left behind by appends made without it (JavaScript appending
// to the directory, or hyperfs without its index) is brought forward, and
// one from a history the feed no longer has is rebuilt.
func TestStaleIndex(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	mem := feed.NewMemStorage()
	w, _ := feed.Create(mem, feed.Options{})
	key := w.Key()
	sizes := randomFeed(t, w, rng, 700)
	w.Close()

	db := openIndex(t, vfs.NewMem())
	defer db.Close()
	f, _ := withIndex(t, mem, db, key)
	f.Close()

	// Behind: appends without the index.
	f, _ = feed.Open(mem, feed.Options{})
	sizes = append(sizes, randomFeed(t, f, rng, 900)...)
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	f, fi := withIndex(t, mem, db, key)
	checkAgainst(t, f, fi, sizes, rng)
	if l, _, ok, _ := fi.State(); !ok || l != uint64(len(sizes)) {
		t.Fatalf("index state length %d, want %d", l, len(sizes))
	}

	// Ahead: appends the feed loses in a crash (never synced) but the
	// index kept.
	randomFeed(t, f, rng, 300)
	crashed := mem.Crash(nil)
	f.Close()
	f, fi = withIndex(t, crashed, db, key)
	defer f.Close()
	if f.Length() != uint64(len(sizes)) {
		t.Fatalf("crashed feed length %d, want %d", f.Length(), len(sizes))
	}
	checkAgainst(t, f, fi, sizes, rng)
	// Other blocks where the lost ones were: no node of the lost
	// appends may come back from the node cache.
	sizes = append(sizes, randomFeed(t, f, rng, 300)...)
	checkAgainst(t, f, fi, sizes, rng)
}

// A crash of the index mid-append (Pebble's unsynced writes dropped at
// random) reopens to an index that agrees with the feed.
func TestIndexCrash(t *testing.T) {
	for seed := range uint64(8) {
		rng := rand.New(rand.NewPCG(seed, 3))
		mem := feed.NewMemStorage()
		w, _ := feed.Create(mem, feed.Options{})
		key := w.Key()
		w.Close()
		fs := vfs.NewCrashableMem()
		db := openIndex(t, fs)
		f, _ := withIndex(t, mem, db, key)
		sizes := randomFeed(t, f, rng, 400+rng.IntN(400))
		if err := f.Sync(); err != nil {
			t.Fatal(err)
		}
		clone := fs.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: rng.IntN(101), RNG: rand.New(rand.NewPCG(seed, 4))})
		f.Close()
		db.Close()

		db = openIndex(t, clone)
		f, fi := withIndex(t, mem, db, key)
		checkAgainst(t, f, fi, sizes, rng)
		f.Close()
		db.Close()
	}
}

// Downloads into a replica record the blocks' ranges, and the replica's
// seeks over them go through the index.
func TestIndexFromPuts(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	w, _ := feed.Create(feed.NewMemStorage(), feed.Options{})
	defer w.Close()
	randomFeed(t, w, rng, 800)
	db := openIndex(t, vfs.NewMem())
	defer db.Close()
	fi, _ := db.Feed(w.Key())
	r, err := feed.CreateReplica(feed.NewMemStorage(), w.Key(), feed.Options{Index: fi})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	marks := &tree.NodeMarks{}
	for range 100 {
		i := rng.Uint64N(w.Length())
		idx, vb, _ := tree.ProofNodes(w, marks, 2*i, false, tree.Digest(r, 2*i, 2*w.Length()))
		b, _ := w.Get(context.Background(), i)
		p := tree.Proof{Block: i, Value: b, HasValue: true}
		for _, n := range idx {
			node, _ := w.Node(n)
			p.Nodes = append(p.Nodes, node)
		}
		if vb > 0 {
			p.Signature, _, _ = w.Signature(vb/2 - 1)
		}
		if err := r.Put(p); err != nil {
			t.Fatal(err)
		}
		off, size, _ := w.BlockRange(i)
		start, end, ok, err := fi.Block(i)
		if err != nil || !ok || start != off || end != off+size {
			t.Fatalf("index block %d = [%d, %d) %v %v, want [%d, %d)", i, start, end, ok, err, off, off+size)
		}
		if size > 0 {
			if j, in, err := r.Seek(off + size - 1); err != nil || j != i || in != size-1 {
				t.Fatalf("replica Seek into block %d = %d, %d, %v", i, j, in, err)
			}
		}
	}
	if l, _, ok, _ := fi.State(); !ok || l != w.Length() {
		t.Fatalf("index state length %d, want %d", l, w.Length())
	}
}

// A feed whose offsets live in the index (a home's owner keeps none in
// memory) verifies windows of blocks for a reader in order and groups for
// one out of order, as a feed with them in memory does: corrupt blocks
// are ErrCorrupt every time, the others read back, and every good block
// ends verified.
func TestIndexedFeedReadsVerify(t *testing.T) {
	dir := t.TempDir()
	w, err := feed.Create(feed.DirStorage{Dir: dir}, feed.Options{})
	if err != nil {
		t.Fatal(err)
	}
	const n = 1500 // windows of 512
	blocks := make([][]byte, n)
	for i := range blocks {
		blocks[i] = bytes.Repeat([]byte{byte(i), byte(i >> 8)}, i%30)
	}
	if err := w.Append(blocks...); err != nil {
		t.Fatal(err)
	}
	key := w.Key()
	w.Close()
	bad := map[uint64]bool{3: true, 601: true, 1100: true, 1101: true} // none empty
	path := filepath.Join(dir, "data")
	data, _ := os.ReadFile(path)
	var off int
	for i, b := range blocks {
		if bad[uint64(i)] {
			data[off+1] ^= 0x01
		}
		off += len(b)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, order := range []string{"in order", "out of order"} {
		db := openIndex(t, vfs.NewMem())
		f, _ := withIndex(t, feed.DirStorage{Dir: dir}, db, key)
		for pass := range 2 {
			for k := range uint64(n) {
				i := k
				if order == "out of order" {
					i = (k*337 + 5) % n
				}
				got, err := f.Get(context.Background(), i)
				if bad[i] {
					if !errors.Is(err, feed.ErrCorrupt) {
						t.Fatalf("%s, pass %d: Get(%d) = %v, want ErrCorrupt", order, pass, i, err)
					}
					continue
				}
				if err != nil || !bytes.Equal(got, blocks[i]) {
					t.Fatalf("%s, pass %d: Get(%d) = %v", order, pass, i, err)
				}
			}
		}
		if s, err := f.LocalState(); err != nil || s.Verified != n-uint64(len(bad)) {
			t.Errorf("%s: %d blocks verified, want %d (%v)", order, s.Verified, n-len(bad), err)
		}
		f.Close()
		db.Close()
	}
}
