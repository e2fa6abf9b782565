package peer

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/hyperfs/hyperfs/peer/wire"
)

// Extension messages go only to names both sides registered, each side
// numbering its names in its own sorted list; unknown ids are dropped.
func TestExtensions(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	p := newPair(t, rng, 10,
		FeedOptions{Extensions: []string{"x", "b", "x"}},
		FeedOptions{Extensions: []string{"y", "x", "a"}})
	a, b := p.a, p.b
	for _, c := range []struct {
		from    *Session
		name    string
		sent    bool
		to      *Session
		deliver []string
	}{
		{a, "x", true, b, []string{"x:from a"}}, // a's id 1, b's id 1: sorted lists ["b" "x"], ["a" "x" "y"]
		{a, "b", false, b, nil},                 // b did not register it
		{b, "y", false, a, nil},
		{b, "x", true, a, []string{"x:from b"}},
		{a, "nope", false, b, nil}, // a did not register it
	} {
		f := p.w
		if c.from == b {
			f = p.r
		}
		if got := c.from.SendExtension(f, c.name, []byte("from "+map[*Session]string{a: "a", b: "b"}[c.from])); got != c.sent {
			t.Errorf("SendExtension(%q) = %v, want %v", c.name, got, c.sent)
		}
		p.n.pump()
		var got []string
		for _, m := range c.to.TakeExtensions() {
			got = append(got, m.Name+":"+string(m.Payload))
		}
		if !slices.Equal(got, c.deliver) {
			t.Errorf("after sending %q: delivered %q, want %q", c.name, got, c.deliver)
		}
	}
	// Ids past the sender's list, or naming what we did not register
	// (a's id 0 is "b"), are dropped.
	for _, id := range []uint64{0, 2, 1 << 40} {
		if _, err := deliver(t, wire.AppendFrame(nil, remoteIDOf(b, p.r), &wire.Extension{ID: id, Payload: []byte("forged")}), b); err != nil {
			t.Fatal(err)
		}
		if msgs := b.TakeExtensions(); len(msgs) != 0 {
			t.Errorf("extension id %d delivered %v", id, msgs)
		}
	}
}

// remoteIDOf is the remote's channel id for f as s knows it.
func remoteIDOf(s *Session, f interface{ DiscoveryKey() [32]byte }) uint64 {
	return s.byKey[f.DiscoveryKey()].remoteID
}

// A remote that asked for acks (Options{ack: true}) gets Have{ack} for
// every Data stored, and nothing else changes.
func TestAcks(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 8))
	p := newPair(t, rng, 50, FeedOptions{}, FeedOptions{})
	// The writer's side asks the replica's side for acks.
	if _, err := deliver(t, wire.AppendFrame(nil, remoteIDOf(p.b, p.r), &wire.Options{Ack: true}), p.b); err != nil {
		t.Fatal(err)
	}
	var acks []uint64
	p.b.Want(p.r, 7)
	p.b.Want(p.r, 30)
	for range 100 {
		moved := false
		if out := p.a.Output(nil); len(out) > 0 {
			moved = true
			if _, err := deliver(t, out, p.b); err != nil {
				t.Fatal(err)
			}
		}
		if out := p.b.Output(nil); len(out) > 0 {
			moved = true
			frames, err := deliver(t, out, p.a)
			if err != nil {
				t.Fatal(err)
			}
			for _, fr := range frames {
				if h, ok := mustDecode(t, fr).(*wire.Have); ok && h.Ack {
					if h.Length != 1 || h.Bitfield != nil {
						t.Errorf("ack %+v", h)
					}
					acks = append(acks, h.Start)
				}
			}
		}
		if !moved {
			break
		}
	}
	slices.Sort(acks)
	if !slices.Equal(acks, []uint64{7, 30}) || !p.r.Has(7) || !p.r.Has(30) {
		t.Errorf("acks %v (have 7: %v, 30: %v), want [7 30]", acks, p.r.Has(7), p.r.Has(30))
	}
}

