package peer

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/hyperfs/hyperfs/peer/wire"
	"github.com/hyperfs/hyperfs/tree"
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

// The applier hashes the values of Data messages ahead, each to its own
// block's leaf, when at least minLeafBatch come together; other frames,
// hash-only replies and blocks past any feed's range are left to Put.
func TestHashLeaves(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	for _, count := range []int{minLeafBatch - 1, minLeafBatch, 7, leafBatch, leafBatch + 3, 3*leafBatch + 1} {
		var batch []inFrame
		var wantHashed int
		for k := 0; len(batch) < 4*count && wantHashed < count; k++ {
			switch k % 4 {
			case 1:
				batch = append(batch, inFrame{m: &wire.Have{Start: uint64(k)}})
			case 3:
				batch = append(batch, inFrame{m: &wire.Data{Index: uint64(k)}}) // hash only
			default:
				v := make([]byte, rng.IntN(3000))
				for i := range v {
					v[i] = byte(rng.Uint32())
				}
				batch = append(batch, inFrame{m: &wire.Data{Index: uint64(1000 + k), Value: v}})
				wantHashed++
			}
		}
		batch = append(batch, inFrame{m: &wire.Data{Index: tree.MaxIndex, Value: []byte{1}}})
		hashLeaves(batch)
		hashed := 0
		for _, fr := range batch {
			d, ok := fr.m.(*wire.Data)
			if !ok || d.Value == nil || d.Index >= tree.MaxIndex/2 {
				if fr.hashed {
					t.Errorf("%d values: %T %+v hashed", count, fr.m, fr.m)
				}
				continue
			}
			if !fr.hashed {
				continue
			}
			hashed++
			if want := tree.Leaf(d.Index, d.Value); fr.leaf != want {
				t.Errorf("%d values: block %d: leaf %+v, want %+v", count, d.Index, fr.leaf, want)
			}
		}
		// Full batches of leafBatch always; the rest when minLeafBatch.
		want := wantHashed / leafBatch * leafBatch
		if rest := wantHashed % leafBatch; rest >= minLeafBatch {
			want += rest
		}
		if hashed != want {
			t.Errorf("%d values: %d hashed ahead, want %d", count, hashed, want)
		}
	}
}
