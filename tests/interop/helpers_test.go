package interop_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"hash"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/hyperfs/hyperfs/internal/jsharness"

	"github.com/hyperfs/hyperfs/feed"
)

// scriptTimeout bounds one node script run.
const scriptTimeout = jsharness.Timeout

// jsEnv runs the pinned JS scripts (package jsharness).
type jsEnv struct{ jsharness.Env }

// newJS returns the scripts' Env, or skips (fails with
// HYPERFS_REQUIRE_NODE=1).
func newJS(t *testing.T) jsEnv { return jsEnv{jsharness.Require(t)} }

// summary is the JSON of write.js and append.js.
type summary struct {
	Key        string   `json:"key"`
	Length     uint64   `json:"length"`
	ByteLength uint64   `json:"byteLength"`
	Blocks     []string `json:"blocks"`
	DataSha256 string   `json:"dataSha256"`
	Signature  *string  `json:"signature"`
}

// verifyOut is the JSON of verify.js.
type verifyOut struct {
	Key        string `json:"key"`
	Length     uint64 `json:"length"`
	ByteLength uint64 `json:"byteLength"`
	Writable   bool   `json:"writable"`
	Audit      struct {
		Valid   uint64 `json:"valid"`
		Invalid uint64 `json:"invalid"`
	} `json:"audit"`
	SignatureVerified bool      `json:"signatureVerified"`
	Blocks            []*string `json:"blocks"`
	DataSha256        *string   `json:"dataSha256"`
}

func hexSum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// goBlocks tracks what the Go side appended: per-block hashes and the
// running hash of all bytes.
type goBlocks struct {
	hashes []string
	all    hash.Hash
	bytes  uint64
}

func (g *goBlocks) add(b []byte) {
	if g.all == nil {
		g.all = sha256.New()
	}
	g.hashes = append(g.hashes, hexSum(b))
	g.all.Write(b)
	g.bytes += uint64(len(b))
}

func (g *goBlocks) dataSha256() string {
	if g.all == nil {
		g.all = sha256.New()
	}
	return hex.EncodeToString(g.all.Sum(nil))
}

// genSpec describes the blocks the Go side appends.
type genSpec struct {
	count    int
	maxBatch int  // batch sizes uniform in 1..maxBatch
	maxSize  int  // size uniform in 0..min(maxSize, 4096), or 0..maxSize one time in 50
	zero     bool // all blocks empty
}

// appendRandom appends spec.count PRNG blocks to f in PRNG batches and
// records them in g.
func appendRandom(t *testing.T, f *feed.Feed, r *rand.Rand, spec genSpec, g *goBlocks) {
	t.Helper()
	for done := 0; done < spec.count; {
		n := min(1+r.IntN(spec.maxBatch), spec.count-done)
		batch := make([][]byte, n)
		for k := range batch {
			size := 0
			if !spec.zero {
				m := min(spec.maxSize, 4096)
				if r.IntN(50) == 0 {
					m = spec.maxSize
				}
				size = r.IntN(m + 1)
			}
			b := make([]byte, size)
			for j := 0; j+8 <= size; j += 8 {
				v := r.Uint64()
				for k := range 8 {
					b[j+k] = byte(v >> (8 * k))
				}
			}
			for j := size &^ 7; j < size; j++ {
				b[j] = byte(r.Uint32())
			}
			batch[k] = b
		}
		if err := f.Append(batch...); err != nil {
			t.Fatalf("Append batch of %d at length %d: %v", n, f.Length(), err)
		}
		for _, b := range batch {
			g.add(b)
		}
		done += n
	}
}

// seedKey derives a deterministic Ed25519 key pair.
func seedKey(seed byte) (ed25519.PrivateKey, string) {
	s := bytes.Repeat([]byte{seed}, ed25519.SeedSize)
	return ed25519.NewKeyFromSeed(s), hex.EncodeToString(s)
}

func openFeed(t *testing.T, dir string) *feed.Feed {
	t.Helper()
	f, err := feed.Open(feed.DirStorage{Dir: dir}, feed.Options{})
	if err != nil {
		t.Fatalf("feed.Open(%s): %v", dir, err)
	}
	return f
}

