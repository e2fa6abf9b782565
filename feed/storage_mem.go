package feed

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sort"
	"sync"
	"time"
)

// ErrInjected is returned by MemStorage once its failure point is reached.
var ErrInjected = errors.New("feed: injected storage failure")

// MemStorage is an in-memory Storage for tests that models a crash: each
// file keeps its durable contents (as of its last Sync) and the writes made
// since. Crash returns a new MemStorage holding what a power cut could leave
// behind. FailAfter makes the Nth mutating call (WriteAt, Truncate, Sync)
// fail, optionally tearing that write, and every later one too, as if the
// process had died there.
type MemStorage struct {
	mu sync.Mutex
	// files by name; guarded by mu, as are the fields below.
	files  map[string]*memFile
	locked bool
	// ops counts mutating calls; failAt is the 1-based call that fails
	// (0: never), and dead is set once it has.
	ops, failAt int
	tear        bool
	rng         *rand.Rand
	dead        bool
	// readOnly models a read-only file system (SetReadOnly).
	readOnly bool
}

// NewMemStorage returns an empty in-memory feed directory.
func NewMemStorage() *MemStorage {
	return &MemStorage{files: map[string]*memFile{}}
}

type memOp struct {
	truncate bool
	off      int64
	data     []byte
}

type memFile struct {
	s    *MemStorage
	name string
	// durable and cur are the synced and current contents; pending the
	// mutations between them, in order. All are guarded by s.mu.
	durable, cur []byte
	pending      []memOp
	exists       bool
	modTime      time.Time // of the last mutation
}

// FailAfter makes mutating call n (counting from the next one, 1-based) and
// all later ones return ErrInjected. With tear, call n writes a random
// prefix of its bytes before failing.
func (m *MemStorage) FailAfter(n int, tear bool, seed uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.failAt = m.ops + n
	m.tear = tear
	m.rng = rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}

// Ops reports how many mutating calls have been made.
func (m *MemStorage) Ops() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.ops
}

// Crash returns the storage a restart would find. With keep nil every
// unsynced mutation is lost; otherwise keep decides for each one, in order,
// whether it reached the disk anyway (so subsets and reorderings are
// modelled). The lock is not carried over.
func (m *MemStorage) Crash(keep func(file string, op int) bool) *MemStorage {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := NewMemStorage()
	names := make([]string, 0, len(m.files))
	for n := range m.files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		f := m.files[n]
		nf := &memFile{s: out, name: n, exists: f.exists, durable: append([]byte(nil), f.durable...)}
		for i, op := range f.pending {
			if keep != nil && keep(n, i) {
				nf.durable = applyOp(nf.durable, op)
				nf.exists = true
			}
		}
		nf.cur = append([]byte(nil), nf.durable...)
		out.files[n] = nf
	}
	return out
}

// Bytes returns the current contents of a file, for tests.
func (m *MemStorage) Bytes(name string) []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	if f, ok := m.files[name]; ok {
		return append([]byte(nil), f.cur...)
	}
	return nil
}

// Corrupt applies fn to a file's contents as if the disk changed under us.
func (m *MemStorage) Corrupt(name string, fn func([]byte) []byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	f := m.file(name)
	f.cur = fn(f.cur)
	f.durable = append([]byte(nil), f.cur...)
	f.pending = nil
	f.exists = true
}

func (m *MemStorage) file(name string) *memFile {
	f, ok := m.files[name]
	if !ok {
		f = &memFile{s: m, name: name}
		m.files[name] = f
	}
	return f
}

// Open implements Storage.
func (m *MemStorage) Open(name string) (File, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.file(name), nil
}

// SetReadOnly makes the storage behave as a read-only file system: locks
// taken from then on report ReadOnly, and every WriteAt, Truncate and Sync
// fails with ErrReadOnly (a feed opened read-only must not even try).
func (m *MemStorage) SetReadOnly(ro bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.readOnly = ro
}

