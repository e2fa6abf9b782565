package tree

import "github.com/hyperfs/hyperfs/tree/blake2bx"

// ParentNodes appends to dst the parents of the sibling pairs children[0]
// and children[1], children[2] and children[3], ..., as ParentOf returns
// them, and returns the extended slice; an odd last child is ignored. It
// hashes the pairs several at a time (package blake2bx): a level of a
// subtree built over a batch of leaves is one call. Apart from growing dst
// it does not allocate, and it is safe for concurrent use.
func ParentNodes(dst []Node, children []Node) []Node {
	if len(children)/2 < fewHashes {
		for i := 0; i+1 < len(children); i += 2 {
			dst = append(dst, ParentOf(children[i], children[i+1]))
		}
		return dst
	}
	return parentBatches(dst, children)
}

// parentBatches is ParentNodes in batches of leafBatch pairs.
func parentBatches(dst []Node, children []Node) []Node {
	// The messages go in as prefixes of empty messages: blake2bx copies a
	// prefix, while what it hands x/crypto escapes, and the messages are
	// built on this stack.
	var (
		bufs  [leafBatch][parentMsgSize]byte
		pre   [leafBatch][]byte
		empty [leafBatch][]byte
		sums  [leafBatch][32]byte
	)
	pairs := children[:len(children)/2*2]
	for lo := 0; lo < len(pairs); lo += 2 * leafBatch {
		part := pairs[lo:min(lo+2*leafBatch, len(pairs))]
		n := len(part) / 2
		for i := range n {
			parentMessage(&bufs[i], part[2*i], part[2*i+1])
			pre[i] = bufs[i][:]
		}
		blake2bx.Sum256Prefixed(sums[:n], pre[:n], empty[:n])
		for i := range n {
			a, b := part[2*i], part[2*i+1]
			dst = append(dst, Node{Index: Parent(a.Index), Hash: sums[i], Size: a.Size + b.Size})
		}
	}
	return dst
}
