package feed

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestWriteBehindModel drives a writeBehind and a plain file with the same
// seeded writes (single and vectored), reads, truncations, syncs and
// shares: every read and size must agree, the bounds must hold after every
// call, a shared file must hold every write at once, and once closed the
// file behind must equal the plain one.
func TestWriteBehindModel(t *testing.T) {
	for seed := range uint64(40) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 7))
			back, ref := NewMemStorage(), NewMemStorage()
			bf, _ := back.Open("tree")
			want, _ := ref.Open("tree")
			w := newWriteBehind(bf)
			var end int64
			shared := false
			for step := range 3000 {
				var off int64
				switch k := rng.IntN(10); {
				case k < 4: // the next record
					off = end
				case k < 6: // past a hole, as a leaf beyond an open parent
					off = end + 40*rng.Int64N(4)
				case k < 8: // a parent completed inside what exists
					off = rng.Int64N(end + 1)
				default:
					off = rng.Int64N(end + 16<<10)
				}
				switch k := rng.IntN(100); {
				case k < 70:
					n := 40 * (1 + rng.IntN(3))
					if rng.IntN(50) == 0 {
						n = 1 + rng.IntN(48<<10)
					}
					p := make([]byte, n)
					for i := range p {
						p[i] = byte(rng.IntN(255) + 1)
					}
					if rng.IntN(3) == 0 {
						// As Append writes a batch: pieces back to back.
						var bufs [][]byte
						for rest := p; len(rest) > 0; {
							cut := min(len(rest), rng.IntN(len(p)+1))
							bufs, rest = append(bufs, rest[:cut]), rest[cut:]
						}
						if err := w.WriteVAt(bufs, off); err != nil {
							t.Fatalf("step %d: WriteVAt(%d bytes in %d, %d) = %v", step, n, len(bufs), off, err)
						}
					} else if got, err := w.WriteAt(p, off); err != nil || got != n {
						t.Fatalf("step %d: WriteAt(%d bytes, %d) = %d, %v", step, n, off, got, err)
					}
					want.WriteAt(p, off)
					end = max(end, off+int64(n))
					if shared && !bytes.Equal(back.Bytes("tree"), ref.Bytes("tree")) {
						t.Fatalf("step %d: a shared file lacks a write", step)
					}
				case k == 91:
					if shared {
						w.unshare()
					} else if err := w.share(); err != nil {
						t.Fatal(err)
					} else if !bytes.Equal(back.Bytes("tree"), ref.Bytes("tree")) {
						t.Fatalf("step %d: the file once shared differs", step)
					}
					shared = !shared
				case k < 92:
					p := make([]byte, rng.IntN(300))
					q := make([]byte, len(p))
					n, err := w.ReadAt(p, off)
					m, werr := want.ReadAt(q, off)
					if n != m || (err == nil) != (werr == nil) || !bytes.Equal(p[:n], q[:m]) {
						t.Fatalf("step %d: ReadAt(%d, %d) = %d, %v; want %d, %v", step, len(p), off, n, err, m, werr)
					}
				case k < 95:
					if err := w.Sync(); err != nil {
						t.Fatal(err)
					}
					if !bytes.Equal(back.Bytes("tree"), ref.Bytes("tree")) {
						t.Fatalf("step %d: synced file differs", step)
					}
				case k < 97:
					end = rng.Int64N(end + 1)
					if err := w.Truncate(end); err != nil {
						t.Fatal(err)
					}
					want.Truncate(end)
				default:
					gs, _ := w.Size()
					ws, _ := want.Size()
					if gs != ws {
						t.Fatalf("step %d: Size = %d, want %d", step, gs, ws)
					}
				}
				if w.held > writeBehindBytes || len(w.runs) > writeBehindRuns {
					t.Fatalf("step %d: holding %d bytes in %d runs", step, w.held, len(w.runs))
				}
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(back.Bytes("tree"), ref.Bytes("tree")) {
				t.Fatal("closed file differs from the plain one")
			}
		})
	}
}

