package interop_test

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/hyperfs/hyperfs/feed"
)

// mulberry32 is js/lib.js's PRNG (documented in js/README.md).
type mulberry32 uint32

func (m *mulberry32) next() uint32 {
	*m += 0x6D2B79F5
	t := uint32(*m)
	t = (t ^ t>>15) * (t | 1)
	t ^= t + (t^t>>7)*(t|61)
	return t ^ t>>14
}

// int is floor(u32 * n / 2^32), uniform in [0, n).
func (m *mulberry32) int(n int) int { return int(uint64(m.next()) * uint64(n) >> 32) }

func (m *mulberry32) bytes(n int) []byte {
	b := make([]byte, (n+3)&^3)
	for i := 0; i < len(b); i += 4 {
		binary.LittleEndian.PutUint32(b[i:], m.next())
	}
	return b[:n]
}

func (m *mulberry32) block(maxSize int) []byte {
	limit := min(maxSize, 4096)
	if m.int(50) == 0 {
		limit = maxSize
	}
	return m.bytes(m.int(limit + 1))
}

// TestSameBytes: the Go engine, given write.js's key pair, blocks and
// batches, writes a directory byte-identical to JS hypercore's.
func TestSameBytes(t *testing.T) {
	js := newJS(t)
	cases := []struct {
		name                     string
		count, maxSize, maxBatch int
	}{
		{"500-batches-of-7", 500, 1 << 20, 7},
		{"20000-small", 20000, 1024, 64},
		{"zero-byte-blocks", 30, 0, 5},
	}
	for ci, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			jsDir, goDir := t.TempDir(), t.TempDir()
			sk, seed := seedKey(byte(0x70 + ci))
			randSeed := 4242 + ci
			var w summary
			js.Run(t, &w, "write.js", "--dir", jsDir, "--seed", seed,
				"--count", strconv.Itoa(tc.count), "--max-size", strconv.Itoa(tc.maxSize),
				"--rand-seed", strconv.Itoa(randSeed), "--max-batch", strconv.Itoa(tc.maxBatch))

			f, err := feed.Create(feed.DirStorage{Dir: goDir}, feed.Options{SecretKey: sk})
			if err != nil {
				t.Fatalf("Create: %v", err)
			}
			rng := mulberry32(uint32(randSeed))
			var hashes []string
			for done := 0; done < tc.count; {
				n := min(1+rng.int(tc.maxBatch), tc.count-done)
				batch := make([][]byte, n)
				for k := range batch {
					batch[k] = rng.block(tc.maxSize)
					hashes = append(hashes, hexSum(batch[k]))
				}
				if err := f.Append(batch...); err != nil {
					t.Fatalf("Append: %v", err)
				}
				done += n
			}
			for i := range min(len(hashes), len(w.Blocks)) {
				if hashes[i] != w.Blocks[i] {
					t.Fatalf("Go PRNG block %d = %s, JS %s (PRNG port wrong)", i, hashes[i], w.Blocks[i])
				}
			}
			sig, _, err := f.Signature(f.Length() - 1)
			if err != nil {
				t.Fatalf("Signature: %v", err)
			}
			if w.Signature == nil || hex.EncodeToString(sig) != *w.Signature {
				t.Errorf("Go signature %x, JS %v", sig, w.Signature)
			}
			closeFeed(t, f)

			for _, name := range []string{"key", "secret_key", "data", "tree", "signatures", "bitfield"} {
				jb, jerr := os.ReadFile(filepath.Join(jsDir, name))
				gb, gerr := os.ReadFile(filepath.Join(goDir, name))
				if jerr != nil || gerr != nil {
					t.Errorf("%s: JS read error %v, Go read error %v", name, jerr, gerr)
					continue
				}
				if !bytes.Equal(jb, gb) {
					t.Errorf("%s differs: JS %d bytes, Go %d bytes, first difference at byte %d", name, len(jb), len(gb), firstDiff(jb, gb))
				}
			}
		})
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
