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
// every RequestTimeout/requestTicks, and Tick counts, per channel, the
// ticks since the channel's last answer, or since its first request
// when none was out. A channel is stalled at the tick after
// requestTicks of them, that is between RequestTimeout and 1.25
// RequestTimeout after that answer or request, and never earlier.

// ErrRequestTimeout ends a connection whose peer did not answer our
// block requests (JS: "Request timeout").
var ErrRequestTimeout = errors.New("peer: request timeout")

// requestTicks is how many Ticks a channel's block requests may go
// unanswered; at the next one the channel is stalled.
const requestTicks = 4

// Tick advances the request clock of every channel by one tick and
// returns the feed of a channel whose block requests are stalled (the
// lowest channel id if several are), with the number of its requests
// out; nil if none is. A stalled channel's requests stay out: the owner
// closes the connection, and End then releases them.
//
// As in JS, requests for blocks stored meanwhile by another route (a
// second Swarm, or the application, writing the same feed) are
// forgotten first, and the channel's clock restarts instead.
func (s *Session) Tick() (stalled *feed.Feed, requests int) {
	var worst *channel
	for _, ch := range s.local {
		if len(ch.inflight) == 0 {
			ch.quiet = 0
			continue
		}
		if ch.quiet++; ch.quiet <= requestTicks || s.forgetStored(ch) {
			continue
		}
		if worst == nil || ch.id < worst.id {
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
	ch.quiet = 0
	s.schedule(ch)
	return true
}

// checkRequests ticks the session's request clock (see Tick) and, if a
// feed's requests are stalled, logs it once and returns the error that
// ends the connection.
func (c *conn) checkRequests() error {
	c.mu.Lock()
	f, n := c.s.Tick()
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
