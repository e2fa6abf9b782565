package interop_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/hyperfs/hyperfs/feed"
)

// TestJSWritesGoReads: JS hypercore writes a feed, the Go engine opens it
// (as writer, then as replica), reads, verifies and audits it.
func TestJSWritesGoReads(t *testing.T) {
	js := newJS(t)
	cases := []struct {
		name                     string
		count, maxSize, maxBatch int
	}{
		{"one-block", 1, 1 << 20, 1},
		{"500-batches-of-7", 500, 1 << 20, 7},
		// 20000 blocks: the bitfield spans 3 pages (8192 blocks each).
		{"20000-small", 20000, 4096, 64},
		{"300-up-to-1MiB", 300, 1 << 20, 64},
	}
	for ci, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			seed := hex.EncodeToString(bytes.Repeat([]byte{byte(0x40 + ci)}, 32))
			var w summary
			js.Run(t, &w, "write.js", "--dir", dir, "--seed", seed,
				"--count", strconv.Itoa(tc.count), "--max-size", strconv.Itoa(tc.maxSize),
				"--rand-seed", strconv.Itoa(1000+ci), "--max-batch", strconv.Itoa(tc.maxBatch))
			if w.Length != uint64(tc.count) || len(w.Blocks) != tc.count {
				t.Fatalf("write.js: length %d, %d hashes, want %d", w.Length, len(w.Blocks), tc.count)
			}
			seedBytes, _ := hex.DecodeString(seed)
			wantKey := hex.EncodeToString(ed25519.NewKeyFromSeed(seedBytes).Public().(ed25519.PublicKey))
			if w.Key != wantKey {
				t.Fatalf("write.js key %s, want %s (from seed)", w.Key, wantKey)
			}

			f := openFeed(t, dir)
			if got := hex.EncodeToString(f.Key()); got != w.Key {
				t.Errorf("Key = %s, JS wrote %s", got, w.Key)
			}
			if !f.Writable() {
				t.Errorf("Writable = false with a secret_key file")
			}
			checkGoReads(t, f, w.Blocks, w.ByteLength, w.Signature)
			closeFeed(t, f)

			// Without secret_key the Go engine opens a read-only replica.
			if err := os.Remove(filepath.Join(dir, "secret_key")); err != nil {
				t.Fatal(err)
			}
			r := openFeed(t, dir)
			defer closeFeed(t, r)
			if r.Writable() {
				t.Errorf("replica: Writable = true without secret_key")
			}
			if got := hex.EncodeToString(r.Key()); got != w.Key {
				t.Errorf("replica: Key = %s, want %s", got, w.Key)
			}
			if err := r.Append([]byte("x")); !errors.Is(err, feed.ErrNotWritable) {
				t.Errorf("replica: Append = %v, want ErrNotWritable", err)
			}
			checkGoReads(t, r, w.Blocks, w.ByteLength, w.Signature)
		})
	}
}

// TestGoWritesJSReads: the Go engine writes a feed, JS hypercore opens it,
// audits it, checks the signature and reads every block.
func TestGoWritesJSReads(t *testing.T) {
	js := newJS(t)
	cases := []struct {
		name    string
		keySeed byte // 0: random key pair
		spec    genSpec
	}{
		{"empty-feed", 1, genSpec{count: 0, maxBatch: 1, maxSize: 0}},
		{"one-block-random-key", 0, genSpec{count: 1, maxBatch: 1, maxSize: 1 << 20}},
		{"400-mixed-up-to-1MiB", 2, genSpec{count: 400, maxBatch: 16, maxSize: 1 << 20}},
		{"single-appends", 3, genSpec{count: 300, maxBatch: 1, maxSize: 4096}},
		{"20000-small", 4, genSpec{count: 20000, maxBatch: 64, maxSize: 256}},
		// Huge batches that straddle bitfield pages (8192 blocks each).
		{"big-batches-across-pages", 5, genSpec{count: 17000, maxBatch: 9000, maxSize: 64}},
		// A feed of only empty blocks: JS creates a 0-byte data file on the
		// first append and its audit fails every block when the file is
		// missing.
		{"zero-byte-blocks", 6, genSpec{count: 100, maxBatch: 10, zero: true}},
	}
	for ci, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			var opts feed.Options
			if tc.keySeed != 0 {
				opts.SecretKey, _ = seedKey(tc.keySeed)
			}
			f, err := feed.Create(feed.DirStorage{Dir: dir}, opts)
			if err != nil {
				t.Fatalf("Create: %v", err)
			}
			key := hex.EncodeToString(f.Key())
			var g goBlocks
			appendRandom(t, f, rand.New(rand.NewPCG(uint64(ci), 77)), tc.spec, &g)
			if f.Length() != uint64(tc.spec.count) || f.ByteLength() != g.bytes {
				t.Errorf("after appends: Length %d ByteLength %d, want %d %d", f.Length(), f.ByteLength(), tc.spec.count, g.bytes)
			}
			closeFeed(t, f)
			js.checkJSVerify(t, dir, key, g.hashes, g.bytes, g.dataSha256(), true)

			// And Go reopens its own feed consistently.
			f = openFeed(t, dir)
			defer closeFeed(t, f)
			checkGoReads(t, f, g.hashes, g.bytes, nil)
		})
	}
}

