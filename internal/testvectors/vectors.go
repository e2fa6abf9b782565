// Package testvectors loads the JavaScript-written reference vectors in
// ../shared/vectors for tests. It only reads; callers copy feed directories
// to a temporary directory before opening them (CopyFeed).
//
// The shared folder is found through $HYPERFS_SHARED, else by walking up
// from the working directory to a folder that has a sibling named shared.
package testvectors

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// Vectors mirrors the parts of vectors.json the tests use.
type Vectors struct {
	Crypto struct {
		SigningSeed          string `json:"signingSeed"`
		PublicKey            string `json:"publicKey"`
		SecretKey            string `json:"secretKey"`
		DiscoveryKey         string `json:"discoveryKey"`
		LeafHashOfEmptyBlock string `json:"leafHashOfEmptyBlock"`
		LeafHashOfA          string `json:"leafHashOfA"`
		ParentOf0aAnd2empty  string `json:"parentOf0aAnd2empty"`
		TreeHashOfNoRoots    string `json:"treeHashOfNoRoots"`
	} `json:"crypto"`
	FlatTree struct {
		Nodes []struct {
			Index     uint64   `json:"index"`
			Depth     uint64   `json:"depth"`
			Offset    uint64   `json:"offset"`
			Parent    uint64   `json:"parent"`
			Sibling   uint64   `json:"sibling"`
			Children  []uint64 `json:"children"`
			LeftSpan  uint64   `json:"leftSpan"`
			RightSpan uint64   `json:"rightSpan"`
			Count     uint64   `json:"count"`
		} `json:"nodes"`
		FullRootsByLength map[string][]uint64 `json:"fullRootsByLength"`
	} `json:"flatTree"`
	BitfieldRLE []struct {
		Input         string `json:"input"`
		Encoded       string `json:"encoded"`
		DecodedAlign4 string `json:"decodedAlign4"`
	} `json:"bitfieldRLE"`
	Proofs struct {
		ResponderLength uint64              `json:"responderLength"`
		RequesterStates map[string][]uint64 `json:"requesterStates"`
		Cases           []ProofCase         `json:"cases"`
	} `json:"proofs"`
	Feeds []Feed `json:"feeds"`
}

// ProofCase is one digest/proof example against the 1000-block responder.
type ProofCase struct {
	Requester  string   `json:"requester"`
	Block      uint64   `json:"block"`
	Hash       bool     `json:"hash"`
	Digest     uint64   `json:"digest"`
	ProofNodes []uint64 `json:"proofNodes"`
	VerifiedBy uint64   `json:"verifiedBy"`
}

// Feed is one reference storage directory and everything known about it.
type Feed struct {
	Name         string     `json:"name"`
	Dir          string     `json:"dir"`
	Batches      []int      `json:"batches"`
	Cleared      [][]uint64 `json:"cleared"`
	Length       uint64     `json:"length"`
	ByteLength   uint64     `json:"byteLength"`
	Writable     bool       `json:"writable"`
	PublicKey    string     `json:"publicKey"`
	DiscoveryKey string     `json:"discoveryKey"`
	Blocks       []struct {
		Index      uint64 `json:"index"`
		Has        bool   `json:"has"`
		Size       uint64 `json:"size"`
		Hex        string `json:"hex"`
		ByteOffset uint64 `json:"byteOffset"`
	} `json:"blocks"`
	Nodes      [][3]any          `json:"nodes"`
	Roots      []RootJSON        `json:"roots"`
	TreeHash   string            `json:"treeHash"`
	Signable   string            `json:"signable"`
	Signature  *string           `json:"signature"`
	Signatures map[string]string `json:"signatures"`
	Files      map[string]int64  `json:"files"`
}

// RootJSON is a root as vectors.json writes it.
type RootJSON struct {
	Index uint64 `json:"index"`
	Hash  string `json:"hash"`
	Size  uint64 `json:"size"`
}

// Node is a decoded entry of Feed.Nodes.
type Node struct {
	Index uint64
	Hash  []byte
	Size  uint64
}

// DecodedNodes returns Nodes with typed fields.
func (f *Feed) DecodedNodes(t testing.TB) []Node {
	t.Helper()
	out := make([]Node, 0, len(f.Nodes))
	for _, n := range f.Nodes {
		idx, _ := n[0].(float64)
		h, _ := n[1].(string)
		sz, _ := n[2].(float64)
		out = append(out, Node{Index: uint64(idx), Hash: Hex(t, h), Size: uint64(sz)})
	}
	return out
}

// BlockData returns block i's bytes.
func (f *Feed) BlockData(t testing.TB, i int) []byte {
	t.Helper()
	return Hex(t, f.Blocks[i].Hex)
}

// Hex decodes s or fails the test.
func Hex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("bad hex in vectors: %v", err)
	}
	return b
}

// SharedDir returns the path of the shared reference folder.
func SharedDir(t testing.TB) string {
	t.Helper()
	if d := os.Getenv("HYPERFS_SHARED"); d != "" {
		return d
	}
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		cand := filepath.Join(filepath.Dir(dir), "shared")
		if st, err := os.Stat(filepath.Join(cand, "vectors", "vectors.json")); err == nil && !st.IsDir() {
			return cand
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("cannot find ../shared/vectors/vectors.json above the working directory; set HYPERFS_SHARED")
		}
		dir = parent
	}
}

// Load parses vectors.json.
func Load(t testing.TB) *Vectors {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(SharedDir(t), "vectors", "vectors.json"))
	if err != nil {
		t.Fatal(err)
	}
	var v Vectors
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("parse vectors.json: %v", err)
	}
	return &v
}

// FeedByName returns the named feed vector.
func (v *Vectors) FeedByName(t testing.TB, name string) *Feed {
	t.Helper()
	for i := range v.Feeds {
		if v.Feeds[i].Name == name {
			return &v.Feeds[i]
		}
	}
	t.Fatalf("no feed vector %q", name)
	return nil
}

// CopyFeed copies a reference feed directory into a fresh temporary
// directory, made writable, and returns its path.
func CopyFeed(t testing.TB, name string) string {
	t.Helper()
	src := filepath.Join(SharedDir(t), "vectors", "feeds", name)
	dst := filepath.Join(t.TempDir(), name)
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if err := copyFile(filepath.Join(src, e.Name()), filepath.Join(dst, e.Name())); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// FeedPath is the read-only original of a reference feed, for comparing.
func FeedPath(t testing.TB, name string) string {
	return filepath.Join(SharedDir(t), "vectors", "feeds", name)
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("copy %s: %w", src, err)
	}
	return out.Close()
}

// Itoa is strconv.Itoa for map keys of vectors.json.
func Itoa(i int) string { return strconv.Itoa(i) }
