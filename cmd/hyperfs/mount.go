package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"syscall"
	"time"

	"github.com/hyperfs/hyperfs/feed"
	"github.com/hyperfs/hyperfs/fusefs"
	"github.com/hyperfs/hyperfs/index"
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
	verify := fs.Bool("verify", false, "hash every stored block in the background at start, so reads of local feeds pass through at once")
	noPassthrough := fs.Bool("no-passthrough", false, "serve every read through hyperfs, never letting the kernel read data files itself")
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
	o, err := claimHome(c, h)
	if err != nil {
		return fmt.Errorf("mount: %w", err)
	}
	defer o.close(&err)
	opened, err := o.openAll()
	if err != nil {
		return fmt.Errorf("mount: %w", err)
	}
	entries := make([]fusefs.Entry, 0, len(opened))
	for _, ow := range opened {
		entries = append(entries, fusefs.Entry{Name: mountName(ow), Feed: ow.f})
	}
	mh := &mountHome{c: c, o: o}
	fsys, err := fusefs.New(fusefs.Options{
		Feeds:         entries,
		Home:          mh,
		FetchTimeout:  *fetchTimeout,
		StatfsDir:     h.dir,
		AllowOther:    *allowOther,
		UID:           uint32(os.Getuid()),
		GID:           uint32(os.Getgid()),
		Logger:        newLogger(c),
		NoPassthrough: *noPassthrough,
		VerifyOnMount: *verify,
	})
	if err != nil {
		return fmt.Errorf("mount: %w", err)
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	procs := runtime.GOMAXPROCS(0)
	mnt, err := fsys.Mount(dir)
	if err != nil {
		return fmt.Errorf("mount: %w", err)
	}
	runtime.GOMAXPROCS(procs + fusefs.ReaderProcs(procs))
	// Feeds that commands create or follow through the socket appear in
	// the mount at once.
	o.added = func(name string, f *feed.Feed) {
		if err := fsys.Add(fusefs.Entry{Name: name, Feed: f}); err != nil {
			newLogger(c).Warn("could not show a new feed in the mount", "name", name, "err", err)
		}
	}
	srv, err := o.listen()
	if err == nil {
		fmt.Fprintf(c.stdout, "mounted at %s\n", dir)
		err = startNetwork(c, o.sw, *listen, peers)
	}
	if err != nil {
		if srv != nil {
			srv.close()
		}
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
	srv.close()
	if cerr := mnt.Close(); cerr != nil {
		return fmt.Errorf("mount: sync feeds: %w", cerr)
	}
	return nil
}

// mountHome is the home as the mount sees it (fusefs.Home): the owner's
// feeds, plus those made by mkdir and lookups of unknown keys.
type mountHome struct {
	c *cli
	o *owner
}

// mountName is a feed's directory in the mount: its name, else its key.
func mountName(ow *owned) string {
	if ow.t.name != "" {
		return ow.t.name
	}
	return filepath.Base(ow.t.dir)
}

// Create implements fusefs.Home: `hyperfs create NAME` inside the mount.
func (mh *mountHome) Create(ctx context.Context, name string) (*feed.Feed, error) {
	key, err := mh.c.createNamed(mh.o.h, name)
	if err != nil {
		return nil, fmt.Errorf("create %q: %w", name, err)
	}
	k, _ := parseKey(key)
	ow, _, err := mh.o.open(index.Feed{Key: k, Name: name, Writable: true})
	if err != nil {
		return nil, err
	}
	return ow.f, nil
}

// Follow implements fusefs.Home: a lookup of an unknown key makes it a
// sparse replica in the home, replicated with the mount's peers, as
// `hyperfs follow KEY` does.
func (mh *mountHome) Follow(ctx context.Context, key [32]byte) (*feed.Feed, error) {
	if _, err := mh.c.replicaInHome(key, "", true); err != nil {
		return nil, fmt.Errorf("follow %x: %w", key[:8], err)
	}
	ow, _, err := mh.o.open(index.Feed{Key: key, Sparse: true})
	if err != nil {
		return nil, fmt.Errorf("follow %x: %w", key[:8], err)
	}
	return ow.f, nil
}
