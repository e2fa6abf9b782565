package main

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/hyperfs/hyperfs/index"
)

// metaFile is the file hyperfs keeps in a feed directory beside the
// hypercore 9 files (JS hypercore ignores it): {"name": "NAME"}. It lets
// the registry be rebuilt from the feed directories alone.
const metaFile = "hyperfs.json"

// meta is the content of metaFile.
type meta struct {
	Name string `json:"name,omitempty"`
}

// readMeta reads dir's metaFile; a missing one is an empty meta.
func readMeta(dir string) meta {
	m, _ := readMetaErr(dir)
	return m
}

func readMetaErr(dir string) (meta, error) {
	var m meta
	b, err := os.ReadFile(filepath.Join(dir, metaFile))
	if errors.Is(err, fs.ErrNotExist) {
		return m, nil
	}
	if err == nil {
		err = json.Unmarshal(b, &m)
	}
	if err != nil {
		return meta{}, fmt.Errorf("read %s: %w", filepath.Join(dir, metaFile), err)
	}
	return m, nil
}

// writeMeta replaces dir's metaFile, durably.
func writeMeta(dir string, m meta) error {
	b, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("encode %s: %w", metaFile, err)
	}
	return writeFileAtomic(filepath.Join(dir, metaFile), append(b, '\n'))
}

// scan reads the record of every feed directory of h, in key order; with
// lengths it also opens each feed to read its lengths. Directories that
// are not feeds are logged and skipped; of two directories naming
// themselves alike, the first in key order keeps the name.
func (c *cli) scan(h home, lengths bool) ([]index.Feed, error) {
	entries, err := os.ReadDir(h.feedsDir())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("scan feeds: %w", err)
	}
	log := newLogger(c)
	var recs []index.Feed
	taken := map[string]bool{}
	for _, e := range entries {
		if _, ok := parseKey(e.Name()); !ok || !e.IsDir() {
			continue // not a feed directory (an import in progress, say)
		}
		dir := h.feedDir(e.Name())
		rec, err := scanFeed(dir)
		if err != nil {
			log.Warn("skipping a feed directory", "dir", dir, "err", err)
			continue
		}
		switch {
		case rec.Name == "":
		case index.ValidName(rec.Name, rec.Key) != nil, taken[rec.Name]:
			log.Warn("dropping a feed's invalid or duplicate name", "dir", dir, "name", rec.Name)
			rec.Name = ""
		default:
			taken[rec.Name] = true
		}
		if lengths {
			c.readLengths(&rec, dir)
		}
		recs = append(recs, rec)
	}
	return recs, nil
}

// scanFeed reads the record of the feed in dir, HOME/feeds/KEY, without
// opening it: key from the directory name and the key file, writable if it
// has a secret key, name from metaFile, created when the key was written.
func scanFeed(dir string) (index.Feed, error) {
	base := filepath.Base(dir)
	key, ok := parseKey(base)
	if !ok || base != hex.EncodeToString(key[:]) {
		return index.Feed{}, fmt.Errorf("%s: directory name is not a key in lower-case hex", dir)
	}
	b, err := os.ReadFile(filepath.Join(dir, "key"))
	if err != nil {
		return index.Feed{}, fmt.Errorf("read key: %w", err)
	}
	if !bytes.Equal(b, key[:]) {
		return index.Feed{}, fmt.Errorf("%s: key file does not match the directory name", dir)
	}
	rec := index.Feed{Key: key}
	if st, err := os.Stat(filepath.Join(dir, "key")); err == nil {
		rec.Created = st.ModTime().UTC()
	}
	if st, err := os.Stat(filepath.Join(dir, "secret_key")); err == nil && st.Size() > 0 {
		rec.Writable = true
	}
	m, err := readMetaErr(dir)
	if err != nil {
		return index.Feed{}, err
	}
	rec.Name = m.Name
	return rec, nil
}

// readLengths fills rec's lengths from the feed in dir, or logs why not.
func (c *cli) readLengths(rec *index.Feed, dir string) {
	f, err := openDir(c, dir)
	if err != nil {
		newLogger(c).Warn("cannot read a feed's lengths", "dir", dir, "err", err)
		return
	}
	now := recordOf(f)
	if err := f.Close(); err != nil {
		newLogger(c).Warn("close feed", "dir", dir, "err", err)
	}
	rec.Writable, rec.Sparse = now.Writable, now.Sparse
	rec.Length, rec.ByteLength, rec.Downloaded = now.Length, now.ByteLength, now.Downloaded
}

