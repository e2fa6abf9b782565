package feed

import (
	"math/bits"
	"slices"

	"github.com/hyperfs/hyperfs/tree"
)

// Page regions (spec 3.7). Each page covers 8192 blocks and 16384 tree
// indexes and holds 512 positions of the index summary.
const (
	dataRegion      = 1024
	treeRegion      = 2048
	indexRegion     = 512
	blocksPerPage   = dataRegion * 8
	nodesPerPage    = treeRegion * 8
	treeRegionStart = dataRegion
	indexStart      = dataRegion + treeRegion
)

// bitfield is the in-memory image of the bitfield file. It is not safe for
// concurrent use; Feed.mu guards it.
type bitfield struct {
	// pages[p] is page p, or nil if it was never written.
	pages [][]byte
	// dirty marks pages changed since they were last handed to flush.
	dirty map[int]struct{}
}

func newBitfield() *bitfield { return &bitfield{dirty: map[int]struct{}{}} }

// page returns page p, allocating it when alloc is set. A new page grows
// the index summary's range, so the whole summary is recomputed.
func (b *bitfield) page(p uint64, alloc bool) []byte {
	if p < uint64(len(b.pages)) && b.pages[p] != nil {
		return b.pages[p]
	}
	if !alloc {
		return nil
	}
	if p >= tree.MaxIndex/nodesPerPage {
		return nil // beyond anything a valid feed addresses
	}
	grew := p >= uint64(len(b.pages))
	for uint64(len(b.pages)) <= p {
		b.pages = append(b.pages, nil)
	}
	b.pages[p] = make([]byte, pageSize)
	b.dirty[int(p)] = struct{}{}
	if grew {
		b.recomputeIndex()
	}
	return b.pages[p]
}

func getBit(pg []byte, byteOff int, k uint64) bool {
	return pg != nil && pg[byteOff+int(k>>3)]&(0x80>>(k&7)) != 0
}

// setBit sets or clears a bit and reports whether it changed.
func (b *bitfield) setBit(p uint64, byteOff int, k uint64, v bool) bool {
	pg := b.page(p, v)
	if pg == nil {
		return false
	}
	i := byteOff + int(k>>3)
	mask := byte(0x80 >> (k & 7))
	old := pg[i]
	if v {
		pg[i] |= mask
	} else {
		pg[i] &^= mask
	}
	if pg[i] == old {
		return false
	}
	b.dirty[int(p)] = struct{}{}
	return true
}

// HasBlock reports the data bit of block i.
func (b *bitfield) HasBlock(i uint64) bool {
	p := i / blocksPerPage
	return p < uint64(len(b.pages)) && getBit(b.pages[p], 0, i%blocksPerPage)
}

// HasNode reports the tree bit of node n; it implements tree.NodeSet.
func (b *bitfield) HasNode(n uint64) bool {
	p := n / nodesPerPage
	return p < uint64(len(b.pages)) && getBit(b.pages[p], treeRegionStart, n%nodesPerPage)
}

// SetBlock sets or clears block i's data bit and keeps the index current.
func (b *bitfield) SetBlock(i uint64, v bool) bool {
	if !b.setBit(i/blocksPerPage, 0, i%blocksPerPage, v) {
		return false
	}
	b.updateIndex(i / 8)
	return true
}

// SetNode marks node n and, like JavaScript's tree index, every parent whose
// children are then both marked; it returns the parents it marked.
func (b *bitfield) SetNode(n uint64, parents []uint64) []uint64 {
	if !b.setBit(n/nodesPerPage, treeRegionStart, n%nodesPerPage, true) {
		return parents
	}
	for n < tree.MaxIndex && b.HasNode(tree.Sibling(n)) {
		n = tree.Parent(n)
		if !b.setBit(n/nodesPerPage, treeRegionStart, n%nodesPerPage, true) {
			break
		}
		parents = append(parents, n)
	}
	return parents
}

// ClearNode clears node n's tree bit (recovery discards nodes past the
// committed length).
func (b *bitfield) ClearNode(n uint64) {
	b.setBit(n/nodesPerPage, treeRegionStart, n%nodesPerPage, false)
}

// CountBlocks counts data bits in [start, end).
func (b *bitfield) CountBlocks(start, end uint64) uint64 {
	var n uint64
	for i := start; i < end; {
		p := i / blocksPerPage
		if p >= uint64(len(b.pages)) {
			break
		}
		pg := b.pages[p]
		pageEnd := min(end, (p+1)*blocksPerPage)
		if pg == nil {
			i = pageEnd
			continue
		}
		// Whole bytes where aligned, bits at the edges.
		for i < pageEnd {
			k := i % blocksPerPage
			if k&7 == 0 && i+8 <= pageEnd {
				n += uint64(bits.OnesCount8(pg[k>>3]))
				i += 8
				continue
			}
			if getBit(pg, 0, k) {
				n++
			}
			i++
		}
	}
	return n
}

// Index summary (spec 3.7): position x of the concatenated index regions,
// valid below len(pages)*512. Leaves summarise four data bytes, parents
// their children's summaries.

