package feed

import (
	"fmt"

	"github.com/hyperfs/hyperfs/tree"
)

// Proof builds the answer to a peer's request for block i (spec 4.8.5,
// responder side): the block (unless hash is set, which asks for the
// block's node only), the proof nodes that the requester's digest says it
// lacks, in wire order, and the signature of the length the proof ends in.
// marks is the per-connection record of what the requester is known to
// hold; Proof updates it from the digest.
//
// A block that is not stored, or whose tree node is missing, is
// ErrNotAvailable: hypercore never answers such requests. Stored bytes
// that fail their hash are ErrCorrupt and are never sent.
func (f *Feed) Proof(i uint64, hash bool, digest uint64, marks *tree.NodeMarks) (tree.Proof, error) {
	p := tree.Proof{Block: i}
	if i >= tree.MaxIndex/2 || !f.HasNode(2*i) || (!hash && !f.Has(i)) {
		return p, fmt.Errorf("proof of block %d: %w", i, ErrNotAvailable)
	}
	idx, verifiedBy, ok := tree.ProofNodes(f, marks, 2*i, hash, digest)
	if !ok {
		return p, fmt.Errorf("proof of block %d: %w", i, ErrNotAvailable)
	}
	p.Nodes = make([]tree.Node, 0, len(idx))
	for _, n := range idx {
		node, err := f.Node(n)
		if err != nil {
			return p, fmt.Errorf("proof of block %d: node %d: %w", i, n, err)
		}
		p.Nodes = append(p.Nodes, node)
	}
	if verifiedBy > 0 {
		// The proof ends in the full roots of verifiedBy/2 blocks, so it
		// needs the signature of exactly that length. A replica may lack
		// it; the requester then rejects the proof, as it would from JS.
		slot := verifiedBy/2 - 1
		if sig, at, err := f.Signature(slot); err == nil && at == slot {
			p.Signature = sig
		}
	}
	if !hash {
		b, err := f.GetLocal(i)
		if err != nil {
			return p, fmt.Errorf("proof of block %d: %w", i, err)
		}
		if b == nil {
			b = []byte{}
		}
		p.Value, p.HasValue = b, true
	}
	return p, nil
}
