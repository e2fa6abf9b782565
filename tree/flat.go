package tree

import "math/bits"

// Depth is the number of trailing one bits of i: 0 for leaves.
func Depth(i uint64) uint64 { return uint64(bits.TrailingZeros64(^i)) }

// Offset is i's position among the nodes of its depth.
func Offset(i uint64) uint64 { return i >> (Depth(i) + 1) }

// Index is the flat-tree index of the node at depth d and offset o.
func Index(d, o uint64) uint64 { return (2*o+1)<<d - 1 }

// Parent returns the index of i's parent.
func Parent(i uint64) uint64 {
	d := Depth(i)
	return Index(d+1, Offset(i)>>1)
}

// Sibling returns the other child of i's parent.
func Sibling(i uint64) uint64 {
	d := Depth(i)
	return Index(d, Offset(i)^1)
}

// Children returns i's children; ok is false for leaves.
func Children(i uint64) (left, right uint64, ok bool) {
	d := Depth(i)
	if d == 0 {
		return 0, 0, false
	}
	o := Offset(i) * 2
	return Index(d-1, o), Index(d-1, o+1), true
}

// LeftChild returns i's left child, or i itself for a leaf.
func LeftChild(i uint64) uint64 {
	d := Depth(i)
	if d == 0 {
		return i
	}
	return Index(d-1, Offset(i)*2)
}

// RightChild returns i's right child, or i itself for a leaf.
func RightChild(i uint64) uint64 {
	d := Depth(i)
	if d == 0 {
		return i
	}
	return Index(d-1, Offset(i)*2+1)
}

// LeftSpan is the leftmost leaf index under i.
func LeftSpan(i uint64) uint64 {
	d := Depth(i)
	if d == 0 {
		return i
	}
	return Offset(i) << (d + 1)
}

// RightSpan is the rightmost leaf index under i.
func RightSpan(i uint64) uint64 {
	d := Depth(i)
	if d == 0 {
		return i
	}
	return (Offset(i)+1)<<(d+1) - 2
}

// Count is the number of nodes in the subtree rooted at i.
func Count(i uint64) uint64 { return 2<<Depth(i) - 1 }

// IsLeftChild reports whether i is the left child of its parent.
func IsLeftChild(i uint64) bool { return Offset(i)&1 == 0 }

// FullRoots returns the roots of the perfect subtrees covering the leaves
// left of leaf index `index` (index must be even; use 2*length), ascending.
func FullRoots(index uint64) []uint64 {
	return AppendFullRoots(nil, index)
}

// AppendFullRoots is FullRoots appending to dst, for callers on hot paths.
func AppendFullRoots(dst []uint64, index uint64) []uint64 {
	remaining := index >> 1
	var base uint64
	for remaining > 0 {
		f := uint64(1) << (63 - bits.LeadingZeros64(remaining))
		dst = append(dst, base+f-1)
		base += 2 * f
		remaining -= f
	}
	return dst
}

// NodeSet answers whether a tree node is present. Feeds implement it over
// their bitfield; proofs and tests use a map.
type NodeSet interface {
	HasNode(index uint64) bool
}

// VerifiedBy returns twice the index of the first block after the run of
// complete subtrees that starts with the tree containing n (spec section 2).
// For a writer's own complete tree that is 2*length. It returns 0 when n is
// not in h.
func VerifiedBy(h NodeSet, n uint64) uint64 {
	if !h.HasNode(n) {
		return 0
	}
	// Climb while the parent is present along with the sibling.
	for {
		s := Sibling(n)
		p := Parent(n)
		if !h.HasNode(p) || !h.HasNode(s) {
			break
		}
		n = p
	}
	// Walk right, descending to the largest present subtree each step.
	d := Depth(n)
	for d > 0 {
		n = LeftChild(Index(d, Offset(n)+1))
		d--
		for !h.HasNode(n) && d > 0 {
			n = LeftChild(n)
			d--
		}
	}
	if h.HasNode(n) {
		return n + 2
	}
	return n
}
