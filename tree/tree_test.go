package tree_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"slices"
	"strconv"
	"testing"

	"github.com/hyperfs/hyperfs/internal/testvectors"
	"github.com/hyperfs/hyperfs/tree"
)

// set is a NodeSource over a map, as a requester's or responder's tree.
type set map[uint64]tree.Node

func (s set) HasNode(i uint64) bool            { _, ok := s[i]; return ok }
func (s set) Node(i uint64) (tree.Node, error) { return s[i], nil }

func node(t *testing.T, n testvectors.Node) tree.Node {
	t.Helper()
	var h [32]byte
	copy(h[:], n.Hash)
	return tree.Node{Index: n.Index, Hash: h, Size: n.Size}
}

func feedNodes(t *testing.T, f *testvectors.Feed) set {
	s := set{}
	for _, n := range f.DecodedNodes(t) {
		s[n.Index] = node(t, n)
	}
	return s
}

// Spec section 2, checked against flat-tree as JS computes it.
func TestFlatTreeVectors(t *testing.T) {
	v := testvectors.Load(t)
	for _, n := range v.FlatTree.Nodes {
		i := n.Index
		got := []uint64{tree.Depth(i), tree.Offset(i), tree.Parent(i), tree.Sibling(i), tree.LeftSpan(i), tree.RightSpan(i), tree.Count(i)}
		want := []uint64{n.Depth, n.Offset, n.Parent, n.Sibling, n.LeftSpan, n.RightSpan, n.Count}
		if !slices.Equal(got, want) {
			t.Errorf("node %d: depth/offset/parent/sibling/spans/count = %v, want %v", i, got, want)
		}
		l, r, ok := tree.Children(i)
		if (n.Children == nil) == ok || ok && (l != n.Children[0] || r != n.Children[1]) {
			t.Errorf("children(%d) = %d,%d,%v want %v", i, l, r, ok, n.Children)
		}
		if tree.Index(n.Depth, n.Offset) != i {
			t.Errorf("index(%d,%d) != %d", n.Depth, n.Offset, i)
		}
	}
	for ls, want := range v.FlatTree.FullRootsByLength {
		l, _ := strconv.ParseUint(ls, 10, 64)
		if got := tree.FullRoots(2 * l); !slices.Equal(got, want) && !(len(got) == 0 && len(want) == 0) {
			t.Errorf("fullRoots(2*%d) = %v, want %v", l, got, want)
		}
	}
}

func TestFlatTreeExamples(t *testing.T) {
	tests := []struct {
		name      string
		got, want uint64
	}{
		{"parent(0)", tree.Parent(0), 1},
		{"parent(2)", tree.Parent(2), 1},
		{"parent(1)", tree.Parent(1), 3},
		{"parent(5)", tree.Parent(5), 3},
		{"sibling(3)", tree.Sibling(3), 11},
		{"leftSpan(7)", tree.LeftSpan(7), 0},
		{"rightSpan(7)", tree.RightSpan(7), 14},
		{"leftChild(7)", tree.LeftChild(7), 3},
		{"rightChild(7)", tree.RightChild(7), 11},
		{"depth(2^53-1)", tree.Depth(1<<53 - 1), 53},
	}
	for _, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("%s = %d, want %d", tc.name, tc.got, tc.want)
		}
	}
}

// Spec 1.2, 1.3: the stand-alone hashes.
func TestCryptoVectors(t *testing.T) {
	v := testvectors.Load(t)
	c := v.Crypto
	check := func(name string, got []byte, want string) {
		t.Helper()
		if hex.EncodeToString(got) != want {
			t.Errorf("%s = %x, want %s", name, got, want)
		}
	}
	pub := testvectors.Hex(t, c.PublicKey)
	dk := tree.DiscoveryKey(pub)
	check("discovery key", dk[:], c.DiscoveryKey)
	e := tree.LeafHash(nil)
	check("leaf of empty block", e[:], c.LeafHashOfEmptyBlock)
	a := tree.LeafHash([]byte("a"))
	check("leaf of a", a[:], c.LeafHashOfA)
	p := tree.ParentHash(tree.Leaf(1, nil), tree.Leaf(0, []byte("a")))
	check("parent of 0=a and 2=empty", p[:], c.ParentOf0aAnd2empty)
	th := tree.TreeHash(nil)
	check("tree hash of no roots", th[:], c.TreeHashOfNoRoots)
	sk := ed25519.NewKeyFromSeed(testvectors.Hex(t, c.SigningSeed))
	check("secret key from seed", sk, c.SecretKey)
}