// streamPair is two sessions with stream extensions and no feeds, each
// having received the other's opening frames.
func streamPair(t *testing.T, aNames, bNames []string) (a, b *Session) {
	t.Helper()
	a = NewSession(SessionConfig{Caps: testCaps{"s", "a", "b"}, StreamExtensions: aNames})
	b = NewSession(SessionConfig{Caps: testCaps{"s", "b", "a"}, StreamExtensions: bNames})
	exchange(t, a, b)
	return a, b
}

// exchange hands each session's output to the other, once.
func exchange(t *testing.T, a, b *Session) {
	t.Helper()
	outA, outB := a.Output(nil), b.Output(nil)
	if _, err := deliver(t, outA, b); err != nil {
		t.Fatal(err)
	}
	if _, err := deliver(t, outB, a); err != nil {
		t.Fatal(err)
	}
}

func streamNames(msgs []ExtensionMessage) []string {
	var got []string
	for _, m := range msgs {
		if m.Feed != nil {
			got = append(got, "feed "+m.Name)
			continue
		}
		got = append(got, m.Name+":"+string(m.Payload))
	}
	return got
}

// Stream extensions (spec 4.9) travel on channel 0: each side announces
// its sorted names in an Options there when the session starts, numbers
// what it sends by its own list, and maps what it receives through the
// sender's. Unknown ids, names not registered here, and messages before
// the sender's names are dropped.
func TestStreamExtensions(t *testing.T) {
	// The first frame of a session with stream extensions is channel 0's
	// Options, names sorted and without repeats.
	s := NewSession(SessionConfig{Caps: testCaps{"s", "a", "b"}, StreamExtensions: []string{"m", "b", "m"}})
	frames, err := deliver(t, s.Output(nil), nil)
	if err != nil || len(frames) != 1 || frames[0].Channel != 0 {
		t.Fatalf("start: %d frames (%v), want one on channel 0", len(frames), err)
	}
	if o, ok := mustDecode(t, frames[0]).(*wire.Options); !ok || !slices.Equal(o.Extensions, []string{"b", "m"}) || o.Ack {
		t.Fatalf("start: %+v, want Options{[b m]}", mustDecode(t, frames[0]))
	}
	// Without stream extensions nothing is sent (transcripts stay as JS's).
	if out := NewSession(SessionConfig{Caps: testCaps{}}).Output(nil); len(out) != 0 {
		t.Fatalf("a session without stream extensions sent %x", out)
	}

	// A message before the sender's names cannot be mapped.
	early := NewSession(SessionConfig{Caps: testCaps{}, StreamExtensions: []string{"m"}})
	if _, err := deliver(t, wire.AppendFrame(nil, 0, &wire.Extension{ID: 0, Payload: []byte("early")}), early); err != nil {
		t.Fatal(err)
	}
	if msgs := early.TakeExtensions(); len(msgs) != 0 {
		t.Errorf("delivered %q before the sender's names", streamNames(msgs))
	}

	// a numbers "m" 1 (["b" "m"]), b numbers it 0 (["m" "z"]).
	a, b := streamPair(t, []string{"m", "b"}, []string{"z", "m"})
	for _, c := range []struct {
		from, to *Session
		name     string
		sent     bool
		wireID   uint64
		deliver  []string
	}{
		{a, b, "m", true, 1, []string{"m:payload"}},
		{b, a, "m", true, 0, []string{"m:payload"}},
		{a, b, "b", true, 0, nil},   // sent: a cannot know b lacks it; b drops it
		{b, a, "z", true, 1, nil},   // likewise
		{a, b, "z", false, 0, nil},  // a did not register it
		{a, b, "", false, 0, nil},   // nor the empty name
		{b, a, "zz", false, 0, nil}, // nor b this one
	} {
		if got := c.from.SendStreamExtension(c.name, []byte("payload")); got != c.sent {
			t.Errorf("SendStreamExtension(%q) = %v, want %v", c.name, got, c.sent)
		}
		frames, err := deliver(t, c.from.Output(nil), c.to)
		if err != nil {
			t.Fatal(err)
		}
		if c.sent {
			if len(frames) != 1 || frames[0].Channel != 0 || mustDecode(t, frames[0]).(*wire.Extension).ID != c.wireID {
				t.Errorf("%q: sent %v, want one Extension{id %d} on channel 0", c.name, frames, c.wireID)
			}
		} else if len(frames) != 0 {
			t.Errorf("%q: sent %d frames, want none", c.name, len(frames))
		}
		if got := streamNames(c.to.TakeExtensions()); !slices.Equal(got, c.deliver) {
			t.Errorf("after sending %q: delivered %q, want %q", c.name, got, c.deliver)
		}
	}

	// Forged frames: ids past a's list or naming what b did not register,
	// an Extension without id, stream frames on channels never opened.
	for _, fr := range [][]byte{
		wire.AppendFrame(nil, 0, &wire.Extension{ID: 0, Payload: []byte("b is a's 0")}),
		wire.AppendFrame(nil, 0, &wire.Extension{ID: 2, Payload: []byte("past")}),
		wire.AppendFrame(nil, 0, &wire.Extension{ID: 1 << 62, Payload: []byte("far")}),
		wire.AppendFrame(nil, 5, &wire.Options{Extensions: []string{"m"}}),
		wire.AppendFrame(nil, 5, &wire.Extension{ID: 0, Payload: []byte("channel 5")}),
		wire.AppendFrame(nil, wire.MaxChannel, &wire.Extension{ID: 0}),
		wire.AppendFrame(nil, 0, &wire.Have{Start: 1, Ack: true}),
		wire.AppendFrame(nil, 0, &wire.Close{}),
	} {
		if _, err := deliver(t, fr, b); err != nil {
			t.Fatalf("%x: %v", fr, err)
		}
	}
	if msgs := b.TakeExtensions(); len(msgs) != 0 {
		t.Errorf("forged frames delivered %q", streamNames(msgs))
	}
	if _, err := deliver(t, []byte{0x01, 0x0f}, b); err == nil {
		t.Error("an Extension frame without an id was accepted")
	}

	// The sender's last Options counts: a re-announces ["m"] only, so
	// its id 0 is now "m" and 1 names nothing.
	if _, err := deliver(t, wire.AppendFrame(wire.AppendFrame(wire.AppendFrame(nil, 0,
		&wire.Options{Extensions: []string{"m"}}), 0,
		&wire.Extension{ID: 0, Payload: []byte("new 0")}), 0,
		&wire.Extension{ID: 1, Payload: []byte("old 1")}), b); err != nil {
		t.Fatal(err)
	}
	if got := streamNames(b.TakeExtensions()); !slices.Equal(got, []string{"m:new 0"}) {
		t.Errorf("after new names: delivered %q, want [m:new 0]", got)
	}

	// A payload that would make the frame exceed 8 MiB is not sent (the
	// remote would close the connection); one that fits is.
	if a.SendStreamExtension("m", make([]byte, wire.MaxBody)) {
		t.Error("sent an 8 MiB payload with its id: over the frame limit")
	}
	if !a.SendStreamExtension("m", make([]byte, wire.MaxBody-1)) {
		t.Error("did not send the largest payload that fits")
	}
	a.Output(nil)
}

