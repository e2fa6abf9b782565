package peer

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/hyperfs/hyperfs/feed"
	"github.com/hyperfs/hyperfs/peer/wire"
)

// twoSeeders is a replica r downloading from two seeders of w: its
// sessions b1 (linked to a1) and b2 (linked to a2) share one
// reservation table, as the connections of a Swarm do. The test plays
// the Swarm's part: after each step, the sessions that released blocks
// unstored make the others reschedule (kick).
type twoSeeders struct {
	t              *testing.T
	n              *testNet
	w, r           *feed.Feed
	res            *Reservations
	a1, b1, a2, b2 *Session
	opts           FeedOptions
}

func newTwoSeeders(t *testing.T, blocks, maxInflight int, opts FeedOptions) *twoSeeders {
	t.Helper()
	ts := &twoSeeders{t: t, n: &testNet{t: t}, res: NewReservations(), opts: opts}
	ts.w = writer(t, rand.New(rand.NewPCG(41, 42)), blocks)
	ts.r = replica(t, ts.w)
	ts.a1, ts.b1 = ts.link(maxInflight)
	ts.a2, ts.b2 = ts.link(maxInflight)
	ts.n.watch(ts.w, ts.a1, ts.a2)
	ts.n.watch(ts.r, ts.b1, ts.b2)
	ts.a1.Open(ts.w, FeedOptions{Live: true})
	ts.a2.Open(ts.w, FeedOptions{Live: true})
	return ts
}

func (ts *twoSeeders) link(maxInflight int) (a, b *Session) {
	secret := fmt.Sprint(len(ts.n.links))
	a = NewSession(SessionConfig{Caps: testCaps{secret, "a", "b"}})
	b = NewSession(SessionConfig{Caps: testCaps{secret, "b", "a"}, Reservations: ts.res, MaxInflight: maxInflight})
	ts.n.links = append(ts.n.links, &testLink{a, b})
	return a, b
}

// kick reschedules each replica session on the feeds another released
// blocks of, as Swarm.reschedule does; it reports whether any were.
func (ts *twoSeeders) kick() bool {
	kicked := false
	for _, s := range []*Session{ts.b1, ts.b2} {
		for _, f := range s.takeFreed() {
			kicked = true
			for _, o := range []*Session{ts.b1, ts.b2} {
				if o != s {
					o.Reschedule(f)
				}
			}
		}
	}
	return kicked
}

// inflight is what s has requested of r; nil once the channel is gone.
func (ts *twoSeeders) inflight(s *Session) map[uint64]struct{} {
	if ch := s.byKey[ts.r.DiscoveryKey()]; ch != nil && !s.ended {
		return ch.inflight
	}
	return nil
}

// check asserts that every reservation is a request in flight of one
// session and every request is reserved: the table is bounded by the
// requests, and no block is asked of both seeders.
func (ts *twoSeeders) check() {
	ts.t.Helper()
	in1, in2 := ts.inflight(ts.b1), ts.inflight(ts.b2)
	for i := range in1 {
		if _, dup := in2[i]; dup {
			ts.t.Fatalf("block %d requested from both seeders", i)
		}
	}
	if got, want := ts.res.reserved(ts.r.DiscoveryKey()), len(in1)+len(in2); got != want {
		ts.t.Fatalf("%d blocks reserved, %d requested", got, want)
	}
}

// settle steps the network, kicking and checking after each step, until
// nothing moves.
func (ts *twoSeeders) settle() {
	ts.t.Helper()
	for round := 0; ; round++ {
		if round > 100000 {
			ts.t.Fatal("network does not settle")
		}
		moved := ts.n.step()
		kicked := ts.kick()
		ts.check()
		if !moved && !kicked {
			return
		}
	}
}

// stepUntil steps until cond holds.
func (ts *twoSeeders) stepUntil(what string, cond func() bool) {
	ts.t.Helper()
	for !cond() {
		if !ts.n.step() {
			ts.t.Fatalf("network settled before %s", what)
		}
		ts.kick()
		ts.check()
	}
}

