package main

import (
	"cmp"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/hyperfs/hyperfs/feed"
	"github.com/hyperfs/hyperfs/index"
	"github.com/hyperfs/hyperfs/peer"
)

// addrList is a repeatable --peer flag.
type addrList []string

func (a *addrList) String() string { return strings.Join(*a, ",") }
func (a *addrList) Set(s string) error {
	if s == "" {
		return errors.New("empty address")
	}
	*a = append(*a, s)
	return nil
}

// feedMode is how a feed of the home replicates: writers upload, full
// replicas download everything, sparse ones what is read; all are live.
func feedMode(rec index.Feed) peer.FeedOptions {
	return peer.FeedOptions{Live: true, Full: !rec.Writable && !rec.Sparse}
}

// runServe replicates every feed of the home until SIGINT or SIGTERM.
func runServe(c *cli, cmd *command, args []string) (err error) {
	fs := c.flags(cmd)
	listen := fs.String("listen", "", "accept peers on `ADDR` (HOST:PORT; port 0 picks one)")
	var peers addrList
	fs.Var(&peers, "peer", "connect to `ADDR` (HOST:PORT), repeatable")
	if _, err := c.parse(cmd, fs, args, 0, 0); err != nil {
		return err
	}
	h, err := c.home()
	if err != nil {
		return err
	}
	o, err := claimHome(c, h)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	defer o.close(&err)
	if _, err := o.openAll(); err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	srv, err := o.listen()
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	defer srv.close()
	if err := startNetwork(c, o.sw, *listen, peers); err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	<-ctx.Done()
	return nil
}

// startNetwork listens (printing the address, as scripts wait for it) and
// dials.
func startNetwork(c *cli, sw *peer.Swarm, listen string, peers []string) error {
	if listen != "" {
		addr, err := sw.Listen(listen)
		if err != nil {
			return err
		}
		fmt.Fprintf(c.stderr, "listening on %s\n", addr)
	}
	for _, p := range peers {
		if err := sw.Dial(p); err != nil {
			return err
		}
	}
	return nil
}

// runFollow registers a remote feed as a sparse replica in the home.
func runFollow(c *cli, cmd *command, args []string) error {
	fs := c.flags(cmd)
	name := fs.String("name", "", "name the feed `NAME`")
	pos, err := c.parse(cmd, fs, args, 1, 1)
	if err != nil {
		return err
	}
	key, ok := parseKey(pos[0])
	if !ok {
		return usagef(cmd, "follow: %q is not a 64-hex-digit feed key", pos[0])
	}
	if _, err := c.replicaInHome(key, *name, true); err != nil {
		return fmt.Errorf("follow: %w", err)
	}
	fmt.Fprintln(c.stdout, hex.EncodeToString(key[:]))
	return nil
}

// replicaInHome makes HOME/feeds/KEY a replica of key unless the home
// holds it already, and registers it with name and mode; it returns the
// feed's directory.
func (c *cli) replicaInHome(key [32]byte, name string, sparse bool) (string, error) {
	if name != "" {
		if err := index.ValidName(name, key); err != nil {
			return "", err
		}
	}
	h, err := c.home()
	if err != nil {
		return "", err
	}
	dir := h.feedDir(hex.EncodeToString(key[:]))
	err = c.withIndex(h, func(db *index.DB) error {
		rec, err := db.ByKey(key)
		switch {
		case err == nil:
			if name != "" && name != rec.Name {
				if err := nameFree(db, name); err != nil {
					return err
				}
				rec.Name = name
			}
			if rec.Sparse && !sparse {
				rec.Sparse = false // a clone makes it full
			}
			_, err = db.Put(rec)
			return err
		case !errors.Is(err, index.ErrNotFound):
			return err
		}
		if name != "" {
			if err := nameFree(db, name); err != nil {
				return err
			}
		}
		if !hasFeed(dir) {
			if err := os.MkdirAll(h.feedsDir(), 0o755); err != nil {
				return err
			}
			f, err := feed.CreateReplica(storageAt(dir), key[:], openOptions(c))
			if err != nil {
				os.RemoveAll(dir)
				return fmt.Errorf("create replica: %w", err)
			}
			if err := f.Close(); err != nil {
				return err
			}
		}
		if name != "" {
			if err := writeMeta(dir, meta{Name: name}); err != nil {
				return err
			}
		}
		_, err = db.Put(index.Feed{Key: key, Name: name, Sparse: sparse})
		return err
	})
	return dir, err
}

