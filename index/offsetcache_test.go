package index

import (
	"math/rand/v2"
	"testing"
)

// spanModel is what the offset tables should answer: the spans of the
// known blocks of a feed, by index.
type spanModel struct {
	start, end []uint64 // of every block, known or not
	known      []bool
}

func (m *spanModel) at(off uint64) (i, start, end uint64, ok bool) {
	// The first known block whose end is past off, if it starts at or
	// before off; else a gap.
	for k := range m.known {
		if m.known[k] && m.end[k] > off {
			if m.start[k] > off {
				return 0, 0, 0, false
			}
			return uint64(k), m.start[k], m.end[k], true
		}
	}
	return 0, 0, 0, false
}

// The offset cache and the pending updates answer exactly what Pebble
// answers, through appends that extend a cached last page, downloads that
// fill gaps in cached pages (out of order, so pending is flushed first),
// resets, and evictions (a cache of a few pages), for random queries
// including offsets inside runs of empty blocks.
func TestOffsetCacheAgreesWithModel(t *testing.T) {
	for _, budget := range []int64{1, 3 * (pageBlocks*20 + pageOverhead), 64 << 20} {
		db, err := Open(t.TempDir(), Options{OffsetCacheSize: budget})
		if err != nil {
			t.Fatal(err)
		}
		fi, _ := db.Feed(make([]byte, 32))
		rng := rand.New(rand.NewPCG(uint64(budget), 9))
		const n = 3000
		m := &spanModel{start: make([]uint64, n), end: make([]uint64, n), known: make([]bool, n)}
		var off uint64
		for i := range n {
			size := uint64(rng.IntN(100))
			if rng.IntN(5) == 0 {
				size = 0
			}
			m.start[i], m.end[i], off = off, off+size, off+size
		}
		total := off
		check := func(step string) {
			t.Helper()
			for range 300 {
				o := rng.Uint64N(total + 10)
				i, s, e, ok, err := fi.BlockAt(o)
				wi, ws, we, wok := m.at(o)
				if err != nil || ok != wok || (ok && (i != wi || s != ws || e != we)) {
					t.Fatalf("budget %d, %s: BlockAt(%d) = %d [%d,%d) %v %v; want %d [%d,%d) %v", budget, step, o, i, s, e, ok, err, wi, ws, we, wok)
				}
				b := rng.Uint64N(n + 5)
				s, e, ok, err = fi.Block(b)
				wok = b < n && m.known[b]
				if err != nil || ok != wok || (ok && (s != m.start[b] || e != m.end[b])) {
					t.Fatalf("budget %d, %s: Block(%d) = [%d,%d) %v %v; want known %v", budget, step, b, s, e, ok, err, wok)
				}
			}
		}
		update := func(idx []int) {
			var u Update
			for _, i := range idx {
				if !m.known[i] {
					m.known[i] = true
					u.Blocks = append(u.Blocks, BlockSpan{Index: uint64(i), Start: m.start[i], End: m.end[i]})
				}
			}
			// Rebuild steps commit at once; others wait in pending, and
			// a random Flush commits them.
			u.Partial = rng.IntN(2) == 0
			if err := fi.Update(u); err != nil {
				t.Fatal(err)
			}
			if rng.IntN(3) == 0 {
				if err := fi.Flush(); err != nil {
					t.Fatal(err)
				}
			}
		}
		// Appends in batches, queried between them.
		for next := 0; next < n/2; {
			k := 1 + rng.IntN(200)
			var idx []int
			for ; k > 0 && next < n/2; k-- {
				idx = append(idx, next)
				next++
			}
			update(idx)
			check("appends")
		}
		// A sparse replica's downloads: random blocks of the rest.
		for range 20 {
			var idx []int
			for range 1 + rng.IntN(50) {
				idx = append(idx, n/2+rng.IntN(n/2))
			}
			update(idx)
			check("downloads")
		}
		if err := fi.Reset(); err != nil {
			t.Fatal(err)
		}
		clear(m.known)
		check("reset")
		update([]int{5, 6, 7, n - 1})
		check("after reset")
		if db.offsets.used > max(budget, pageBlocks*20+pageOverhead) {
			t.Errorf("budget %d: cache holds %d bytes", budget, db.offsets.used)
		}
		db.Close()
	}
}
