package main

import (
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/hyperfs/hyperfs/feed"
	"github.com/hyperfs/hyperfs/index"
	"github.com/hyperfs/hyperfs/peer"
)

// An owner is the one process holding a home: serve or mount. It keeps
// every feed of the home open (and so locked), replicates them all with
// one swarm, and answers the other commands on that home through its
// control socket (daemon.go). The home's daemon.lock, flocked for the
// owner's lifetime, says which process that is; a second serve or mount
// on the home is refused with its pid.
type owner struct {
	c  *cli // the owning command's: logs go to its stderr
	h  home
	sw *peer.Swarm

	lock *os.File // HOME/daemon.lock, flocked

	// added, when set, shows a feed that appeared by another route than
	// the mount itself (a command run through the socket) in the mount.
	// It is set once, before the socket accepts requests.
	added func(name string, f *feed.Feed)

	// mu guards feeds and dialed. It is never held across a sync or a
	// network wait; opening a feed (which reads its bitfield) happens
	// under it so that one feed is never opened twice.
	mu     sync.Mutex
	feeds  map[[32]byte]*owned
	dialed map[string]bool // --peer addresses the swarm keeps dialling
}

// owned is an open feed of the home and how it is replicated.
type owned struct {
	f    *feed.Feed
	t    target
	mode peer.FeedOptions
}

// errHomeOwned reports that another serve or mount holds the home.
var errHomeOwned = errors.New("home is in use by another hyperfs serve or mount")

func (h home) lockPath() string { return filepath.Join(h.dir, "daemon.lock") }