func (b *bitfield) limit() uint64 { return uint64(len(b.pages)) * indexRegion }

func (b *bitfield) indexByte(x uint64) byte {
	if x >= b.limit() {
		return 0
	}
	pg := b.pages[x/indexRegion]
	if pg == nil {
		return 0
	}
	return pg[indexStart+int(x%indexRegion)]
}

func (b *bitfield) setIndexByte(x uint64, v byte) {
	if x >= b.limit() {
		return
	}
	p := x / indexRegion
	pg := b.pages[p]
	if pg == nil {
		if v == 0 {
			return
		}
		pg = b.page(p, true)
	}
	if pg[indexStart+int(x%indexRegion)] != v {
		pg[indexStart+int(x%indexRegion)] = v
		b.dirty[int(p)] = struct{}{}
	}
}

func dataByte(b *bitfield, d uint64) byte {
	p := d / dataRegion
	if p >= uint64(len(b.pages)) || b.pages[p] == nil {
		return 0
	}
	return b.pages[p][d%dataRegion]
}

// leafSummary is the index value of leaf position 2k: two bits for each of
// data bytes 4k..4k+3, first byte highest (11 full, 00 empty, 01 partial).
func (b *bitfield) leafSummary(k uint64) byte {
	var v byte
	for j := range uint64(4) {
		var s byte
		switch dataByte(b, 4*k+j) {
		case 0x00:
			s = 0
		case 0xff:
			s = 3
		default:
			s = 1
		}
		v |= s << (6 - 2*j)
	}
	return v
}

func nibbleState(n byte) byte {
	switch n {
	case 15:
		return 3
	case 0:
		return 0
	}
	return 1
}

func squash(v byte) byte { return nibbleState(v>>4)<<2 | nibbleState(v&15) }

func (b *bitfield) parentSummary(x uint64) byte {
	l, r, _ := tree.Children(x)
	return squash(b.indexByte(l))<<4 | squash(b.indexByte(r))
}

// updateIndex refreshes the summary after data byte d changed.
func (b *bitfield) updateIndex(d uint64) {
	x := 2 * (d / 4)
	b.setIndexByte(x, b.leafSummary(d/4))
	for {
		x = tree.Parent(x)
		if x >= b.limit() {
			return
		}
		b.setIndexByte(x, b.parentSummary(x))
	}
}

// recomputeIndex rebuilds the whole summary bottom-up, as the range it
// covers has changed.
func (b *bitfield) recomputeIndex() {
	lim := b.limit()
	for x := uint64(0); x < lim; x += 2 {
		b.setIndexByte(x, b.leafSummary(x/2))
	}
	for d := uint64(1); uint64(1)<<d <= lim; d++ {
		for x := tree.Index(d, 0); x < lim; x += 2 << d {
			b.setIndexByte(x, b.parentSummary(x))
		}
	}
}

// dirtyPage is a copy of a changed page waiting to be written.
type dirtyPage struct {
	n    int
	data []byte
}

// takeDirty returns copies of the changed pages in page order (so crash
// tests replay the same writes) and forgets that they were changed; a
// failed flush hands them back with markDirty.
func (b *bitfield) takeDirty() []dirtyPage {
	if len(b.dirty) == 0 {
		return nil
	}
	out := make([]dirtyPage, 0, len(b.dirty))
	for p := range b.dirty {
		if b.pages[p] != nil {
			out = append(out, dirtyPage{p, append([]byte(nil), b.pages[p]...)})
		}
	}
	slices.SortFunc(out, func(a, b dirtyPage) int { return a.n - b.n })
	clear(b.dirty)
	return out
}

func (b *bitfield) markDirty(pages []dirtyPage) {
	for _, p := range pages {
		b.dirty[p.n] = struct{}{}
	}
}

// load fills the image from the bitfield file's pages (after the header).
func (b *bitfield) load(body []byte) {
	n := (len(body) + pageSize - 1) / pageSize
	b.pages = make([][]byte, n)
	for p := range n {
		pg := make([]byte, pageSize)
		copy(pg, body[p*pageSize:])
		b.pages[p] = pg
	}
}

// AppendBlockBits appends the data bits of blocks [start, end) to dst,
// MSB first as on disk and on the wire; start must be a multiple of 8.
// Whole bytes are copied from the pages, so a 2^20-block window costs a
// 128 KiB copy, not 2^20 lookups.
func (b *bitfield) AppendBlockBits(dst []byte, start, end uint64) []byte {
	for i := start; i < end; {
		p, off := i/blocksPerPage, i%blocksPerPage
		n := min(blocksPerPage-off, end-i)
		nbytes := int((n + 7) / 8)
		if p < uint64(len(b.pages)) && b.pages[p] != nil {
			dst = append(dst, b.pages[p][off/8:off/8+uint64(nbytes)]...)
		} else {
			dst = append(dst, make([]byte, nbytes)...)
		}
		i += n
	}
	if r := end % 8; r != 0 && end > start {
		dst[len(dst)-1] &= byte(0xff) << (8 - r)
	}
	return dst
}
