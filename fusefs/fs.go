package fusefs

import (
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"

	"github.com/hyperfs/hyperfs/feed"
)

// DefaultFetchTimeout bounds a read's wait for a missing block: well under
// macFUSE's 60 s daemon timeout.
const DefaultFetchTimeout = 20 * time.Second

// Entry is one feed to mount: its directory name (the feed's name, or its
// key in 64 hex digits) and the open feed. The caller owns the feed and
// closes it after the mount is closed.
type Entry struct {
	Name string
	Feed *feed.Feed
}

// Home is what the mount asks of the home it serves; cmd/hyperfs
// implements it over the feed registry. Its methods run inside request
// handlers and must not touch the mount.
type Home interface {
	// Create makes a new writable feed registered under name (mkdir),
	// with the rules of `hyperfs create`. Errors wrap index.ErrBadName
	// or index.ErrNameTaken when the name is the problem.
	Create(ctx context.Context, name string) (*feed.Feed, error)
	// Follow opens the feed with this key as a sparse replica that
	// replication fills (a lookup of a 64-hex name not in the home).
	// ErrNoFeed when it cannot: the seam for the peer layer.
	Follow(ctx context.Context, key [32]byte) (*feed.Feed, error)
}

// Options configure a mount.
type Options struct {
	Feeds []Entry
	// Home creates and follows feeds; nil makes mkdir EPERM and
	// unknown keys ENOENT.
	Home Home
	// FetchTimeout bounds a read's wait for a block that is not local;
	// 0 means DefaultFetchTimeout.
	FetchTimeout time.Duration
	// StatfsDir is the directory whose file system statfs reports (the
	// home); "" reports zeros.
	StatfsDir string
	// AllowOther lets other users use the mount (allow_other).
	AllowOther bool
	// UID and GID own every file; the mounting user in practice.
	UID, GID uint32
	// Logger receives one line per unexpected error; nil discards.
	Logger *slog.Logger
	// Debug logs every FUSE request (go-fuse's debug output).
	Debug bool
	// NoPassthrough serves every read of data through the daemon, even
	// where the kernel could read the data file itself (passthrough.go).
	NoPassthrough bool
	// VerifyOnMount hashes every stored block of every feed once in the
	// background after mounting (one goroutine, one feed after another,
	// stopped by Close), so that reads of local feeds pass through
	// without a first full read through the daemon. It costs a read of
	// every feed's data.
	VerifyOnMount bool
}

// FS is the file system of one mount: the root directory and one mfeed
// per feed. Build it with New, then Mount it (or, in tests, attach the
// root to an unmounted go-fuse bridge and call node methods).
type FS struct {
	opts      Options
	log       *slog.Logger
	root      *rootNode
	mountTime time.Time

	// mu guards feeds and started. It is held only for map and slice
	// updates, never across a feed call that does I/O.
	mu struct {
		sync.Mutex
		feeds   map[string]*mfeed // by directory name
		started bool              // goroutines run (Mount called)
	}

	// ctx ends the goroutines; cancel and wg stop and wait for them.
	// Mount starts them, Close stops them.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	// kick wakes the syncer (room for one pending wake-up).
	kick chan struct{}
	// pt is the mount's passthrough state; Mount sets pt.reg.
	pt ptMount
	// verified is closed when the VerifyOnMount pass has ended.
	verified chan struct{}
}

