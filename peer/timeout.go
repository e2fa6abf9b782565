package peer

import (
	"errors"
	"fmt"
	"time"

	"github.com/hyperfs/hyperfs/feed"
)

// The request timeout (JS hypercore 9's Peer._onrequesttimeout, in
// lib/replicate.js): a peer whose block requests on a feed go
// unanswered for the timeout is dropped, so that the blocks reserved
// for it (reserve.go) are asked of another peer. Keep-alives and other
// messages do not count: only Data answering one of the requests.
//
// The clock stays out of the Session: the connection layer calls Tick
// with the time every RequestTimeout/requestTicks. A channel's clock
// starts at the first Tick that sees its requests' progress changed
// (an answer, or a request made when none was out), which is after the
// change itself, and the channel is stalled at the first Tick at least
// RequestTimeout after that: never earlier than RequestTimeout after
// the change, however late or close together the ticks come (a writer
// busy sending reads its ticker late), and with ticks on time at most
// two periods later (the start, and a Tick a hair short of the
// timeout), so within 1.25 RequestTimeout.

// ErrRequestTimeout ends a connection whose peer did not answer our
// block requests (JS: "Request timeout").
var ErrRequestTimeout = errors.New("peer: request timeout")

// requestTicks is how many Ticks the connection layer gives each
// timeout: 2.5 s apart for the default 20 s.
const requestTicks = 8

// requestClock is one channel's request clock.
type requestClock struct {
	// progress counts answers to block requests and requests made when
	// none was out: each restarts the clock.
	progress uint64
	// seen is progress at since, the Tick that (re)started the clock;
	// since is zero while no block request is out.
	seen  uint64
	since time.Time
}

// Tick tells the session the time, now, and returns the feed of a
// channel whose block requests went unanswered for
// SessionConfig.RequestTimeout (the lowest channel id if several did),
// with the number of its requests out; nil if none did. A stalled
// channel's requests stay out: the owner closes the connection, and End
// then releases them.
//
// As in JS, requests for blocks stored meanwhile by another route (a
// second Swarm, or the application, writing the same feed) are
// forgotten first, and the channel's clock restarts instead.
func (s *Session) Tick(now time.Time) (stalled *feed.Feed, requests int) {
	if s.cfg.RequestTimeout <= 0 {
		return nil, 0
	}
	var worst *channel
	for _, ch := range s.local {
		c := &ch.clock
		switch {
		case len(ch.inflight) == 0:
			c.since = time.Time{}
		case c.since.IsZero() || c.progress != c.seen:
			c.since, c.seen = now, c.progress
		case now.Sub(c.since) < s.cfg.RequestTimeout:
		case s.forgetStored(ch): // the clock restarts at the next Tick
		case worst == nil || ch.id < worst.id:
			worst = ch
		}
	}
	if worst == nil {
		return nil, 0
	}
	return worst.f, len(worst.inflight)
}

// forgetStored drops ch's requests for blocks the feed holds now,
// restarting its clock if there were any, and reports whether there
// were.
func (s *Session) forgetStored(ch *channel) bool {
	var held []uint64
	for i := range ch.inflight {
		if ch.f.Has(i) {
			held = append(held, i)
		}
	}
	if len(held) == 0 {
		return false
	}
	s.unrequest(ch, true, held...)
	ch.clock.progress++
	s.schedule(ch)
	return true
}

// checkRequests ticks the session's request clock (see Tick) and, if a
// feed's requests are stalled, logs it once and returns the error that
// ends the connection.
func (c *conn) checkRequests() error {
	c.mu.Lock()
	f, n := c.s.Tick(time.Now())
	wake := c.s.Pending() > 0
	c.mu.Unlock()
	if wake {
		signal(c.wake)
	}
	if f == nil {
		return nil
	}
	key := fmt.Sprintf("%x", f.Key()[:8])
	c.sw.log.Warn("peer stopped answering requests; dropping it", "addr", c.addr, "feed", key, "requests", n, "timeout", c.sw.reqTimeout)
	return fmt.Errorf("%w: %d requests for feed %s unanswered for %v", ErrRequestTimeout, n, key, c.sw.reqTimeout)
}

// requestTick is the period of checkRequests for a request timeout d.
func requestTick(d time.Duration) time.Duration {
	return max(d/requestTicks, time.Millisecond)
}
