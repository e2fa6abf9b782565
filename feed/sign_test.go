package feed_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/hyperfs/hyperfs/feed"
	"github.com/hyperfs/hyperfs/tree"
)

var feedFiles = []string{"key", "secret_key", "data", "tree", "signatures", "bitfield"}

// With deferred signing, one-block appends between two Syncs leave the
// files exactly as one batch of those blocks does without it (and so as
// JavaScript writes that batch): a signature only in the last slot.
func TestDeferredSigningIsABatch(t *testing.T) {
	sk := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{9}, 32))
	groups := [][]string{{"a", "bb", "", "dddd"}, {"e"}, {"ff", "g", "", "", "hhh", "i", "j", "k", "l"}}
	batched, deferred := feed.NewMemStorage(), feed.NewMemStorage()
	b, err := feed.Create(batched, feed.Options{SecretKey: sk})
	if err != nil {
		t.Fatal(err)
	}
	d, err := feed.Create(deferred, feed.Options{SecretKey: sk, DeferSigning: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range groups {
		var batch [][]byte
		for _, s := range g {
			batch = append(batch, []byte(s))
			if err := d.Append([]byte(s)); err != nil {
				t.Fatal(err)
			}
		}
		if err := b.Append(batch...); err != nil {
			t.Fatal(err)
		}
		if err := d.Sync(); err != nil {
			t.Fatal(err)
		}
	}
	b.Close()
	d.Close()
	for _, name := range feedFiles {
		if !bytes.Equal(batched.Bytes(name), deferred.Bytes(name)) {
			t.Errorf("%s differs between one batch and deferred single appends", name)
		}
	}
}

// A writer that defers signing serves proofs that a replica accepts, for
// lengths nobody had signed yet: Proof signs exactly the length it ends in.
func TestDeferredSigningProofs(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	w, r := memPair(t, feed.Options{DeferSigning: true})
	marks := &tree.NodeMarks{}
	ctx := context.Background()
	for round := range 40 {
		for range 1 + rng.IntN(30) {
			if err := w.Append(fmt.Appendf(nil, "block %d", w.Length())); err != nil {
				t.Fatal(err)
			}
		}
		n := w.Length()
		i := rng.Uint64N(n)
		if round%3 == 0 {
			i = n - 1 // the newest block: a live reader's request
		}
		p := serve(t, w, marks, i, tree.Digest(r, 2*i, 2*n))
		if err := r.Put(p); err != nil {
			t.Fatalf("round %d: put block %d of %d: %v", round, i, n, err)
		}
		got, err := r.Get(ctx, i)
		if want := fmt.Sprintf("block %d", i); err != nil || string(got) != want {
			t.Fatalf("replica block %d = %q, %v", i, got, err)
		}
	}
	// The signature the writer reports for its length verifies.
	n := w.Length()
	sig, slot, err := w.Signature(n - 1)
	if err != nil || slot != n-1 || w.Verify(n-1, sig) != nil {
		t.Fatalf("Signature(%d) = slot %d, %v", n-1, slot, err)
	}
}
