package fusefs

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/hyperfs/hyperfs/feed"
	"github.com/hyperfs/hyperfs/tree"
)

func TestDecideOpen(t *testing.T) {
	complete := feed.LocalState{Length: 3, ByteLength: 30, Stored: 3, Verified: 3, DataSize: 30}
	with := func(change func(*feed.LocalState)) feed.LocalState {
		s := complete
		change(&s)
		return s
	}
	base := openFacts{writable: true, local: complete, quiet: true}
	for _, c := range []struct {
		name   string
		change func(*openFacts)
		kind   openKind
		status string
	}{
		{"complete", func(*openFacts) {}, openPassthrough, ptReady},
		{"appender", func(in *openFacts) { in.appender = true }, openAppend, ""},
		{"off", func(in *openFacts) { in.avail = ptOff }, openCached, ptOff},
		{"unavailable", func(in *openFacts) { in.avail = ptUnavailable }, openCached, ptUnavailable},
		{"replica", func(in *openFacts) { in.writable = false }, openCached, ptReplica},
		{"empty", func(in *openFacts) { in.local = feed.LocalState{} }, openCached, ptIncomplete},
		{"block missing", func(in *openFacts) {
			in.local = with(func(s *feed.LocalState) { s.Stored, s.Verified = 2, 2 })
		}, openCached, ptIncomplete},
		{"trailing bytes", func(in *openFacts) { in.local = with(func(s *feed.LocalState) { s.DataSize = 31 }) }, openCached, ptIncomplete},
		{"hole at the end", func(in *openFacts) { in.local = with(func(s *feed.LocalState) { s.DataSize = 20 }) }, openCached, ptIncomplete},
		{"unverified", func(in *openFacts) { in.local = with(func(s *feed.LocalState) { s.Verified = 2 }) }, openCached, ptUnverified},
		{"other handle open", func(in *openFacts) { in.open = 1 }, openCached, ptBusy},
		{"handle just released", func(in *openFacts) { in.quiet = false }, openCached, ptBusy},
		{"join", func(in *openFacts) { in.open, in.pt = 2, 2 }, openPassthrough, ptActive},
		{"join, unverified", func(in *openFacts) {
			in.open, in.pt = 1, 1
			in.local = with(func(s *feed.LocalState) { s.Verified = 2 })
		}, openJoinDirect, ptActive},
		{"join, appender", func(in *openFacts) { in.open, in.pt, in.appender = 1, 1, true }, openJoinDirect, ptActive},
	} {
		in := base
		c.change(&in)
		kind, status := decideOpen(in)
		if kind != c.kind || status != c.status {
			t.Errorf("%s: %v %q, want %v %q", c.name, kind, status, c.kind, c.status)
		}
	}
}

// fakeRegistry stands for the kernel's backing file table.
type fakeRegistry struct {
	mu         sync.Mutex
	refuse     syscall.Errno
	registered int
	open       map[int32]bool
}

func (r *fakeRegistry) RegisterBackingFd(m *fuse.BackingMap) (int32, syscall.Errno) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.refuse != 0 {
		return 0, r.refuse
	}
	r.registered++
	id := int32(r.registered)
	r.open[id] = true
	return id, 0
}

func (r *fakeRegistry) UnregisterBackingFd(id int32) syscall.Errno {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.open[id] {
		return syscall.EINVAL
	}
	delete(r.open, id)
	return 0
}