func closeFeed(t *testing.T, f *feed.Feed) {
	t.Helper()
	if err := f.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// checkGoReads checks that f's blocks hash to want, that the signature over
// the whole feed verifies (and equals wantSig when given) and that an audit
// finds nothing wrong.
func checkGoReads(t *testing.T, f *feed.Feed, want []string, wantBytes uint64, wantSig *string) {
	t.Helper()
	if got := f.Length(); got != uint64(len(want)) {
		t.Fatalf("Length = %d, want %d", got, len(want))
	}
	if got := f.ByteLength(); got != wantBytes {
		t.Errorf("ByteLength = %d, want %d", got, wantBytes)
	}
	ctx := t.Context()
	var total uint64
	bad := 0
	for i, h := range want {
		b, err := f.Get(ctx, uint64(i))
		if err != nil {
			t.Fatalf("Get(%d): %v", i, err)
		}
		total += uint64(len(b))
		if got := hexSum(b); got != h {
			if bad++; bad <= 5 {
				t.Errorf("block %d (%d bytes): sha256 %s, want %s", i, len(b), got, h)
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d of %d blocks differ", bad, len(want))
	}
	if total != wantBytes {
		t.Errorf("sum of block sizes = %d, want %d", total, wantBytes)
	}
	if len(want) == 0 {
		return
	}
	last := uint64(len(want) - 1)
	sig, slot, err := f.Signature(last)
	if err != nil {
		t.Fatalf("Signature(%d): %v", last, err)
	}
	if slot != last {
		t.Errorf("Signature(%d) slot = %d", last, slot)
	}
	if err := f.Verify(last, sig); err != nil {
		t.Errorf("Verify(%d, stored signature): %v", last, err)
	}
	if wantSig != nil && hex.EncodeToString(sig) != *wantSig {
		t.Errorf("signature = %x, JS has %s", sig, *wantSig)
	}
	res, err := f.Audit(ctx)
	if err != nil {
		t.Fatalf("Audit: %v", err)
	}
	if res.Valid != uint64(len(want)) || res.Invalid != 0 {
		t.Errorf("Audit = %d valid, %d invalid (bad %v), want %d valid", res.Valid, res.Invalid, head(res.Bad), len(want))
	}
}

func head(b []uint64) []uint64 { return b[:min(len(b), 10)] }

// checkJSVerify runs verify.js on a copy of dir and checks it against the
// Go side's view.
func (e jsEnv) checkJSVerify(t *testing.T, dir, key string, want []string, wantBytes uint64, wantData string, writable bool) verifyOut {
	t.Helper()
	cp := copyDir(t, dir)
	var v verifyOut
	e.Run(t, &v, "verify.js", "--dir", cp)
	if v.Key != key {
		t.Errorf("JS key = %s, want %s", v.Key, key)
	}
	if v.Length != uint64(len(want)) {
		t.Errorf("JS length = %d, want %d", v.Length, len(want))
	}
	if v.ByteLength != wantBytes {
		t.Errorf("JS byteLength = %d, want %d", v.ByteLength, wantBytes)
	}
	if v.Writable != writable {
		t.Errorf("JS writable = %v, want %v", v.Writable, writable)
	}
	if v.Audit.Valid != uint64(len(want)) || v.Audit.Invalid != 0 {
		t.Errorf("JS audit = %+v, want {valid: %d, invalid: 0}", v.Audit, len(want))
	}
	if wantSig := len(want) > 0; v.SignatureVerified != wantSig {
		t.Errorf("JS signatureVerified = %v, want %v", v.SignatureVerified, wantSig)
	}
	if len(v.Blocks) != len(want) {
		t.Errorf("JS has %d block hashes, want %d", len(v.Blocks), len(want))
	}
	bad := 0
	for i := range min(len(v.Blocks), len(want)) {
		if got := v.Blocks[i]; got == nil || *got != want[i] {
			if bad++; bad <= 5 {
				g := "null"
				if got != nil {
					g = *got
				}
				t.Errorf("JS block %d: sha256 %s, want %s", i, g, want[i])
			}
		}
	}
	if bad > 0 {
		t.Errorf("JS: %d of %d blocks differ", bad, len(want))
	}
	if v.DataSha256 == nil || *v.DataSha256 != wantData {
		g := "null"
		if v.DataSha256 != nil {
			g = *v.DataSha256
		}
		t.Errorf("JS dataSha256 = %s, want %s", g, wantData)
	}
	return v
}

// copyDir copies the regular files of src into a new temp dir.
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if !e.Type().IsRegular() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// isExit reports whether err is a non-zero exit of the process.
func isExit(err error) bool {
	var ee *exec.ExitError
	return errors.As(err, &ee)
}
