package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/hyperfs/hyperfs/feed"
	"github.com/hyperfs/hyperfs/peer"
)

// remoteTimeout bounds how long cat --peer waits for a peer to tell the
// feed's length before giving up.
const remoteTimeout = 20 * time.Second

// prefetch is how many blocks ahead of the one being printed cat --peer
// asks for, so a remote feed streams instead of costing a round trip per
// block. Only blocks it is going to print are asked for.
const prefetch = 64

// runCat writes blocks [start, end) to stdout, back to back; with --peer
// it fetches them from peers, and with --follow it keeps printing
// appends until interrupted.
func runCat(c *cli, cmd *command, args []string) (err error) {
	fs := c.flags(cmd)
	start := fs.Uint64("start", 0, "first block `I`")
	endArg := fs.String("end", "", "stop before block `J` (default: the length)")
	var peers addrList
	fs.Var(&peers, "peer", "fetch from `ADDR` (HOST:PORT), repeatable; FEED is then a key")
	follow := fs.Bool("follow", false, "keep printing blocks as they are appended, until interrupted")
	pos, err := c.parse(cmd, fs, args, 1, 1)
	if err != nil {
		return err
	}
	var end *uint64
	if *endArg != "" {
		j, err := strconv.ParseUint(*endArg, 10, 64)
		if err != nil {
			return usagef(cmd, "cat: --end %q is not a block number", *endArg)
		}
		end = &j
	}
	if *follow && end != nil {
		return usagef(cmd, "cat: --follow and --end exclude each other")
	}
	ctx, stop := c.context()
	defer stop()

	var f *feed.Feed
	var sw *peer.Swarm
	if len(peers) > 0 {
		key, ok := parseKey(pos[0])
		if !ok {
			return usagef(cmd, "cat: with --peer, FEED must be a 64-hex-digit key")
		}
		dir, err := c.replicaInHome(key, "", true)
		if err != nil {
			return fmt.Errorf("cat: %w", err)
		}
		if f, err = c.openTarget(target{dir: dir, inHome: true}); err != nil {
			return fmt.Errorf("cat: %w", err)
		}
		defer c.release(f, &err)
		var leave func()
		if sw, leave, err = c.joinPeers(f, peers, peer.FeedOptions{Live: true}); err != nil {
			return fmt.Errorf("cat: %w", err)
		}
		defer leave()
		if err := waitRemote(ctx, f, sw); err != nil {
			return fmt.Errorf("cat: %w", err)
		}
	} else {
		if f, _, err = c.openFeed(pos[0]); err != nil {
			return err
		}
		defer c.release(f, &err)
	}

	length := f.Length()
	if end == nil {
		end = &length
	}
	switch {
	case *end > length:
		return fmt.Errorf("cat: --end %d is past the length %d", *end, length)
	case *start > *end:
		return usagef(cmd, "cat: --start %d is after --end %d", *start, *end)
	}
	w := bufio.NewWriterSize(c.stdout, 256<<10)
	defer w.Flush()
	asked := *start // blocks below this were asked of the peers
	for i := *start; ; i++ {
		if i == *end {
			if !*follow {
				break
			}
			// Everything so far is out; wait for the feed to grow.
			if err := w.Flush(); err != nil {
				return fmt.Errorf("cat: write: %w", err)
			}
			n, err := f.WaitLength(ctx, *end)
			if err != nil {
				if ctx.Err() != nil {
					return nil // interrupted: tail -f ends the same way
				}
				return fmt.Errorf("cat: %w", err)
			}
			*end = n
		}
		// Each block is asked for once, when it enters the window.
		for ; sw != nil && asked < min(i+prefetch, *end); asked++ {
			if !f.Has(asked) {
				sw.Want(f, asked)
			}
		}
		block, err := getBlock(ctx, f, i, sw != nil || *follow)
		if err != nil {
			w.Flush()
			if ctx.Err() != nil && *follow {
				return nil
			}
			return fmt.Errorf("cat: %w", err)
		}
		if _, err := w.Write(block); err != nil {
			return fmt.Errorf("cat: write: %w", err)
		}
		if *follow && i+1 == *end {
			if err := w.Flush(); err != nil {
				return fmt.Errorf("cat: write: %w", err)
			}
		}
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("cat: write: %w", err)
	}
	return nil
}

// getBlock returns block i, waiting for peers to send it when fetch is
// set (cat --peer, and --follow, where a replica learns of blocks before
// it has them). Otherwise only stored blocks count, which is what cat
// answers without a serve owning the home, so it answers that with one.
func getBlock(ctx context.Context, f *feed.Feed, i uint64, fetch bool) ([]byte, error) {
	if fetch {
		return f.Get(ctx, i)
	}
	return f.GetLocal(i)
}

// joinPeers replicates f in mode with the given peers, in a swarm of its
// own, or inside the home's owner in the owner's swarm (which then keeps
// the peers). leave ends what joinPeers started.
func (c *cli) joinPeers(f *feed.Feed, peers []string, mode peer.FeedOptions) (sw *peer.Swarm, leave func(), err error) {
	if c.own != nil && c.own.holds(f) {
		if mode.Full {
			if err := c.own.replicateFully(f); err != nil {
				return nil, nil, err
			}
		}
		return c.own.sw, func() {}, c.own.dial(peers)
	}
	sw, err = peer.New(peer.Config{Logger: newLogger(c)})
	if err != nil {
		return nil, nil, err
	}
	if err := sw.Add(f, mode); err != nil {
		sw.Close()
		return nil, nil, err
	}
	if err := startNetwork(c, sw, "", peers); err != nil {
		sw.Close()
		return nil, nil, err
	}
	return sw, func() { sw.Close() }, nil
}

// waitRemote waits until a peer has told f's length and the feed has
// caught up with it (a live replica learns the length from a signed hash,
// without the data).
func waitRemote(ctx context.Context, f *feed.Feed, sw *peer.Swarm) error {
	ctx, cancel := context.WithTimeout(ctx, remoteTimeout)
	defer cancel()
	for {
		changed, updated := f.Changed(), sw.Updated()
		if remote, known := sw.RemoteLength(f); known && f.Length() >= remote {
			return nil
		}
		select {
		case <-changed:
		case <-updated:
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("no peer told the feed's length within %v", remoteTimeout)
			}
			return ctx.Err()
		}
	}
}
