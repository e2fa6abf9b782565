package index_test

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/hyperfs/hyperfs/feed"
	"github.com/hyperfs/hyperfs/index"
	"github.com/hyperfs/hyperfs/tree"
)

const benchBlocks = 1_000_000

// millionFeed writes a feed of benchBlocks blocks of 0-8 KiB (mean 4 KiB)
// into a temp dir with its index beside it, and returns the dir.
func millionFeed(b *testing.B) (dir string, key []byte) {
	b.Helper()
	// Outlives the sub-benchmark that builds it; removed by TestMain.
	dir, err := os.MkdirTemp("", "hyperfs-index-bench-")
	if err != nil {
		b.Fatal(err)
	}
	million.cleanup = func() { os.RemoveAll(dir) }
	w, err := feed.Create(feed.DirStorage{Dir: filepath.Join(dir, "feed")}, feed.Options{})
	if err != nil {
		b.Fatal(err)
	}
	key = w.Key()
	w.Close()
	db, err := index.Open(filepath.Join(dir, "index"), index.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	fi, _ := db.Feed(key)
	f, err := feed.Open(feed.DirStorage{Dir: filepath.Join(dir, "feed")}, feed.Options{Index: fi})
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 1))
	buf := make([]byte, 8<<10)
	batch := make([][]byte, 1024)
	for done := 0; done < benchBlocks; done += len(batch) {
		batch = batch[:min(len(batch), benchBlocks-done)]
		for i := range batch {
			batch[i] = buf[:rng.IntN(len(buf)+1)]
		}
		if err := f.Append(batch...); err != nil {
			b.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	// Compactions left running would share the cores with what is
	// measured.
	if err := db.Compact(b.Context()); err != nil {
		b.Fatal(err)
	}
	return dir, key
}

var million struct {
	dir     string
	key     []byte
	cleanup func()
}

func TestMain(m *testing.M) {
	code := m.Run()
	if million.cleanup != nil {
		million.cleanup()
	}
	os.Exit(code)
}

func fixture(b *testing.B) (string, []byte) {
	if million.dir == "" {
		million.dir, million.key = millionFeed(b)
	}
	return million.dir, million.key
}

// openBoth opens the fixture with its index, or without (offsets from
// the tree file: the in-memory table is built at open).
func openBoth(b *testing.B, withIndex bool) (*feed.Feed, *index.DB) {
	dir, key := fixture(b)
	opts := feed.Options{}
	var db *index.DB
	if withIndex {
		var err error
		if db, err = index.Open(filepath.Join(dir, "index"), index.Options{}); err != nil {
			b.Fatal(err)
		}
		fi, _ := db.Feed(key)
		opts.Index = fi
	}
	f, err := feed.Open(feed.DirStorage{Dir: filepath.Join(dir, "feed")}, opts)
	if err != nil {
		b.Fatal(err)
	}
	return f, db
}

func closeBoth(f *feed.Feed, db *index.DB) {
	f.Close()
	if db != nil {
		db.Close()
	}
}

// BenchmarkOpen is the open of a 1 000 000-block feed: with the index it
// reads the bitfield and roots only; without, the whole tree file.
func BenchmarkOpen(b *testing.B) {
	for _, c := range []struct {
		name  string
		index bool
	}{{"index", true}, {"tree", false}} {
		b.Run(c.name, func(b *testing.B) {
			fixture(b)
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			for b.Loop() {
				f, db := openBoth(b, c.index)
				if f.Length() != benchBlocks {
					b.Fatalf("length %d", f.Length())
				}
				runtime.ReadMemStats(&after)
				closeBoth(f, db)
			}
			b.ReportMetric(float64(after.HeapAlloc)-float64(before.HeapAlloc), "heap-B")
		})
	}
}

// BenchmarkSeek seeks to random byte offsets of a 1 000 000-block feed:
// through the index (one SeekGE), and by walking the tree file from the
// roots (the index's fallback; an index-less feed uses its in-memory
// table, see feed's BenchmarkSeek).
func BenchmarkSeek(b *testing.B) {
	b.Run("index", func(b *testing.B) {
		f, db := openBoth(b, true)
		defer closeBoth(f, db)
		fi, _ := db.Feed(f.Key())
		seekBench(b, f, func(off uint64) bool {
			_, _, _, ok, err := fi.BlockAt(off)
			return ok && err == nil
		})
	})
	b.Run("tree", func(b *testing.B) {
		dir, key := fixture(b)
		db, _ := index.Open(b.TempDir(), index.Options{}) // stays empty
		defer db.Close()
		fi, _ := db.Feed(key)
		f, err := feed.Open(feed.DirStorage{Dir: filepath.Join(dir, "feed")}, feed.Options{Index: emptyIndex{fi}})
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		seekBench(b, f, func(off uint64) bool {
			_, _, err := f.Seek(off)
			return err == nil
		})
	})
}

func seekBench(b *testing.B, f *feed.Feed, seek func(uint64) bool) {
	rng := rand.New(rand.NewPCG(2, 2))
	offs := make([]uint64, 1<<16)
	for i := range offs {
		offs[i] = rng.Uint64N(f.ByteLength())
	}
	n := 0
	for b.Loop() {
		if !seek(offs[n%len(offs)]) {
			b.Fatalf("seek %d failed", offs[n%len(offs)])
		}
		n++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "seeks/s")
}

// BenchmarkRangeLookup finds the blocks covering a 128 KiB read at a
// random offset (what a FUSE read of data asks): a SeekGE then the
// following blocks' ranges, against the tree walk per block.
func BenchmarkRangeLookup(b *testing.B) {
	const size = 128 << 10
	run := func(b *testing.B, f *feed.Feed, lookup func(off uint64) (uint64, uint64, error)) {
		rng := rand.New(rand.NewPCG(3, 3))
		for b.Loop() {
			off := rng.Uint64N(f.ByteLength() - size)
			i, in, err := f.Seek(off)
			if err != nil {
				b.Fatal(err)
			}
			for covered := -int64(in); covered < size; i++ {
				start, end, err := lookup(i)
				if err != nil {
					b.Fatal(err)
				}
				covered += int64(end - start)
			}
		}
	}
	b.Run("index", func(b *testing.B) {
		f, db := openBoth(b, true)
		defer closeBoth(f, db)
		run(b, f, func(i uint64) (uint64, uint64, error) {
			off, size, err := f.BlockRange(i)
			return off, off + size, err
		})
	})
	b.Run("tree", func(b *testing.B) {
		dir, key := fixture(b)
		db, _ := index.Open(b.TempDir(), index.Options{})
		defer db.Close()
		fi, _ := db.Feed(key)
		f, err := feed.Open(feed.DirStorage{Dir: filepath.Join(dir, "feed")}, feed.Options{Index: emptyIndex{fi}})
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		run(b, f, func(i uint64) (uint64, uint64, error) {
			off, size, err := f.BlockRange(i)
			return off, off + size, err
		})
	})
}

// emptyIndex claims to be current but knows no offsets, so the feed walks
// its tree file for every lookup: the baseline the index replaces.
type emptyIndex struct{ *index.FeedIndex }

func (e emptyIndex) State() (uint64, [32]byte, bool, error) {
	return 0, [32]byte{}, false, nil
}
func (emptyIndex) Reset() error              { return nil }
func (emptyIndex) Update(index.Update) error { return nil }
func (emptyIndex) Block(uint64) (uint64, uint64, bool, error) {
	return 0, 0, false, nil
}
func (emptyIndex) BlockAt(uint64) (uint64, uint64, uint64, bool, error) {
	return 0, 0, 0, false, nil
}

// BenchmarkNode reads random tree nodes of the 1 000 000-block fixture:
// through a feed opened with the index (its node cache, warmed by the
// first pass over the nodes), and from the tree file alone. Leaves stand
// for the reads a first read of a block verifies against.
func BenchmarkNode(b *testing.B) {
	rng := rand.New(rand.NewPCG(4, 4))
	nodes := make([]uint64, 1<<16) // 64k of the default cache's ~150k
	for i := range nodes {
		nodes[i] = 2 * rng.Uint64N(benchBlocks) // leaves: every one is stored
	}
	for _, c := range []struct {
		name  string
		index bool
	}{{"cache", true}, {"tree", false}} {
		f, db := openBoth(b, c.index)
		b.Run(c.name, func(b *testing.B) { readNodes(b, f, nodes) })
		closeBoth(f, db)
	}
}

func readNodes(b *testing.B, f *feed.Feed, nodes []uint64) {
	for _, n := range nodes { // warm
		if _, err := f.Node(n); err != nil {
			b.Fatal(err)
		}
	}
	n := 0
	for b.Loop() {
		if _, err := f.Node(nodes[n%len(nodes)]); err != nil {
			b.Fatal(err)
		}
		n++
	}
}

// BenchmarkProof builds the proof of a random block for a peer that holds
// nothing (about 2 log2(n) nodes, upper ones shared by every proof), with
// the index's node cache and from the tree file alone.
func BenchmarkProof(b *testing.B) {
	for _, c := range []struct {
		name  string
		index bool
	}{{"cache", true}, {"tree", false}} {
		f, db := openBoth(b, c.index)
		b.Run(c.name, func(b *testing.B) {
			rng := rand.New(rand.NewPCG(5, 5))
			for b.Loop() {
				if _, err := f.Proof(rng.Uint64N(benchBlocks), true, 0, &tree.NodeMarks{}); err != nil {
					b.Fatal(err)
				}
			}
		})
		closeBoth(f, db)
	}
}
