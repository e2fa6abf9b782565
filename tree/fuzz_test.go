package tree_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/binary"
	"slices"
	"testing"

	"github.com/hyperfs/hyperfs/tree"
)

// FuzzFlatTree: parent/children/sibling/span invariants hold for any index
// a valid feed can address.
func FuzzFlatTree(f *testing.F) {
	for _, s := range []uint64{0, 1, 2, 7, 1023, 1<<53 - 2} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, i uint64) {
		i %= tree.MaxIndex
		p := tree.Parent(i)
		if l, r, _ := tree.Children(p); l != i && r != i {
			t.Fatalf("%d is not a child of its parent %d (%d, %d)", i, p, l, r)
		}
		if s := tree.Sibling(i); tree.Parent(s) != p || s == i {
			t.Fatalf("sibling %d of %d has parent %d", s, i, tree.Parent(s))
		}
		if tree.LeftSpan(i) > i || tree.RightSpan(i) < i || tree.RightSpan(i)-tree.LeftSpan(i) != 2*(tree.Count(i)/2) {
			t.Fatalf("spans of %d: %d..%d count %d", i, tree.LeftSpan(i), tree.RightSpan(i), tree.Count(i))
		}
		var prev uint64
		var covered uint64
		for k, r := range tree.FullRoots(i &^ 1) {
			if k > 0 && r <= prev {
				t.Fatalf("roots of %d not ascending", i)
			}
			prev = r
			covered += tree.Count(r)/2 + 1
		}
		if covered != (i&^1)/2 {
			t.Fatalf("roots of %d cover %d blocks", i&^1, covered)
		}
	})
}

// FuzzVerifyProof (TESTING.md 4): mutate a valid proof with the fuzz bytes;
// it must verify exactly when the mutation changed nothing.
func FuzzVerifyProof(f *testing.F) {
	_, sk, _ := ed25519.GenerateKey(nil)
	pub := sk.Public().(ed25519.PublicKey)
	nodes := set{}
	var roots []tree.Node
	var leaves []tree.Node
	for i := range uint64(13) {
		leaves = append(leaves, tree.Leaf(i, []byte{byte(i), 1, 2}))
	}
	for _, l := range leaves {
		nodes[l.Index] = l
		roots = append(roots, l)
		for len(roots) > 1 && tree.Sibling(roots[len(roots)-1].Index) == roots[len(roots)-2].Index {
			p := tree.ParentOf(roots[len(roots)-2], roots[len(roots)-1])
			nodes[p.Index] = p
			roots = append(roots[:len(roots)-2], p)
		}
	}
	sig := tree.Sign(sk, roots, 13)
	f.Add([]byte{}, uint8(9))
	f.Add([]byte{1, 2, 3}, uint8(4))
	f.Fuzz(func(t *testing.T, mut []byte, block uint8) {
		b := uint64(block % 13)
		idx, _, _ := tree.ProofNodes(nodes, nil, 2*b, false, 0)
		p := tree.Proof{Block: b, Value: []byte{byte(b), 1, 2}, HasValue: true, Signature: append([]byte(nil), sig...)}
		for _, i := range idx {
			p.Nodes = append(p.Nodes, nodes[i])
		}
		orig := tree.Proof{Value: bytes.Clone(p.Value), Signature: bytes.Clone(p.Signature), Nodes: slices.Clone(p.Nodes)}
		for k := 0; k+2 < len(mut); k += 3 {
			at, what := int(mut[k]), mut[k+1]^mut[k+2]
			if what == 0 {
				continue
			}
			switch n := len(p.Nodes); {
			case at%4 == 0 && len(p.Value) > 0:
				p.Value[at%len(p.Value)] ^= what
			case at%4 == 1:
				p.Signature[at%64] ^= what
			case at%4 == 2 && n > 0:
				p.Nodes[at%n].Hash[at%32] ^= what
			case n > 0:
				var sz [8]byte
				binary.BigEndian.PutUint64(sz[:], p.Nodes[at%n].Size)
				sz[at%8] ^= what
				p.Nodes[at%n].Size = binary.BigEndian.Uint64(sz[:])
			default:
				continue
			}
		}
		changed := !bytes.Equal(orig.Value, p.Value) || !bytes.Equal(orig.Signature, p.Signature) || !slices.Equal(orig.Nodes, p.Nodes)
		_, err := tree.VerifyProof(pub, set{}, p)
		if changed && err == nil {
			t.Fatalf("mutated proof verified: %+v", p)
		}
		if !changed && err != nil {
			t.Fatalf("valid proof rejected: %v", err)
		}
	})
}
