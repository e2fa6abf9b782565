package feed

import (
	"sync"
	"sync/atomic"
)

// A local reader of a replica (a mount streaming a remote feed, its
// readahead) asks for blocks, waits, and reads each as soon as Put has
// stored it: reading back from the data file what was written a moment
// before costs an allocation, a zeroing and a copy of every block, about
// a seventh of a mount's CPU in a cat of a remote feed. So Put hands the
// bytes of a block that a local reader asked for (Get waiting, Prefetch)
// to the next Get of it, which takes them: the caller of Get owns what it
// gets, as ever, and the bytes were hashed against their leaf by Put.
//
// Memory: a feed keeps at most freshBytes of such blocks, dropping the
// oldest first (a reader that stopped leaves them behind), and all feeds
// of the process together at most freshBudget; past that a block is read
// back from the file as before. The set of asked blocks is bounded too.
const (
	freshBytes  = 16 << 20 // per feed: twice the mount's readahead window
	freshBudget = 64 << 20 // all feeds
	freshAsked  = 4096     // asked blocks remembered per feed
)

// freshHeld is the bytes kept by all feeds (freshBudget).
var freshHeld atomic.Int64

// freshBlocks is a feed's asked and kept blocks. mu guards every field;
// it is held only to look up and change them.
type freshBlocks struct {
	mu    sync.Mutex
	asked map[uint64]struct{}
	kept  map[uint64][]byte
	order []uint64 // kept blocks, oldest first; may name taken ones
	bytes int64
}

// ask notes that a local reader waits for block i, or soon will.
func (fr *freshBlocks) ask(i uint64) {
	fr.mu.Lock()
	defer fr.mu.Unlock()
	if fr.asked == nil || len(fr.asked) >= freshAsked {
		fr.asked = make(map[uint64]struct{})
	}
	fr.asked[i] = struct{}{}
}

// keep holds b, the verified bytes of block i just stored, if a reader
// asked for it; b must not change afterwards.
func (fr *freshBlocks) keep(i uint64, b []byte) {
	n := int64(len(b))
	fr.mu.Lock()
	defer fr.mu.Unlock()
	if _, ok := fr.asked[i]; !ok || n == 0 || n > freshBytes {
		return
	}
	delete(fr.asked, i)
	if old, ok := fr.kept[i]; ok {
		fr.dropLocked(i, old)
	}
	for fr.bytes+n > freshBytes && len(fr.order) > 0 {
		j := fr.order[0]
		fr.order = fr.order[1:]
		if old, ok := fr.kept[j]; ok {
			fr.dropLocked(j, old)
		}
	}
	if freshHeld.Add(n) > freshBudget {
		freshHeld.Add(-n)
		return
	}
	if fr.kept == nil {
		fr.kept = make(map[uint64][]byte)
	}
	if len(fr.order) > 2*len(fr.kept)+64 {
		// Mostly taken blocks: keep only the live names, in order.
		live := fr.order[:0]
		for _, j := range fr.order {
			if _, ok := fr.kept[j]; ok {
				live = append(live, j)
			}
		}
		fr.order = live
	}
	fr.kept[i] = b
	fr.order = append(fr.order, i)
	fr.bytes += n
}

// take hands over block i's kept bytes, if any.
func (fr *freshBlocks) take(i uint64) ([]byte, bool) {
	fr.mu.Lock()
	defer fr.mu.Unlock()
	b, ok := fr.kept[i]
	if ok {
		fr.dropLocked(i, b)
	}
	return b, ok
}

// forget drops kept blocks in [start, end) (cleared), or all of them.
func (fr *freshBlocks) forget(start, end uint64) {
	fr.mu.Lock()
	defer fr.mu.Unlock()
	for i, b := range fr.kept {
		if i >= start && i < end {
			fr.dropLocked(i, b)
		}
	}
}

func (fr *freshBlocks) dropLocked(i uint64, b []byte) {
	delete(fr.kept, i)
	fr.bytes -= int64(len(b))
	freshHeld.Add(-int64(len(b)))
}
