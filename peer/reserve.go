package peer

import "sync"

// Reservations records, per feed, which blocks are requested from some
// peer, so that the sessions of one Swarm ask at most one peer for each
// block (JS hypercore 9's feed._reserved). A session reserves a block
// before it requests it and skips blocks another session holds; it
// releases the block when its Data arrives (stored or not), when it
// stops waiting for it (Unhave, Status without uploading, Close) and
// when its connection ends.
//
// A block released without being stored must be picked up by another
// peer, whose full-mode cursor may be past it: each release of that kind
// lowers a mark in every other member of the feed (freed), which the
// member's session reads on its next schedule and rewinds its cursor to.
// The session that released reports the feed (Session.takeFreed), and
// the Swarm reschedules the other connections, which may be idle.
//
// Memory: an entry per reserved block, so bounded by the requests in
// flight, and one member per channel; a feed's table goes when its last
// member leaves.
//
// Reservations is safe for concurrent use. Its mutex is taken under a
// connection's lock (sessions call it) and guards in-memory maps only:
// nothing blocks while it is held, and it never calls out.
type Reservations struct {
	mu    sync.Mutex
	feeds map[[32]byte]*reservedFeed // by discovery key; guarded by mu
}

// reservedFeed is one feed's table; guarded by Reservations.mu.
type reservedFeed struct {
	held    map[uint64]*claims // reserved block -> the member that holds it
	members map[*claims]struct{}
}

// claims is one channel's membership in a feed's table.
type claims struct {
	r    *Reservations
	dkey [32]byte
	rf   *reservedFeed // nil once left
	// freed is set, and low lowered, when another member releases a
	// block it did not store: this member may have to request it.
	// Guarded by r.mu.
	freed bool
	low   uint64
}

// NewReservations returns an empty table.
func NewReservations() *Reservations {
	return &Reservations{feeds: map[[32]byte]*reservedFeed{}}
}

// join adds a member for the feed with discovery key dkey.
func (r *Reservations) join(dkey [32]byte) *claims {
	r.mu.Lock()
	defer r.mu.Unlock()
	rf := r.feeds[dkey]
	if rf == nil {
		rf = &reservedFeed{held: map[uint64]*claims{}, members: map[*claims]struct{}{}}
		r.feeds[dkey] = rf
	}
	c := &claims{r: r, dkey: dkey, rf: rf}
	rf.members[c] = struct{}{}
	return c
}

// reserve takes block i for c. It reports false if another member
// holds it; true if c holds it now (or already did).
func (c *claims) reserve(i uint64) bool {
	c.r.mu.Lock()
	defer c.r.mu.Unlock()
	if c.rf == nil {
		return false
	}
	if h, ok := c.rf.held[i]; ok {
		return h == c
	}
	c.rf.held[i] = c
	return true
}

// release gives up c's reservations of blocks. stored says the blocks
// are now held locally; otherwise the other members learn that they are
// free again. It reports whether some other member was told.
func (c *claims) release(stored bool, blocks ...uint64) bool {
	c.r.mu.Lock()
	defer c.r.mu.Unlock()
	return c.releaseLocked(stored, blocks)
}

func (c *claims) releaseLocked(stored bool, blocks []uint64) bool {
	if c.rf == nil {
		return false
	}
	lowest, found := uint64(0), false
	for _, i := range blocks {
		if c.rf.held[i] != c {
			continue
		}
		delete(c.rf.held, i)
		if !found || i < lowest {
			lowest, found = i, true
		}
	}
	if stored || !found {
		return false
	}
	told := false
	for m := range c.rf.members {
		if m == c {
			continue
		}
		if !m.freed || lowest < m.low {
			m.low = lowest
		}
		m.freed, told = true, true
	}
	return told
}

// takeFreed returns the lowest block other members released unstored
// since the last call, if any.
func (c *claims) takeFreed() (uint64, bool) {
	c.r.mu.Lock()
	defer c.r.mu.Unlock()
	low, ok := c.low, c.freed
	c.low, c.freed = 0, false
	return low, ok
}

// leave releases everything c holds (unstored) and ends its membership;
// c reserves nothing after. It reports whether another member was told
// of freed blocks. It looks through the feed's whole table (bounded by
// the requests in flight) rather than trust the caller's list, so no
// reservation can outlive its channel.
func (c *claims) leave() bool {
	c.r.mu.Lock()
	defer c.r.mu.Unlock()
	if c.rf == nil {
		return false
	}
	var blocks []uint64
	for i, h := range c.rf.held {
		if h == c {
			blocks = append(blocks, i)
		}
	}
	told := c.releaseLocked(false, blocks)
	delete(c.rf.members, c)
	if len(c.rf.members) == 0 {
		delete(c.r.feeds, c.dkey)
	}
	c.rf = nil
	return told
}

// reserved counts the blocks reserved for the feed with discovery key
// dkey, for tests.
func (r *Reservations) reserved(dkey [32]byte) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	if rf := r.feeds[dkey]; rf != nil {
		return len(rf.held)
	}
	return 0
}
