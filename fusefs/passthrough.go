package fusefs

import (
	"errors"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/hyperfs/hyperfs/feed"
)

// Passthrough (Linux 6.9+, root): a read-only open of data whose data file
// is byte for byte the verified feed is answered with the file as backing
// file, and the kernel then reads it itself, never asking the daemon
// (FUSE-NOTES.md section 4). The rules, and why:
//
//   - Only a writable feed (one this home appends to) whose LocalState is
//     Complete: every block stored and hashed since open, the file ending
//     at the byte length, and not empty. The kernel reads to the backing
//     file's end, not to the size Getattr reports, and the engine promises
//     that bytes failing their hash are never returned. A writable feed
//     only grows by Append, which writes its own bytes at the end; a
//     replica grows by downloads that may land past a hole (blocks arrive
//     in any order), which a passthrough reader would read as zeros, and
//     an open passthrough handle cannot be revoked. So replicas are served
//     by the daemon. A feed is not verified after the mount opens it: the
//     first full read (or Options.VerifyOnMount) hashes it, later opens
//     pass through.
//   - The kernel allows no mix of modes on one inode: while a passthrough
//     handle is open every other open of data must be passthrough too
//     (else EIO), and a passthrough open fails while a page-cached handle
//     is open. So passthrough starts only when no other data handle is
//     open, and while one is open every open (appends too, and reads that
//     no longer qualify) gets the backing with FOPEN_DIRECT_IO, which
//     sends its reads and writes to the daemon as before (direct I/O
//     overrides passthrough; only mmap of such a handle maps the backing
//     file). Appends are never written by the kernel into the file.
//   - go-fuse (v2.12.1) registers the backing file once per inode and
//     reuses it for every later open whose handle implements
//     fs.FilePassthroughFder, and drops a reference at the release of
//     every handle of the inode, passthrough or not. A handle released
//     just as the first passthrough open registers would drop that open's
//     reference, and the next open would then fail. So passthrough also
//     waits ptQuiet after the release of a daemon-served handle.
//   - One failed registration turns passthrough off for the whole mount in
//     go-fuse, so before the first passthrough open the mount registers
//     the file itself once (probe); if the kernel refuses (not root, an
//     older kernel) the mount logs one line and serves data as before.
//
// What an open passthrough handle still sees (it cannot be revoked):
// appends (every handle with the backing file shares the data file, see
// feed.ShareData, so the bytes of an append are in the file before it
// returns, where otherwise small ones wait in the daemon's memory; a
// failing append may leave bytes there until the next append overwrites
// them); Clear, which forgets blocks but leaves their
// verified bytes in the file, except at the end, which it cuts off (the
// reader sees a shorter file); and bytes changed on disk after they were
// hashed, which the daemon, which hashes each block once after open, would
// also return. New opens go back to the daemon as soon as the feed is no
// longer Complete.

// ptQuiet is how long after the release of a daemon-served data handle
// passthrough waits to start (see above): go-fuse drops its reference
// right after the release handler returns, so this is far more than
// needed.
const ptQuiet = 100 * time.Millisecond

// What info's "passthrough" says of a feed's data.
const (
	ptActive      = "active"      // a passthrough handle is open
	ptReady       = "ready"       // the next read-only open passes through
	ptOff         = "off"         // disabled (Options.NoPassthrough, macOS, not mounted)
	ptUnavailable = "unavailable" // the kernel refused the backing file
	ptReplica     = "replica"     // never for replicas
	ptIncomplete  = "incomplete"  // empty, blocks missing, or the file is not the feed
	ptUnverified  = "unverified"  // blocks not hashed since open
	ptBusy        = "busy"        // other data handles open, or just closed
)

// openKind is how an open of data is served.
type openKind int

const (
	openCached      openKind = iota // daemon-served, page cache kept
	openAppend                      // daemon-served append, direct I/O
	openPassthrough                 // the kernel reads the backing file
	openJoinDirect                  // backing set (others pass through), direct I/O to the daemon
)

// openFacts is what decides an open of data.
type openFacts struct {
	appender bool   // an O_APPEND write open
	avail    string // "" if passthrough may be tried, else ptOff or ptUnavailable
	writable bool
	local    feed.LocalState
	open, pt int  // data handles open, and of them passthrough ones
	quiet    bool // no daemon-served handle released within ptQuiet
}

