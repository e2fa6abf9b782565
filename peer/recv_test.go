package peer

import (
	"testing"
	"time"

	"github.com/hyperfs/hyperfs/peer/wire"
)

// The inbox between a connection's receiver and applier: bounded in
// bytes and frames, in order, and never blocking a side whose partner
// has stopped. The socket-level tests (A1, A19) run it end to end.

func inFrameOf(cost int) inFrame {
	return inFrame{channel: 1, m: &wire.Request{}, cost: cost}
}

func TestInboxByteBound(t *testing.T) {
	q := newInbox()
	running := make(chan struct{})
	stopped := make(chan struct{})
	close(stopped)

	if !q.put(inFrameOf(3<<20), running) {
		t.Fatal("3 MiB into an empty inbox: refused")
	}
	// 3 + 2 MiB is over inboxBytes: put would wait, and a stopped
	// applier makes it give up without queueing.
	if q.put(inFrameOf(2<<20), stopped) {
		t.Fatal("2 MiB more: accepted past the byte bound")
	}
	if !q.put(inFrameOf(1<<20), running) {
		t.Fatal("1 MiB more (exactly inboxBytes): refused")
	}
	// Each is over applyBytes, so each is a batch of its own.
	for _, want := range []int{3 << 20, 1 << 20} {
		batch, ok := q.take(nil)
		if !ok || len(batch) != 1 || batch[0].cost != want {
			t.Fatalf("take = %d frames, ok %v; want the one of %d bytes", len(batch), ok, want)
		}
		q.release(batch)
	}
	if q.queued != 0 {
		t.Fatalf("queued = %d after release, want 0", q.queued)
	}

	// A frame larger than the budget goes in alone.
	if !q.put(inFrameOf(wire.MaxBody+msgOverhead), running) {
		t.Fatal("an 8 MiB frame into an empty inbox: refused")
	}
	if q.put(inFrameOf(msgOverhead), stopped) {
		t.Fatal("a frame beside an 8 MiB one: accepted")
	}
}

func TestInboxFrameBound(t *testing.T) {
	q := newInbox()
	running := make(chan struct{})
	stopped := make(chan struct{})
	close(stopped)
	for i := range inboxFrames {
		if !q.put(inFrameOf(msgOverhead), running) {
			t.Fatalf("frame %d refused", i)
		}
	}
	// Within the byte bound, but the channel is full.
	if q.put(inFrameOf(msgOverhead), stopped) {
		t.Fatal("frame past inboxFrames: accepted")
	}
	batch, ok := q.take(nil)
	if !ok || len(batch) != applyFrames {
		t.Fatalf("take = %d frames, ok %v; want applyFrames (%d)", len(batch), ok, applyFrames)
	}
}

// A receiver waiting for room wakes when the applier releases frames.
func TestInboxWaitsForRoom(t *testing.T) {
	q := newInbox()
	running := make(chan struct{})
	if !q.put(inFrameOf(inboxBytes), running) {
		t.Fatal("first frame refused")
	}
	put := make(chan bool)
	go func() { put <- q.put(inFrameOf(1<<20), running) }()
	batch, _ := q.take(nil)
	q.release(batch)
	select {
	case ok := <-put:
		if !ok {
			t.Fatal("put after release: refused")
		}
	case <-time.After(patience):
		t.Fatal("put still waiting after the inbox was emptied")
	}
	if batch, _ = q.take(batch); len(batch) != 1 || batch[0].cost != 1<<20 {
		t.Fatalf("take = %d frames, want the 1 MiB one", len(batch))
	}
}

// take returns what is queued and reports the end only once the
// receiver has closed the inbox and every frame was taken.
func TestInboxEnd(t *testing.T) {
	q := newInbox()
	running := make(chan struct{})
	for range 3 {
		q.put(inFrameOf(msgOverhead), running)
	}
	close(q.frames)
	if batch, ok := q.take(nil); !ok || len(batch) != 3 {
		t.Fatalf("take = %d frames, ok %v; want 3, true", len(batch), ok)
	}
	if batch, ok := q.take(nil); ok || len(batch) != 0 {
		t.Fatalf("take after the end = %d frames, ok %v; want 0, false", len(batch), ok)
	}
}