// A Session whose owner does not take extension messages keeps at most
// maxExtensionQueue of them and maxExtensionQueueBytes of payload.
func TestStreamExtensionQueueBound(t *testing.T) {
	a, b := streamPair(t, []string{"m"}, []string{"m"})
	for range maxExtensionQueue + 10 {
		a.SendStreamExtension("m", []byte("x"))
	}
	if _, err := deliver(t, a.Output(nil), b); err != nil {
		t.Fatal(err)
	}
	if n := len(b.TakeExtensions()); n != maxExtensionQueue {
		t.Errorf("queued %d messages, want %d", n, maxExtensionQueue)
	}
	big := make([]byte, 6<<20)
	var n int
	for range 4 {
		a.SendStreamExtension("m", big)
		if _, err := deliver(t, a.Output(nil), b); err != nil {
			t.Fatal(err)
		}
	}
	for _, m := range b.TakeExtensions() {
		n += len(m.Payload)
	}
	if n != 2*len(big) {
		t.Errorf("queued %d payload bytes, want %d", n, 2*len(big))
	}
	// Taking them frees the room.
	a.SendStreamExtension("m", big)
	if _, err := deliver(t, a.Output(nil), b); err != nil {
		t.Fatal(err)
	}
	if msgs := b.TakeExtensions(); len(msgs) != 1 {
		t.Errorf("after taking: %d messages, want 1", len(msgs))
	}
}

