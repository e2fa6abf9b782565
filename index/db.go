package index

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// DefaultCacheSize is the block cache of an index when Options leave it 0:
// enough for the hot offsets and nodes of many feeds, small beside a mount.
const DefaultCacheSize = 64 << 20

// DefaultNodeCacheSize bounds the in-memory tree nodes of an index when
// Options leave it 0: about 150 000 nodes, the upper levels of many feeds
// and the recent leaves.
const DefaultNodeCacheSize = 16 << 20

// DefaultOffsetCacheSize bounds the offset pages of an index when Options
// leave it 0: the offsets of about 1.6 million blocks.
const DefaultOffsetCacheSize = 32 << 20

// Table tags, the first byte of every key (see the package doc).
const (
	tagName   = 'n'
	tagFeed   = 'f'
	tagState  = 's'
	tagBlock  = 'b'
	tagOffset = 'o'
	// tagNode was a table of tree nodes, now kept in memory instead
	// (nodecache.go); Open deletes what earlier versions left of it.
	tagNode = 't'
)

// ErrReadOnly reports an index that was opened read-only, or that fell
// back to read-only because its disk refused writes.
var ErrReadOnly = errors.New("index: read-only")

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
	if !opts.ReadOnly {
		if err := dropNodeTable(db); err != nil {
			db.Close()
			return nil, fmt.Errorf("open index %s: %w", dir, err)
		}
	}
	osize := opts.OffsetCacheSize
	if osize <= 0 {
		osize = DefaultOffsetCacheSize
	}
	nsize := opts.NodeCacheSize
	if nsize <= 0 {
		nsize = DefaultNodeCacheSize
	}
	return &DB{db: db, log: log, readOnly: opts.ReadOnly, offsets: newOffsetCache(osize), nodes: newNodeCache(nsize)}, nil
}

// dropNodeTable deletes the node table of earlier versions, if any is
// left: one range deletion, once.
func dropNodeTable(db *pebble.DB) error {
	lo, hi := []byte{tagNode}, []byte{tagNode + 1}
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return fmt.Errorf("drop node table: %w", err)
	}
	found := it.First()
	if err := it.Close(); err != nil {
		return fmt.Errorf("drop node table: %w", err)
	}
	if !found {
		return nil
	}
	if err := db.DeleteRange(lo, hi, pebble.NoSync); err != nil {
		return fmt.Errorf("drop node table: %w", err)
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

// Close closes the database.
func (d *DB) Close() error {
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
