package index

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// DefaultCacheSize is the block cache of an index when Options leave it 0:
// enough for the hot offsets and nodes of many feeds, small beside a mount.
const DefaultCacheSize = 64 << 20

// DefaultNodeCacheSize bounds the in-memory tree nodes of an index when
// Options leave it 0: about 37 000 nodes, the upper levels of many feeds
// and the recent leaves. 16 MiB made random proofs on a 1M-block feed
// 25% cheaper (17.6 against 23.4 us), but a seeder of a 100 000-block
// feed then grew to ~75 MiB (VmHWM; ~51 with 4 MiB), past the 64 MiB a
// seeder may take (bench/replicate.sh): the cache's heap counts twice
// under the GC's default headroom.
const DefaultNodeCacheSize = 4 << 20

// DefaultOffsetCacheSize bounds the offset pages of an index when Options
// leave it 0: the offsets of about 1.6 million blocks.
const DefaultOffsetCacheSize = 32 << 20

// Table tags, the first byte of every key (see the package doc).
const (
	tagName    = 'n'
	tagFeed    = 'f'
	tagState   = 's'
	tagPage    = 'p'
	tagPageEnd = 'e'
	// tagBlock and tagOffset were tables of a key per block, now pages
	// (page.go); Open deletes them, and the states, so that every feed
	// indexes itself again on open.
	tagBlock  = 'b'
	tagOffset = 'o'
	// tagNode was a table of tree nodes, now kept in memory instead
	// (nodecache.go); Open deletes what earlier versions left of it.
	tagNode = 't'
)

// ErrReadOnly reports an index that was opened read-only, or that fell
// back to read-only because its disk refused writes.
var ErrReadOnly = errors.New("index: read-only")

// ErrUnusable reports an index that stopped taking writes after Pebble
// failed one it cannot recover from (see DB.write). Callers fall back to
// the feeds' own files, as without an index.
var ErrUnusable = errors.New("index: unusable after a failed write")

// ErrDiskFull reports a write refused because the index's disk has less
// than MinFreeBytes free.
var ErrDiskFull = errors.New("index: disk nearly full")

// MinFreeBytes is the free space below which the index stops writing.
// Pebble panics when its WAL write fails (and can die with a fatal error
// while rotating its WAL), so a write must not reach a full disk: below
// this the index refuses writes with ErrDiskFull, and feeds fall back to
// their tree files. It leaves room for a few memtable flushes.
const MinFreeBytes = 64 << 20

// diskCheckEvery is how long a free-space reading is trusted (a statfs
// per append would cost about 2% at 20 000 appends/s). Tests set it to 0.
var diskCheckEvery = 250 * time.Millisecond

// Options configure Open.
type Options struct {
	// CacheSize is Pebble's block cache in bytes; 0 means DefaultCacheSize.
	CacheSize int64
	// OffsetCacheSize bounds the in-memory pages of block offsets kept
	// in front of Pebble (offsetcache.go), in bytes, for all feeds
	// together; 0 means DefaultOffsetCacheSize.
	OffsetCacheSize int64
	// NodeCacheSize bounds the tree nodes kept in memory in front of the
	// feeds' tree files (nodecache.go), in bytes, for all feeds together;
	// 0 means DefaultNodeCacheSize.
	NodeCacheSize int64
	// FS replaces the OS file system (tests use vfs.NewCrashableMem).
	FS vfs.FS
	// ReadOnly opens without writing anything.
	ReadOnly bool
	// Logger receives Pebble's messages and the index's own; nil discards.
	Logger *slog.Logger
}

