package tree

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
)

// Sentinel errors for proofs that fail. Every failure wraps ErrInvalidProof
// so callers can treat them alike; the finer ones name hypercore's messages.
var (
	ErrInvalidProof     = errors.New("tree: invalid proof")
	ErrChecksum         = fmt.Errorf("%w: checksum failed", ErrInvalidProof)
	ErrBadSignature     = fmt.Errorf("%w: signature could not be verified", ErrInvalidProof)
	ErrMissingSignature = fmt.Errorf("%w: remote did not include a signature", ErrInvalidProof)
	ErrMissingRoots     = fmt.Errorf("%w: missing tree roots needed for verify", ErrInvalidProof)
)

// MaxIndex bounds every tree index this package accepts from outside. It is
// the largest index JavaScript can address exactly (2^53), which keeps all
// span and offset arithmetic far from overflow.
const MaxIndex = 1 << 53

// Digest computes Request.nodes for tree index t (2*block): a bitmask of the
// proof nodes the requester already has (spec 4.8.4). bound is any value
// above every locally present node index, e.g. 2*length of the local tree
// bitfield; it only limits how far the walk climbs.
func Digest(h NodeSet, t, bound uint64) uint64 {
	if h.HasNode(t) {
		return 1
	}
	var digest uint64
	next := Sibling(t)
	limit := max(next+2, bound)
	bit := uint64(2)
	parent := Parent(next)
	for RightSpan(next) < limit || LeftSpan(parent) > 0 {
		if h.HasNode(next) {
			digest += bit
		}
		if h.HasNode(parent) {
			digest += 2 * bit
			digest |= 1
			if digest+1 == 4*bit {
				return 1
			}
			return digest
		}
		if bit>>62 != 0 {
			break // deeper than any tree below MaxIndex
		}
		next = Sibling(parent)
		parent = Parent(next)
		bit *= 2
	}
	return digest
}

// NodeMarks is a responder's per-connection record of the nodes a remote
// is known to have, learned only from digests (spec 4.8.5). The zero value
// is empty and ready to use. It is not safe for concurrent use.
type NodeMarks struct {
	m map[uint64]struct{}
}

// HasNode reports whether the remote is known to hold node i.
func (r *NodeMarks) HasNode(i uint64) bool {
	_, ok := r.m[i]
	return ok
}

// Mark records node i and every parent it completes with a marked sibling.
func (r *NodeMarks) Mark(i uint64) {
	if r.m == nil {
		r.m = make(map[uint64]struct{})
	}
	if r.HasNode(i) {
		return
	}
	r.m[i] = struct{}{}
	for r.HasNode(Sibling(i)) {
		i = Parent(i)
		if r.HasNode(i) {
			return
		}
		r.m[i] = struct{}{}
	}
}

// Len is the number of marked nodes.
func (r *NodeMarks) Len() int { return len(r.m) }

// ProofNodes returns the indexes of the nodes a responder holding the tree
// `local` sends for a request of tree index t (2*block) with the given
// digest, in wire order, and verifiedBy: when non-zero the proof ends in the
// full roots of verifiedBy/2 blocks and carries the signature of that length
// (slot verifiedBy/2-1). remote is updated from the digest; it may be nil.
// ok is false when the responder lacks node t.
func ProofNodes(local NodeSet, remote *NodeMarks, t uint64, hash bool, digest uint64) (nodes []uint64, verifiedBy uint64, ok bool) {
	if !local.HasNode(t) {
		return nil, 0, false
	}
	if remote == nil {
		remote = &NodeMarks{}
	}
	if hash {
		nodes = append(nodes, t)
	}
	if digest == 1 {
		return nodes, 0, true
	}
	markFromDigest(local, remote, t, digest)

	for next := t; !remote.HasNode(next); next = Parent(next) {
		sib := Sibling(next)
		if !local.HasNode(sib) {
			// next is one of our roots: finish with the other roots.
			verifiedBy = VerifiedBy(local, next)
			for _, r := range FullRoots(verifiedBy) {
				if r != next && !remote.HasNode(r) {
					nodes = append(nodes, r)
				}
			}
			return nodes, verifiedBy, true
		}
		if !remote.HasNode(sib) {
			nodes = append(nodes, sib)
		}
		if next >= MaxIndex {
			break
		}
	}
	return nodes, 0, true
}

// markFromDigest interprets a request digest, marking what the remote holds.
func markFromDigest(local NodeSet, remote *NodeMarks, t, digest uint64) {
	hasRoot := digest&1 == 1
	digest >>= 1
	next := t
	for digest != 0 {
		if digest == 1 && hasRoot {
			if local.HasNode(next) {
				remote.Mark(next)
			}
			// Holding a root implies holding the roots left of it.
			if s := Sibling(next); s < next {
				next = s
			}
			for _, r := range FullRoots(RightSpan(next) + 2) {
				if local.HasNode(r) {
					remote.Mark(r)
				}
			}
			return
		}
		if digest&1 == 1 {
			if s := Sibling(next); local.HasNode(s) {
				remote.Mark(s)
			}
		}
		next = Parent(next)
		digest >>= 1
	}
}

// NodeSource gives the nodes a verifier already trusts (stored locally).
type NodeSource interface {
	NodeSet
	// Node returns stored node i; it is only asked for nodes HasNode reports.
	Node(i uint64) (Node, error)
}

// Proof is a Data message's content as far as verification is concerned.
type Proof struct {
	Block     uint64
	Value     []byte // the block; nil for a hash-only reply
	HasValue  bool   // distinguishes an empty block from a hash-only reply
	Nodes     []Node // in wire order
	Signature []byte // nil when absent
	// Leaf, when set, is Leaf(Block, Value), hashed ahead by the receiver
	// together with other blocks (LeafHashes is several times faster than
	// one block at a time); VerifyProof then does not hash Value again.
	// It is the caller's own computation, never a value from the wire.
	Leaf *Node
}

