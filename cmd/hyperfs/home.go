package main

import (
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/hyperfs/hyperfs/feed"
	"github.com/hyperfs/hyperfs/index"
)

// home is the directory holding the feeds and their index:
//
//	HOME/feeds/KEY/              one hypercore 9 directory per feed (KEY: 64 hex)
//	HOME/feeds/KEY/hyperfs.json  {"name": "NAME"}: the feed's name, kept
//	                             where a rebuild of the index finds it
//	HOME/index/                  the Pebble index (package index): the
//	                             registry of feeds and names
//
// HOME/names.json, where names used to live, is migrated into the index
// and renamed names.json.migrated (see prepareIndex).
type home struct {
	dir string
}

// home resolves the home directory: --home, $HYPERFS_HOME,
// $XDG_DATA_HOME/hyperfs, ~/.local/share/hyperfs. Nothing is created.
// Inside the home's owner it is the owner's home. For a command that runs
// inside a live owner it returns *delegated instead: every command asks
// for its home before touching anything, so it can stop there.
func (c *cli) home() (home, error) {
	if c.own != nil {
		return c.own.h, nil
	}
	h, err := c.findHome()
	if err != nil || !c.viaOwner {
		return h, err
	}
	if c.delegated == nil {
		if conn := dialOwner(h); conn != nil {
			c.delegated = &delegated{conn: conn}
		} else {
			c.viaOwner = false // no owner: open the home directly
		}
	}
	if c.delegated != nil {
		return home{}, c.delegated
	}
	return h, nil
}

func (c *cli) findHome() (home, error) {
	if c.homeFlag != "" {
		return home{dir: c.homeFlag}, nil
	}
	if d := os.Getenv("HYPERFS_HOME"); d != "" {
		return home{dir: d}, nil
	}
	// The XDG spec says to ignore a relative XDG_DATA_HOME.
	if d := os.Getenv("XDG_DATA_HOME"); filepath.IsAbs(d) {
		return home{dir: filepath.Join(d, "hyperfs")}, nil
	}
	u, err := os.UserHomeDir()
	if err != nil {
		return home{}, fmt.Errorf("find the home directory (set --home or $HYPERFS_HOME): %w", err)
	}
	return home{dir: filepath.Join(u, ".local", "share", "hyperfs")}, nil
}

func (h home) feedsDir() string            { return filepath.Join(h.dir, "feeds") }
func (h home) feedDir(key string) string   { return filepath.Join(h.feedsDir(), key) }
func (h home) indexDir() string            { return filepath.Join(h.dir, "index") }
func (h home) namesPath() string           { return filepath.Join(h.dir, "names.json") }
func isKeyHex(s string) bool               { return len(s) == 64 && isHex(s) }
func isHex(s string) bool                  { _, err := hex.DecodeString(s); return err == nil }
func keyHex(f *feed.Feed) string           { return hex.EncodeToString(f.Key()) }
func exists(path string) bool              { _, err := os.Stat(path); return err == nil }
func hasFeed(dir string) bool              { return exists(filepath.Join(dir, "key")) }
func newLogger(c *cli) *slog.Logger        { return slog.New(slog.NewTextHandler(c.stderr, nil)) }
func openOptions(c *cli) feed.Options      { return feed.Options{Logger: newLogger(c)} }
func storageAt(dir string) feed.DirStorage { return feed.DirStorage{Dir: dir} }

// key32 is the public key of f as a registry key.
func key32(f *feed.Feed) (k [32]byte) {
	copy(k[:], f.Key())
	return k
}

// parseKey reads 64 hex digits (either case) as a key.
func parseKey(s string) (k [32]byte, ok bool) {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(k) {
		return k, false
	}
	copy(k[:], b)
	return k, true
}