// TestWriteBehindSavesWrites: 1000 one-block appends make a handful of
// tree and data writes, where each used to make two or three of its own;
// Sync then writes the rest before syncing.
func TestWriteBehindSavesWrites(t *testing.T) {
	s := NewMemStorage()
	f, err := Create(s, Options{DeferSigning: true})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	before := s.Ops()
	for i := range 1000 {
		if err := f.Append([]byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if ops := s.Ops() - before; ops > 10 {
		t.Errorf("1000 appends made %d mutating calls, want at most 10", ops)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	if got, want := len(s.Bytes(fileTree)), int(nodeOffset(2*999+1)); got < want {
		t.Errorf("tree file after Sync holds %d bytes, want at least %d", got, want)
	}
	if got := len(s.Bytes(fileData)); got != 1000 {
		t.Errorf("data file after Sync holds %d bytes, want 1000", got)
	}
	reopened := s.Crash(nil)
	g, err := Open(reopened, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if g.Length() != 1000 {
		t.Errorf("after Sync and a crash the feed has %d blocks, want 1000", g.Length())
	}
}

// failingFile fails every write while fail is set.
type failingFile struct {
	File
	fail bool
}

var errFull = errors.New("no space left")

func (f *failingFile) WriteAt(p []byte, off int64) (int, error) {
	if f.fail {
		return 0, errFull
	}
	return f.File.WriteAt(p, off)
}

// TestWriteBehindKeepsFailedWrites: a flush that fails keeps what it could
// not write, reports it from Sync and ReadAt, and writes it once the file
// takes writes again.
func TestWriteBehindKeepsFailedWrites(t *testing.T) {
	s := NewMemStorage()
	mf, _ := s.Open("tree")
	ff := &failingFile{File: mf}
	w := newWriteBehind(ff)
	rec := bytes.Repeat([]byte{7}, 40)
	for i := range 10 {
		if _, err := w.WriteAt(rec, int64(40*i)); err != nil {
			t.Fatal(err)
		}
	}
	ff.fail = true
	if err := w.Sync(); !errors.Is(err, errFull) {
		t.Fatalf("Sync while writes fail = %v, want %v", err, errFull)
	}
	if _, err := w.ReadAt(make([]byte, 40), 80); !errors.Is(err, errFull) {
		t.Fatalf("ReadAt of a held record while writes fail = %v, want %v", err, errFull)
	}
	ff.fail = false
	if err := w.Sync(); err != nil {
		t.Fatal(err)
	}
	if got := s.Bytes("tree"); !bytes.Equal(got, bytes.Repeat([]byte{7}, 400)) {
		t.Fatalf("file after the retry holds %d bytes %x...", len(got), got[:min(len(got), 8)])
	}
	p := make([]byte, 40)
	if n, err := w.ReadAt(p, 400); n != 0 || err != io.EOF {
		t.Fatalf("ReadAt past the end = %d, %v", n, err)
	}
}

// TestModTimeOfAppends: a feed's time is when the last append came, though
// its bytes reach the file later; a fresh open knows only the file's own
// time.
func TestModTimeOfAppends(t *testing.T) {
	dir := t.TempDir()
	f, err := Create(DirStorage{Dir: dir}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	before := time.Now()
	if err := f.Append([]byte("held")); err != nil {
		t.Fatal(err)
	}
	after := time.Now()
	got := f.ModTime()
	if got.Before(before) || got.After(after) {
		t.Errorf("ModTime after a held append = %v, want within [%v, %v]", got, before, after)
	}
	time.Sleep(20 * time.Millisecond) // the flush below must come visibly later
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	if again := f.ModTime(); !again.Equal(got) {
		t.Errorf("ModTime after the flush = %v, want the append's %v", again, got)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, fileData))
	if err != nil {
		t.Fatal(err)
	}
	g, err := Open(DirStorage{Dir: dir}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if mt := g.ModTime(); !mt.Equal(fi.ModTime()) {
		t.Errorf("ModTime after reopen = %v, want the file's %v", mt, fi.ModTime())
	}
}