// Lock implements Storage; a second Lock fails until the first is closed.
func (m *MemStorage) Lock() (io.Closer, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.locked {
		return nil, fmt.Errorf("%w: in-memory feed", ErrLocked)
	}
	m.locked = true
	return memLock{m, m.readOnly}, nil
}

type memLock struct {
	m        *MemStorage
	readOnly bool
}

// ReadOnly implements ReadOnlyLock.
func (l memLock) ReadOnly() bool { return l.readOnly }

func (l memLock) Close() error {
	l.m.mu.Lock()
	l.m.locked = false
	l.m.mu.Unlock()
	return nil
}

// mutate counts a mutating call and reports whether it may proceed; torn
// is a prefix length to apply when this is the failing, tearing call.
func (m *MemStorage) mutate(n int) (ok bool, torn int) {
	m.ops++
	if m.dead {
		return false, 0
	}
	if m.failAt > 0 && m.ops >= m.failAt {
		m.dead = true
		if m.tear && n > 0 {
			return false, m.rng.IntN(n)
		}
		return false, 0
	}
	return true, 0
}

func applyOp(b []byte, op memOp) []byte {
	if op.truncate {
		if op.off <= int64(len(b)) {
			return b[:op.off]
		}
		return append(b, make([]byte, op.off-int64(len(b)))...)
	}
	end := op.off + int64(len(op.data))
	if end > int64(len(b)) {
		b = append(b, make([]byte, end-int64(len(b)))...)
	}
	copy(b[op.off:], op.data)
	return b
}

func (f *memFile) ReadAt(p []byte, off int64) (int, error) {
	f.s.mu.Lock()
	defer f.s.mu.Unlock()
	if off < 0 {
		return 0, fmt.Errorf("negative offset %d", off)
	}
	if off >= int64(len(f.cur)) {
		return 0, io.EOF
	}
	n := copy(p, f.cur[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (f *memFile) WriteAt(p []byte, off int64) (int, error) {
	f.s.mu.Lock()
	defer f.s.mu.Unlock()
	if f.s.readOnly {
		return 0, fmt.Errorf("write %s: %w", f.name, ErrReadOnly)
	}
	ok, torn := f.s.mutate(len(p))
	if !ok {
		if torn > 0 {
			f.record(memOp{off: off, data: append([]byte(nil), p[:torn]...)})
		}
		return torn, fmt.Errorf("write %s: %w", f.name, ErrInjected)
	}
	f.record(memOp{off: off, data: append([]byte(nil), p...)})
	return len(p), nil
}

func (f *memFile) record(op memOp) {
	f.modTime = time.Now()
	f.cur = applyOp(f.cur, op)
	f.pending = append(f.pending, op)
	f.exists = true
}

func (f *memFile) Truncate(size int64) error {
	f.s.mu.Lock()
	defer f.s.mu.Unlock()
	if f.s.readOnly {
		return fmt.Errorf("truncate %s: %w", f.name, ErrReadOnly)
	}
	if ok, _ := f.s.mutate(0); !ok {
		return fmt.Errorf("truncate %s: %w", f.name, ErrInjected)
	}
	if !f.exists && size == 0 {
		return nil
	}
	f.record(memOp{truncate: true, off: size})
	return nil
}

func (f *memFile) Size() (int64, error) {
	f.s.mu.Lock()
	defer f.s.mu.Unlock()
	return int64(len(f.cur)), nil
}

// ModTime implements ModTimer.
func (f *memFile) ModTime() (time.Time, error) {
	f.s.mu.Lock()
	defer f.s.mu.Unlock()
	return f.modTime, nil
}

func (f *memFile) Sync() error {
	f.s.mu.Lock()
	defer f.s.mu.Unlock()
	if f.s.readOnly {
		return fmt.Errorf("sync %s: %w", f.name, ErrReadOnly)
	}
	if ok, _ := f.s.mutate(0); !ok {
		return fmt.Errorf("sync %s: %w", f.name, ErrInjected)
	}
	f.durable = append(f.durable[:0], f.cur...)
	f.pending = nil
	return nil
}

func (f *memFile) Close() error { return nil }
