package main

import (
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"syscall"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/hyperfs/hyperfs/feed"
	"github.com/hyperfs/hyperfs/index"
)

// The registry of a home is its index (HOME/index), which one process at a
// time may hold: Pebble locks the directory. Commands therefore open it
// late and close it early, around each look-up or write, and wait up to
// indexLockWait for another hyperfs to let go of it. Look-ups open it
// read-only, which writes and syncs nothing.
//
// Commands that only read (resolving a FEED argument, list) fall back to
// scanning HOME/feeds when the index cannot be opened at all, e.g. on a
// read-only disk, and say so once in the log.

// indexLockWait is how long a command waits for another process to close
// the index.
const indexLockWait = 5 * time.Second

// registry is what reading commands ask of the feed registry. *index.DB
// answers from the index, scanRegistry from the feed directories.
type registry interface {
	ByName(name string) (index.Feed, error)
	ByKey(key [32]byte) (index.Feed, error)
	List() ([]index.Feed, error)
}

// withRegistry runs fn on the registry of h: the index, or a scan of
// HOME/feeds when the index cannot be opened. A home that does not exist
// yet is read as empty, without creating anything.
func (c *cli) withRegistry(h home, fn func(registry) error) (err error) {
	if !exists(h.indexDir()) && !exists(h.feedsDir()) && !exists(h.namesPath()) {
		return fn(scanRegistry{c: c, h: h})
	}
	db, err := c.openIndex(h, false)
	if err != nil {
		c.indexUnavailable(err)
		return fn(scanRegistry{c: c, h: h})
	}
	defer c.closeIndex(db, &err)
	return fn(db)
}

// withIndex runs fn on the index of h, which it opens and closes; commands
// that write need it.
func (c *cli) withIndex(h home, fn func(*index.DB) error) (err error) {
	db, err := c.openIndex(h, true)
	if err != nil {
		return err
	}
	defer c.closeIndex(db, &err)
	return fn(db)
}

// closeIndex closes an index a command opened; the one the home's owner
// holds for its lifetime stays open.
func (c *cli) closeIndex(db *index.DB, err *error) {
	if db == c.db {
		return
	}
	if cerr := db.Close(); cerr != nil && *err == nil {
		*err = cerr
	}
}

// indexUnavailable logs, once per command, that the index could not be
// opened and the feed directories are read instead.
func (c *cli) indexUnavailable(err error) {
	if c.indexWarned {
		return
	}
	c.indexWarned = true
	newLogger(c).Warn("index unavailable; reading the feed directories instead", "err", err)
}

// openIndex opens HOME/index, read-only unless write is set or the
// registry needs filling (see prepareIndex): a read-only open writes and
// syncs nothing.
func (c *cli) openIndex(h home, write bool) (*index.DB, error) {
	if c.db != nil {
		return c.db, nil
	}
	if !write && exists(h.indexDir()) {
		db, err := c.openRetry(h, true)
		if err == nil {
			ready, err := c.indexReady(h, db)
			if err == nil && ready {
				return db, nil
			}
			db.Close()
			if err != nil {
				return nil, err
			}
		} else if !errors.Is(err, pebble.ErrDBDoesNotExist) && !errors.Is(err, index.ErrOldFormat) {
			// An index of an earlier layout is converted by the
			// writable open below.
			return nil, err
		}
	}
	if err := os.MkdirAll(h.dir, 0o755); err != nil {
		return nil, fmt.Errorf("create home %s: %w", h.dir, err)
	}
	db, err := c.openRetry(h, false)
	if err != nil {
		return nil, err
	}
	if err := c.prepareIndex(h, db); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// openRetry opens HOME/index, retrying with backoff while another process
// holds its lock, for up to indexLockWait.
func (c *cli) openRetry(h home, readOnly bool) (*index.DB, error) {
	deadline := time.Now().Add(indexLockWait)
	delay := 2 * time.Millisecond
	for {
		db, err := index.Open(h.indexDir(), index.Options{Logger: newLogger(c), ReadOnly: readOnly})
		if err == nil || !lockHeld(err) {
			return db, err
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%w (another hyperfs process has held it for %v)", err, indexLockWait)
		}
		time.Sleep(delay + rand.N(delay)) // jitter spreads out the waiters
		delay = min(2*delay, 100*time.Millisecond)
	}
}

// lockHeld reports whether err says another process holds the index's
// lock: fcntl's EAGAIN or EACCES on the lock file itself, not a
// permission error from opening a file (*fs.PathError).
func lockHeld(err error) bool {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return false
	}
	return errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EACCES)
}

