package tree

import "github.com/hyperfs/hyperfs/tree/blake2bx"

// leafBatch is how many leaves LeafHashes hashes per blake2bx call: the
// headers and digests of a batch stay on the stack.
const leafBatch = 128

// LeafHashes appends to dst the leaf nodes of blocks first, first+1, ...,
// as Leaf returns them, and returns the extended slice. It hashes several
// blocks at once (package blake2bx), which is worth it from four blocks
// on and most when they are of equal length, as the blocks of a batch
// append or a verified read window are. Apart from growing dst it does not
// allocate, and it is safe for concurrent use.
func LeafHashes(dst []Node, first uint64, blocks [][]byte) []Node {
	if len(blocks) < fewHashes {
		for i, b := range blocks {
			dst = append(dst, Leaf(first+uint64(i), b))
		}
		return dst
	}
	return leafBatches(dst, first, blocks)
}

// fewHashes is the count below which a batch function hashes one message
// at a time: lanes need more (blake2bx hashes fewer than four one by one
// too), and clearing a batch's arrays on the stack, tens of kilobytes,
// costs more than hashing a one-block append's 100 bytes.
const fewHashes = 4

// leafBatches is LeafHashes in batches of leafBatch.
func leafBatches(dst []Node, first uint64, blocks [][]byte) []Node {
	var (
		hdrs [leafBatch][leafHeaderSize]byte
		pre  [leafBatch][]byte
		sums [leafBatch][32]byte
	)
	for lo := 0; lo < len(blocks); lo += leafBatch {
		part := blocks[lo:min(lo+leafBatch, len(blocks))]
		for i, b := range part {
			leafHeader(&hdrs[i], len(b))
			pre[i] = hdrs[i][:]
		}
		blake2bx.Sum256Prefixed(sums[:len(part)], pre[:len(part)], part)
		for i, b := range part {
			dst = append(dst, Node{Index: 2 * (first + uint64(lo+i)), Hash: sums[i], Size: uint64(len(b))})
		}
	}
	return dst
}