// Every stored node of every reference feed: leaves hash their block,
// parents hash their children, roots/tree hash/signable/signature match.
func TestFeedVectors(t *testing.T) {
	v := testvectors.Load(t)
	sk := ed25519.NewKeyFromSeed(testvectors.Hex(t, v.Crypto.SigningSeed))
	for _, f := range v.Feeds {
		t.Run(f.Name, func(t *testing.T) {
			nodes := feedNodes(t, &f)
			for i, b := range f.Blocks {
				n, ok := nodes[2*uint64(i)]
				if !ok {
					continue // a sparse replica lacks most leaves
				}
				if b.Has {
					if got := tree.Leaf(uint64(i), f.BlockData(t, i)); got != n {
						t.Errorf("leaf %d = %+v, want %+v", i, got, n)
					}
				}
			}
			for idx, n := range nodes {
				l, r, ok := tree.Children(idx)
				if !ok || !nodes.HasNode(l) || !nodes.HasNode(r) {
					continue
				}
				if got := tree.ParentOf(nodes[l], nodes[r]); got != n {
					t.Errorf("parent %d = %+v, want %+v", idx, got, n)
				}
			}
			var roots []tree.Node
			for i, ri := range tree.FullRoots(2 * f.Length) {
				r := nodes[ri]
				if ri != f.Roots[i].Index || hex.EncodeToString(r.Hash[:]) != f.Roots[i].Hash || r.Size != f.Roots[i].Size {
					t.Errorf("root %d = %+v, want %+v", i, r, f.Roots[i])
				}
				roots = append(roots, r)
			}
			th := tree.TreeHash(roots)
			if hex.EncodeToString(th[:]) != f.TreeHash {
				t.Errorf("tree hash %x, want %s", th, f.TreeHash)
			}
			sg := tree.Signable(roots, f.Length)
			if hex.EncodeToString(sg[:]) != f.Signable {
				t.Errorf("signable %x, want %s", sg, f.Signable)
			}
			if f.Signature != nil {
				if got := tree.Sign(sk, roots, f.Length); hex.EncodeToString(got) != *f.Signature {
					t.Errorf("signature %x, want %s", got, *f.Signature)
				}
				if !tree.VerifyRoots(sk.Public().(ed25519.PublicKey), roots, f.Length, testvectors.Hex(t, *f.Signature)) {
					t.Error("signature does not verify")
				}
			}
			pub := sk.Public().(ed25519.PublicKey)
			if f.Length > 0 {
				if got := tree.VerifiedBy(nodes, roots[0].Index); got != 2*f.Length {
					t.Errorf("verifiedBy(first root) = %d, want %d", got, 2*f.Length)
				}
			}
			for slot, sig := range f.Signatures {
				l, _ := strconv.ParseUint(slot, 10, 64)
				var rs []tree.Node
				for _, ri := range tree.FullRoots(2 * (l + 1)) {
					rs = append(rs, nodes[ri])
				}
				if !tree.VerifyRoots(pub, rs, l+1, testvectors.Hex(t, sig)) {
					t.Errorf("signature slot %s does not verify", slot)
				}
			}
		})
	}
}

// The 32-byte fallback of verifyCompat accepts hypercore 7 signatures.
func TestVerifyRootsCompat(t *testing.T) {
	_, sk, _ := ed25519.GenerateKey(nil)
	pub := sk.Public().(ed25519.PublicKey)
	roots := []tree.Node{tree.Leaf(0, []byte("x"))}
	th := tree.TreeHash(roots)
	old := ed25519.Sign(sk, th[:])
	if !tree.VerifyRoots(pub, roots, 1, old) {
		t.Error("bare tree hash signature rejected")
	}
	sig := tree.Sign(sk, roots, 1)
	if tree.VerifyRoots(pub, roots, 2, sig) {
		t.Error("signature accepted for the wrong length")
	}
	if tree.VerifyRoots(pub, roots, 1, sig[:10]) || tree.VerifyRoots(pub[:5], roots, 1, sig) {
		t.Error("short key or signature accepted")
	}
}