// DB is one home's index.
type DB struct {
	db       *pebble.DB
	log      *slog.Logger
	readOnly bool
	offsets  *offsetCache
	nodes    *nodeCache
	// registryMu makes the check and the commit of a registry write one step,
	// so that two writers cannot both take a name. One process holds a given
	// index (Pebble locks its directory), so a process-wide mutex is enough;
	// it is held around one read and one unsynced commit, never a sync.
	registryMu sync.Mutex

	// writeMu serialises every commit to Pebble, so that when one fails
	// inside Pebble no other writer is in there with it (see write).
	// It is taken after registryMu, never before.
	writeMu sync.Mutex
	// broken is set once a write failed inside Pebble; nothing is written
	// after it, and Close leaves Pebble open.
	broken atomic.Bool

	fs  vfs.FS
	dir string
	// full and fullChecked (unix nanoseconds) are the last free-space
	// reading (see roomy); guarded by writeMu.
	full        bool
	fullChecked int64
}

// roomy reports whether the index's disk has MinFreeBytes free, reading
// it at most every diskCheckEvery. A file system that cannot tell is
// taken to have room. Called with writeMu held.
func (d *DB) roomy() bool {
	now := time.Now().UnixNano()
	if now-d.fullChecked < int64(diskCheckEvery) {
		return !d.full
	}
	d.fullChecked = now
	u, err := d.fs.GetDiskUsage(d.dir)
	full := err == nil && u.AvailBytes < MinFreeBytes
	if full && !d.full {
		d.log.Warn("index disk nearly full; the index takes no writes until there is room", "dir", d.dir, "free", u.AvailBytes)
	}
	d.full = full
	return !full
}

// write runs fn, which commits to Pebble, unless the index is broken.
//
// Pebble panics when it cannot write its WAL (a full disk), with its
// commit pipeline still locked: a later commit, or Close, would wait on
// that lock forever. The index is a cache, so that must not take the
// process down: the panic is recovered here, the index is marked broken
// and every later write fails with ErrUnusable, which feeds answer by
// falling back to their tree files (logging it once each).
func (d *DB) write(what string, fn func() error) (err error) {
	d.writeMu.Lock()
	defer d.writeMu.Unlock()
	if d.broken.Load() {
		return fmt.Errorf("%s: %w", what, ErrUnusable)
	}
	if !d.roomy() {
		return fmt.Errorf("%s: %w", what, ErrDiskFull)
	}
	defer func() {
		if r := recover(); r != nil {
			d.broken.Store(true)
			d.log.Error("index write failed inside Pebble; the index takes no more writes until restart", "op", what, "err", r)
			err = fmt.Errorf("%s: %w: %v", what, ErrUnusable, r)
		}
	}()
	return fn()
}

// Open opens or creates the index in dir.
func Open(dir string, opts Options) (*DB, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	size := opts.CacheSize
	if size <= 0 {
		size = DefaultCacheSize
	}
	cache := pebble.NewCache(size)
	defer cache.Unref() // the DB holds its own reference
	po := &pebble.Options{
		Cache:    cache,
		FS:       opts.FS,
		ReadOnly: opts.ReadOnly,
		Logger:   pebbleLogger{log},
	}
	db, err := pebble.Open(dir, po)
	if err != nil {
		return nil, fmt.Errorf("open index %s: %w", dir, err)
	}
	osize := opts.OffsetCacheSize
	if osize <= 0 {
		osize = DefaultOffsetCacheSize
	}
	nsize := opts.NodeCacheSize
	if nsize <= 0 {
		nsize = DefaultNodeCacheSize
	}
	fs := opts.FS
	if fs == nil {
		fs = vfs.Default
	}
	d := &DB{db: db, log: log, readOnly: opts.ReadOnly, offsets: newOffsetCache(osize), nodes: newNodeCache(nsize), fs: fs, dir: dir}
	if err := d.dropOldTables(); err != nil {
		d.db.Close()
		return nil, fmt.Errorf("open index %s: %w", dir, err)
	}
	return d, nil
}

// oldTables are what earlier versions kept and this one does not: when a
// key with the marker tag is found, the tables in drop are deleted, each
// with one range deletion, once. A table is vouched for when a state
// still in place would make feeds trust it: then an index that cannot
// drop it (read-only, or failing) must not be used at all.
var oldTables = []struct {
	marker  byte
	drop    []byte
	vouched bool
}{
	{tagNode, []byte{tagNode}, false},
	// Without the states each feed indexes itself again, into pages,
	// on its next open.
	{tagBlock, []byte{tagBlock, tagOffset, tagState}, true},
}

