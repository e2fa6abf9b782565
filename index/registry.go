package index

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// The registry is two tables: 'f' key -> Feed (JSON) for every feed of the
// home, and 'n' name -> key for the named ones. A name belongs to at most
// one feed, and a feed has at most one name. Both tables change together,
// in one batch, so they always agree.
//
// Names are user data: a write that gives, changes or drops a name is
// synced before it returns. Every other change (lengths, peers) is a
// cache of the feed's own files and is written without sync. The index
// keeps no copy of a name that cannot be lost: hyperfs also writes each
// name into its feed's directory, so that a deleted index can be rebuilt.

// Registry errors. They are returned wrapped, with the name or key.
var (
	// ErrNameTaken reports a name that belongs to another feed.
	ErrNameTaken = errors.New("index: name taken")
	// ErrBadName reports a name that ValidName refuses.
	ErrBadName = errors.New("index: bad name")
	// ErrNotFound reports a name or key that is not registered.
	ErrNotFound = errors.New("index: feed not registered")
)

// MaxNameLen is the longest name, in bytes.
const MaxNameLen = 255

// Feed is the registry's record of one feed. Length, ByteLength and
// Downloaded are the figures the last writer saw (hyperfs refreshes them
// on create, import, append and info); the feed's files are the truth.
type Feed struct {
	Key      [32]byte `json:"-"`              // the public key; also the table key
	Name     string   `json:"name,omitempty"` // "" when the feed has none
	Writable bool     `json:"writable,omitempty"`
	Sparse   bool     `json:"sparse,omitempty"` // a replica that downloads on demand
	Peers    []string `json:"peers,omitempty"`  // where the feed was last seen

	Length     uint64 `json:"length,omitempty"`
	ByteLength uint64 `json:"byte_length,omitempty"`
	Downloaded uint64 `json:"downloaded,omitempty"` // blocks held locally

	// Created is kept from the first Put; Updated is set by every Put.
	Created time.Time `json:"created"`
	Updated time.Time `json:"updated"`
}

// ValidName reports whether name may name the feed with public key key:
// 1 to MaxNameLen bytes, no '/' or NUL, not "." or "..", and not 64 hex
// digits unless they spell key itself (which would read as another feed's
// key on the command line). The error wraps ErrBadName.
func ValidName(name string, key [32]byte) error {
	why := ""
	switch {
	case name == "":
		why = "empty"
	case len(name) > MaxNameLen:
		why = fmt.Sprintf("longer than %d bytes", MaxNameLen)
	case strings.ContainsAny(name, "/\x00"):
		why = "contains '/' or NUL"
	case name == "." || name == "..":
		why = "reserved"
	case len(name) == 64 && isHex(name) && !strings.EqualFold(name, hex.EncodeToString(key[:])):
		why = "64 hex digits, which would read as another feed's key"
	default:
		return nil
	}
	return fmt.Errorf("%w %q: %s", ErrBadName, name, why)
}

func isHex(s string) bool {
	_, err := hex.DecodeString(s)
	return err == nil
}

// Put creates or updates the record of rec.Key and returns it as stored.
// Created is kept from an existing record (or taken from rec, or now);
// Updated is now. A name taken by another feed fails with ErrNameTaken.
func (d *DB) Put(rec Feed) (Feed, error) {
	recs, err := d.PutAll([]Feed{rec})
	if err != nil {
		return Feed{}, err
	}
	return recs[0], nil
}

