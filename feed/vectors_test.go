package feed_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"github.com/hyperfs/hyperfs/feed"
	"github.com/hyperfs/hyperfs/internal/testvectors"
	"github.com/hyperfs/hyperfs/tree"
)

// Every JS-written directory opens and reads back exactly what vectors.json
// says it holds (spec 3.9, 3.10).
func TestOpenVectors(t *testing.T) {
	v := testvectors.Load(t)
	for _, fv := range v.Feeds {
		t.Run(fv.Name, func(t *testing.T) {
			dir := testvectors.CopyFeed(t, fv.Name)
			f, err := feed.Open(feed.DirStorage{Dir: dir}, feed.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if f.Length() != fv.Length || f.ByteLength() != fv.ByteLength {
				t.Fatalf("length %d bytes %d, want %d %d", f.Length(), f.ByteLength(), fv.Length, fv.ByteLength)
			}
			dk := f.DiscoveryKey()
			if hex.EncodeToString(f.Key()) != fv.PublicKey || hex.EncodeToString(dk[:]) != fv.DiscoveryKey {
				t.Errorf("key %x discovery %x", f.Key(), dk)
			}
			if f.Writable() != fv.Writable {
				t.Errorf("writable = %v, want %v", f.Writable(), fv.Writable)
			}
			var have uint64
			for i, b := range fv.Blocks {
				idx := uint64(i)
				if f.Has(idx) != b.Has {
					t.Errorf("Has(%d) = %v, want %v", i, f.Has(idx), b.Has)
				}
				off, size, err := f.BlockRange(idx)
				if err == nil && (off != b.ByteOffset || size != b.Size) {
					t.Errorf("block %d at %d+%d, want %d+%d", i, off, size, b.ByteOffset, b.Size)
				}
				if !b.Has {
					if _, err := f.Get(context.Background(), idx); err == nil {
						t.Errorf("Get(%d) of a missing block succeeded", i)
					}
					continue
				}
				have++
				got, err := f.Get(context.Background(), idx)
				if err != nil || !bytes.Equal(got, fv.BlockData(t, i)) {
					t.Errorf("Get(%d) = %x, %v", i, got, err)
				}
			}
			if got := f.Downloaded(0, f.Length()); got != have {
				t.Errorf("Downloaded = %d, want %d", got, have)
			}
			if fv.Length == 0 {
				return
			}
			roots, err := f.RootHashes(fv.Length - 1)
			if err != nil {
				t.Fatal(err)
			}
			for i, r := range roots {
				if r.Index != fv.Roots[i].Index || hex.EncodeToString(r.Hash[:]) != fv.Roots[i].Hash || r.Size != fv.Roots[i].Size {
					t.Errorf("root %d = %+v, want %+v", i, r, fv.Roots[i])
				}
			}
			sig, slot, err := f.Signature(fv.Length - 1)
			if err != nil || hex.EncodeToString(sig) != *fv.Signature || slot != fv.Length-1 {
				t.Errorf("Signature(last) = %x slot %d, %v", sig, slot, err)
			}
			if err := f.Verify(fv.Length-1, sig); err != nil {
				t.Error(err)
			}
			for s, want := range fv.Signatures {
				slot, _ := strconv.ParseUint(s, 10, 64)
				if err := f.Verify(slot, testvectors.Hex(t, want)); err != nil {
					t.Errorf("slot %d: %v", slot, err)
				}
				// Signature(i) is the first stored slot at or after i.
				got, at, err := f.Signature(slot)
				if err != nil || at != slot || hex.EncodeToString(got) != want {
					t.Errorf("Signature(%d) = slot %d, %v", slot, at, err)
				}
			}
		})
	}
}

// Re-creating each writable vector feed from its secret key with the same
// batches gives byte-identical files (spec 3, trap 11).
func TestRecreateVectors(t *testing.T) {
	v := testvectors.Load(t)
	sk := ed25519.NewKeyFromSeed(testvectors.Hex(t, v.Crypto.SigningSeed))
	for _, fv := range v.Feeds {
		if !fv.Writable {
			continue
		}
		t.Run(fv.Name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), fv.Name)
			f, err := feed.Create(feed.DirStorage{Dir: dir}, feed.Options{SecretKey: sk})
			if err != nil {
				t.Fatal(err)
			}
			next := 0
			for _, n := range fv.Batches {
				var batch [][]byte
				for range n {
					batch = append(batch, fv.BlockData(t, next))
					next++
				}
				if err := f.Append(batch...); err != nil {
					t.Fatal(err)
				}
			}
			for _, c := range fv.Cleared {
				if err := f.Clear(c[0], c[1]); err != nil {
					t.Fatal(err)
				}
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
			compareDirs(t, testvectors.FeedPath(t, fv.Name), dir)
		})
	}
}

// The sparse replica re-created through the replica write path from the
// one proof it received (block 5 of "seven") is byte-identical (spec 3.12).
func TestRecreateSparseReplica(t *testing.T) {
	v := testvectors.Load(t)
	seven := v.FeedByName(t, "seven")
	nodes := map[uint64]tree.Node{}
	for _, n := range seven.DecodedNodes(t) {
		var h [32]byte
		copy(h[:], n.Hash)
		nodes[n.Index] = tree.Node{Index: n.Index, Hash: h, Size: n.Size}
	}
	dir := filepath.Join(t.TempDir(), "sparse-replica")
	f, err := feed.CreateReplica(feed.DirStorage{Dir: dir}, testvectors.Hex(t, seven.PublicKey), feed.Options{})
	if err != nil {
		t.Fatal(err)
	}
	p := tree.Proof{Block: 5, Value: seven.BlockData(t, 5), HasValue: true,
		Nodes: []tree.Node{nodes[8], nodes[3], nodes[12]}, Signature: testvectors.Hex(t, *seven.Signature)}
	if err := f.Put(p); err != nil {
		t.Fatal(err)
	}
	if f.Length() != 7 || !f.Has(5) || f.Has(4) || f.Writable() {
		t.Fatalf("after put: length %d has5 %v has4 %v", f.Length(), f.Has(5), f.Has(4))
	}
	got, err := f.Get(context.Background(), 5)
	if err != nil || !bytes.Equal(got, seven.BlockData(t, 5)) {
		t.Fatalf("Get(5) = %x, %v", got, err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	compareDirs(t, testvectors.FeedPath(t, "sparse-replica"), dir)
}

func compareDirs(t *testing.T, want, got string) {
	t.Helper()
	names := func(d string) []string {
		ents, err := os.ReadDir(d)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, e := range ents {
			out = append(out, e.Name())
		}
		return out
	}
	if w, g := names(want), names(got); !slices.Equal(w, g) {
		t.Fatalf("files %v, want %v", g, w)
	}
	for _, n := range names(want) {
		w, _ := os.ReadFile(filepath.Join(want, n))
		g, _ := os.ReadFile(filepath.Join(got, n))
		if !bytes.Equal(w, g) {
			t.Errorf("%s differs: %d bytes, want %d; first difference at %d", n, len(g), len(w), firstDiff(w, g))
		}
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}