// scanRegistry is the registry read from the feed directories, for when
// the index cannot be opened: every answer is a directory scan.
type scanRegistry struct {
	c *cli
	h home
}

func (s scanRegistry) List() ([]index.Feed, error) {
	recs, err := s.c.scan(s.h, true)
	slices.SortFunc(recs, func(a, b index.Feed) int {
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		return bytes.Compare(a.Key[:], b.Key[:])
	})
	return recs, err
}

func (s scanRegistry) ByName(name string) (index.Feed, error) {
	recs, err := s.c.scan(s.h, false)
	if err != nil {
		return index.Feed{}, err
	}
	for _, rec := range recs {
		if rec.Name == name {
			return rec, nil
		}
	}
	return index.Feed{}, fmt.Errorf("name %q: %w", name, index.ErrNotFound)
}

func (s scanRegistry) ByKey(key [32]byte) (index.Feed, error) {
	dir := s.h.feedDir(hex.EncodeToString(key[:]))
	if !hasFeed(dir) {
		return index.Feed{}, fmt.Errorf("feed %x: %w", key[:8], index.ErrNotFound)
	}
	return scanFeed(dir)
}

// migrateNames moves the names of HOME/names.json, where hyperfs kept them
// before the index, into the registry and the feed directories, then
// renames the file names.json.migrated. Names that cannot be kept (invalid,
// taken, or naming a missing feed) are logged.
func (c *cli) migrateNames(h home, db *index.DB) error {
	log := newLogger(c)
	var names map[string]string
	b, err := os.ReadFile(h.namesPath())
	if err == nil {
		err = json.Unmarshal(b, &names)
	}
	if err != nil {
		log.Warn("cannot migrate names.json; leaving it", "err", err)
		return nil
	}
	var recs []index.Feed
	named := map[[32]byte]bool{}
	taken := map[string]bool{}
	for _, name := range slices.Sorted(maps.Keys(names)) {
		rec, err := c.migrationRecord(h, db, name, names[name])
		switch {
		case errors.Is(err, errMigrated):
			continue
		case err == nil && (rec.Name != "" || named[rec.Key]):
			err = fmt.Errorf("the feed already has a name")
		case err == nil && taken[name]:
			err = index.ErrNameTaken
		case err == nil:
			err = index.ValidName(name, rec.Key)
		}
		if err != nil {
			log.Warn("names.json: name not migrated", "name", name, "key", names[name], "err", err)
			continue
		}
		if err := writeMeta(h.feedDir(hex.EncodeToString(rec.Key[:])), meta{Name: name}); err != nil {
			return fmt.Errorf("migrate names.json: %w", err)
		}
		rec.Name = name
		named[rec.Key], taken[name] = true, true
		recs = append(recs, rec)
	}
	if _, err := db.PutAll(recs); err != nil {
		return fmt.Errorf("migrate names.json: %w", err)
	}
	if err := os.Rename(h.namesPath(), h.namesPath()+".migrated"); err != nil {
		return fmt.Errorf("migrate names.json: %w", err)
	}
	os.Remove(filepath.Join(h.dir, "names.lock")) // the old lock beside it
	log.Info("migrated names.json into the index", "names", len(recs), "old", h.namesPath()+".migrated")
	return nil
}

// errMigrated reports a name of names.json that the registry already has.
var errMigrated = errors.New("already migrated")

// migrationRecord is the record that name in names.json, pointing to
// keyHex, would rename: registered, or found on disk.
func (c *cli) migrationRecord(h home, db *index.DB, name, keyHex string) (index.Feed, error) {
	key, ok := parseKey(keyHex)
	if !ok {
		return index.Feed{}, fmt.Errorf("%q is not a key", keyHex)
	}
	if other, err := db.ByName(name); err == nil {
		if other.Key == key {
			return index.Feed{}, errMigrated
		}
		return index.Feed{}, index.ErrNameTaken
	}
	rec, err := db.ByKey(key)
	if !errors.Is(err, index.ErrNotFound) {
		return rec, err
	}
	dir := h.feedDir(hex.EncodeToString(key[:]))
	if !hasFeed(dir) {
		return index.Feed{}, fmt.Errorf("no feed %x in %s", key[:8], h.feedsDir())
	}
	rec, err = scanFeed(dir)
	rec.Name = ""
	return rec, err
}
