package tree

import (
	"hash"

	"golang.org/x/crypto/blake2b"
)

// LeafHasher hashes leaves without allocating, for a caller that hashes
// many blocks in a row (a batch append). LeafHash allocates twice a call:
// its digest sits behind hash.Hash, so the header and the output buffer
// escape to the heap; here both live in the hasher. The hashes are the
// ones LeafHash returns.
//
// A LeafHasher is not safe for concurrent use: give each goroutine one.
type LeafHasher struct {
	h   hash.Hash
	hdr [leafHeaderSize]byte
	sum [32]byte
}

// NewLeafHasher returns a LeafHasher.
func NewLeafHasher() *LeafHasher {
	h, _ := blake2b.New256(nil) // fails only for a key over 64 bytes
	return &LeafHasher{h: h}
}

// Leaf returns the leaf node of block i holding data, as Leaf does.
func (lh *LeafHasher) Leaf(block uint64, data []byte) Node {
	leafHeader(&lh.hdr, len(data))
	lh.h.Reset()
	lh.h.Write(lh.hdr[:])
	lh.h.Write(data)
	lh.h.Sum(lh.sum[:0])
	return Node{Index: 2 * block, Hash: lh.sum, Size: uint64(len(data))}
}
