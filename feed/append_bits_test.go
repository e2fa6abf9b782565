package feed

import (
	"bytes"
	"maps"
	"math/rand/v2"
	"testing"
)

// setBlocks leaves the pages, index summary and dirty marks exactly as
// SetBlock on each block would, across page boundaries (where a new page
// recomputes the summary) and over blocks already set.
func TestSetBlocksMatchesSetBlock(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	a, b := newBitfield(), newBitfield()
	start := uint64(0)
	for range 400 {
		if r.IntN(10) == 0 {
			start = uint64(r.IntN(3 * blocksPerPage)) // jump, possibly back over set bits
		}
		end := start + uint64(r.IntN(300))
		for i := start; i < end; i++ {
			a.SetBlock(i, true)
		}
		b.setBlocks(start, end)
		start = end
		if len(a.pages) != len(b.pages) || !maps.Equal(a.dirty, b.dirty) {
			t.Fatalf("after [.., %d): %d pages, dirty %v; want %d, %v", end, len(b.pages), b.dirty, len(a.pages), a.dirty)
		}
		for p := range a.pages {
			if !bytes.Equal(a.pages[p], b.pages[p]) {
				t.Fatalf("after [.., %d): page %d differs", end, p)
			}
		}
	}
}
