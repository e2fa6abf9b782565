package peer

import "sort"

// maxSpans bounds a rangeSet so that a peer announcing alternating blocks
// cannot make us hold an unbounded list (adversarial case A15). A set that
// is full ignores further additions: we then under-estimate what the peer
// has, which only costs requests we will not make.
const maxSpans = 1 << 18

// span is the half-open block range [start, end).
type span struct{ start, end uint64 }

// rangeSet is a set of block indexes kept as sorted, disjoint, non-adjacent
// spans: a Have of 2^53 blocks is one span, not a 2^50-byte bitfield. It
// is not safe for concurrent use.
type rangeSet struct {
	spans []span
}

// first returns the position of the first span that ends after i.
func (r *rangeSet) first(i uint64) int {
	return sort.Search(len(r.spans), func(k int) bool { return r.spans[k].end > i })
}

func (r *rangeSet) has(i uint64) bool {
	k := r.first(i)
	return k < len(r.spans) && r.spans[k].start <= i
}

// next returns the smallest member ≥ i.
func (r *rangeSet) next(i uint64) (uint64, bool) {
	k := r.first(i)
	if k == len(r.spans) {
		return 0, false
	}
	return max(i, r.spans[k].start), true
}

// end returns one past the largest member, or 0 for an empty set.
func (r *rangeSet) end() uint64 {
	if len(r.spans) == 0 {
		return 0
	}
	return r.spans[len(r.spans)-1].end
}

// add inserts [start, end).
func (r *rangeSet) add(start, end uint64) {
	if start >= end {
		return
	}
	// Spans that touch or overlap [start, end) merge with it.
	lo := sort.Search(len(r.spans), func(k int) bool { return r.spans[k].end >= start })
	hi := lo
	for hi < len(r.spans) && r.spans[hi].start <= end {
		start = min(start, r.spans[hi].start)
		end = max(end, r.spans[hi].end)
		hi++
	}
	if lo == hi && len(r.spans) >= maxSpans {
		return
	}
	merged := span{start, end}
	switch {
	case hi-lo == 1:
		r.spans[lo] = merged
	case hi-lo > 1:
		r.spans[lo] = merged
		r.spans = append(r.spans[:lo+1], r.spans[hi:]...)
	default:
		r.spans = append(r.spans, span{})
		copy(r.spans[lo+1:], r.spans[lo:])
		r.spans[lo] = merged
	}
}

// remove deletes [start, end).
func (r *rangeSet) remove(start, end uint64) {
	if start >= end {
		return
	}
	var out []span
	k := r.first(start)
	out = append(out, r.spans[:k]...)
	for ; k < len(r.spans) && r.spans[k].start < end; k++ {
		s := r.spans[k]
		if s.start < start {
			out = append(out, span{s.start, start})
		}
		if s.end > end {
			out = append(out, span{end, s.end})
		}
	}
	r.spans = append(out, r.spans[k:]...)
}

// addBits adds the blocks whose bits are set in an MSB-first bitfield
// describing blocks from start on.
func (r *rangeSet) addBits(start uint64, bits []byte) {
	run, inRun := uint64(0), false
	for k, b := range bits {
		for j := range 8 {
			i := start + uint64(k)*8 + uint64(j)
			set := b&(0x80>>j) != 0
			switch {
			case set && !inRun:
				run, inRun = i, true
			case !set && inRun:
				r.add(run, i)
				inRun = false
			}
		}
	}
	if inRun {
		r.add(run, start+uint64(len(bits))*8)
	}
}
