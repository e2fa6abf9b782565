package feed

import (
	"context"
	"sync"
	"time"
)

// EventKind says what changed.
type EventKind int

// Event kinds.
const (
	// EventAppend: the feed grew to End blocks; [Start, End) are new
	// (appended here, or a longer length learned from a peer's proof).
	EventAppend EventKind = iota + 1
	// EventDownload: block Start was verified and stored.
	EventDownload
	// EventClear: blocks [Start, End) were dropped locally.
	EventClear
	// EventOverflow: the subscriber fell behind and events were lost;
	// re-read the feed's state.
	EventOverflow
	// EventClosed: the feed was closed; no events follow.
	EventClosed
)

// Event describes one change to a feed.
type Event struct {
	Kind       EventKind
	Start, End uint64
}

// Fetcher is implemented by the replication layer: Get calls Want for a
// block it lacks and then waits for its download.
type Fetcher interface {
	Want(f *Feed, index uint64)
}

// Prefetch asks the Fetcher for block i if it is not stored, and returns
// without waiting: readahead, so that a later Get finds it here. It
// reports whether it asked (false without a Fetcher, for a block stored
// already, or past the length of a writable feed).
func (f *Feed) Prefetch(i uint64) bool {
	f.mu.RLock()
	fe := f.mu.fetcher
	skip := fe == nil || f.mu.closed || (i < f.mu.length && f.mu.bits.HasBlock(i)) || (f.secretKey != nil && i >= f.mu.length)
	f.mu.RUnlock()
	if skip {
		return false
	}
	f.fresh.ask(i)
	fe.Want(f, i)
	return true
}

// SetFetcher installs (or, with nil, removes) the replicator Get asks.
func (f *Feed) SetFetcher(fe Fetcher) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mu.fetcher = fe
}

// Changed returns a channel that is closed at the next change (append,
// download, clear or close). Callers re-check state, then call Changed
// again: a broadcast with no goroutine and nothing to unsubscribe.
func (f *Feed) Changed() <-chan struct{} {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.takeChangedLocked()
}

// takeChangedLocked hands out the change channel; f.mu is held, for
// reading at least.
func (f *Feed) takeChangedLocked() <-chan struct{} {
	if !f.mu.changedTaken.Load() {
		f.mu.changedTaken.Store(true)
	}
	return f.mu.changed
}

// WaitLength blocks until the feed is longer than n, ctx ends or the feed
// closes, and returns the length then.
func (f *Feed) WaitLength(ctx context.Context, n uint64) (uint64, error) {
	for {
		f.mu.RLock()
		length, closed, ch := f.mu.length, f.mu.closed, f.takeChangedLocked()
		f.mu.RUnlock()
		switch {
		case length > n:
			return length, nil
		case closed:
			return length, ErrClosed
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return length, ctx.Err()
		}
	}
}

// subscriptionLimit bounds a subscription's queue; beyond it events are
// replaced by one EventOverflow.
const subscriptionLimit = 4096

// Subscription is an ordered queue of events from one feed. Appends
// queued back to back merge into one EventAppend of their whole range. It
// is safe for concurrent use; Close it when done.
type Subscription struct {
	f *Feed
	// notify has room for one wake-up; Next waits on it.
	notify chan struct{}
	mu     sync.Mutex
	// queue[head:] holds undelivered events (the array is reused once
	// they are all taken) and overflowed records a loss; all guarded by
	// mu.
	queue    []Event
	head     int
	overflow bool
	closed   bool
	// paced is when Batch may next return; only its caller touches it.
	paced time.Time
}

// Subscribe starts recording every event from now on.
func (f *Feed) Subscribe() *Subscription {
	s := &Subscription{f: f, notify: make(chan struct{}, 1)}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.mu.closed {
		s.push(Event{Kind: EventClosed})
		return s
	}
	f.mu.subs[s] = struct{}{}
	return s
}

// Next returns the next event, waiting for one until ctx ends.
func (s *Subscription) Next(ctx context.Context) (Event, error) {
	for {
		if e, ok, err := s.pop(); ok || err != nil {
			return e, err
		}
		select {
		case <-s.notify:
		case <-ctx.Done():
			return Event{}, ctx.Err()
		}
	}
}

// pop takes the next queued event without waiting; ok is false when
// there is none, and err is ErrClosed once the queue is closed and empty.
func (s *Subscription) pop() (e Event, ok bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.overflow:
		s.overflow = false
		s.queue, s.head = s.queue[:0], 0
		return Event{Kind: EventOverflow}, true, nil
	case s.head < len(s.queue):
		e = s.queue[s.head]
		s.head++
		if s.head == len(s.queue) {
			s.queue, s.head = s.queue[:0], 0
		}
		return e, true, nil
	case s.closed:
		return Event{}, false, ErrClosed
	}
	return Event{}, false, nil
}

// Batch appends to dst the next event, waiting for it until ctx ends,
// and every event queued behind it, up to limit in all; an EventClosed
// is always last. Called again sooner than pace after it last returned
// fewer than limit events, it first waits out the rest of pace: a
// consumer of a stream of appends then wakes once per pace with all of
// them, and the appends in between wake nobody (each wake-up of a parked
// goroutine costs the appender a futex call and, usually, another CPU an
// interrupt). One goroutine at a time may call Batch.
func (s *Subscription) Batch(ctx context.Context, dst []Event, limit int, pace time.Duration) ([]Event, error) {
	if wait := time.Until(s.paced); wait > 0 {
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return dst, ctx.Err()
		}
	}
	e, err := s.Next(ctx)
	if err != nil {
		return dst, err
	}
	dst = append(dst, e)
	for len(dst) < limit && e.Kind != EventClosed {
		var ok bool
		if e, ok, _ = s.pop(); !ok {
			break
		}
		dst = append(dst, e)
	}
	s.paced = time.Time{}
	if len(dst) < limit {
		// A full batch may have more behind it: no pause then.
		s.paced = time.Now().Add(pace)
	}
	return dst, nil
}

// Close stops the subscription; Next then returns ErrClosed.
func (s *Subscription) Close() {
	s.f.mu.Lock()
	delete(s.f.mu.subs, s)
	s.f.mu.Unlock()
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.wake()
}

func (s *Subscription) push(e Event) {
	s.mu.Lock()
	if e.Kind == EventClosed {
		s.closed = true
	}
	n := len(s.queue)
	switch {
	case n > s.head && e.Kind == EventAppend && s.queue[n-1].Kind == EventAppend && s.queue[n-1].End == e.Start:
		// A stream of appends queues as one growth, not one event each.
		s.queue[n-1].End = e.End
	case n-s.head >= subscriptionLimit:
		s.overflow = true
	default:
		if n == cap(s.queue) && s.head > 0 {
			// Full, with taken events in front: move the rest down
			// instead of growing.
			s.queue = s.queue[:copy(s.queue, s.queue[s.head:])]
			s.head = 0
		}
		s.queue = append(s.queue, e)
	}
	s.mu.Unlock()
	s.wake()
}

func (s *Subscription) wake() {
	select {
	case s.notify <- struct{}{}:
	default:
	}
}

// notifyLocked broadcasts e; f.mu must be held for writing. Subscription
// queues have their own lock, never held while taking f.mu.
func (f *Feed) notifyLocked(e Event) {
	if f.mu.changedTaken.Load() || e.Kind == EventClosed {
		close(f.mu.changed)
		f.mu.changed = make(chan struct{})
		f.mu.changedTaken.Store(false)
	}
	for s := range f.mu.subs {
		s.push(e)
	}
	if e.Kind == EventClosed {
		clear(f.mu.subs)
	}
}
