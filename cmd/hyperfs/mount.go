package main

import (
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/hyperfs/hyperfs/feed"
	"github.com/hyperfs/hyperfs/fusefs"
	"github.com/hyperfs/hyperfs/index"
	"github.com/hyperfs/hyperfs/peer"
)

// unmountGrace is how long a mount that is still in use when asked to
// stop waits for its last files to close after a lazy unmount.
const unmountGrace = 5 * time.Second

// runMount mounts every feed of the home on MOUNTPOINT and serves it until
// SIGINT or SIGTERM (or an unmount from outside), then unmounts, syncs and
// closes the feeds, and exits 0.
func runMount(c *cli, cmd *command, args []string) (err error) {
	fs := c.flags(cmd)
	fetchTimeout := fs.Duration("fetch-timeout", fusefs.DefaultFetchTimeout, "give up a read waiting for a missing block after `DUR` (ETIMEDOUT)")
	allowOther := fs.Bool("allow-other", false, "let other users use the mount (needs user_allow_other in /etc/fuse.conf unless root)")
	listen := fs.String("listen", "", "accept peers on `ADDR` (HOST:PORT; port 0 picks one)")
	var peers addrList
	fs.Var(&peers, "peer", "connect to `ADDR` (HOST:PORT), repeatable")
	pos, err := c.parse(cmd, fs, args, 1, 1)
	if err != nil {
		return err
	}
	if *fetchTimeout <= 0 {
		return usagef(cmd, "mount: --fetch-timeout must be positive")
	}
	dir := pos[0]
	h, err := c.home()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(h.feedsDir(), 0o755); err != nil {
		return fmt.Errorf("mount: create home: %w", err)
	}
	sw, err := peer.New(peer.Config{Logger: newLogger(c)})
	if err != nil {
		return fmt.Errorf("mount: %w", err)
	}
	mh := &mountHome{c: c, h: h, sw: sw}
	defer mh.closeAll(&err)
	// Peers stop before the feeds close (defers run last first).
	defer sw.Close()
	entries, err := mh.openAll()
	if err != nil {
		return fmt.Errorf("mount: %w", err)
	}
	fsys, err := fusefs.New(fusefs.Options{
		Feeds:        entries,
		Home:         mh,
		FetchTimeout: *fetchTimeout,
		StatfsDir:    h.dir,
		AllowOther:   *allowOther,
		UID:          uint32(os.Getuid()),
		GID:          uint32(os.Getgid()),
		Logger:       newLogger(c),
	})
	if err != nil {
		return fmt.Errorf("mount: %w", err)
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	mnt, err := fsys.Mount(dir)
	if err != nil {
		return fmt.Errorf("mount: %w", err)
	}
	fmt.Fprintf(c.stdout, "mounted at %s\n", dir)
	if err := startNetwork(c, sw, *listen, peers); err != nil {
		if uerr := mnt.Unmount(unmountGrace); uerr != nil {
			newLogger(c).Warn("unmount", "err", uerr)
		}
		mnt.Close()
		return fmt.Errorf("mount: %w", err)
	}
	select {
	case <-sigs:
		if uerr := mnt.Unmount(unmountGrace); uerr != nil {
			newLogger(c).Warn("unmount", "err", uerr)
		}
	case <-mnt.Done():
	}
	if cerr := mnt.Close(); cerr != nil {
		return fmt.Errorf("mount: sync feeds: %w", cerr)
	}
	return nil
}

// mountHome is the home as the mount sees it (fusefs.Home): it opens every
// feed at start, creates feeds on mkdir, and closes them all at the end.
type mountHome struct {
	c  *cli
	h  home
	sw *peer.Swarm // replicates every open feed

	// mu guards open.
	mu   sync.Mutex
	open []mounted
}

// mounted is a feed the mount opened.
type mounted struct {
	f *feed.Feed
	t target
}

// openAll opens every registered feed of the home, named by its name or
// else its key.
func (mh *mountHome) openAll() ([]fusefs.Entry, error) {
	var recs []index.Feed
	err := mh.c.withRegistry(mh.h, func(reg registry) (err error) {
		recs, err = reg.List()
		return err
	})
	if err != nil {
		return nil, err
	}
	entries := make([]fusefs.Entry, 0, len(recs))
	for _, rec := range recs {
		dir := mh.h.feedDir(hex.EncodeToString(rec.Key[:]))
		if !hasFeed(dir) {
			newLogger(mh.c).Warn("skipping a registered feed without a directory", "key", fmt.Sprintf("%x", rec.Key[:8]))
			continue
		}
		f, err := openDir(mh.c, dir)
		if err != nil {
			return nil, err
		}
		if err := mh.keep(f, target{dir: dir, name: rec.Name, inHome: true}, feedMode(rec)); err != nil {
			return nil, err
		}
		name := rec.Name
		if name == "" {
			name = hex.EncodeToString(rec.Key[:])
		}
		entries = append(entries, fusefs.Entry{Name: name, Feed: f})
	}
	return entries, nil
}

// keep records an opened feed, to be closed at the end, and replicates it.
func (mh *mountHome) keep(f *feed.Feed, t target, opts peer.FeedOptions) error {
	mh.mu.Lock()
	mh.open = append(mh.open, mounted{f, t})
	mh.mu.Unlock()
	return mh.sw.Add(f, opts)
}

// Create implements fusefs.Home: `hyperfs create NAME` inside the mount.
func (mh *mountHome) Create(ctx context.Context, name string) (*feed.Feed, error) {
	key, err := mh.c.createNamed(mh.h, name)
	if err != nil {
		return nil, fmt.Errorf("create %q: %w", name, err)
	}
	dir := mh.h.feedDir(key)
	f, err := openDir(mh.c, dir)
	if err != nil {
		return nil, err
	}
	if err := mh.keep(f, target{dir: dir, name: name, inHome: true}, peer.FeedOptions{Live: true}); err != nil {
		return nil, err
	}
	return f, nil
}

// Follow implements fusefs.Home: a lookup of an unknown key makes it a
// sparse replica in the home, replicated with the mount's peers, as
// `hyperfs follow KEY` does.
func (mh *mountHome) Follow(ctx context.Context, key [32]byte) (*feed.Feed, error) {
	dir, err := mh.c.replicaInHome(key, "", true)
	if err != nil {
		return nil, fmt.Errorf("follow %x: %w", key[:8], err)
	}
	f, err := openDir(mh.c, dir)
	if err != nil {
		return nil, fmt.Errorf("follow %x: %w", key[:8], err)
	}
	if err := mh.keep(f, target{dir: dir, inHome: true}, peer.FeedOptions{Live: true}); err != nil {
		return nil, err
	}
	return f, nil
}

// closeAll records each feed's lengths in the registry and closes it.
func (mh *mountHome) closeAll(err *error) {
	mh.mu.Lock()
	defer mh.mu.Unlock()
	for _, m := range mh.open {
		mh.c.noteFeed(m.f, m.t)
		closeFeed(m.f, err)
	}
	mh.open = nil
}
