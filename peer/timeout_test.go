package peer

import (
	"testing"

	"github.com/hyperfs/hyperfs/feed"
	"github.com/hyperfs/hyperfs/peer/wire"
)

// The request timeout (timeout.go; TESTING.md A18, for a peer that is
// alive but does not answer), on the deterministic core, whose clock is
// Tick.

// ticks calls Tick n times and returns the last result.
func ticks(s *Session, n int) (*feed.Feed, int) {
	var f *feed.Feed
	var k int
	for range n {
		f, k = s.Tick()
	}
	return f, k
}

func TestTickStalled(t *testing.T) {
	cases := []struct {
		name string
		// play drives the victim after its first request (block 5) and
		// the first ticks; then the test ticks until stalled.
		play func(v *victim)
		// wantTicks is how many ticks the stall then takes (0: never
		// within 3*requestTicks); wantOut the requests out then.
		wantTicks, wantOut int
	}{
		{"silent", func(*victim) {}, 2, 1},
		{"a second request does not restart the clock", func(v *victim) { v.ask(6) }, 2, 2},
		{"other messages do not restart it", func(v *victim) {
			if err := v.inject(&wire.Have{Start: 0, Length: 100}); err != nil {
				v.t.Fatal(err)
			}
			if err := v.inject(&wire.Data{Index: 99, Value: []byte("x")}); err != nil { // unrequested
				v.t.Fatal(err)
			}
		}, 2, 1},
		{"an answer restarts it", func(v *victim) {
			v.ask(6)
			if err := v.inject(v.data(6)); err != nil {
				v.t.Fatal(err)
			}
		}, requestTicks + 1, 1},
		{"all answered: no clock", func(v *victim) {
			if err := v.inject(v.data(5)); err != nil {
				v.t.Fatal(err)
			}
		}, 0, 0},
		{"stored by another route: forgotten", func(v *victim) {
			p, err := v.w.Proof(5, false, 0, nil)
			if err != nil {
				v.t.Fatal(err)
			}
			if err := v.r.Put(p); err != nil {
				v.t.Fatal(err)
			}
		}, 0, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := newVictim(t)
			if f, _ := ticks(v.s, 3*requestTicks); f != nil {
				t.Fatal("stalled with no request out")
			}
			v.ask(5)
			if f, _ := ticks(v.s, requestTicks-1); f != nil {
				t.Fatalf("stalled after %d ticks", requestTicks-1)
			}
			c.play(v)
			for n := 1; n <= 3*requestTicks; n++ {
				f, out := v.s.Tick()
				if f == nil {
					continue
				}
				if n != c.wantTicks || f != v.r || out != c.wantOut {
					t.Fatalf("stalled after %d more ticks with %d requests out, want %d ticks and %d", n, out, c.wantTicks, c.wantOut)
				}
				return
			}
			if c.wantTicks != 0 {
				t.Fatal("never stalled")
			}
			if n := v.s.res.reserved(v.r.DiscoveryKey()); n != 0 {
				t.Fatalf("%d blocks still reserved", n)
			}
		})
	}
}