// diskFeed makes a writable feed on disk holding blocks and reopens it,
// so none of its blocks is verified.
func diskFeed(t *testing.T, blocks ...[]byte) *feed.Feed {
	t.Helper()
	dir := t.TempDir()
	f, err := feed.Create(feed.DirStorage{Dir: dir}, feed.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Append(blocks...); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if f, err = feed.Open(feed.DirStorage{Dir: dir}, feed.Options{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// ptFS mounts f as "f" on an unmounted FS whose backing files go to reg,
// logging into log.
func ptFS(t *testing.T, f *feed.Feed, reg backingRegistry, opts Options, log *bytes.Buffer) *mfeed {
	t.Helper()
	opts.Feeds = []Entry{{Name: "f", Feed: f}}
	opts.Logger = slog.New(slog.NewTextHandler(log, nil))
	fsys, _ := testFS(t, opts)
	fsys.pt.reg = reg
	return fsys.feed("f")
}

func openKindOf(t *testing.T, m *mfeed, flags uint32) (any, uint32) {
	t.Helper()
	h, fl, errno := m.dataOps().Open(context.Background(), flags)
	if errno != 0 {
		t.Fatalf("open data %#o: %v", flags, errno)
	}
	return h, fl
}

func wantPT(t *testing.T, what string, h any, fl uint32, pt bool, wantFl uint32) {
	t.Helper()
	_, isPT := h.(*ptHandle)
	if isPT != pt || fl != wantFl {
		t.Errorf("%s: passthrough handle %t, flags %#x; want %t, %#x", what, isPT, fl, pt, wantFl)
	}
}

// The life of a local feed's data: daemon-served until a full read has
// verified it, then passed through; while passed through, appends and
// reads that no longer qualify get the backing with direct I/O (the kernel
// allows no mix), and an append through such a handle is one block.
func TestPassthroughOpens(t *testing.T) {
	blocks := [][]byte{bytes.Repeat([]byte("a"), 5000), []byte("bc"), bytes.Repeat([]byte("d"), 70000)}
	f := diskFeed(t, blocks...)
	reg := &fakeRegistry{open: map[int32]bool{}}
	var log bytes.Buffer
	m := ptFS(t, f, reg, Options{}, &log)
	d := m.dataOps()
	ctx := context.Background()

	h1, fl := openKindOf(t, m, syscall.O_RDONLY)
	wantPT(t, "unverified", h1, fl, false, fuse.FOPEN_KEEP_CACHE)
	if s := m.ptStatus(); s != ptUnverified {
		t.Errorf("status of an unverified feed %q", s)
	}
	if got := readAll(t, d, h1, 4096); !bytes.Equal(got, bytes.Join(blocks, nil)) {
		t.Fatal("first read differs")
	}
	if s := m.ptStatus(); s != ptBusy {
		t.Errorf("status with a handle open %q, want busy", s)
	}
	h2, fl := openKindOf(t, m, syscall.O_RDONLY)
	wantPT(t, "second open beside a cached one", h2, fl, false, fuse.FOPEN_KEEP_CACHE)
	d.Release(ctx, h1)
	d.Release(ctx, h2)
	if s := m.ptStatus(); s != ptBusy {
		t.Errorf("status just after a release %q, want busy", s)
	}
	m.pt.lastOther = time.Now().Add(-ptQuiet) // as if ptQuiet had passed
	if s := m.ptStatus(); s != ptReady {
		t.Errorf("status of a verified feed %q, want ready", s)
	}

	p1, fl := openKindOf(t, m, syscall.O_RDONLY)
	wantPT(t, "verified", p1, fl, true, fuse.FOPEN_KEEP_CACHE)
	if reg.registered != 1 || len(reg.open) != 0 {
		t.Errorf("probe: %d registered, %d left open; want 1 and 0", reg.registered, len(reg.open))
	}
	fd, ok := p1.(*ptHandle).PassthroughFd()
	if !ok {
		t.Fatal("PassthroughFd refused")
	}
	var st, want syscall.Stat_t
	syscall.Fstat(fd, &st)
	df, _ := f.DataFile()
	syscall.Fstat(int(df.Fd()), &want)
	df.Close()
	if st.Ino != want.Ino || st.Dev != want.Dev {
		t.Error("PassthroughFd is not the data file")
	}
	if s := m.ptStatus(); s != ptActive {
		t.Errorf("status with a passthrough handle %q", s)
	}

	a, fl := openKindOf(t, m, syscall.O_WRONLY|syscall.O_APPEND)
	wantPT(t, "appender beside passthrough", a, fl, true, fuse.FOPEN_DIRECT_IO)
	end := f.ByteLength()
	if n, errno := d.Write(ctx, a, []byte("tail"), int64(end)); errno != 0 || n != 4 {
		t.Fatalf("append through a joined handle: %d %v", n, errno)
	}
	if f.Length() != 4 {
		t.Errorf("length %d after one append, want 4", f.Length())
	}
	p2, fl := openKindOf(t, m, syscall.O_RDONLY)
	wantPT(t, "reader after an append", p2, fl, true, fuse.FOPEN_KEEP_CACHE)

	if err := f.Clear(1, 2); err != nil {
		t.Fatal(err)
	}
	p3, fl := openKindOf(t, m, syscall.O_RDONLY)
	wantPT(t, "reader of a cleared feed beside passthrough", p3, fl, true, fuse.FOPEN_DIRECT_IO)
	for _, h := range []any{p1, a, p2, p3} {
		d.Release(ctx, h)
	}
	if m.pt.open != 0 || m.pt.pt != 0 {
		t.Errorf("after every release: %d open, %d passthrough", m.pt.open, m.pt.pt)
	}
	h3, fl := openKindOf(t, m, syscall.O_RDONLY)
	wantPT(t, "reader of a cleared feed", h3, fl, false, fuse.FOPEN_KEEP_CACHE)
	d.Release(ctx, h3)
	m.pt.lastOther = time.Time{}
	if s := m.ptStatus(); s != ptIncomplete {
		t.Errorf("status of a cleared feed %q, want incomplete", s)
	}
	if log.Len() != 0 {
		t.Errorf("logged:\n%s", log.String())
	}
}

// Reading every byte leaves every block verified, also empty ones at the
// end, which no READ reaches. (Reads out of order, so that the engine's
// verify-ahead window, which would take them along, does not start.)
func TestFullReadVerifiesEmptyTail(t *testing.T) {
	f := diskFeed(t, []byte("abc"), []byte("de"), []byte{}, []byte{})
	m := ptFS(t, f, &fakeRegistry{open: map[int32]bool{}}, Options{}, &bytes.Buffer{})
	d := m.dataOps()
	h := openData(t, m, syscall.O_RDONLY)
	for _, c := range []struct {
		off  int64
		want string
	}{{3, "de"}, {0, "abc"}} {
		r, errno := d.Read(context.Background(), h, make([]byte, 3), c.off)
		if b, _ := r.Bytes(nil); errno != 0 || string(b) != c.want {
			t.Fatalf("read at %d: %q %v, want %q", c.off, b, errno, c.want)
		}
	}
	if s, _ := f.LocalState(); !s.Complete() {
		t.Errorf("after reading every byte: %+v, want complete", s)
	}
}

// When the kernel refuses a backing file (not root, an old kernel) data is
// served as before, with one log line for the mount.
func TestPassthroughUnavailable(t *testing.T) {
	f := diskFeed(t, []byte("abc"))
	reg := &fakeRegistry{open: map[int32]bool{}, refuse: syscall.EPERM}
	var log bytes.Buffer
	m := ptFS(t, f, reg, Options{}, &log)
	if _, err := f.HashStored(context.Background()); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		h, fl := openKindOf(t, m, syscall.O_RDONLY)
		wantPT(t, "refused", h, fl, false, fuse.FOPEN_KEEP_CACHE)
		m.dataOps().Release(context.Background(), h)
		m.pt.lastOther = time.Time{}
	}
	if s := m.ptStatus(); s != ptUnavailable {
		t.Errorf("status %q, want unavailable", s)
	}
	if n := strings.Count(log.String(), "passthrough unavailable"); n != 1 {
		t.Errorf("%d log lines about it, want 1:\n%s", n, log.String())
	}
}

// Replicas, feeds on memory storage (which info still calls ready: the
// storage is only for tests), and mounts without a registry
// (NoPassthrough, macOS) are never passed through.
func TestPassthroughNever(t *testing.T) {
	reg := &fakeRegistry{open: map[int32]bool{}}
	var log bytes.Buffer

	w := diskFeed(t, []byte("abc"), []byte("def"))
	dir := t.TempDir()
	r, err := feed.CreateReplica(feed.DirStorage{Dir: dir}, w.Key(), feed.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	var marks tree.NodeMarks
	for i := range uint64(2) {
		p, err := w.Proof(i, false, tree.Digest(r, 2*i, 2*w.Length()+2), &marks)
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Put(p); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := r.HashStored(context.Background()); err != nil {
		t.Fatal(err)
	}
	if s, _ := r.LocalState(); !s.Complete() {
		t.Fatalf("replica state %+v, want complete", s)
	}
	mem, _ := testFeed(t, []byte("abc"))
	if _, err := w.HashStored(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		m      *mfeed
		status string
	}{
		{"replica", ptFS(t, r, reg, Options{}, &log), ptReplica},
		// Complete, but no OS file to hand the kernel.
		{"memory", ptFS(t, mem, reg, Options{}, &log), ptReady},
		{"no registry", ptFS(t, w, nil, Options{}, &log), ptOff},
	} {
		h, fl := openKindOf(t, c.m, syscall.O_RDONLY)
		wantPT(t, c.name, h, fl, false, fuse.FOPEN_KEEP_CACHE)
		c.m.dataOps().Release(context.Background(), h)
		c.m.pt.lastOther = time.Time{}
		if s := c.m.ptStatus(); s != c.status {
			t.Errorf("%s: status %q, want %q", c.name, s, c.status)
		}
	}
	if reg.registered != 0 {
		t.Errorf("%d backing files registered", reg.registered)
	}
}

// VerifyOnMount hashes every block in the background, after which data
// passes through; Close stops it.
func TestVerifyOnMount(t *testing.T) {
	blocks := make([][]byte, 300)
	for i := range blocks {
		blocks[i] = bytes.Repeat([]byte{byte(i)}, 1000+i)
	}
	f := diskFeed(t, blocks...)
	var log bytes.Buffer
	m := ptFS(t, f, &fakeRegistry{open: map[int32]bool{}}, Options{VerifyOnMount: true}, &log)
	if s := m.ptStatus(); s != ptUnverified {
		t.Errorf("before the pass: %q", s)
	}
	m.fsys.start()
	select {
	case <-m.fsys.verified:
	case <-time.After(30 * time.Second):
		t.Fatal("the verify pass did not end within 30 s")
	}
	if s := m.ptStatus(); s != ptReady {
		t.Errorf("after the pass: %q, want ready", s)
	}
	if m.reads.Load() != 0 {
		t.Error("the pass went through READ")
	}

	// Stopped early: Close waits for it and it ends.
	g := diskFeed(t, blocks...)
	m2 := ptFS(t, g, &fakeRegistry{open: map[int32]bool{}}, Options{VerifyOnMount: true}, &log)
	m2.fsys.start()
	if err := m2.fsys.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-m2.fsys.verified:
	default:
		t.Error("the pass still runs after Close")
	}
	if log.Len() != 0 {
		t.Errorf("logged:\n%s", log.String())
	}
}