// indexReady reports whether prepareIndex has nothing to do.
func (c *cli) indexReady(h home, db *index.DB) (bool, error) {
	if exists(h.namesPath()) {
		return false, nil
	}
	has, err := db.HasFeeds()
	if err != nil || has {
		return has, err
	}
	entries, err := os.ReadDir(h.feedsDir())
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false, fmt.Errorf("scan feeds: %w", err)
	}
	for _, e := range entries {
		if _, ok := parseKey(e.Name()); ok && e.IsDir() {
			return false, nil // feeds the registry has not seen
		}
	}
	return true, nil
}

// prepareIndex fills an empty registry from the feed directories (the
// index was deleted, or never existed) and migrates HOME/names.json.
func (c *cli) prepareIndex(h home, db *index.DB) error {
	has, err := db.HasFeeds()
	if err != nil {
		return err
	}
	if !has {
		if err := c.rebuild(h, db); err != nil {
			return err
		}
	}
	if exists(h.namesPath()) {
		return c.migrateNames(h, db)
	}
	return nil
}

// rebuild registers every feed directory of h in one batch, so that a
// crash leaves the registry empty and the next open rebuilds it again.
func (c *cli) rebuild(h home, db *index.DB) error {
	recs, err := c.scan(h, true)
	if err != nil || len(recs) == 0 {
		return err
	}
	newLogger(c).Info("rebuilding the feed registry from the feed directories", "dir", h.feedsDir(), "feeds", len(recs))
	if _, err := db.PutAll(recs); err != nil {
		return fmt.Errorf("rebuild the registry: %w", err)
	}
	return nil
}

// noteFeed brings the registry's record of f, opened at t, up to date with
// its lengths. The record is a cache, so a failure is only logged.
func (c *cli) noteFeed(f *feed.Feed, t target) {
	if !t.inHome || c.indexWarned {
		return
	}
	h, err := c.home()
	if err != nil {
		return
	}
	now := recordOf(f)
	err = c.withIndex(h, func(db *index.DB) error {
		rec, err := db.ByKey(now.Key)
		if errors.Is(err, index.ErrNotFound) {
			// A feed directory the registry missed (a crash
			// between the two, or a copy made by hand).
			return registerFound(db, now, readMeta(t.dir).Name)
		}
		if err != nil {
			return err
		}
		if rec.Length == now.Length && rec.ByteLength == now.ByteLength &&
			rec.Downloaded == now.Downloaded && rec.Writable == now.Writable {
			return nil
		}
		rec.Length, rec.ByteLength, rec.Downloaded = now.Length, now.ByteLength, now.Downloaded
		rec.Writable = now.Writable
		_, err = db.Put(rec)
		return err
	})
	if err != nil {
		newLogger(c).Warn("could not update the feed registry", "feed", fmt.Sprintf("%x", now.Key[:8]), "err", err)
	}
}

// registerFound registers a feed found on disk under name, or unnamed if
// the name is invalid or taken.
func registerFound(db *index.DB, rec index.Feed, name string) error {
	if index.ValidName(name, rec.Key) == nil {
		rec.Name = name
		_, err := db.Put(rec)
		if !errors.Is(err, index.ErrNameTaken) {
			return err
		}
	}
	rec.Name = ""
	_, err := db.Put(rec)
	return err
}

// recordOf is the registry record of an open feed, name aside.
func recordOf(f *feed.Feed) index.Feed {
	length := f.Length()
	rec := index.Feed{
		Key:        key32(f),
		Writable:   f.Writable(),
		Length:     length,
		ByteLength: f.ByteLength(),
		Downloaded: f.Downloaded(0, length),
	}
	rec.Sparse = rec.Downloaded < rec.Length
	return rec
}