// A side that asks for acks (FeedOptions.Ack) says so in its Options
// and hears of every Data the remote stored, once each; acks for blocks
// it never sent, sent acks repeated, bitfield Haves and acks it did not
// ask for are not acks (spec 4.8.8).
func TestAckRequested(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	p := newPair(t, rng, 60, FeedOptions{Ack: true}, FeedOptions{Full: true})
	if !p.b.byKey[p.r.DiscoveryKey()].remoteAck {
		t.Fatal("the replica did not hear the writer's Options{ack: true}")
	}
	sameBlocks(t, p.w, p.r, all)
	var got []uint64
	for _, a := range p.a.TakeAcks() {
		if a.Feed != p.w {
			t.Errorf("ack for feed %p, want the writer's", a.Feed)
		}
		got = append(got, a.Index)
	}
	slices.Sort(got)
	want := make([]uint64, 60)
	for i := range want {
		want[i] = uint64(i)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("acks %v, want each of 0..59 once", got)
	}

	id := remoteIDOf(p.a, p.w)
	for _, h := range []wire.Have{
		{Start: 3, Length: 1, Ack: true},                     // acknowledged already
		{Start: 60, Length: 1, Ack: true},                    // past the feed
		{Start: 1 << 62, Length: 1, Ack: true},               // far past it
		{Start: 3, Length: 0, Ack: true, Bitfield: []byte{}}, // a bitfield Have is availability
	} {
		if _, err := deliver(t, wire.AppendFrame(nil, id, &h), p.a); err != nil {
			t.Fatal(err)
		}
	}
	if acks := p.a.TakeAcks(); len(acks) != 0 {
		t.Errorf("forged acks reported: %v", acks)
	}
	// A block sent again after its ack is acknowledged again.
	p.a.onRequest(p.a.byKey[p.w.DiscoveryKey()], &wire.Request{Index: 3})
	p.a.Output(nil)
	for range 2 {
		if _, err := deliver(t, wire.AppendFrame(nil, id, &wire.Have{Start: 3, Length: 1, Ack: true}), p.a); err != nil {
			t.Fatal(err)
		}
	}
	if acks := p.a.TakeAcks(); len(acks) != 1 || acks[0].Index != 3 {
		t.Errorf("acks after resending block 3 and two acks: %v, want one for 3", acks)
	}
	// The replica did not ask: the writer's acks are dropped there.
	if _, err := deliver(t, wire.AppendFrame(nil, remoteIDOf(p.b, p.r), &wire.Have{Start: 0, Length: 1, Ack: true}), p.b); err != nil {
		t.Fatal(err)
	}
	if acks := p.b.TakeAcks(); len(acks) != 0 {
		t.Errorf("acks reported without asking: %v", acks)
	}
}

// The ack log remembers the last maxUnacked sends: older unacked blocks
// are forgotten, so a remote that never acks costs bounded memory.
func TestAckLogBound(t *testing.T) {
	var l ackLog
	for i := range uint64(maxUnacked + 10) {
		l.sent(i)
	}
	if len(l.pending) != maxUnacked || len(l.ring) != maxUnacked {
		t.Fatalf("%d pending, ring %d, want %d", len(l.pending), len(l.ring), maxUnacked)
	}
	for _, c := range []struct {
		block uint64
		want  bool
	}{{0, false}, {9, false}, {10, true}, {10, false}, {maxUnacked + 9, true}, {maxUnacked + 10, false}} {
		if got := l.acked(c.block); got != c.want {
			t.Errorf("acked(%d) = %v, want %v", c.block, got, c.want)
		}
	}
	// A block sent twice is one entry; an older copy leaving the ring does
	// not forget the newer one.
	l = ackLog{}
	l.sent(7)
	l.sent(7)
	for i := range uint64(maxUnacked - 1) {
		l.sent(1000 + i) // pushes out the first send of 7 only
	}
	if !l.acked(7) || l.acked(7) {
		t.Error("block 7, sent twice, not acknowledged exactly once")
	}
}