// New builds the file system for opts without mounting it.
func New(opts Options) (*FS, error) {
	if opts.FetchTimeout <= 0 {
		opts.FetchTimeout = DefaultFetchTimeout
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	fsys := &FS{opts: opts, log: log, mountTime: time.Now(), kick: make(chan struct{}, 1), verified: make(chan struct{})}
	fsys.ctx, fsys.cancel = context.WithCancel(context.Background())
	fsys.mu.feeds = map[string]*mfeed{}
	for _, e := range opts.Feeds {
		if _, dup := fsys.mu.feeds[e.Name]; dup || e.Name == "" {
			return nil, fmt.Errorf("fusefs: feed directory name %q empty or used twice", e.Name)
		}
		fsys.mu.feeds[e.Name] = newMfeed(fsys, e)
	}
	fsys.root = &rootNode{fsys: fsys}
	return fsys, nil
}

// Root is the root node, for fs.Mount or fs.NewNodeFS.
func (fsys *FS) Root() fs.InodeEmbedder { return fsys.root }

// feed returns the mounted feed with directory name, or nil.
func (fsys *FS) feed(name string) *mfeed {
	fsys.mu.Lock()
	defer fsys.mu.Unlock()
	return fsys.mu.feeds[name]
}

// names returns the feed directory names, sorted.
func (fsys *FS) names() []string {
	fsys.mu.Lock()
	names := make([]string, 0, len(fsys.mu.feeds))
	for n := range fsys.mu.feeds {
		names = append(names, n)
	}
	fsys.mu.Unlock()
	slices.Sort(names)
	return names
}

// all returns every mounted feed.
func (fsys *FS) all() []*mfeed {
	fsys.mu.Lock()
	defer fsys.mu.Unlock()
	ms := make([]*mfeed, 0, len(fsys.mu.feeds))
	for _, m := range fsys.mu.feeds {
		ms = append(ms, m)
	}
	return ms
}

// byKey returns the mounted feed with this key, or nil.
func (fsys *FS) byKey(key [32]byte) *mfeed {
	for _, m := range fsys.all() {
		if [32]byte(m.f.Key()) == key {
			return m
		}
	}
	return nil
}

// add registers a feed that appeared while mounted (mkdir, follow). ok is
// false if the name is taken. The caller attaches its directory, then
// calls watchAdded.
func (fsys *FS) add(e Entry) (m *mfeed, ok bool) {
	fsys.mu.Lock()
	defer fsys.mu.Unlock()
	if _, dup := fsys.mu.feeds[e.Name]; dup {
		return nil, false
	}
	m = newMfeed(fsys, e)
	fsys.mu.feeds[e.Name] = m
	return m, true
}

// watchAdded starts the watcher of a feed added and attached while the
// mount runs.
func (fsys *FS) watchAdded(m *mfeed) {
	fsys.mu.Lock()
	defer fsys.mu.Unlock()
	if fsys.mu.started && fsys.ctx.Err() == nil {
		fsys.startWatch(m)
	}
}

// mfeed is one mounted feed: the feed and what the mount keeps about it.
type mfeed struct {
	fsys *FS
	f    *feed.Feed
	name string
	tag  string // key prefix for log lines

	// dir is the feed's directory node; its inode holds data, blocks and
	// info as persistent children once it is attached (see feedDir).
	dir *feedDir

	// appendMu makes a WRITE's offset check and its Append one step, so
	// two WRITEs cannot both pass the check for one offset. Held across
	// Append (which writes but never syncs), never across Sync.
	appendMu sync.Mutex

	// dirty is set by appends and cleared by the syncer before it syncs.
	dirty atomic.Bool
	// ownEnd is the byte length after this mount's last WRITE. The
	// kernel learnt that size from the WRITE itself, so the watcher
	// sends no notification while the byte length equals it.
	ownEnd atomic.Uint64

	// pt counts data's open handles for passthrough (passthrough.go).
	pt ptInode
	// reads counts the READs of data the daemon served (info's
	// data_reads): passthrough reads never arrive.
	reads atomic.Uint64
}

func newMfeed(fsys *FS, e Entry) *mfeed {
	m := &mfeed{fsys: fsys, f: e.Feed, name: e.Name, tag: hex.EncodeToString(e.Feed.Key()[:8])}
	m.dir = &feedDir{m: m}
	return m
}

// mtime is the time of the feed's last append or download, by whatever
// route: its data file's mtime. Taking it from the file (one fstat, small
// beside a FUSE round trip) rather than from a clock read when the mount
// sees an append keeps it monotonic across remounts: the kernel stamps the
// file with its coarse clock, which lags time.Now.
func (m *mfeed) mtime() time.Time {
	if t := m.f.ModTime(); !t.IsZero() {
		return t
	}
	return m.fsys.mountTime
}
