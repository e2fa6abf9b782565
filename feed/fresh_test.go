package feed

import "testing"

// freshBlocks keeps only asked blocks, drops the oldest past freshBytes,
// keeps the global count, and gives everything back when forgotten.
func TestFreshBlocksBounds(t *testing.T) {
	base := freshHeld.Load()
	var fr freshBlocks
	half := make([]byte, freshBytes/2)
	fr.keep(0, half) // not asked
	if _, ok := fr.take(0); ok {
		t.Fatal("kept a block nobody asked for")
	}
	for i := range uint64(3) {
		fr.ask(i)
		fr.keep(i, half)
	}
	if _, ok := fr.take(0); ok {
		t.Error("the oldest block survived past freshBytes")
	}
	if fr.bytes > freshBytes || freshHeld.Load()-base != fr.bytes {
		t.Errorf("holding %d bytes (process count %d), want at most %d", fr.bytes, freshHeld.Load()-base, freshBytes)
	}
	if _, ok := fr.take(2); !ok {
		t.Error("the newest block was dropped")
	}
	for i := range uint64(2 * freshAsked) { // asked, never stored: bounded
		fr.ask(100 + i)
	}
	if len(fr.asked) > freshAsked {
		t.Errorf("%d asked blocks remembered, want at most %d", len(fr.asked), freshAsked)
	}
	fr.forget(0, ^uint64(0))
	if fr.bytes != 0 || len(fr.kept) != 0 || freshHeld.Load() != base {
		t.Errorf("after forget: %d bytes in %d blocks, process count %d more than before", fr.bytes, len(fr.kept), freshHeld.Load()-base)
	}
}