// decideOpen is the whole passthrough decision (see the top of the file),
// with the status info shows for read-only opens.
func decideOpen(in openFacts) (openKind, string) {
	status := eligible(in)
	if in.pt > 0 {
		if !in.appender && status == "" {
			return openPassthrough, ptActive
		}
		return openJoinDirect, ptActive
	}
	if in.appender {
		return openAppend, status
	}
	switch {
	case status != "":
	case in.open > 0 || !in.quiet:
		status = ptBusy
	default:
		return openPassthrough, ptReady
	}
	return openCached, status
}

// eligible is "" when the feed's data file may back a read-only open,
// else why not.
func eligible(in openFacts) string {
	s := in.local
	switch {
	case in.avail != "":
		return in.avail
	case !in.writable:
		return ptReplica
	case s.ByteLength == 0 || s.Stored != s.Length || s.DataSize != int64(s.ByteLength):
		return ptIncomplete
	case !s.Complete():
		return ptUnverified
	}
	return ""
}

// backingRegistry is the kernel's table of backing files (*fuse.Server on
// Linux); tests fake it.
type backingRegistry interface {
	RegisterBackingFd(m *fuse.BackingMap) (int32, syscall.Errno)
	UnregisterBackingFd(id int32) syscall.Errno
}

// ptMount is the mount's passthrough state, in FS.
type ptMount struct {
	mu  sync.Mutex
	reg backingRegistry // nil: off (not mounted, macOS, disabled)
	// probed is set once the kernel has accepted (ok) or refused a
	// backing file.
	probed, ok bool
}

// avail is "" while passthrough may be tried, else ptOff or ptUnavailable.
func (p *ptMount) avail() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case p.reg == nil:
		return ptOff
	case p.probed && !p.ok:
		return ptUnavailable
	}
	return ""
}

// probe registers file as a backing file and unregisters it at once, the
// first time only, and reports whether the kernel accepts backing files.
// A refusal is logged once and turns passthrough off for the mount.
func (fsys *FS) probe(file *os.File) bool {
	p := &fsys.pt
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.reg == nil {
		return false
	}
	if p.probed {
		return p.ok
	}
	p.probed = true
	id, errno := p.reg.RegisterBackingFd(&fuse.BackingMap{Fd: int32(file.Fd())})
	if errno != 0 {
		fsys.log.Warn("fusefs: passthrough unavailable (it needs root and Linux 6.9 or later); data is read through hyperfs", "err", errno)
		return false
	}
	if errno := p.reg.UnregisterBackingFd(id); errno != 0 {
		fsys.log.Warn("fusefs: unregister probe backing file", "id", id, "err", errno)
	}
	p.ok = true
	return true
}

// ptInode is one data inode's count of open handles, which the kernel's
// rules above depend on.
type ptInode struct {
	mu sync.Mutex
	// open counts data handles from Open to Release; pt those of them
	// that are passthrough handles (always 0 or all of them).
	open, pt int
	// lastOther is when the last daemon-served handle was released.
	lastOther time.Time
}

// ptHandle is a data handle that offers the kernel the data file as
// backing file (fs.FilePassthroughFder). go-fuse asks only the open that
// registers it; every later open of a ptHandle while one is registered
// shares it.
type ptHandle struct {
	dataHandle
	m *mfeed
	// file is the descriptor registered, opened by the open that starts
	// passthrough (or when go-fuse asks another), closed at release: the
	// kernel keeps its own reference to the file.
	mu   sync.Mutex
	file *os.File
	// unshare ends the handle's share of the data file (feed.ShareData):
	// the kernel may read the file for as long as the handle is open.
	unshare func()
}

// PassthroughFd implements fs.FilePassthroughFder.
func (h *ptHandle) PassthroughFd() (int, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.file == nil {
		f, err := h.m.f.DataFile()
		if err != nil {
			h.m.fsys.log.Warn("fusefs: no backing file for data", "feed", h.m.tag, "err", err)
			return 0, false
		}
		h.file = f
	}
	return int(h.file.Fd()), true
}

