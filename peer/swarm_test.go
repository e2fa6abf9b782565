package peer

import (
	"context"
	"math/rand/v2"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/hyperfs/hyperfs/feed"
	"github.com/hyperfs/hyperfs/peer/handshake"
)

// waitFor waits until cond holds, re-checking at every change of f.
func waitFor(t *testing.T, f *feed.Feed, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	for {
		ch := f.Changed()
		if cond() {
			return
		}
		select {
		case <-ch:
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// checkReceivedOnce checks that sw received exactly n blocks of Data it
// asked for. The count is added once a connection's batch of frames is
// applied, just after the feed already shows the blocks, so it is waited
// for; more than n is a block fetched twice.
func checkReceivedOnce(t *testing.T, sw *Swarm, n uint64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for sw.received.Load() < n && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if got := sw.received.Load(); got != n {
		t.Fatalf("%d blocks received for %d blocks (per connection %v), want each once", got, n, received(sw))
	}
}

func newTestSwarm(t *testing.T) *Swarm {
	t.Helper()
	sw, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sw.Close() })
	return sw
}

// checkNoLeak fails if goroutines started during the test outlive it.
func checkNoLeak(t *testing.T) {
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(5 * time.Second)
		for runtime.NumGoroutine() > before {
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				t.Errorf("goroutines: %d before, %d after\n%s", before, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
				return
			}
			runtime.Gosched()
			time.Sleep(10 * time.Millisecond)
		}
	})
}

// Two swarms over loopback TCP: full clone, then live appends.
func TestSwarmFullAndLive(t *testing.T) {
	checkNoLeak(t)
	rng := rand.New(rand.NewPCG(31, 32))
	w := writer(t, rng, 3000)
	r := replica(t, w)
	a, b := newTestSwarm(t), newTestSwarm(t)
	if err := a.Add(w, FeedOptions{Live: true}); err != nil {
		t.Fatal(err)
	}
	if err := b.Add(r, FeedOptions{Full: true, Live: true}); err != nil {
		t.Fatal(err)
	}
	addr, err := a.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Dial(addr.String()); err != nil {
		t.Fatal(err)
	}
	complete := func() bool { return r.Length() == w.Length() && r.Downloaded(0, w.Length()) == w.Length() }
	waitFor(t, r, "the clone", complete)
	sameBlocks(t, w, r, all)
	if a.Peers(w) != 1 || b.Peers(r) != 1 {
		t.Fatalf("peers: %d and %d, want 1 and 1", a.Peers(w), b.Peers(r))
	}
	for range 10 {
		appendRandom(t, rng, w, 1+rng.IntN(5))
		waitFor(t, r, "a live append", complete)
	}
	sameBlocks(t, w, r, all)
}

// A sparse replica's Get fetches just the block asked for.
func TestSwarmSparseGet(t *testing.T) {
	checkNoLeak(t)
	rng := rand.New(rand.NewPCG(33, 34))
	w := writer(t, rng, 1000)
	r := replica(t, w)
	a, b := newTestSwarm(t), newTestSwarm(t)
	a.Add(w, FeedOptions{Live: true})
	b.Add(r, FeedOptions{Live: true})
	c1, c2 := net.Pipe()
	go a.Connect(c1, false)
	go b.Connect(c2, true)
	picked := map[uint64]bool{}
	for range 20 {
		i := rng.Uint64N(w.Length())
		picked[i] = true
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		got, err := r.Get(ctx, i)
		cancel()
		if err != nil {
			t.Fatalf("get %d: %v", i, err)
		}
		want, _ := w.GetLocal(i)
		if string(got) != string(want) {
			t.Fatalf("block %d differs", i)
		}
	}
	sameBlocks(t, w, r, func(i uint64) bool { return picked[i] })
}

