package fusefs

import (
	"context"
	"errors"
	"time"

	"github.com/hyperfs/hyperfs/feed"
)

// syncDelay is how long unsynced appends wait for the background sync:
// long enough to batch a burst of appends into one sync, short enough
// that "synced within about a second" holds.
const syncDelay = 500 * time.Millisecond

// start launches the mount's goroutines: the syncer, one watcher per
// feed, and with VerifyOnMount the verifier. Close stops them.
func (fsys *FS) start() {
	fsys.mu.Lock()
	defer fsys.mu.Unlock()
	if fsys.mu.started {
		return
	}
	fsys.mu.started = true
	fsys.wg.Go(fsys.syncer)
	if fsys.opts.VerifyOnMount {
		fsys.wg.Go(fsys.verifyAll)
	}
	for _, m := range fsys.mu.feeds {
		fsys.startWatch(m)
	}
}

// startWatch launches m's watcher; fsys.mu is held.
func (fsys *FS) startWatch(m *mfeed) {
	sub := m.f.Subscribe()
	byteLen := m.f.ByteLength() // after Subscribe: no append is missed
	fsys.wg.Go(func() {
		defer sub.Close()
		m.watch(fsys.ctx, sub, byteLen)
	})
}

// Close stops the goroutines and syncs every feed once more. It does not
// close the feeds (their owner does) and waits for nothing else.
func (fsys *FS) Close() error {
	fsys.mu.Lock()
	fsys.cancel() // under mu: no watcher starts after this
	fsys.mu.Unlock()
	fsys.wg.Wait()
	return fsys.syncAll()
}

// wakeSyncer tells the syncer that a feed is dirty.
func (fsys *FS) wakeSyncer() {
	select {
	case fsys.kick <- struct{}{}:
	default:
	}
}

// syncer syncs dirty feeds syncDelay after an append, until the mount
// closes. Owned by the FS: started by start, stopped by Close.
func (fsys *FS) syncer() {
	t := time.NewTimer(0)
	<-t.C
	for {
		select {
		case <-fsys.ctx.Done():
			return
		case <-fsys.kick:
		}
		t.Reset(syncDelay)
		select {
		case <-fsys.ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		if err := fsys.syncAll(); err != nil {
			fsys.log.Error("fusefs: background sync failed", "err", err)
		}
	}
}

// syncAll syncs every feed with unsynced appends; no mount lock is held
// across a Sync.
func (fsys *FS) syncAll() error {
	var errs []error
	for _, m := range fsys.all() {
		if m.dirty.Swap(false) {
			if err := m.f.Sync(); err != nil && !errors.Is(err, feed.ErrClosed) {
				m.dirty.Store(true)
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// watchPace is the shortest time between two wake-ups of a watcher: a
// burst of appends is handled as one, so appends through the mount do
// not each wake it (each wake-up costs the appending request a futex
// call and another CPU), and a remote append still shows within moments.
const watchPace = 2 * time.Millisecond

// watch follows m's events until ctx ends or the feed closes, and tells
// the kernel what changed: data's size and its last page (the old end of
// file may sit in a cached page padded with zeros), unless the growth
// ends with a WRITE of this mount, which told the kernel. Events queued
// together are handled as one; byteLen is the byte length the kernel
// knows at the start. It runs outside every request handler, as
// kernel notifications must.
func (m *mfeed) watch(ctx context.Context, sub *feed.Subscription, byteLen uint64) {
	var evs []feed.Event
	for {
		var err error
		evs, err = sub.Batch(ctx, evs[:0], subscriptionDrain, watchPace)
		if err != nil || evs[len(evs)-1].Kind == feed.EventClosed {
			return
		}
		n := m.f.ByteLength()
		if n != byteLen && n != m.ownEnd.Load() {
			m.notifyData(int64(min(n, byteLen) &^ (pageSize - 1)))
			byteLen = n
		}
	}
}

// subscriptionDrain bounds the events a watcher takes at once; what
// they say beyond "something changed" is not used.
const subscriptionDrain = 1024

// notifyData invalidates data's attributes and its cached pages from off
// on. The kernel may not know the inode (never looked up): that is fine.
func (m *mfeed) notifyData(off int64) {
	if m.dir.data != nil {
		m.dir.data.NotifyContent(off, 0)
	}
}
