package peer

import (
	"context"
	"math/rand/v2"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/hyperfs/hyperfs/feed"
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