// A -> B -> C: a live append at A reaches C through B.
func TestSwarmLine(t *testing.T) {
	checkNoLeak(t)
	rng := rand.New(rand.NewPCG(35, 36))
	w := writer(t, rng, 100)
	rb, rc := replica(t, w), replica(t, w)
	a, b, c := newTestSwarm(t), newTestSwarm(t), newTestSwarm(t)
	a.Add(w, FeedOptions{Live: true})
	b.Add(rb, FeedOptions{Full: true, Live: true})
	c.Add(rc, FeedOptions{Full: true, Live: true})
	addrA, err := a.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addrB, err := b.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b.Dial(addrA.String())
	c.Dial(addrB.String())
	for range 5 {
		appendRandom(t, rng, w, 3)
		waitFor(t, rc, "the append at C", func() bool {
			return rc.Length() == w.Length() && rc.Downloaded(0, w.Length()) == w.Length()
		})
	}
	sameBlocks(t, w, rc, all)
}

// Closing a swarm mid-transfer stops every goroutine it started.
func TestSwarmCloseMidTransfer(t *testing.T) {
	checkNoLeak(t)
	rng := rand.New(rand.NewPCG(37, 38))
	w := writer(t, rng, 2000)
	r := replica(t, w)
	a, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	a.Add(w, FeedOptions{Live: true})
	b.Add(r, FeedOptions{Full: true, Live: true})
	addr, err := a.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b.Dial(addr.String())
	waitFor(t, r, "some blocks", func() bool { return r.Downloaded(0, w.Length()) > 10 })
	b.Close()
	a.Close()
}

