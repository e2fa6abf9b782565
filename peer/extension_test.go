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