// TestMixedAppends: Go creates and appends, JS extends the Go-written feed,
// Go reopens it, reads JS's blocks and appends more, and JS verifies the
// result.
func TestMixedAppends(t *testing.T) {
	js := newJS(t)
	cases := []struct {
		name                  string
		goFirst, jsN, goAfter int
	}{
		{"small", 100, 50, 70},
		// JS's batch crosses the first bitfield page boundary (8192), and
		// Go's second round crosses the next one.
		{"across-pages", 8190, 10, 8300},
	}
	for ci, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			sk, _ := seedKey(byte(0x60 + ci))
			f, err := feed.Create(feed.DirStorage{Dir: dir}, feed.Options{SecretKey: sk})
			if err != nil {
				t.Fatalf("Create: %v", err)
			}
			key := hex.EncodeToString(f.Key())
			r := rand.New(rand.NewPCG(uint64(ci), 99))
			var g goBlocks
			appendRandom(t, f, r, genSpec{count: tc.goFirst, maxBatch: 20, maxSize: 1 << 16}, &g)
			closeFeed(t, f)

			var a summary
			js.Run(t, &a, "append.js", "--dir", dir, "--count", strconv.Itoa(tc.jsN),
				"--rand-seed", strconv.Itoa(500+ci), "--max-size", "3000")
			if a.Key != key {
				t.Fatalf("append.js key %s, want %s", a.Key, key)
			}
			if want := tc.goFirst + tc.jsN; a.Length != uint64(want) || len(a.Blocks) != want {
				t.Fatalf("append.js: length %d, %d hashes, want %d", a.Length, len(a.Blocks), want)
			}
			for i, h := range g.hashes {
				if a.Blocks[i] != h {
					t.Fatalf("append.js: Go block %d reads as %s, want %s", i, a.Blocks[i], h)
				}
			}

			f = openFeed(t, dir)
			if !f.Writable() {
				t.Fatalf("reopened feed not writable")
			}
			checkGoReads(t, f, a.Blocks, a.ByteLength, a.Signature)
			all := goBlocks{}
			// Rebuild the running totals from the JS blocks, then add Go's.
			for i := range a.Length {
				b, err := f.Get(t.Context(), i)
				if err != nil {
					t.Fatalf("Get(%d): %v", i, err)
				}
				all.add(b)
			}
			if all.dataSha256() != a.DataSha256 {
				t.Errorf("Go data sha256 %s, JS %s", all.dataSha256(), a.DataSha256)
			}
			appendRandom(t, f, r, genSpec{count: tc.goAfter, maxBatch: 40, maxSize: 1 << 16}, &all)
			want := tc.goFirst + tc.jsN + tc.goAfter
			if f.Length() != uint64(want) {
				t.Errorf("Length after Go appends = %d, want %d", f.Length(), want)
			}
			closeFeed(t, f)

			js.checkJSVerify(t, dir, key, all.hashes, all.bytes, all.dataSha256(), true)
		})
	}
}

// TestLockInterop: JS cannot open a directory while a Go feed holds it, and
// can once the Go feed is closed.
func TestLockInterop(t *testing.T) {
	js := newJS(t)
	dir := t.TempDir()
	f, err := feed.Create(feed.DirStorage{Dir: dir}, feed.Options{})
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	var g goBlocks
	for i := range 5 {
		b := []byte(fmt.Sprintf("block %d", i))
		if err := f.Append(b); err != nil {
			t.Fatalf("Append: %v", err)
		}
		g.add(b)
	}
	key := hex.EncodeToString(f.Key())
	if err := f.Sync(); err != nil {
		t.Fatalf("Sync: %v", err)
	}

	stdout, stderr, err := js.Exec(t, "verify.js", "--dir", dir)
	if err == nil {
		closeFeed(t, f)
		t.Fatalf("verify.js succeeded while the Go feed is open; stdout: %s", stdout)
	}
	if !isExit(err) {
		closeFeed(t, f)
		t.Fatalf("verify.js: %v (want a non-zero exit)\nstderr:\n%s", err, stderr)
	}
	if !bytes.Contains(bytes.ToLower(stderr), []byte("lock")) {
		t.Errorf("verify.js failed, but not for the lock: %v\nstderr:\n%s", err, stderr)
	}
	// A second Go opener in this process is refused too.
	if f2, err := feed.Open(feed.DirStorage{Dir: dir}, feed.Options{}); !errors.Is(err, feed.ErrLocked) {
		if err == nil {
			f2.Close()
		}
		t.Errorf("second feed.Open = %v, want ErrLocked", err)
	}
	closeFeed(t, f)

	js.checkJSVerify(t, dir, key, g.hashes, g.bytes, g.dataSha256(), true)
	// verify.js on the original dir (not a copy) also succeeds now.
	var v verifyOut
	js.Run(t, &v, "verify.js", "--dir", dir)
	if v.Length != 5 || !v.SignatureVerified {
		t.Errorf("verify.js after Close: length %d, signatureVerified %v", v.Length, v.SignatureVerified)
	}
}
