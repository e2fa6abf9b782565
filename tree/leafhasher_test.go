package tree_test

import (
	"encoding/hex"
	"testing"

	"github.com/hyperfs/hyperfs/internal/testvectors"
	"github.com/hyperfs/hyperfs/tree"
)

// LeafHasher gives the reference leaf hashes and Leaf's nodes, reused
// across sizes (a stale header or digest would show), without allocating.
func TestLeafHasher(t *testing.T) {
	c := testvectors.Load(t).Crypto
	lh := tree.NewLeafHasher()
	for _, tc := range []struct {
		data []byte
		want string
	}{{[]byte("a"), c.LeafHashOfA}, {nil, c.LeafHashOfEmptyBlock}} {
		if got := lh.Leaf(3, tc.data); hex.EncodeToString(got.Hash[:]) != tc.want {
			t.Errorf("leaf of %q = %x, want %s", tc.data, got.Hash, tc.want)
		}
	}
	data := make([]byte, 3000)
	for i := range data {
		data[i] = byte(i * 7)
	}
	for _, n := range []int{0, 1, 119, 120, 128, 247, 1024, 3000, 5} {
		if got, want := lh.Leaf(uint64(n), data[:n]), tree.Leaf(uint64(n), data[:n]); got != want {
			t.Errorf("%d bytes: %+v, want %+v", n, got, want)
		}
	}
	if a := testing.AllocsPerRun(100, func() { lh.Leaf(9, data[:1024]) }); a != 0 {
		t.Errorf("%v allocations per leaf, want 0", a)
	}
}