// claimHome makes the calling serve or mount the owner of h: it takes the
// home's lock (refusing if another process holds it) and starts a swarm.
// Feeds are opened by openAll.
func claimHome(c *cli, h home) (*owner, error) {
	if err := os.MkdirAll(h.feedsDir(), 0o755); err != nil {
		return nil, fmt.Errorf("create home: %w", err)
	}
	lf, err := os.OpenFile(h.lockPath(), os.O_RDWR|os.O_CREATE, 0o644)
	if errors.Is(err, unix.EROFS) {
		// Serving needs the lock, the socket and the feeds' writes;
		// the other commands read a read-only home directly.
		return nil, fmt.Errorf("home %s is on a read-only file system; commands other than serve and mount work on it without an owner", h.dir)
	}
	if err != nil {
		return nil, err // *PathError names the file
	}
	if err := unix.Flock(int(lf.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		b, _ := os.ReadFile(h.lockPath())
		lf.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w (%s): stop it, or run commands on the home while it runs; they go through it",
				errHomeOwned, strings.TrimSpace(string(b)))
		}
		return nil, fmt.Errorf("lock %s: %w", h.lockPath(), err)
	}
	// Who holds the lock, for the message above; the lock, not this
	// text, is what counts.
	if err := lf.Truncate(0); err == nil {
		lf.WriteAt([]byte("pid "+strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	// The owner holds the index for its lifetime; the commands it runs
	// share it. Without one (a read-only disk, say) they open it as
	// before, or read the feed directories.
	db, err := c.openIndex(h, true)
	if err != nil {
		c.indexUnavailable(err)
	} else {
		c.db = db
	}
	sw, err := peer.New(peer.Config{Logger: newLogger(c)})
	if err != nil {
		if c.db != nil {
			c.db.Close()
		}
		lf.Close()
		return nil, err
	}
	return &owner{c: c, h: h, sw: sw, lock: lf, feeds: map[[32]byte]*owned{}, dialed: map[string]bool{}}, nil
}

// openAll opens and replicates every registered feed not yet open, and
// returns the ones it opened. Feeds that cannot be opened are skipped
// with a log line: one bad directory must not keep the others offline.
func (o *owner) openAll() ([]*owned, error) {
	var recs []index.Feed
	err := o.c.withRegistry(o.h, func(reg registry) (err error) {
		recs, err = reg.List()
		return err
	})
	if err != nil {
		return nil, err
	}
	var opened []*owned
	for _, rec := range recs {
		ow, isNew, err := o.open(rec)
		if err != nil {
			newLogger(o.c).Warn("skipping feed", "key", fmt.Sprintf("%x", rec.Key[:8]), "err", err)
			continue
		}
		if isNew {
			opened = append(opened, ow)
		}
	}
	return opened, nil
}

// open returns the open feed of rec, opening and replicating it first if
// needed; isNew says it did.
func (o *owner) open(rec index.Feed) (ow *owned, isNew bool, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if ow := o.feeds[rec.Key]; ow != nil {
		return ow, false, nil
	}
	dir := o.h.feedDir(hex.EncodeToString(rec.Key[:]))
	if !hasFeed(dir) {
		return nil, false, fmt.Errorf("registered, but %s holds no feed", dir)
	}
	opts, err := dirOptions(o.c, dir)
	if err != nil {
		return nil, false, err
	}
	// The mount appends a block per write(2): signing each would be
	// most of its cost. A signature is made when a peer's proof, the
	// background sync or the close needs one (feed/sign.go).
	opts.DeferSigning = true
	f, err := openWith(dir, opts)
	if err != nil {
		return nil, false, err
	}
	ow = &owned{f: f, t: target{dir: dir, name: rec.Name, inHome: true}, mode: feedMode(rec)}
	if err := o.sw.Add(f, ow.mode); err != nil {
		f.Close()
		return nil, false, err
	}
	o.feeds[rec.Key] = ow
	return ow, true, nil
}

// feed returns the open feed at t (a feed of the home), opening it if the
// registry holds it but the owner has not opened it yet.
func (o *owner) feed(t target) (*feed.Feed, error) {
	key, ok := parseKey(filepath.Base(t.dir))
	if !ok {
		return nil, fmt.Errorf("%s is not a feed directory of the home", t.dir)
	}
	o.mu.Lock()
	ow := o.feeds[key]
	o.mu.Unlock()
	if ow != nil {
		return ow.f, nil
	}
	var rec index.Feed
	err := o.c.withRegistry(o.h, func(reg registry) (err error) {
		rec, err = reg.ByKey(key)
		return err
	})
	if errors.Is(err, index.ErrNotFound) {
		rec, err = index.Feed{Key: key, Name: t.name, Sparse: true}, nil
	}
	if err != nil {
		return nil, err
	}
	ow, isNew, err := o.open(rec)
	if err != nil {
		return nil, err
	}
	if isNew {
		o.show(ow)
	}
	return ow.f, nil
}

// holds reports whether f is one of the owner's feeds (which commands
// run through the socket sync but must not close).
func (o *owner) holds(f *feed.Feed) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	ow := o.feeds[key32(f)]
	return ow != nil && ow.f == f
}

// replicateFully makes f download every block (clone), if it did not.
func (o *owner) replicateFully(f *feed.Feed) error {
	o.mu.Lock()
	ow := o.feeds[key32(f)]
	if ow == nil || ow.mode.Full || f.Writable() {
		o.mu.Unlock()
		return nil
	}
	ow.mode.Full = true
	mode := ow.mode
	o.mu.Unlock()
	o.sw.Remove(f)
	return o.sw.Add(f, mode)
}

// dial makes the swarm keep a connection to each address, once.
func (o *owner) dial(addrs []string) error {
	for _, a := range addrs {
		o.mu.Lock()
		done := o.dialed[a]
		o.dialed[a] = true
		o.mu.Unlock()
		if done {
			continue
		}
		if err := o.sw.Dial(a); err != nil {
			return err
		}
	}
	return nil
}

// refresh opens the feeds a command registered meanwhile (create,
// follow, import, clone) so that they replicate and show in the mount.
func (o *owner) refresh() {
	opened, err := o.openAll()
	if err != nil {
		newLogger(o.c).Warn("could not read the feed registry", "err", err)
		return
	}
	for _, ow := range opened {
		o.show(ow)
	}
}

func (o *owner) show(ow *owned) {
	if o.added == nil {
		return
	}
	name := ow.t.name
	if name == "" {
		name = filepath.Base(ow.t.dir)
	}
	o.added(name, ow.f)
}

// close stops replication, records each feed's lengths in the registry,
// closes the feeds (which syncs them) and releases the home.
func (o *owner) close(err *error) {
	// Peers first, so nothing touches a feed being closed.
	o.sw.Close()
	o.mu.Lock()
	feeds := o.feeds
	o.feeds = map[[32]byte]*owned{}
	o.mu.Unlock()
	for _, ow := range feeds {
		o.c.noteFeed(ow.f, ow.t)
		closeFeed(ow.f, err)
	}
	if o.c.db != nil {
		if cerr := o.c.db.Close(); cerr != nil && *err == nil {
			*err = cerr
		}
		o.c.db = nil
	}
	o.lock.Close()
}