// A writer that asks for acks learns, per block, how many peers store
// it; stream extensions reach every connected peer, and the receiver
// knows which peer sent each message.
func TestSwarmAcksAndStreamExtensions(t *testing.T) {
	checkNoLeak(t)
	rng := rand.New(rand.NewPCG(39, 40))
	w := writer(t, rng, 500)
	type streamMsg struct {
		from Remote
		text string
	}
	got := make(chan streamMsg, 8)
	var (
		mu    sync.Mutex
		holds = map[uint64]map[[32]byte]bool{} // block -> peers that acked it
		acks  int
		done  = make(chan struct{})
	)
	a, err := New(Config{
		StreamExtensions: []string{"hello"},
		OnStreamExtension: func(from Remote, name string, payload []byte) {
			got <- streamMsg{from, name + ":" + string(payload)}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	err = a.Add(w, FeedOptions{Live: true, Ack: true, OnAck: func(from Remote, i uint64) {
		mu.Lock()
		defer mu.Unlock()
		if holds[i] == nil {
			holds[i] = map[[32]byte]bool{}
		}
		if holds[i][from.PublicKey] {
			t.Errorf("block %d acked twice by %x", i, from.PublicKey[:4])
		}
		holds[i][from.PublicKey] = true
		if acks++; acks == 2*int(w.Length()) {
			close(done)
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	addr, err := a.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var replicas []*Swarm
	keys := map[[32]byte]bool{}
	for range 2 {
		kp, err := handshake.GenerateKeyPair(nil)
		if err != nil {
			t.Fatal(err)
		}
		keys[kp.Public] = true
		sw, err := New(Config{Static: kp, StreamExtensions: []string{"hello"}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { sw.Close() })
		if err := sw.Add(replica(t, w), FeedOptions{Full: true, Live: true}); err != nil {
			t.Fatal(err)
		}
		if err := sw.Dial(addr.String()); err != nil {
			t.Fatal(err)
		}
		replicas = append(replicas, sw)
	}
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("%d acks, want %d", acks, 2*w.Length())
	}
	mu.Lock()
	for i := range w.Length() {
		if len(holds[i]) != 2 {
			t.Errorf("block %d: %d peers acked, want 2", i, len(holds[i]))
		}
		for k := range holds[i] {
			if !keys[k] {
				t.Errorf("block %d acked by unknown key %x", i, k[:4])
			}
		}
	}
	mu.Unlock()

	// Each replica is connected (it acked), so its message goes out.
	for k, sw := range replicas {
		if n := sw.SendStreamExtension("hello", []byte{'0' + byte(k)}); n != 1 {
			t.Fatalf("replica %d sent to %d peers, want 1", k, n)
		}
		if n := sw.SendStreamExtension("unregistered", nil); n != 0 {
			t.Fatalf("replica %d sent an unregistered name to %d peers", k, n)
		}
	}
	from := map[string][32]byte{}
	for range 2 {
		select {
		case m := <-got:
			from[m.text] = m.from.PublicKey
			if m.from.Addr == "" {
				t.Errorf("message %q without an address", m.text)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("stream messages: got %v", from)
		}
	}
	if len(from) != 2 || !keys[from["hello:0"]] || !keys[from["hello:1"]] || from["hello:0"] == from["hello:1"] {
		t.Errorf("stream messages from %v, want hello:0 and hello:1 from the two replicas", from)
	}
}

// received is what each of sw's connections has received of the blocks
// it requested.
func received(sw *Swarm) []uint64 {
	sw.mu.Lock()
	conns := sw.connList()
	sw.mu.Unlock()
	var n []uint64
	for _, c := range conns {
		c.mu.Lock()
		n = append(n, c.s.received)
		c.mu.Unlock()
	}
	return n
}

// swarmTwoSeeders starts two swarms seeding w and a full replica of w
// dialling both; it returns the seeders and the cloner.
func swarmTwoSeeders(t *testing.T, w *feed.Feed, cfg Config) (s1, s2, c *Swarm, r *feed.Feed) {
	t.Helper()
	r = replica(t, w)
	s1, s2 = newTestSwarm(t), newTestSwarm(t)
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Add(r, FeedOptions{Full: true, Live: true}); err != nil {
		t.Fatal(err)
	}
	for _, s := range []*Swarm{s1, s2} {
		if err := s.Add(w, FeedOptions{Live: true}); err != nil {
			t.Fatal(err)
		}
		addr, err := s.Listen("127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Dial(addr.String()); err != nil {
			t.Fatal(err)
		}
	}
	return s1, s2, c, r
}

// A full clone from two seeders over TCP downloads every block once in
// all (each is requested from one seeder at a time), live appends too.
func TestSwarmTwoSeedersOnce(t *testing.T) {
	checkNoLeak(t)
	rng := rand.New(rand.NewPCG(43, 44))
	w := writer(t, rng, 3000)
	_, _, c, r := swarmTwoSeeders(t, w, Config{})
	complete := func() bool { return r.Length() == w.Length() && r.Downloaded(0, w.Length()) == w.Length() }
	waitFor(t, r, "the clone", complete)
	for range 5 {
		appendRandom(t, rng, w, 1+rng.IntN(50))
		waitFor(t, r, "a live append", complete)
	}
	sameBlocks(t, w, r, all)
	checkReceivedOnce(t, c, w.Length())
	t.Logf("blocks per seeder: %v", received(c))
}

// One of two seeders goes away mid-clone: the blocks it was asked for
// are asked of the other, and the clone completes, each block received
// once.
func TestSwarmSeederLeaves(t *testing.T) {
	checkNoLeak(t)
	rng := rand.New(rand.NewPCG(45, 46))
	w := writer(t, rng, 3000)
	// Few requests in flight, so that the clone is still going when
	// both seeders have served some.
	s1, _, c, r := swarmTwoSeeders(t, w, Config{MaxInflight: 4})
	waitFor(t, r, "blocks from both seeders", func() bool {
		n := received(c)
		return len(n) == 2 && n[0] > 0 && n[1] > 0
	})
	if r.Downloaded(0, w.Length()) == w.Length() {
		t.Fatal("the clone finished before a seeder could leave")
	}
	s1.Close()
	waitFor(t, r, "the clone from the other seeder", func() bool {
		return r.Length() == w.Length() && r.Downloaded(0, w.Length()) == w.Length()
	})
	sameBlocks(t, w, r, all)
	checkReceivedOnce(t, c, w.Length())
}
