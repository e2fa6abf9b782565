package main

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"github.com/hyperfs/hyperfs/feed"
)

// home is the directory holding the feeds and their names:
//
//	HOME/feeds/KEY/   one hypercore 9 directory per feed (KEY: 64 hex)
//	HOME/names.json   {"name": "KEY", ...}
type home struct {
	dir string
}

// home resolves the home directory: --home, $HYPERFS_HOME,
// $XDG_DATA_HOME/hyperfs, ~/.local/share/hyperfs. Nothing is created.
func (c *cli) home() (home, error) {
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
func (h home) namesPath() string           { return filepath.Join(h.dir, "names.json") }
func isKeyHex(s string) bool               { return len(s) == 64 && isHex(s) }
func isHex(s string) bool                  { _, err := hex.DecodeString(s); return err == nil }
func keyHex(f *feed.Feed) string           { return hex.EncodeToString(f.Key()) }
func exists(path string) bool              { _, err := os.Stat(path); return err == nil }
func hasFeed(dir string) bool              { return exists(filepath.Join(dir, "key")) }
func newLogger(c *cli) *slog.Logger        { return slog.New(slog.NewTextHandler(c.stderr, nil)) }
func openOptions(c *cli) feed.Options      { return feed.Options{Logger: newLogger(c)} }
func storageAt(dir string) feed.DirStorage { return feed.DirStorage{Dir: dir} }

// validName checks a feed name: non-empty, at most 255 bytes, no '/' or
// NUL, not "." or "..", and not 64 hex digits (which would read as a key).
func validName(name string) error {
	switch {
	case name == "":
		return errors.New("empty name")
	case len(name) > 255:
		return fmt.Errorf("name longer than 255 bytes")
	case strings.ContainsAny(name, "/\x00"):
		return fmt.Errorf("name %q contains '/' or NUL", name)
	case name == "." || name == "..":
		return fmt.Errorf("name %q is reserved", name)
	case isKeyHex(name):
		return fmt.Errorf("name %q looks like a key (64 hex digits)", name)
	}
	return nil
}

// names reads names.json; a missing file is an empty map.
func (h home) names() (map[string]string, error) {
	b, err := os.ReadFile(h.namesPath())
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]string{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read names: %w", err)
	}
	names := map[string]string{}
	if err := json.Unmarshal(b, &names); err != nil {
		return nil, fmt.Errorf("read names %s: %w", h.namesPath(), err)
	}
	return names, nil
}

// addName registers name for key, refusing a name already taken, and
// rewrites names.json atomically (temp file, fsync, rename).
func (h home) addName(name, key string) error {
	if err := validName(name); err != nil {
		return err
	}
	// Two concurrent creates must not both read the old map and the
	// later rename drop the other's name: the read-modify-write holds an
	// exclusive lock on a file beside names.json.
	unlock, err := h.lockNames()
	if err != nil {
		return err
	}
	defer unlock()
	names, err := h.names()
	if err != nil {
		return err
	}
	if old, ok := names[name]; ok {
		return fmt.Errorf("name %q is already taken by feed %s", name, old)
	}
	names[name] = key
	b, err := json.MarshalIndent(names, "", "  ")
	if err != nil {
		return fmt.Errorf("encode names: %w", err)
	}
	return writeFileAtomic(h.namesPath(), append(b, '\n'))
}

// lockNames takes the exclusive lock on HOME/names.lock, waiting for it.
func (h home) lockNames() (unlock func(), err error) {
	if err := os.MkdirAll(h.dir, 0o755); err != nil {
		return nil, fmt.Errorf("create home %s: %w", h.dir, err)
	}
	path := filepath.Join(h.dir, "names.lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock names: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock names %s: %w", path, err)
	}
	return func() { f.Close() }, nil
}

// checkNameFree fails if name is invalid or taken, before any work is done.
func (h home) checkNameFree(name string) error {
	if err := validName(name); err != nil {
		return err
	}
	names, err := h.names()
	if err != nil {
		return err
	}
	if old, ok := names[name]; ok {
		return fmt.Errorf("name %q is already taken by feed %s", name, old)
	}
	return nil
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

// nameOf returns the first name (sorted) registered for key, or "".
func nameOf(names map[string]string, key string) string {
	var found []string
	for n, k := range names {
		if strings.EqualFold(k, key) {
			found = append(found, n)
		}
	}
	if len(found) == 0 {
		return ""
	}
	sort.Strings(found)
	return found[0]
}

// target is a resolved FEED argument.
type target struct {
	dir  string
	name string // "" when it has none
}

// resolve turns a FEED argument into a directory: a path if it contains
// '/', a key in the home if it is 64 hex digits, else a name.
func (h home) resolve(arg string) (target, error) {
	if strings.Contains(arg, "/") {
		if !hasFeed(arg) {
			return target{}, fmt.Errorf("no hypercore in %s (no key file)", arg)
		}
		return target{dir: arg}, nil
	}
	names, err := h.names()
	if err != nil {
		return target{}, err
	}
	if isKeyHex(arg) {
		key := strings.ToLower(arg)
		dir := h.feedDir(key)
		if !hasFeed(dir) {
			return target{}, fmt.Errorf("no feed %s in %s", key, h.dir)
		}
		return target{dir: dir, name: nameOf(names, key)}, nil
	}
	key, ok := names[arg]
	if !ok {
		return target{}, fmt.Errorf("no feed named %q in %s", arg, h.dir)
	}
	dir := h.feedDir(key)
	if !hasFeed(dir) {
		return target{}, fmt.Errorf("feed %q: its directory %s holds no feed", arg, dir)
	}
	return target{dir: dir, name: arg}, nil
}

// openFeed resolves a FEED argument and opens the feed.
func (c *cli) openFeed(arg string) (*feed.Feed, target, error) {
	h, err := c.home()
	if err != nil {
		return nil, target{}, err
	}
	t, err := h.resolve(arg)
	if err != nil {
		return nil, target{}, err
	}
	f, err := openDir(c, t.dir)
	return f, t, err
}

func openDir(c *cli, dir string) (*feed.Feed, error) {
	return openWith(dir, openOptions(c))
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