// PutAll is Put for many records at once, all or none: one batch, one sync
// at most. Rebuilding a registry uses it, so that a crash leaves it empty
// rather than partial.
func (d *DB) PutAll(recs []Feed) ([]Feed, error) {
	if d.readOnly {
		return nil, ErrReadOnly
	}
	for _, rec := range recs {
		if rec.Name != "" {
			if err := ValidName(rec.Name, rec.Key); err != nil {
				return nil, err
			}
		}
	}
	now := time.Now().UTC().Round(0)
	b := d.db.NewIndexedBatch()
	defer b.Close()
	out := make([]Feed, len(recs))
	d.registryMu.Lock()
	named := false
	for i, rec := range recs {
		rec.Peers = slices.Clone(rec.Peers)
		old, exists, err := getFeed(b, rec.Key)
		if err != nil {
			d.registryMu.Unlock()
			return nil, err
		}
		switch {
		case exists && !old.Created.IsZero():
			rec.Created = old.Created
		case rec.Created.IsZero():
			rec.Created = now
		}
		rec.Updated = now
		if old.Name != rec.Name {
			named = true
		}
		if err := putFeed(b, old, rec); err != nil {
			d.registryMu.Unlock()
			return nil, err
		}
		out[i] = rec
	}
	err := d.write("register", func() error { return b.Commit(pebble.NoSync) })
	d.registryMu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("index: register: %w", err)
	}
	if named {
		if err := d.syncWAL(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// SetName gives the feed with key the name name, or drops its name when
// name is "".
func (d *DB) SetName(key [32]byte, name string) (Feed, error) {
	if d.readOnly {
		return Feed{}, ErrReadOnly
	}
	if name != "" {
		if err := ValidName(name, key); err != nil {
			return Feed{}, err
		}
	}
	b := d.db.NewIndexedBatch()
	defer b.Close()
	d.registryMu.Lock()
	old, exists, err := getFeed(b, key)
	if err == nil && !exists {
		err = fmt.Errorf("feed %x: %w", key[:8], ErrNotFound)
	}
	rec := old
	rec.Name = name
	rec.Updated = time.Now().UTC().Round(0)
	if err == nil {
		err = putFeed(b, old, rec)
	}
	if err == nil {
		err = d.write("rename", func() error { return b.Commit(pebble.NoSync) })
		if err != nil {
			err = fmt.Errorf("index: rename %x: %w", key[:8], err)
		}
	}
	d.registryMu.Unlock()
	if err != nil {
		return Feed{}, err
	}
	if old.Name != name {
		if err := d.syncWAL(); err != nil {
			return Feed{}, err
		}
	}
	return rec, nil
}

// Remove drops the feed with key from the registry, name included. Its
// offsets and nodes stay until FeedIndex.Reset.
func (d *DB) Remove(key [32]byte) error {
	if d.readOnly {
		return ErrReadOnly
	}
	b := d.db.NewIndexedBatch()
	defer b.Close()
	d.registryMu.Lock()
	old, exists, err := getFeed(b, key)
	if err == nil && !exists {
		err = fmt.Errorf("feed %x: %w", key[:8], ErrNotFound)
	}
	if err == nil {
		err = b.Delete(feedKey(key), nil)
	}
	if err == nil && old.Name != "" {
		err = b.Delete(nameKey(old.Name), nil)
	}
	if err == nil {
		err = d.write("remove", func() error { return b.Commit(pebble.NoSync) })
	}
	d.registryMu.Unlock()
	if err != nil {
		return fmt.Errorf("index: remove %x: %w", key[:8], err)
	}
	if old.Name != "" {
		return d.syncWAL()
	}
	return nil
}

// syncWAL makes every commit before it durable: the WAL is written in
// order, so syncing an empty record syncs what precedes it.
func (d *DB) syncWAL() error {
	if err := d.write("sync", func() error { return d.db.LogData(nil, pebble.Sync) }); err != nil {
		return fmt.Errorf("index: sync: %w", err)
	}
	return nil
}

// ByKey returns the record of the feed with key, or an error wrapping
// ErrNotFound.
func (d *DB) ByKey(key [32]byte) (Feed, error) {
	rec, exists, err := getFeed(d.db, key)
	if err == nil && !exists {
		err = fmt.Errorf("feed %x: %w", key[:8], ErrNotFound)
	}
	return rec, err
}

// ByName returns the record of the feed named name, or an error wrapping
// ErrNotFound.
func (d *DB) ByName(name string) (Feed, error) {
	v, closer, err := d.db.Get(nameKey(name))
	if errors.Is(err, pebble.ErrNotFound) {
		return Feed{}, fmt.Errorf("name %q: %w", name, ErrNotFound)
	}
	if err != nil {
		return Feed{}, fmt.Errorf("index: look up name %q: %w", name, err)
	}
	var key [32]byte
	n := copy(key[:], v)
	closer.Close()
	if n != len(key) {
		return Feed{}, fmt.Errorf("name %q: %w (bad entry)", name, ErrNotFound)
	}
	rec, err := d.ByKey(key)
	if err == nil && rec.Name != name {
		err = fmt.Errorf("name %q: %w (stale entry)", name, ErrNotFound)
	}
	return rec, err
}

// List returns every registered feed, sorted by name, then key (unnamed
// feeds first), from one range scan. A record that cannot be decoded is
// logged and left out.
func (d *DB) List() ([]Feed, error) {
	lo := []byte{tagFeed}
	it, err := d.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: prefixEnd(lo)})
	if err != nil {
		return nil, fmt.Errorf("index: list: %w", err)
	}
	var raw [][2][]byte // key, value: decoded after the scan, in parallel
	for ok := it.First(); ok; ok = it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			it.Close()
			return nil, fmt.Errorf("index: list: %w", err)
		}
		raw = append(raw, [2][]byte{slices.Clone(it.Key()), slices.Clone(v)})
	}
	if err := it.Close(); err != nil {
		return nil, fmt.Errorf("index: list: %w", err)
	}
	recs, errs := decodeAll(raw)
	for _, err := range errs {
		d.log.Warn("index: skipping a registry record", "err", err)
	}
	slices.SortFunc(recs, func(a, b Feed) int {
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		return slices.Compare(a.Key[:], b.Key[:])
	})
	return recs, nil
}

