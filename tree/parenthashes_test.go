package tree_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/hyperfs/hyperfs/tree"
)

// siblings returns n random sibling pairs at various depths, some given
// right child first.
func siblings(r *rand.Rand, n int) []tree.Node {
	var nodes []tree.Node
	for i := 0; i < n; i++ {
		depth := r.Uint64N(6)
		left := (r.Uint64N(1<<20)*2)<<(depth+1) + (1 << depth) - 1 // a left child at depth
		a, b := tree.Node{Index: left, Size: r.Uint64N(1 << 30)}, tree.Node{Index: tree.Sibling(left), Size: r.Uint64N(1 << 30)}
		for j := range a.Hash {
			a.Hash[j], b.Hash[j] = byte(r.Uint32()), byte(r.Uint32())
		}
		if r.IntN(2) == 0 {
			a, b = b, a
		}
		nodes = append(nodes, a, b)
	}
	return nodes
}

func TestParentNodes(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for _, n := range []int{0, 1, 3, 4, 5, 17, 128, 129, 300} {
		children := siblings(r, n)
		if n%2 == 1 {
			children = append(children, children[0]) // odd one out, ignored
		}
		got := tree.ParentNodes(nil, children)
		if len(got) != n {
			t.Fatalf("%d pairs: %d parents", n, len(got))
		}
		for i := range got {
			if want := tree.ParentOf(children[2*i], children[2*i+1]); got[i] != want {
				t.Fatalf("%d pairs, pair %d: %+v, want %+v", n, i, got[i], want)
			}
		}
	}
	children := siblings(r, 64)
	dst := make([]tree.Node, 0, 64)
	if a := testing.AllocsPerRun(20, func() { tree.ParentNodes(dst, children) }); a != 0 {
		t.Errorf("%v allocations per call, want 0", a)
	}
}

func BenchmarkParentNodes(b *testing.B) {
	children := siblings(rand.New(rand.NewPCG(1, 1)), 64)
	dst := make([]tree.Node, 0, 64)
	b.Run("batch", func(b *testing.B) {
		for b.Loop() {
			tree.ParentNodes(dst, children)
		}
	})
	b.Run("ParentOf", func(b *testing.B) {
		for b.Loop() {
			d := dst
			for i := 0; i < len(children); i += 2 {
				d = append(d, tree.ParentOf(children[i], children[i+1]))
			}
		}
	})
	// What a one-block append asks: one pair, or none.
	for _, n := range []int{0, 2} {
		b.Run(fmt.Sprintf("children=%d", n), func(b *testing.B) {
			for b.Loop() {
				tree.ParentNodes(dst, children[:n])
			}
		})
	}
}