// complete asserts that r holds every block of w and that the replica's
// sessions received extra more blocks than that in all.
func (ts *twoSeeders) complete(extra uint64) {
	ts.t.Helper()
	sameBlocks(ts.t, ts.w, ts.r, all)
	if got, want := ts.b1.received+ts.b2.received, ts.w.Length()+extra; got != want {
		ts.t.Fatalf("%d+%d blocks received for %d blocks, want %d", ts.b1.received, ts.b2.received, ts.w.Length(), want)
	}
	if n := ts.res.reserved(ts.r.DiscoveryKey()); n != 0 {
		ts.t.Fatalf("%d reservations left", n)
	}
}

// Each block of a full clone from two seeders is downloaded once, and
// whatever makes one seeder's session give up its requests (its
// connection ending, Unhave, Status without uploading, Close, a block
// that does not verify), the other takes them over.
func TestReservedOnce(t *testing.T) {
	for _, c := range []struct {
		name string
		// event happens to b1 mid-clone; it returns the blocks
		// received twice because of it.
		event func(ts *twoSeeders, remoteID uint64) uint64
	}{
		{"none", nil},
		{"connection ends", func(ts *twoSeeders, _ uint64) uint64 {
			ts.b1.End()
			ts.n.links = ts.n.links[1:]
			return 0
		}},
		{"unhave", func(ts *twoSeeders, id uint64) uint64 {
			ts.mustReceive(ts.b1, id, &wire.Unhave{Start: 0, Length: ts.w.Length()})
			return 0
		}},
		{"not uploading", func(ts *twoSeeders, id uint64) uint64 {
			ts.mustReceive(ts.b1, id, &wire.Status{Uploading: false, Downloading: false})
			return 0
		}},
		{"close", func(ts *twoSeeders, id uint64) uint64 {
			ts.mustReceive(ts.b1, id, &wire.Close{})
			return 0
		}},
		{"bad data", func(ts *twoSeeders, id uint64) uint64 {
			var i uint64
			for i = range ts.inflight(ts.b1) {
				break
			}
			p, err := ts.w.Proof(i, false, 0, nil)
			if err != nil {
				ts.t.Fatal(err)
			}
			d := toData(p)
			d.Value = append(d.Value, 1)
			if err := ts.b1.receive(id, d); err == nil {
				ts.t.Fatal("a forged block was accepted")
			}
			// The connection layer closes the connection on the error.
			ts.b1.End()
			ts.n.links = ts.n.links[1:]
			return 1
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			ts := newTwoSeeders(t, 600, 16, FeedOptions{})
			ts.b1.Open(ts.r, FeedOptions{Full: true, Live: true})
			ts.b2.Open(ts.r, FeedOptions{Full: true, Live: true})
			extra := uint64(0)
			if c.event != nil {
				ts.stepUntil("b1 is mid-clone", func() bool {
					return ts.b1.received > 0 && len(ts.inflight(ts.b1)) > 0 && ts.b2.received > 0
				})
				extra = c.event(ts, ts.b1.byKey[ts.r.DiscoveryKey()].remoteID)
			}
			ts.settle()
			ts.complete(extra)
			if c.event == nil && (ts.b1.received == 0 || ts.b2.received == 0) {
				t.Errorf("blocks from each seeder: %d and %d, want both used", ts.b1.received, ts.b2.received)
			}
		})
	}
}

func (ts *twoSeeders) mustReceive(s *Session, id uint64, m wire.Message) {
	ts.t.Helper()
	if err := s.receive(id, m); err != nil {
		ts.t.Fatalf("receive %T: %v", m, err)
	}
}

// A session with nothing left to request, as every block is reserved by
// the other, is idle: no message will make it look again. When the
// other's connection ends with all its requests unanswered, the
// reschedule alone makes it fetch them.
func TestReservedIdlePeerTakesOver(t *testing.T) {
	const blocks = 200
	ts := newTwoSeeders(t, blocks, blocks, FeedOptions{})
	ts.b1.Open(ts.r, FeedOptions{Full: true, Live: true})
	ts.stepUntil("b1 requests every block", func() bool { return len(ts.inflight(ts.b1)) == blocks })
	// a1 never answers: its link is cut before the requests arrive.
	ts.n.links = ts.n.links[1:]
	ts.b2.Open(ts.r, FeedOptions{Full: true, Live: true})
	ts.settle()
	if ts.b2.received != 0 || len(ts.inflight(ts.b2)) != 0 {
		t.Fatalf("b2 received %d, requested %d blocks reserved by b1", ts.b2.received, len(ts.inflight(ts.b2)))
	}
	if freed := ts.b1.End(); len(freed) != 1 || freed[0] != ts.r {
		t.Fatalf("End freed %v, want the replica", freed)
	}
	ts.b2.Reschedule(ts.r)
	ts.settle()
	ts.complete(0)
	if ts.b2.received != blocks {
		t.Fatalf("b2 received %d blocks, want %d", ts.b2.received, blocks)
	}
}

