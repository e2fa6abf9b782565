package feed_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"golang.org/x/crypto/blake2b"

	"github.com/hyperfs/hyperfs/feed"
)

// The benchmarks below mirror tests/interop/js/bench.js workloads so that
// bench/compare.sh can put Go and JavaScript hypercore 9 side by side. All
// run on feed.DirStorage in b.TempDir(); setup is never timed.

const (
	readBlockSize = 4 << 10 // block size of the read fixtures
	readBlocks    = 50_000  // blocks in the read fixtures (~200 MiB)
)

// benchBlock returns size deterministic pseudo-random bytes.
func benchBlock(size int) []byte {
	r := rand.New(rand.NewPCG(1, 2))
	b := make([]byte, size)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// BenchmarkAppend times one Append of batch blocks (one signature) per op,
// without Sync, as hypercore 9's append does not fsync either.
func BenchmarkAppend(b *testing.B) {
	for _, c := range []struct {
		name        string
		size, batch int
		deferSign   bool
	}{
		{"block=1KiB/batch=128", 1 << 10, 128, false},
		{"block=64KiB/batch=128", 64 << 10, 128, false},
		{"block=1KiB/batch=1", 1 << 10, 1, false},
		{"block=64KiB/batch=1", 64 << 10, 1, false},
		// What a write through the mount costs the engine.
		{"block=100B/batch=1/deferred", 100, 1, true},
	} {
		b.Run(c.name, func(b *testing.B) {
			f, err := feed.Create(feed.DirStorage{Dir: b.TempDir()}, feed.Options{DeferSigning: c.deferSign})
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			block := benchBlock(c.size)
			blocks := make([][]byte, c.batch)
			for i := range blocks {
				blocks[i] = block
			}
			b.SetBytes(int64(c.size * c.batch))
			b.ReportAllocs()
			for b.Loop() {
				if err := f.Append(blocks...); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*c.batch)/b.Elapsed().Seconds(), "blocks/s")
		})
	}
}

// readFixture writes readBlocks blocks of readBlockSize bytes into a fresh
// directory, in batches of 1024 as bench.js does, syncs and closes it.
func readFixture(b *testing.B) string {
	b.Helper()
	dir := b.TempDir()
	f, err := feed.Create(feed.DirStorage{Dir: dir}, feed.Options{})
	if err != nil {
		b.Fatal(err)
	}
	block := benchBlock(readBlockSize)
	batch := make([][]byte, 1024)
	for i := range batch {
		batch[i] = block
	}
	for done := 0; done < readBlocks; {
		n := min(len(batch), readBlocks-done)
		if err := f.Append(batch[:n]...); err != nil {
			b.Fatal(err)
		}
		done += n
	}
	if err := f.Sync(); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	return dir
}

// openFixture reopens a fixture so reads do not start from the state the
// writer left in memory.
func openFixture(b *testing.B, dir string) *feed.Feed {
	b.Helper()
	f, err := feed.Open(feed.DirStorage{Dir: dir}, feed.Options{})
	if err != nil {
		b.Fatal(err)
	}
	if f.Length() != readBlocks {
		b.Fatalf("fixture length %d, want %d", f.Length(), readBlocks)
	}
	return f
}

// BenchmarkGet times one Get of a 4 KiB block per op on a reopened feed of
// 50 000 blocks: in order (wrapping) or at PCG-chosen indexes. Note that a
// block is hashed against its leaf on its first read after open only.
func BenchmarkGet(b *testing.B) {
	dir := readFixture(b)
	ctx := context.Background()
	for _, name := range []string{"seq", "random", "sparse"} {
		b.Run(name, func(b *testing.B) {
			f := openFixture(b, dir)
			defer f.Close()
			idx := make([]uint64, readBlocks)
			r := rand.New(rand.NewPCG(1, 1))
			// sparse: one block of each group of 8 in random order, so
			// that the first readBlocks/8 reads each verify a group no
			// read comes back to (readaround.go's worst case).
			groups := r.Perm(readBlocks / 8)
			for i := range idx {
				switch name {
				case "seq":
					idx[i] = uint64(i)
				case "random":
					idx[i] = r.Uint64N(readBlocks)
				case "sparse":
					idx[i] = uint64(8*groups[i%len(groups)] + i%8)
				}
			}
			b.SetBytes(readBlockSize)
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				blk, err := f.Get(ctx, idx[n%len(idx)])
				if err != nil {
					b.Fatal(err)
				}
				if len(blk) != readBlockSize {
					b.Fatalf("block of %d bytes", len(blk))
				}
				n++
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "blocks/s")
		})
	}
}

// BenchmarkSeek times one Seek to a PCG-chosen byte offset per op on a
// reopened feed of 50 000 blocks of 4 KiB.
func BenchmarkSeek(b *testing.B) {
	f := openFixture(b, readFixture(b))
	defer f.Close()
	offs := make([]uint64, readBlocks)
	r := rand.New(rand.NewPCG(1, 1))
	for i := range offs {
		offs[i] = r.Uint64N(f.ByteLength())
	}
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		off := offs[n%len(offs)]
		i, in, err := f.Seek(off)
		if err != nil {
			b.Fatal(err)
		}
		if i*readBlockSize+in != off {
			b.Fatalf("seek %d: (%d, %d)", off, i, in)
		}
		n++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "seeks/s")
}

// BenchmarkBlake2b is the single-core hashing ceiling for 64 KiB appends:
// every appended byte is hashed once into its leaf.
func BenchmarkBlake2b(b *testing.B) {
	for _, size := range []int{64 << 10} {
		b.Run(fmt.Sprintf("%dKiB", size>>10), func(b *testing.B) {
			buf := benchBlock(size)
			b.SetBytes(int64(size))
			for b.Loop() {
				blake2b.Sum256(buf)
			}
		})
	}
}