// runClone downloads every block of a remote feed from a peer.
func runClone(c *cli, cmd *command, args []string) (err error) {
	fs := c.flags(cmd)
	name := fs.String("name", "", "name the feed `NAME`")
	var peers addrList
	fs.Var(&peers, "peer", "download from `ADDR` (HOST:PORT), repeatable")
	pos, err := c.parse(cmd, fs, args, 1, 1)
	if err != nil {
		return err
	}
	key, ok := parseKey(pos[0])
	if !ok {
		return usagef(cmd, "clone: %q is not a 64-hex-digit feed key", pos[0])
	}
	if len(peers) == 0 {
		return usagef(cmd, "clone: --peer is required")
	}
	dir, err := c.replicaInHome(key, *name, false)
	if err != nil {
		return fmt.Errorf("clone: %w", err)
	}
	f, err := c.openTarget(target{dir: dir, name: *name, inHome: true})
	if err != nil {
		return fmt.Errorf("clone: %w", err)
	}
	defer c.release(f, &err)
	sw, leave, err := c.joinPeers(f, peers, peer.FeedOptions{Full: true, Live: true})
	if err != nil {
		return fmt.Errorf("clone: %w", err)
	}
	defer leave()
	ctx, stop := c.context()
	defer stop()
	p := newProgress(c, hex.EncodeToString(key[:8]))
	defer p.finish()
	var bg backgroundSync
	defer bg.wait()
	var nextSync uint64
	for {
		changed, updated := f.Changed(), sw.Updated()
		remote, known := sw.RemoteLength(f)
		have := f.Downloaded(0, f.Length())
		p.update(have, max(remote, f.Length()))
		if known && f.Length() >= remote && have == f.Length() {
			break
		}
		if have >= nextSync && f.ByteLength() > 0 {
			bg.start(f.Sync)
			nextSync = have + max(1, cloneSyncBytes*f.Length()/f.ByteLength())
		}
		select {
		case <-changed:
		case <-updated:
		case <-ctx.Done():
			return fmt.Errorf("clone: interrupted with %d of %d blocks", have, max(remote, f.Length()))
		}
	}
	if err := bg.wait(); err != nil {
		return fmt.Errorf("clone: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("clone: %w", err)
	}
	c.noteFeed(f, target{dir: dir, name: *name, inHome: true})
	return nil
}

// cloneSyncBytes is about how much a clone downloads between the syncs it
// starts in the background. The data arrives faster than a disk takes it,
// so without them the final Sync waited for all of it: ~50 ms of a
// ~400 ms clone of 100 MiB here.
const cloneSyncBytes = 16 << 20

// backgroundSync runs one sync at a time on a goroutine of its own, which
// its owner waits for before it returns.
type backgroundSync struct {
	done chan error // of the running sync; nil before the first
	err  error      // the first failure
}

// start runs sync unless one is still running.
func (b *backgroundSync) start(sync func() error) {
	if b.done != nil {
		select {
		case err := <-b.done:
			b.err = cmp.Or(b.err, err)
		default:
			return
		}
	}
	done := make(chan error, 1)
	b.done = done
	go func() { done <- sync() }()
}

// wait waits for the running sync and returns the first failure.
func (b *backgroundSync) wait() error {
	if b.done != nil {
		b.err = cmp.Or(b.err, <-b.done)
		b.done = nil
	}
	return b.err
}