// decodeAll decodes registry records, on every CPU when there are many:
// JSON decoding is most of the time List takes.
func decodeAll(raw [][2][]byte) ([]Feed, []error) {
	recs := make([]Feed, len(raw))
	errs := make([]error, len(raw))
	workers := min(runtime.GOMAXPROCS(0), len(raw)/512+1)
	per := (len(raw) + workers - 1) / workers
	var wg sync.WaitGroup
	for lo := 0; lo < len(raw); lo += per {
		hi := min(lo+per, len(raw))
		// Owned by decodeAll, which waits for it; it stops at hi.
		wg.Go(func() {
			for i := lo; i < hi; i++ {
				recs[i], errs[i] = decodeFeed(raw[i][0], raw[i][1])
			}
		})
	}
	wg.Wait()
	good := recs[:0]
	var bad []error
	for i, err := range errs {
		if err != nil {
			bad = append(bad, err)
			continue
		}
		good = append(good, recs[i])
	}
	return good, bad
}

// HasFeeds reports whether any feed is registered: one seek.
func (d *DB) HasFeeds() (bool, error) {
	lo := []byte{tagFeed}
	it, err := d.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: prefixEnd(lo)})
	if err != nil {
		return false, fmt.Errorf("index: %w", err)
	}
	found := it.First()
	if err := it.Close(); err != nil {
		return false, fmt.Errorf("index: %w", err)
	}
	return found, nil
}

func feedKey(key [32]byte) []byte { return append([]byte{tagFeed}, key[:]...) }
func nameKey(name string) []byte  { return append([]byte{tagName}, name...) }

// getFeed reads the record of key from r (the DB, or an indexed batch,
// which sees its own writes).
func getFeed(r pebble.Reader, key [32]byte) (Feed, bool, error) {
	k := feedKey(key)
	v, closer, err := r.Get(k)
	if errors.Is(err, pebble.ErrNotFound) {
		return Feed{Key: key}, false, nil
	}
	if err != nil {
		return Feed{}, false, fmt.Errorf("index: read feed %x: %w", key[:8], err)
	}
	defer closer.Close()
	rec, err := decodeFeed(k, v)
	if err != nil {
		return Feed{}, false, err
	}
	return rec, true, nil
}

func decodeFeed(k, v []byte) (Feed, error) {
	var rec Feed
	if len(k) != 1+len(rec.Key) {
		return Feed{}, fmt.Errorf("index: registry key %x: wrong length", k)
	}
	copy(rec.Key[:], k[1:])
	if err := json.Unmarshal(v, &rec); err != nil {
		return Feed{}, fmt.Errorf("index: record of feed %x: %w", rec.Key[:8], err)
	}
	return rec, nil
}

// putFeed writes rec over old (its previous record, Name "" if none) into
// b, moving the name entry and refusing a name another feed holds.
func putFeed(b *pebble.Batch, old, rec Feed) error {
	if rec.Name != old.Name && rec.Name != "" {
		v, closer, err := b.Get(nameKey(rec.Name))
		switch {
		case err == nil:
			other := slices.Clone(v)
			closer.Close()
			return fmt.Errorf("%w: %q is feed %x", ErrNameTaken, rec.Name, other)
		case !errors.Is(err, pebble.ErrNotFound):
			return fmt.Errorf("index: look up name %q: %w", rec.Name, err)
		}
	}
	v, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("index: encode feed %x: %w", rec.Key[:8], err)
	}
	if err := b.Set(feedKey(rec.Key), v, nil); err != nil {
		return fmt.Errorf("index: write feed %x: %w", rec.Key[:8], err)
	}
	if old.Name != "" && old.Name != rec.Name {
		if err := b.Delete(nameKey(old.Name), nil); err != nil {
			return fmt.Errorf("index: drop name %q: %w", old.Name, err)
		}
	}
	if rec.Name != "" && rec.Name != old.Name {
		if err := b.Set(nameKey(rec.Name), rec.Key[:], nil); err != nil {
			return fmt.Errorf("index: write name %q: %w", rec.Name, err)
		}
	}
	return nil
}