// A block two readers' sessions want (Swarm.Want asks every connection)
// is requested from one seeder only; if that one goes away unanswered,
// the other session asks its seeder.
func TestReservedSparseGet(t *testing.T) {
	ts := newTwoSeeders(t, 100, 0, FeedOptions{})
	ts.b1.Open(ts.r, FeedOptions{})
	ts.b2.Open(ts.r, FeedOptions{})
	ts.settle()
	ts.b1.Want(ts.r, 7)
	ts.b2.Want(ts.r, 7)
	ts.settle()
	if !ts.r.Has(7) || ts.b1.received+ts.b2.received != 1 {
		t.Fatalf("block 7: held %v, received %d times, want once", ts.r.Has(7), ts.b1.received+ts.b2.received)
	}

	ts.b1.Want(ts.r, 9)
	ts.b2.Want(ts.r, 9)
	holder, other := ts.b1, ts.b2
	if len(ts.inflight(holder)) == 0 {
		holder, other = other, holder
	}
	if _, ok := ts.inflight(holder)[9]; !ok || len(ts.inflight(other)) != 0 {
		t.Fatalf("block 9 in flight: %v and %v, want one session", ts.inflight(holder), ts.inflight(other))
	}
	// The holder's connection ends before its request goes out.
	holder.Output(nil)
	holder.End()
	ts.n.links = ts.n.links[:0]
	for _, l := range []*testLink{{ts.a1, ts.b1}, {ts.a2, ts.b2}} {
		if l.b == other {
			ts.n.links = append(ts.n.links, l)
		}
	}
	other.Reschedule(ts.r)
	ts.settle()
	if !ts.r.Has(9) || other.received != 1 {
		t.Fatalf("block 9: held %v, received %d times by the other session, want once", ts.r.Has(9), other.received)
	}
}

// The table's own rules: a block has one holder; only the holder
// releases it; releasing unstored tells the other members the lowest
// block freed; stored tells nobody; leave frees what the member held.
func TestReservationsTable(t *testing.T) {
	r := NewReservations()
	dk := [32]byte{1}
	a, b, c := r.join(dk), r.join(dk), r.join(dk)
	for _, c := range []struct {
		m    *claims
		i    uint64
		want bool
	}{{a, 5, true}, {a, 5, true}, {b, 5, false}, {b, 6, true}, {a, 9, true}} {
		if got := c.m.reserve(c.i); got != c.want {
			t.Fatalf("reserve %d: %v, want %v (a block has one holder)", c.i, got, c.want)
		}
	}
	if b.release(false, 5) {
		t.Fatal("b released a's block")
	}
	if a.release(true, 5) {
		t.Fatal("a stored release told others")
	}
	if _, ok := b.takeFreed(); ok {
		t.Fatal("b told of a stored block")
	}
	if !a.release(false, 9) {
		t.Fatal("an unstored release told nobody")
	}
	if low, ok := b.takeFreed(); !ok || low != 9 {
		t.Fatalf("b freed %d %v, want 9", low, ok)
	}
	if _, ok := a.takeFreed(); ok {
		t.Fatal("a told of its own release")
	}
	if !b.leave() {
		t.Fatal("leave with block 6 held told nobody")
	}
	if low, ok := c.takeFreed(); !ok || low != 6 {
		t.Fatalf("c freed %d %v, want 6 (9 and 6 were freed)", low, ok)
	}
	if b.reserve(1) {
		t.Fatal("a member that left reserved")
	}
	if r.reserved(dk) != 0 {
		t.Fatalf("%d reserved, want 0", r.reserved(dk))
	}
	a.leave()
	c.leave()
	if len(r.feeds) != 0 {
		t.Fatal("a feed's table outlived its members")
	}
}
