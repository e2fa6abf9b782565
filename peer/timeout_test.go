package peer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/hyperfs/hyperfs/feed"
	"github.com/hyperfs/hyperfs/peer/wire"
)

// The request timeout (timeout.go; TESTING.md A18, for a peer that is
// alive but does not answer), first on the deterministic core, which
// learns the time from Tick, then on real sockets.

// tickClock plays the connection layer's ticker for a session whose
// request timeout is requestTicks periods.
type tickClock struct {
	s   *Session
	now time.Time
}

const tickPeriod = time.Second

func newTickClock(s *Session) *tickClock {
	s.cfg.RequestTimeout = requestTicks * tickPeriod
	return &tickClock{s: s, now: time.Unix(1e9, 0)}
}

// ticks calls Tick n times, step apart, and returns the last result.
func (c *tickClock) ticks(n int, step time.Duration) (*feed.Feed, int) {
	var f *feed.Feed
	var k int
	for range n {
		c.now = c.now.Add(step)
		f, k = c.s.Tick(c.now)
	}
	return f, k
}

func TestTickStalled(t *testing.T) {
	cases := []struct {
		name string
		// play drives the victim after its first request (block 5) and
		// the first ticks; then the test ticks until stalled.
		play func(v *victim, c *tickClock)
		// wantTicks is how many ticks the stall then takes (0: never
		// within 3*requestTicks); wantOut the requests out then.
		wantTicks, wantOut int
	}{
		{"silent", func(*victim, *tickClock) {}, 2, 1},
		{"a second request does not restart the clock", func(v *victim, _ *tickClock) { v.ask(6) }, 2, 2},
		{"other messages do not restart it", func(v *victim, _ *tickClock) {
			if err := v.inject(&wire.Have{Start: 0, Length: 100}); err != nil {
				v.t.Fatal(err)
			}
			if err := v.inject(&wire.Data{Index: 99, Value: []byte("x")}); err != nil { // unrequested
				v.t.Fatal(err)
			}
		}, 2, 1},
		{"ticks close together make no time", func(v *victim, c *tickClock) {
			// A writer busy sending reads its ticker late, then at once.
			if f, _ := c.ticks(100, time.Millisecond); f != nil {
				v.t.Fatal("stalled by ticks before the timeout")
			}
		}, 2, 1},
		{"an answer restarts it", func(v *victim, _ *tickClock) {
			v.ask(6)
			if err := v.inject(v.data(6)); err != nil {
				v.t.Fatal(err)
			}
		}, requestTicks + 1, 1},
		{"all answered: no clock", func(v *victim, _ *tickClock) {
			if err := v.inject(v.data(5)); err != nil {
				v.t.Fatal(err)
			}
		}, 0, 0},
		{"stored by another route: forgotten", func(v *victim, _ *tickClock) {
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
			clock := newTickClock(v.s)
			if f, _ := clock.ticks(3*requestTicks, tickPeriod); f != nil {
				t.Fatal("stalled with no request out")
			}
			v.ask(5)
			if f, _ := clock.ticks(requestTicks-1, tickPeriod); f != nil {
				t.Fatalf("stalled after %d ticks", requestTicks-1)
			}
			c.play(v, clock)
			for n := 1; n <= 3*requestTicks; n++ {
				f, out := clock.ticks(1, tickPeriod)
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

// A session without a request timeout never reports a stall.
func TestTickNoTimeout(t *testing.T) {
	v := newVictim(t)
	v.ask(5)
	now := time.Unix(1e9, 0)
	for k := range 10 {
		if f, _ := v.s.Tick(now.Add(time.Duration(k) * time.Hour)); f != nil {
			t.Fatal("stalled without a request timeout")
		}
	}
}

// fakeSeeder plays a seeder of w dialled into a swarm's listener: it
// does the handshake, opens w, announces every block with one Have,
// sends a keep-alive every 50 ms, and answers block Requests, oldest
// first, one per answerEvery, or never if answerEvery is 0.
type fakeSeeder struct {
	t  *testing.T
	p  *fakePeer
	w  *feed.Feed
	wg sync.WaitGroup

	mu        sync.Mutex
	requested []*wire.Request // block requests received, in order
	answered  int             // how many of them were answered
	firstAt   time.Time       // when the first block request arrived

	first  chan struct{} // closed at the first block request
	closed chan struct{} // closed when the swarm ends the connection
	endAt  time.Time     // when; set before closed
}

func startFakeSeeder(t *testing.T, addr net.Addr, w *feed.Feed, answerEvery time.Duration) *fakeSeeder {
	t.Helper()
	fs := &fakeSeeder{t: t, p: dialFake(t, addr), w: w, first: make(chan struct{}), closed: make(chan struct{})}
	fs.p.write(frames(fs.p.open(w), &wire.Have{Start: 0, Length: w.Length()}))
	fs.wg.Add(2)
	go fs.read()
	go fs.send(answerEvery)
	// Cleanups run last first: the connection closes, then both
	// goroutines end.
	t.Cleanup(fs.wg.Wait)
	t.Cleanup(func() { fs.p.nc.Close() })
	return fs
}

// read collects block requests until the connection ends.
func (fs *fakeSeeder) read() {
	defer fs.wg.Done()
	for {
		fr, err := fs.p.next()
		if err != nil {
			fs.endAt = time.Now()
			close(fs.closed)
			return
		}
		if fr.KeepAlive || fr.Type != wire.TypeRequest {
			continue
		}
		m, err := wire.Decode(fr.Type, fr.Body)
		if err != nil {
			continue
		}
		if req := m.(*wire.Request); !req.Hash {
			fs.mu.Lock()
			fs.requested = append(fs.requested, req)
			if len(fs.requested) == 1 {
				fs.firstAt = time.Now()
				close(fs.first)
			}
			fs.mu.Unlock()
		}
	}
}

// send is the fake's only writer after the start: keep-alives, and the
// answers if it gives any.
func (fs *fakeSeeder) send(answerEvery time.Duration) {
	defer fs.wg.Done()
	alive := time.NewTicker(50 * time.Millisecond)
	defer alive.Stop()
	var answer <-chan time.Time
	if answerEvery > 0 {
		tk := time.NewTicker(answerEvery)
		defer tk.Stop()
		answer = tk.C
	}
	for {
		b := []byte{0}
		select {
		case <-fs.closed:
			return
		case <-alive.C:
		case <-answer:
			b = fs.nextAnswer()
		}
		if _, err := fs.p.sec.Write(b); err != nil {
			return
		}
	}
}

// nextAnswer is the Data for the oldest unanswered request, or a
// keep-alive if none is waiting.
func (fs *fakeSeeder) nextAnswer() []byte {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if fs.answered == len(fs.requested) {
		return []byte{0}
	}
	req := fs.requested[fs.answered]
	fs.answered++
	p, err := fs.w.Proof(req.Index, false, req.Nodes, nil)
	if err != nil {
		return []byte{0}
	}
	return frames(toData(p))
}

// waitFirst waits for the first block request and returns its block.
func (fs *fakeSeeder) waitFirst() uint64 {
	fs.t.Helper()
	select {
	case <-fs.first:
	case <-time.After(patience):
		fs.t.Fatal("the swarm asked the fake seeder for nothing")
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.requested[0].Index
}

// waitClosed waits until the swarm ends the connection and returns how
// long after the first block request it did.
func (fs *fakeSeeder) waitClosed() time.Duration {
	fs.t.Helper()
	select {
	case <-fs.closed:
	case <-time.After(patience):
		fs.t.Fatal("the swarm kept the stalling peer")
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.endAt.Sub(fs.firstAt)
}

// timeoutLog counts, by the peer's address, the request timeouts a
// Swarm logs.
type timeoutLog struct {
	mu    sync.Mutex
	addrs map[string]int
}

func (l *timeoutLog) Enabled(context.Context, slog.Level) bool { return true }
func (l *timeoutLog) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *timeoutLog) WithGroup(string) slog.Handler            { return l }
func (l *timeoutLog) Handle(_ context.Context, r slog.Record) error {
	if r.Message != "peer stopped answering requests; dropping it" {
		return nil
	}
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "addr" {
			l.mu.Lock()
			l.addrs[a.Value.String()]++
			l.mu.Unlock()
		}
		return true
	})
	return nil
}

func (l *timeoutLog) count(addr string) (n, all int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, k := range l.addrs {
		all += k
	}
	return l.addrs[addr], all
}

// cloner is a swarm replicating r with opts and a request timeout d,
// listening on loopback; it returns the swarm, its address and its log.
func cloner(t *testing.T, r *feed.Feed, opts FeedOptions, d time.Duration) (*Swarm, net.Addr, *timeoutLog) {
	t.Helper()
	log := &timeoutLog{addrs: map[string]int{}}
	c := swarmWith(t, Config{RequestTimeout: d, Logger: slog.New(log)}, r, opts)
	addr, err := c.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return c, addr, log
}

// honestSeeder is a swarm seeding w that dials addr.
func honestSeeder(t *testing.T, w *feed.Feed, addr net.Addr) {
	t.Helper()
	s := swarmWith(t, Config{}, w, FeedOptions{Live: true})
	if err := s.Dial(addr.String()); err != nil {
		t.Fatal(err)
	}
}

// checkDropped checks that the fake seeder was dropped for the timeout,
// not before it, and that the timeout was logged once, with its address.
func checkDropped(t *testing.T, fs *fakeSeeder, log *timeoutLog, d time.Duration) {
	t.Helper()
	after := fs.waitClosed()
	t.Logf("the stalling peer was dropped %v after its first request", after)
	// The swarm drops it at least d after it made the request; the fake
	// reads the request a little later than that, hence the slack.
	if after < d-d/10 {
		t.Errorf("dropped %v after the first request, before the %v timeout", after, d)
	}
	addr := fs.p.nc.LocalAddr().String()
	if n, all := log.count(addr); n != 1 || all != 1 {
		t.Errorf("%d timeouts logged for the fake at %s (%d in all), want 1", n, addr, all)
	}
}

// A18, a peer alive but not answering: a full clone from a seeder that
// holds its reservations and never answers, though it sends
// keep-alives, and an honest one: the staller is dropped after the
// request timeout, its blocks go to the honest seeder, and the clone
// completes, each block received once.
func TestRequestTimeoutClone(t *testing.T) {
	checkNoLeak(t)
	const d = 500 * time.Millisecond
	w := writer(t, rand.New(rand.NewPCG(61, 62)), 300)
	r := replica(t, w)
	c, addr, log := cloner(t, r, FeedOptions{Full: true, Live: true}, d)
	fs := startFakeSeeder(t, addr, w, 0)
	fs.waitFirst()
	honestSeeder(t, w, addr)
	waitFor(t, r, "the clone", func() bool {
		return r.Length() == w.Length() && r.Downloaded(0, w.Length()) == w.Length()
	})
	select {
	case <-fs.closed:
	default:
		t.Fatal("the clone completed while the staller held its reservations")
	}
	checkDropped(t, fs, log, d)
	sameBlocks(t, w, r, all)
	checkReceivedOnce(t, c, w.Length())
}

// A sparse Get of a block reserved by the staller completes from the
// honest seeder once the staller is dropped.
func TestRequestTimeoutGet(t *testing.T) {
	checkNoLeak(t)
	const d = 500 * time.Millisecond
	w := writer(t, rand.New(rand.NewPCG(63, 64)), 100)
	r := replica(t, w)
	_, addr, log := cloner(t, r, FeedOptions{}, d)
	fs := startFakeSeeder(t, addr, w, 0)

	const block = 7
	got := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(t.Context(), patience)
		defer cancel()
		b, err := r.Get(ctx, block)
		if want, _ := w.GetLocal(block); err == nil && !bytes.Equal(b, want) {
			err = errors.New("the block differs")
		}
		got <- err
	}()
	if i := fs.waitFirst(); i != block {
		t.Fatalf("the staller was asked for block %d, want %d", i, block)
	}
	honestSeeder(t, w, addr)
	if err := <-got; err != nil {
		t.Fatalf("get %d: %v", block, err)
	}
	checkDropped(t, fs, log, d)
}

// A seeder that answers slowly, one block per fifth of the timeout,
// with requests out all along, is kept: the clone takes four timeouts
// and completes from it alone.
func TestRequestTimeoutSlowSeeder(t *testing.T) {
	checkNoLeak(t)
	const d = 500 * time.Millisecond
	w := writer(t, rand.New(rand.NewPCG(65, 66)), 20)
	r := replica(t, w)
	_, addr, log := cloner(t, r, FeedOptions{Full: true}, d)
	fs := startFakeSeeder(t, addr, w, d/5)
	start := time.Now()
	deadline := time.After(patience)
	for {
		changed := r.Changed()
		if r.Downloaded(0, w.Length()) == w.Length() {
			break
		}
		select {
		case <-changed:
		case <-fs.closed:
			t.Fatalf("the slow seeder was dropped with %d of %d blocks sent", r.Downloaded(0, w.Length()), w.Length())
		case <-deadline:
			t.Fatalf("the slow clone did not complete: %d of %d blocks", r.Downloaded(0, w.Length()), w.Length())
		}
	}
	t.Logf("the slow clone took %v", time.Since(start))
	select {
	case <-fs.closed:
		t.Fatal("the slow seeder was dropped")
	default:
	}
	if _, all := log.count(""); all != 0 {
		t.Fatalf("%d request timeouts logged", all)
	}
	sameBlocks(t, w, r, all)
}

// The redial wait doubles from minBackoff to maxBackoff, starts over
// after a connection that lasted a minute, and a peer dropped for
// stalling is not redialled before stallBackoff.
func TestRedialAfter(t *testing.T) {
	stall := fmt.Errorf("%w: 3 requests", ErrRequestTimeout)
	refused := errors.New("connection refused")
	for _, tc := range []struct {
		prev, lasted time.Duration
		err          error
		want         time.Duration
	}{
		{0, 0, refused, minBackoff},
		{minBackoff, 0, refused, 2 * minBackoff},
		{8 * time.Second, time.Second, refused, maxBackoff},
		{maxBackoff, time.Second, refused, maxBackoff},
		{maxBackoff, 2 * time.Minute, refused, minBackoff},
		{0, 20 * time.Second, stall, stallBackoff},
		{minBackoff, 2 * time.Minute, stall, stallBackoff},
		{stallBackoff, time.Second, refused, maxBackoff},
	} {
		if got := redialAfter(tc.prev, tc.lasted, tc.err); got != tc.want {
			t.Errorf("redialAfter(%v, %v, %v) = %v, want %v", tc.prev, tc.lasted, tc.err, got, tc.want)
		}
	}
}