// Spec 4.8.4 and 4.8.5: digests, responder proofs and verification for the
// 1000-block responder and four requester states.
func TestProofVectors(t *testing.T) {
	v := testvectors.Load(t)
	f := v.FeedByName(t, "thousand")
	full := feedNodes(t, f)
	pub := ed25519.PublicKey(testvectors.Hex(t, f.PublicKey))
	if len(v.Proofs.Cases) == 0 || v.Proofs.ResponderLength != f.Length {
		t.Fatalf("unexpected proof vectors: %d cases, responder length %d", len(v.Proofs.Cases), v.Proofs.ResponderLength)
	}
	for _, c := range v.Proofs.Cases {
		name := c.Requester + "/block=" + strconv.FormatUint(c.Block, 10) + "/hash=" + strconv.FormatBool(c.Hash)
		t.Run(name, func(t *testing.T) {
			req := set{}
			var bound uint64
			for _, i := range v.Proofs.RequesterStates[c.Requester] {
				req[i] = full[i]
				bound = max(bound, i+1)
			}
			if got := tree.Digest(req, 2*c.Block, bound); got != c.Digest {
				t.Errorf("digest = %d, want %d", got, c.Digest)
			}
			nodes, vb, ok := tree.ProofNodes(full, nil, 2*c.Block, c.Hash, c.Digest)
			if !ok || !slices.Equal(nodes, c.ProofNodes) && len(nodes)+len(c.ProofNodes) > 0 || vb != c.VerifiedBy {
				t.Fatalf("proof = %v verifiedBy %d, want %v verifiedBy %d", nodes, vb, c.ProofNodes, c.VerifiedBy)
			}
			p := tree.Proof{Block: c.Block}
			if !c.Hash {
				p.Value, p.HasValue = f.BlockData(t, int(c.Block)), true
			}
			for _, i := range nodes {
				p.Nodes = append(p.Nodes, full[i])
			}
			if vb > 0 {
				p.Signature = testvectors.Hex(t, f.Signatures[strconv.FormatUint(vb/2-1, 10)])
			}
			got, err := tree.VerifyProof(pub, req, p)
			if err != nil {
				t.Fatalf("verify: %v", err)
			}
			if got.Leaf != full[2*c.Block] {
				t.Errorf("leaf = %+v, want %+v", got.Leaf, full[2*c.Block])
			}
			for _, n := range got.Nodes {
				if full[n.Index] != n {
					t.Errorf("verified node %d differs from the responder's", n.Index)
				}
			}
			if vb > 0 && got.Length != vb/2 {
				t.Errorf("verified length %d, want %d", got.Length, vb/2)
			}
		})
	}
}

// Spec 4.8.5 example: a requester holding block 0 of a 4-block feed asks
// for block 1 with digest 2 and gets node 5 plus the signature.
func TestProofWithDigest(t *testing.T) {
	s := set{}
	var leaves []tree.Node
	for i := range uint64(4) {
		leaves = append(leaves, tree.Leaf(i, []byte{byte(i)}))
		s[2*i] = leaves[i]
	}
	s[1] = tree.ParentOf(leaves[0], leaves[1])
	s[5] = tree.ParentOf(leaves[2], leaves[3])
	s[3] = tree.ParentOf(s[1], s[5])
	req := set{0: s[0]}
	d := tree.Digest(req, 2, 8)
	if d != 2 {
		t.Fatalf("digest = %d, want 2", d)
	}
	nodes, vb, _ := tree.ProofNodes(s, &tree.NodeMarks{}, 2, false, d)
	if !slices.Equal(nodes, []uint64{5}) || vb != 8 {
		t.Fatalf("proof %v verifiedBy %d, want [5] 8", nodes, vb)
	}
}