// Verified is what a proof established.
type Verified struct {
	// Nodes are every node the proof supplied or that was computed from it
	// and checked, the leaf included; the caller stores them.
	Nodes []Node
	// Length is the feed length the proof's signature covers, with its
	// roots and signature; 0 when a locally trusted node vouched instead.
	Length    uint64
	Roots     []Node
	Signature []byte
	// Leaf is the verified leaf node of the block (Index 2*Block).
	Leaf Node
}

// VerifyProof checks p against the nodes in local and the feed's public key
// (spec 4.8.5, requester steps 2-5). Nodes after the point where the proof
// is established are ignored, as JavaScript does. It never panics on
// hostile input; every failure wraps ErrInvalidProof.
func VerifyProof(publicKey ed25519.PublicKey, local NodeSource, p Proof) (*Verified, error) {
	if p.Block >= MaxIndex/2 {
		return nil, fmt.Errorf("%w: block %d out of range", ErrInvalidProof, p.Block)
	}
	for _, n := range p.Nodes {
		if n.Index >= MaxIndex || n.Size >= MaxIndex {
			return nil, fmt.Errorf("%w: node %d size %d out of range", ErrInvalidProof, n.Index, n.Size)
		}
	}
	remote := p.Nodes
	var top Node
	if p.HasValue {
		if l := p.Leaf; l != nil && l.Index == 2*p.Block && l.Size == uint64(len(p.Value)) {
			top = *l
		} else {
			top = Leaf(p.Block, p.Value)
		}
	} else {
		if len(remote) == 0 || remote[0].Index != 2*p.Block {
			return nil, fmt.Errorf("%w: hash reply for block %d does not start with its node", ErrInvalidProof, p.Block)
		}
		top, remote = remote[0], remote[1:]
	}
	v := &Verified{Leaf: top}
	var visited []Node
	for {
		ok, err := trusted(local, top)
		if err != nil {
			return nil, err
		}
		if ok {
			v.Nodes = visited
			return v, nil
		}
		sibIdx := Sibling(top.Index)
		var sib Node
		switch {
		case len(remote) > 0 && remote[0].Index == sibIdx:
			sib, remote = remote[0], remote[1:]
			visited = append(visited, sib)
		case local.HasNode(sibIdx):
			sib, err = local.Node(sibIdx)
			if err != nil {
				return nil, fmt.Errorf("verify block %d: load node %d: %w", p.Block, sibIdx, err)
			}
		default:
			return verifyRoots(publicKey, local, p, v, top, remote, visited)
		}
		if top.Size+sib.Size < top.Size || top.Size+sib.Size >= MaxIndex {
			return nil, fmt.Errorf("%w: node sizes overflow", ErrInvalidProof)
		}
		visited = append(visited, top)
		top = ParentOf(top, sib)
	}
}

// trusted reports whether n matches a node stored locally.
func trusted(local NodeSource, n Node) (bool, error) {
	if !local.HasNode(n.Index) {
		return false, nil
	}
	stored, err := local.Node(n.Index)
	if err != nil {
		return false, fmt.Errorf("load trusted node %d: %w", n.Index, err)
	}
	return stored.Hash == n.Hash, nil
}

// verifyRoots finishes a proof that climbed to a root: the full roots of
// the length the proof implies must hash to a tree signed by the key.
func verifyRoots(publicKey ed25519.PublicKey, local NodeSource, p Proof, v *Verified, top Node, remote, visited []Node) (*Verified, error) {
	last := top.Index
	if len(remote) > 0 {
		last = remote[len(remote)-1].Index
	}
	verifiedBy := max(RightSpan(top.Index), RightSpan(last)) + 2
	length := verifiedBy / 2
	if p.HasValue && p.Block >= length {
		return nil, fmt.Errorf("%w: block %d beyond signed length %d", ErrInvalidProof, p.Block, length)
	}
	idx := FullRoots(verifiedBy)
	roots := make([]Node, 0, len(idx))
	for _, ri := range idx {
		switch {
		case ri == top.Index:
			roots = append(roots, top)
			visited = append(visited, top)
		case len(remote) > 0 && remote[0].Index == ri:
			roots = append(roots, remote[0])
			visited = append(visited, remote[0])
			remote = remote[1:]
		case local.HasNode(ri):
			n, err := local.Node(ri)
			if err != nil {
				return nil, fmt.Errorf("verify block %d: load root %d: %w", p.Block, ri, err)
			}
			roots = append(roots, n)
		default:
			return nil, fmt.Errorf("%w: root %d for length %d", ErrMissingRoots, ri, length)
		}
	}
	// The climbing node must itself be one of the roots, or the proof's
	// path and root list do not describe one tree.
	if !containsIndex(idx, top.Index) {
		return nil, fmt.Errorf("%w: node %d is not a root of length %d", ErrInvalidProof, top.Index, length)
	}
	if p.Signature == nil {
		th := TreeHash(roots)
		if !bytes.Equal(th[:], publicKey) {
			return nil, ErrMissingSignature
		}
	} else if !VerifyRoots(publicKey, roots, length, p.Signature) {
		return nil, ErrBadSignature
	}
	v.Nodes = visited
	v.Length = length
	v.Roots = roots
	v.Signature = p.Signature
	return v, nil
}

func containsIndex(s []uint64, x uint64) bool {
	for _, v := range s {
		if v == x {
			return true
		}
	}
	return false
}