func (h *ptHandle) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.file != nil {
		h.file.Close()
		h.file = nil
	}
	h.unshare()
}

// handleOf returns the dataHandle inside either handle type.
func handleOf(f any) *dataHandle {
	switch h := f.(type) {
	case *dataHandle:
		return h
	case *ptHandle:
		return &h.dataHandle
	}
	return nil
}

// openData makes the handle for an allowed open of data and counts it.
// The inode's lock is held across the decision and the count, so two
// opens cannot both start passthrough or miss each other; it is also held
// across the dup and the probe's two ioctls on the first passthrough open
// (no waits).
func (m *mfeed) openData(appender, nonblock bool) (any, uint32) {
	local, err := m.f.LocalState()
	if err != nil {
		local = feed.LocalState{} // not complete: served by the daemon
	}
	p := &m.pt
	p.mu.Lock()
	defer p.mu.Unlock()
	kind, _ := decideOpen(openFacts{
		appender: appender,
		avail:    m.fsys.pt.avail(),
		writable: m.f.Writable(),
		local:    local,
		open:     p.open,
		pt:       p.pt,
		quiet:    time.Since(p.lastOther) >= ptQuiet,
	})
	var file *os.File
	unshare := func() {}
	if kind == openPassthrough || kind == openJoinDirect {
		// The kernel may read the file while the handle is open: what
		// waits in memory is written first, and later writes are not
		// held back. A join cannot fall back (the kernel allows no mix
		// of modes), but then another handle shares the file already,
		// nothing waits, and sharing cannot fail.
		if release, err := m.f.ShareData(); err == nil {
			unshare = release
		} else {
			m.fsys.log.Warn("fusefs: data file not written out; no passthrough", "feed", m.tag, "err", err)
			if kind == openPassthrough {
				kind = openCached
			}
		}
	}
	if kind == openPassthrough && p.pt == 0 {
		if file, err = m.f.DataFile(); err != nil {
			if !errors.Is(err, feed.ErrNotAvailable) { // memory storage
				m.fsys.log.Warn("fusefs: no backing file for data", "feed", m.tag, "err", err)
			}
			kind = openCached
		} else if !m.fsys.probe(file) {
			file.Close()
			file, kind = nil, openCached
		}
		if kind == openCached {
			unshare()
		}
	}
	p.open++
	switch kind {
	case openPassthrough:
		p.pt++
		// go-fuse clears KEEP_CACHE when it sets FOPEN_PASSTHROUGH; it
		// stays if the kernel refuses the file, and the handle is then
		// an ordinary cached one.
		return &ptHandle{dataHandle: dataHandle{nonblock: nonblock}, m: m, file: file, unshare: unshare}, fuse.FOPEN_KEEP_CACHE
	case openJoinDirect:
		p.pt++
		return &ptHandle{dataHandle: dataHandle{appender: appender, nonblock: nonblock}, m: m, unshare: unshare}, fuse.FOPEN_DIRECT_IO
	case openAppend:
		return &dataHandle{appender: true, nonblock: nonblock}, fuse.FOPEN_DIRECT_IO
	}
	return &dataHandle{nonblock: nonblock}, fuse.FOPEN_KEEP_CACHE
}

// releaseData uncounts a data handle.
func (m *mfeed) releaseData(f any) {
	p := &m.pt
	p.mu.Lock()
	defer p.mu.Unlock()
	p.open--
	if h, ok := f.(*ptHandle); ok {
		p.pt--
		h.close()
		return
	}
	p.lastOther = time.Now()
}

// ptStatus is info's "passthrough": what a read-only open of data would
// get now.
func (m *mfeed) ptStatus() string {
	local, err := m.f.LocalState()
	if err != nil {
		local = feed.LocalState{}
	}
	p := &m.pt
	p.mu.Lock()
	defer p.mu.Unlock()
	_, status := decideOpen(openFacts{
		avail:    m.fsys.pt.avail(),
		writable: m.f.Writable(),
		local:    local,
		open:     p.open,
		pt:       p.pt,
		quiet:    time.Since(p.lastOther) >= ptQuiet,
	})
	return status
}