// Tampered proofs fail with ErrInvalidProof and never panic (spec A10-A13).
func TestVerifyProofRejects(t *testing.T) {
	v := testvectors.Load(t)
	f := v.FeedByName(t, "seven")
	full := feedNodes(t, f)
	pub := ed25519.PublicKey(testvectors.Hex(t, f.PublicKey))
	sig := testvectors.Hex(t, *f.Signature)
	good := func() tree.Proof {
		return tree.Proof{Block: 5, Value: f.BlockData(t, 5), HasValue: true,
			Nodes: []tree.Node{full[8], full[3], full[12]}, Signature: slices.Clone(sig)}
	}
	if _, err := tree.VerifyProof(pub, set{}, good()); err != nil {
		t.Fatalf("good proof rejected: %v", err)
	}
	otherKey, _, _ := ed25519.GenerateKey(nil)
	tests := []struct {
		name   string
		mutate func(p *tree.Proof)
		key    ed25519.PublicKey
	}{
		{"flipped data", func(p *tree.Proof) { p.Value = append([]byte{p.Value[0] ^ 1}, p.Value[1:]...) }, pub},
		{"flipped signature", func(p *tree.Proof) { p.Signature[3] ^= 0x10 }, pub},
		{"other key", func(p *tree.Proof) {}, otherKey},
		{"no signature", func(p *tree.Proof) { p.Signature = nil }, pub},
		{"missing sibling", func(p *tree.Proof) { p.Nodes = p.Nodes[1:] }, pub},
		{"missing root", func(p *tree.Proof) { p.Nodes = p.Nodes[:2] }, pub},
		{"reordered", func(p *tree.Proof) { p.Nodes[1], p.Nodes[2] = p.Nodes[2], p.Nodes[1] }, pub},
		{"duplicated", func(p *tree.Proof) { p.Nodes = append(p.Nodes[:1], p.Nodes...) }, pub},
		{"mis-indexed", func(p *tree.Proof) { p.Nodes[0].Index = 10 }, pub},
		{"size changed", func(p *tree.Proof) { p.Nodes[1].Size++ }, pub},
		{"size overflow", func(p *tree.Proof) { p.Nodes[1].Size = 1<<64 - 2 }, pub},
		{"huge index", func(p *tree.Proof) { p.Nodes[2].Index = 1<<64 - 1 }, pub},
		{"block past length", func(p *tree.Proof) { p.Block = 1 << 60 }, pub},
		{"hash reply without node", func(p *tree.Proof) { p.HasValue = false; p.Value = nil }, pub},
		{"wrong block", func(p *tree.Proof) { p.Block = 4 }, pub},
		{"wrong leaf hashed ahead", func(p *tree.Proof) {
			l := tree.Leaf(5, []byte("other bytes"))
			l.Size = uint64(len(p.Value))
			p.Leaf = &l
		}, pub},
		{"flipped data hashed ahead", func(p *tree.Proof) {
			p.Value = append([]byte{p.Value[0] ^ 1}, p.Value[1:]...)
			l := tree.Leaf(5, p.Value)
			p.Leaf = &l
		}, pub},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := good()
			tc.mutate(&p)
			if _, err := tree.VerifyProof(tc.key, set{}, p); err == nil {
				t.Fatal("tampered proof accepted")
			}
		})
	}
}

// A leaf hashed ahead stands in for hashing the value; one that is not
// the block's (another index or size) is ignored and the value hashed.
func TestVerifyProofHashedAhead(t *testing.T) {
	v := testvectors.Load(t)
	f := v.FeedByName(t, "seven")
	full := feedNodes(t, f)
	pub := ed25519.PublicKey(testvectors.Hex(t, f.PublicKey))
	sig := testvectors.Hex(t, *f.Signature)
	leaf := full[10]
	otherIndex, otherSize := leaf, leaf
	otherIndex.Index, otherSize.Size = 12, leaf.Size+1
	for _, l := range []*tree.Node{&leaf, &otherIndex, &otherSize} {
		p := tree.Proof{Block: 5, Value: f.BlockData(t, 5), HasValue: true,
			Nodes: []tree.Node{full[8], full[3], full[12]}, Signature: sig, Leaf: l}
		got, err := tree.VerifyProof(pub, set{}, p)
		if err != nil || got.Leaf != leaf {
			t.Errorf("leaf %+v: verified %v, %v", *l, got, err)
		}
	}
}

// A trusted local node ends verification early, with nothing signed.
func TestVerifyProofTrustedLocal(t *testing.T) {
	v := testvectors.Load(t)
	f := v.FeedByName(t, "seven")
	full := feedNodes(t, f)
	pub := ed25519.PublicKey(testvectors.Hex(t, f.PublicKey))
	local := set{9: full[9]}
	got, err := tree.VerifyProof(pub, local, tree.Proof{Block: 5, Value: f.BlockData(t, 5), HasValue: true, Nodes: []tree.Node{full[8]}})
	if err != nil {
		t.Fatal(err)
	}
	if got.Length != 0 || len(got.Nodes) != 2 {
		t.Errorf("got length %d nodes %v, want 0 and the leaf and sibling", got.Length, got.Nodes)
	}
	bad := f.BlockData(t, 5)
	bad = append(bytes.Clone(bad), 'x')
	if _, err := tree.VerifyProof(pub, local, tree.Proof{Block: 5, Value: bad, HasValue: true, Nodes: []tree.Node{full[8]}}); err == nil {
		t.Error("bad data accepted against a trusted node")
	}
}