func writeFileAtomic(path string, b []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	_, err = tmp.Write(b)
	if err == nil {
		err = tmp.Chmod(0o644)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

// target is a resolved FEED argument.
type target struct {
	dir  string
	name string // "" when it has none
	// inHome is set when dir is HOME/feeds/KEY, whose record in the
	// registry follows the feed (see noteFeed).
	inHome bool
}

// resolve turns a FEED argument into a directory: a path if it contains
// '/', a key in the home if it is 64 hex digits, else a name. Keys and
// names are looked up in the registry, which is closed again before
// resolve returns.
func (c *cli) resolve(h home, arg string) (target, error) {
	if strings.Contains(arg, "/") {
		dir := c.path(arg)
		if !hasFeed(dir) {
			return target{}, fmt.Errorf("no hypercore in %s (no key file)", arg)
		}
		return target{dir: dir, inHome: h.holds(dir)}, nil
	}
	var rec index.Feed
	key, isKey := parseKey(arg)
	err := c.withRegistry(h, func(reg registry) (err error) {
		if isKey {
			rec, err = reg.ByKey(key)
		} else {
			rec, err = reg.ByName(arg)
		}
		return err
	})
	switch {
	case isKey && (err == nil || errors.Is(err, index.ErrNotFound)):
		// An unregistered feed directory still opens by its key.
		dir := h.feedDir(hex.EncodeToString(key[:]))
		if !hasFeed(dir) {
			return target{}, fmt.Errorf("no feed %x in %s", key, h.dir)
		}
		return target{dir: dir, name: rec.Name, inHome: true}, nil
	case errors.Is(err, index.ErrNotFound):
		return target{}, fmt.Errorf("no feed named %q in %s", arg, h.dir)
	case err != nil:
		return target{}, err
	}
	dir := h.feedDir(hex.EncodeToString(rec.Key[:]))
	if !hasFeed(dir) {
		return target{}, fmt.Errorf("feed %q: its directory %s holds no feed", arg, dir)
	}
	return target{dir: dir, name: rec.Name, inHome: true}, nil
}

// holds reports whether path is a feed directory of the home.
func (h home) holds(path string) bool {
	abs, err1 := filepath.Abs(path)
	feeds, err2 := filepath.Abs(h.feedsDir())
	return err1 == nil && err2 == nil && filepath.Dir(abs) == feeds && isKeyHex(filepath.Base(abs))
}

// openFeed resolves a FEED argument and opens the feed.
func (c *cli) openFeed(arg string) (*feed.Feed, target, error) {
	h, err := c.home()
	if err != nil {
		return nil, target{}, err
	}
	t, err := c.resolve(h, arg)
	if err != nil {
		return nil, target{}, err
	}
	f, err := c.openTarget(t)
	return f, t, err
}

// openTarget opens a resolved feed; inside the home's owner, feeds of the
// home are the owner's open ones.
func (c *cli) openTarget(t target) (*feed.Feed, error) {
	if c.own != nil && t.inHome {
		return c.own.feed(t)
	}
	return openDir(c, t.dir)
}

// release ends a command's use of a feed it opened: it closes the feed,
// or, if the home's owner holds it, syncs it, so that what the command
// appended is as durable as the close would have made it.
func (c *cli) release(f *feed.Feed, err *error) {
	if c.own == nil || !c.own.holds(f) {
		closeFeed(f, err)
		return
	}
	if serr := f.Sync(); serr != nil && *err == nil {
		*err = fmt.Errorf("sync feed: %w", serr)
	}
}

// openDir opens the feed in dir. A feed of the home opened by the home's
// owner keeps its offsets and tree nodes in the owner's index, so that it
// holds no per-block table in memory however long it is.
func openDir(c *cli, dir string) (*feed.Feed, error) {
	opts, err := dirOptions(c, dir)
	if err != nil {
		return nil, err
	}
	return openWith(dir, opts)
}

// dirOptions are the options openDir opens the feed in dir with.
func dirOptions(c *cli, dir string) (feed.Options, error) {
	opts := openOptions(c)
	if key, ok := parseKey(filepath.Base(dir)); ok && c.db != nil {
		if h, err := c.home(); err == nil && h.holds(dir) {
			fi, err := c.db.Feed(key[:])
			if err != nil {
				return opts, err
			}
			opts.Index = fi
		}
	}
	return opts, nil
}

func openWith(dir string, opts feed.Options) (*feed.Feed, error) {
	f, err := feed.Open(storageAt(dir), opts)
	switch {
	case errors.Is(err, feed.ErrLocked):
		return nil, fmt.Errorf("open %s: feed is open in another process", dir)
	case err != nil:
		return nil, fmt.Errorf("open %s: %w", dir, err)
	}
	return f, nil
}

// closeFeed closes f (which syncs it), keeping the first error.
func closeFeed(f *feed.Feed, err *error) {
	if cerr := f.Close(); cerr != nil && *err == nil {
		*err = fmt.Errorf("close feed: %w", cerr)
	}
}
