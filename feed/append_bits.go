package feed

// setBlocks sets the data bits of blocks [start, end), leaving the
// bitfield exactly as SetBlock on each block in turn would, but refreshes
// the index summary once per leaf position it changed (32 blocks) instead
// of once per block: the summary is a function of the data bits, so
// refreshing every changed position's path after the bits are set gives
// the same bytes. A 128-block append walked the summary tree 128 times.
func (b *bitfield) setBlocks(start, end uint64) {
	const blocksPerLeaf = 32 // a summary leaf position covers 4 data bytes
	changed := false
	for i := start; i < end; i++ {
		if b.setBit(i/blocksPerPage, 0, i%blocksPerPage, true) {
			changed = true
		}
		if changed && ((i+1)%blocksPerLeaf == 0 || i+1 == end) {
			b.updateIndex(i / 8)
			changed = false
		}
	}
}
