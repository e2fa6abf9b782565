package index

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
)

// A stored page is the known blocks among pageBlocks consecutive indexes,
// the unit the offset cache holds, as one Pebble value:
//
//	uvarint count
//	count x { uvarint index gap, uvarint start gap, uvarint size }
//
// The index gap is the block's index within the page minus the previous
// one's minus 1 (the first: its index within the page); the start gap is
// its start minus the previous block's end (the first: its start). Blocks
// ascend by index and, not overlapping, by offset, so a page of one-block
// appends costs 3 bytes a block, where a key per block cost about 100.

// errBadPage reports a stored page that does not decode to ascending,
// non-overlapping blocks within the page.
var errBadPage = errors.New("index: malformed offset page")

// encodePage writes p's blocks in the stored form.
func encodePage(p *offsetPage) []byte {
	b := make([]byte, 0, 4+len(p.idx)*4)
	b = binary.AppendUvarint(b, uint64(len(p.idx)))
	var nextIdx uint32
	var prevEnd uint64
	for k := range p.idx {
		b = binary.AppendUvarint(b, uint64(p.idx[k]-nextIdx))
		b = binary.AppendUvarint(b, p.start[k]-prevEnd)
		b = binary.AppendUvarint(b, p.end[k]-p.start[k])
		nextIdx, prevEnd = p.idx[k]+1, p.end[k]
	}
	return b
}

// decodePage reads the stored form of page n of feed key; it never trusts
// the bytes (a damaged index must not crash the mount).
func decodePage(key [32]byte, n uint64, v []byte) (*offsetPage, error) {
	count, k := binary.Uvarint(v)
	if k <= 0 || count > pageBlocks {
		return nil, fmt.Errorf("%w: page %d: count", errBadPage, n)
	}
	v = v[k:]
	p := &offsetPage{feed: key, n: n, idx: make([]uint32, count), start: make([]uint64, count), end: make([]uint64, count)}
	var nextIdx, prevEnd uint64
	for j := range count {
		var f [3]uint64
		for x := range f {
			if f[x], k = binary.Uvarint(v); k <= 0 {
				return nil, fmt.Errorf("%w: page %d: block %d of %d cut short", errBadPage, n, j, count)
			}
			v = v[k:]
		}
		idx, start := nextIdx+f[0], prevEnd+f[1]
		end := start + f[2]
		if idx >= pageBlocks || idx < nextIdx || start < prevEnd || end < start {
			return nil, fmt.Errorf("%w: page %d: block %d out of order or range", errBadPage, n, j)
		}
		p.idx[j], p.start[j], p.end[j] = uint32(idx), start, end
		nextIdx, prevEnd = idx+1, end
	}
	if len(v) != 0 {
		return nil, fmt.Errorf("%w: page %d: %d bytes past the last block", errBadPage, n, len(v))
	}
	return p, nil
}

// mergePage returns a new page with spans (all within page p.n, ascending
// by index) set over p's blocks. It fails when the result would not
// ascend by offset: spans that disagree with what is stored.
func mergePage(p *offsetPage, spans []BlockSpan) (*offsetPage, error) {
	q := &offsetPage{feed: p.feed, n: p.n}
	n := len(p.idx) + len(spans)
	q.idx, q.start, q.end = make([]uint32, 0, n), make([]uint64, 0, n), make([]uint64, 0, n)
	add := func(idx uint32, start, end uint64) {
		q.idx, q.start, q.end = append(q.idx, idx), append(q.start, start), append(q.end, end)
	}
	j := 0
	for _, s := range spans {
		idx := uint32(s.Index - p.n*pageBlocks)
		for j < len(p.idx) && p.idx[j] < idx {
			add(p.idx[j], p.start[j], p.end[j])
			j++
		}
		if j < len(p.idx) && p.idx[j] == idx {
			j++ // replaced
		}
		add(idx, s.Start, s.End)
	}
	for ; j < len(p.idx); j++ {
		add(p.idx[j], p.start[j], p.end[j])
	}
	for k := range q.idx {
		if q.end[k] < q.start[k] || (k > 0 && (q.idx[k] <= q.idx[k-1] || q.start[k] < q.end[k-1])) {
			return nil, fmt.Errorf("%w: page %d: block %d overlaps or precedes the one before", errBadPage, p.n, p.n*pageBlocks+uint64(q.idx[k]))
		}
	}
	return q, nil
}

// spansByPage calls fn with each run of spans (ascending by index) that
// falls in one page.
func spansByPage(spans []BlockSpan, fn func(n uint64, run []BlockSpan) error) error {
	for len(spans) > 0 {
		n := spans[0].Index / pageBlocks
		k, _ := slices.BinarySearchFunc(spans, (n+1)*pageBlocks, func(s BlockSpan, i uint64) int { return cmpU64(s.Index, i) })
		if err := fn(n, spans[:k]); err != nil {
			return err
		}
		spans = spans[k:]
	}
	return nil
}
