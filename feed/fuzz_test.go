package feed_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"testing"

	"github.com/hyperfs/hyperfs/feed"
)

// fuzzFeed is a small valid feed whose files seed the fuzzers.
func fuzzFeed(t testing.TB) (*feed.MemStorage, ed25519.PrivateKey) {
	sk := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{9}, 32))
	ms := feed.NewMemStorage()
	f, err := feed.Create(ms, feed.Options{SecretKey: sk})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if err := f.Append(bytes.Repeat([]byte{byte(i)}, i*3), []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return ms, sk
}

// FuzzStorageOpen (TESTING.md 4): fuzz bytes replace the tree, bitfield or
// signatures file. Open must not panic, and every block it serves must be
// the block that was written.
func FuzzStorageOpen(f *testing.F) {
	ms, _ := fuzzFeed(f)
	for _, name := range []string{"tree", "bitfield", "signatures"} {
		f.Add(uint8(len(name)), ms.Bytes(name))
	}
	f.Add(uint8(4), []byte{5, 2, 0x57, 2, 0, 0, 0x28, 7})
	f.Fuzz(func(t *testing.T, which uint8, content []byte) {
		base, _ := fuzzFeed(t)
		name := []string{"tree", "bitfield", "signatures"}[int(which)%3]
		base.Corrupt(name, func([]byte) []byte { return bytes.Clone(content) })
		g, err := feed.Open(base, feed.Options{})
		if err != nil {
			return
		}
		defer g.Close()
		want := map[uint64][]byte{}
		for i := range 5 {
			want[uint64(2*i)] = bytes.Repeat([]byte{byte(i)}, i*3)
			want[uint64(2*i+1)] = []byte("x")
		}
		for i := range g.Length() {
			b, err := g.Get(context.Background(), i)
			if err == nil && !bytes.Equal(b, want[i]) {
				t.Fatalf("block %d served wrong bytes %x", i, b)
			}
		}
		if g.Length() > 10 {
			t.Fatalf("length %d beyond anything signed", g.Length())
		}
	})
}

// FuzzHeader: any 32 bytes as a tree header either open or fail cleanly.
func FuzzHeader(f *testing.F) {
	ms, _ := fuzzFeed(f)
	f.Add(ms.Bytes("tree")[:32])
	f.Add(ms.Bytes("bitfield")[:32])
	f.Fuzz(func(t *testing.T, hdr []byte) {
		base, _ := fuzzFeed(t)
		for _, name := range []string{"tree", "signatures", "bitfield"} {
			base.Corrupt(name, func(b []byte) []byte {
				out := bytes.Clone(b)
				copy(out, hdr)
				return out
			})
		}
		if g, err := feed.Open(base, feed.Options{}); err == nil {
			g.Close()
		}
	})
}

// FuzzBitfield: arbitrary bitfield pages behind a valid header; whatever
// length they claim, the feed keeps only what its signatures prove.
func FuzzBitfield(f *testing.F) {
	ms, _ := fuzzFeed(f)
	f.Add(ms.Bytes("bitfield")[32:])
	f.Add(bytes.Repeat([]byte{0xff}, 3584))
	f.Fuzz(func(t *testing.T, pages []byte) {
		base, _ := fuzzFeed(t)
		base.Corrupt("bitfield", func(b []byte) []byte { return append(bytes.Clone(b[:32]), pages...) })
		g, err := feed.Open(base, feed.Options{})
		if err != nil {
			return
		}
		defer g.Close()
		if n := g.Length(); n > 0 {
			sig, _, err := g.Signature(n - 1)
			if err != nil || g.Verify(n-1, sig) != nil {
				t.Fatalf("length %d opened without a valid signature", n)
			}
		}
	})
}