// ErrOldFormat reports an index of an earlier layout opened read-only: a
// writable open converts it.
var ErrOldFormat = errors.New("index: written by an earlier version; open it writable once to convert it")

// dropOldTables deletes the tables of earlier versions (oldTables). What
// is left of a table nothing vouches for is never read, so failing to
// drop one only costs a warning; for the others it is an error.
func (d *DB) dropOldTables() error {
	for _, t := range oldTables {
		err := d.dropOld(t.marker, t.drop)
		if err == nil {
			continue
		}
		if t.vouched {
			return err
		}
		d.log.Warn("index: old table left in place", "dir", d.dir, "err", err)
	}
	return nil
}

// dropOld deletes the tables in drop if the marker table has a key.
func (d *DB) dropOld(marker byte, drop []byte) error {
	it, err := d.db.NewIter(&pebble.IterOptions{LowerBound: []byte{marker}, UpperBound: []byte{marker + 1}})
	if err != nil {
		return fmt.Errorf("drop old tables: %w", err)
	}
	found := it.First()
	if err := it.Close(); err != nil {
		return fmt.Errorf("drop old tables: %w", err)
	}
	if !found {
		return nil
	}
	if d.readOnly {
		return ErrOldFormat
	}
	err = d.write("drop old tables", func() error {
		b := d.db.NewBatch()
		defer b.Close()
		for _, tag := range drop {
			if err := b.DeleteRange([]byte{tag}, []byte{tag + 1}, nil); err != nil {
				return err
			}
		}
		return b.Commit(pebble.NoSync)
	})
	if err != nil {
		return fmt.Errorf("drop old tables %q: %w", drop, err)
	}
	return nil
}

// Compact compacts the whole database now, so that no background
// compaction follows: after a rebuild of many feeds, or before measuring.
func (d *DB) Compact(ctx context.Context) error {
	if err := d.db.Compact(ctx, []byte{0}, []byte{0xff}, true); err != nil {
		return fmt.Errorf("compact index: %w", err)
	}
	return nil
}

// Close closes the database. A broken index (see write) is left to the
// process's exit: Pebble's Close would wait forever on the lock its
// failed write left held.
func (d *DB) Close() error {
	if d.broken.Load() {
		return fmt.Errorf("close index: %w", ErrUnusable)
	}
	if err := d.db.Close(); err != nil {
		return fmt.Errorf("close index: %w", err)
	}
	return nil
}

// pebbleLogger sends Pebble's messages to slog. Pebble calls Fatalf only
// for broken internal invariants, after which it cannot go on; like its
// default logger, this one exits.
type pebbleLogger struct{ log *slog.Logger }

func (l pebbleLogger) Infof(format string, args ...any) {
	l.log.Debug("pebble: " + fmt.Sprintf(format, args...))
}

func (l pebbleLogger) Errorf(format string, args ...any) {
	l.log.Warn("pebble: " + fmt.Sprintf(format, args...))
}

func (l pebbleLogger) Fatalf(format string, args ...any) {
	l.log.Error("pebble: " + fmt.Sprintf(format, args...))
	os.Exit(70) // EX_SOFTWARE
}

// key builds a key from a tag and parts.
func key(tag byte, parts ...[]byte) []byte {
	n := 1
	for _, p := range parts {
		n += len(p)
	}
	k := make([]byte, 1, n)
	k[0] = tag
	for _, p := range parts {
		k = append(k, p...)
	}
	return k
}

// prefixEnd returns the first key after every key starting with p.
func prefixEnd(p []byte) []byte {
	end := append([]byte(nil), p...)
	for i := len(end) - 1; i >= 0; i-- {
		end[i]++
		if end[i] != 0 {
			return end[:i+1]
		}
	}
	return nil // p is all 0xff: no upper bound
}
