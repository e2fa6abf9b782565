package index

import (
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/hyperfs/hyperfs/tree"
)

// Readers never miss a block an Update has returned for, while commits
// of the pending updates move the spans into Pebble and drop cached pages
// (run with -race). State follows the latest Update at once, and reaches
// Pebble with the Flush after it: a DB closed without a Flush reopens to
// the last flushed state and nothing after it, which the feed's check on
// open then repairs.
func TestPendingUpdates(t *testing.T) {
	dir := t.TempDir()
	// A small cache, so that readers also load pages from Pebble.
	db, err := Open(dir, Options{OffsetCacheSize: 4 * (pageBlocks*20 + pageOverhead)})
	if err != nil {
		t.Fatal(err)
	}
	fi, _ := db.Feed(make([]byte, 32))
	const n = 3 * maxPending
	var ends [n + 1]uint64 // ends[i+1] is block i's end
	rng := rand.New(rand.NewPCG(7, 7))
	for i := range n {
		ends[i+1] = ends[i] + 1 + uint64(rng.IntN(50))
	}
	var known atomic.Int64 // blocks whose Update has returned
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var once sync.Once
	stopReaders := func() { once.Do(func() { close(stop); wg.Wait() }) }
	defer stopReaders()
	errs := make(chan string, 4)
	for r := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(r), 8))
			for {
				select {
				case <-stop:
					return
				default:
				}
				k := known.Load()
				if k == 0 {
					continue
				}
				i := rng.Uint64N(uint64(k))
				s, e, ok, err := fi.Block(i)
				if err != nil || !ok || s != ends[i] || e != ends[i+1] {
					errs <- "Block missed a known block"
					return
				}
				off := ends[i] + rng.Uint64N(ends[i+1]-ends[i])
				j, s, e, ok, err := fi.BlockAt(off)
				if err != nil || !ok || j != i || s != ends[i] || e != ends[i+1] {
					errs <- "BlockAt missed a known block"
					return
				}
			}
		}()
	}
	var flushed uint64
	for next := uint64(0); next < n; {
		var u Update
		for k := 1 + rng.IntN(20); k > 0 && next < n; k-- {
			u.Blocks = append(u.Blocks, BlockSpan{Index: next, Start: ends[next], End: ends[next+1]})
			next++
		}
		u.Length = next
		u.RootHash[0] = byte(next)
		if err := fi.Update(u); err != nil {
			t.Fatal(err)
		}
		known.Store(int64(next))
		if l, h, ok, err := fi.State(); err != nil || !ok || l != next || h != u.RootHash {
			t.Fatalf("State after an Update to %d = %d %v %v", next, l, ok, err)
		}
		if rng.IntN(50) == 0 && next < n-maxPending {
			if err := fi.Flush(); err != nil {
				t.Fatal(err)
			}
			flushed = next
		}
	}
	stopReaders()
	select {
	case e := <-errs:
		t.Fatal(e)
	default:
	}
	// maxPending made Updates commit on their own past the last Flush.
	fi.mu.Lock()
	held := len(fi.pend.spans)
	fi.mu.Unlock()
	if held >= maxPending || held == n-int(flushed) {
		t.Errorf("%d spans pending after %d Updates since the last Flush", held, n-flushed)
	}
	committed := uint64(n - held)
	db.Close()

	db, err = Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	fi, _ = db.Feed(make([]byte, 32))
	l, _, ok, err := fi.State()
	if err != nil || !ok || l != committed {
		t.Fatalf("state after a close without Flush: %d %v %v, want %d", l, ok, err, committed)
	}
	for _, i := range []uint64{0, committed - 1, committed} {
		_, _, ok, err := fi.Block(i)
		if err != nil || ok != (i < committed) {
			t.Errorf("Block(%d) after reopen: known %v (%v); committed %d", i, ok, err, committed)
		}
	}
}

// An Update may give the roots instead of their hash: State and the
// commit hash them, and what a reopened DB finds is tree.TreeHash of them.
func TestUpdateRoots(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	fi, _ := db.Feed(make([]byte, 32))
	roots := []tree.Node{{Index: 3, Size: 40, Hash: [32]byte{1}}, {Index: 9, Size: 10, Hash: [32]byte{2}}}
	want := tree.TreeHash(roots)
	u := Update{Blocks: []BlockSpan{{Index: 0, Start: 0, End: 50}}, Length: 5, Roots: roots}
	if err := fi.Update(u); err != nil {
		t.Fatal(err)
	}
	if l, h, ok, err := fi.State(); err != nil || !ok || l != 5 || h != want {
		t.Fatalf("State = %d %x %v %v, want 5 %x", l, h[:4], ok, err, want[:4])
	}
	// A second Update with new roots replaces the first before any hash.
	roots2 := []tree.Node{{Index: 7, Size: 60, Hash: [32]byte{3}}}
	u = Update{Blocks: []BlockSpan{{Index: 1, Start: 50, End: 60}}, Length: 6, Roots: roots2}
	if err := fi.Update(u); err != nil {
		t.Fatal(err)
	}
	if err := fi.Flush(); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if db, err = Open(dir, Options{}); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	fi, _ = db.Feed(make([]byte, 32))
	if l, h, ok, err := fi.State(); err != nil || !ok || l != 6 || h != tree.TreeHash(roots2) {
		t.Fatalf("State after reopen = %d %x %v %v, want 6 %x", l, h[:4], ok, err, tree.TreeHash(roots2))
	}
}
