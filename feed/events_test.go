package feed

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"
)

// TestBatchPacing: Batch hands over what is queued in one go, waits out
// its pace before the next batch (so appends in between wake nobody),
// skips the wait after a full batch, and ends with EventClosed.
func TestBatchPacing(t *testing.T) {
	f, err := Create(NewMemStorage(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	sub := f.Subscribe()
	defer sub.Close()
	ctx := context.Background()
	// Downloads, one event each (appends would merge).
	next := uint64(0)
	appendN := func(n int) {
		for range n {
			sub.push(Event{Kind: EventDownload, Start: next, End: next + 1})
			next++
		}
	}
	starts := func(evs []Event) []uint64 {
		var s []uint64
		for _, e := range evs {
			s = append(s, e.Start)
		}
		return s
	}

	appendN(3)
	evs, err := sub.Batch(ctx, nil, 2, time.Hour)
	if err != nil || !slices.Equal(starts(evs), []uint64{0, 1}) {
		t.Fatalf("first batch = %v, %v; want blocks 0 and 1", evs, err)
	}
	// The batch was full, so no pause: the third event comes at once.
	evs, err = sub.Batch(ctx, evs[:0], 2, time.Hour)
	if err != nil || !slices.Equal(starts(evs), []uint64{2}) {
		t.Fatalf("second batch = %v, %v; want block 2", evs, err)
	}
	// Not full: the next call waits out the hour even though an event
	// is queued, until its context ends, and leaves the event queued.
	appendN(1)
	short, cancel := context.WithCancel(ctx)
	cancel()
	if evs, err = sub.Batch(short, evs[:0], 2, time.Hour); !errors.Is(err, context.Canceled) || len(evs) != 0 {
		t.Fatalf("batch inside the pace = %v, %v; want nothing and %v", evs, err, context.Canceled)
	}
	sub.paced = time.Time{} // as if the hour had passed
	appendN(1)
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	evs, err = sub.Batch(ctx, evs[:0], 10, 0)
	if err != nil || len(evs) != 3 || !slices.Equal(starts(evs[:2]), []uint64{3, 4}) || evs[2].Kind != EventClosed {
		t.Fatalf("last batch = %v, %v; want blocks 3 and 4, then EventClosed", evs, err)
	}
	if _, err := sub.Batch(ctx, evs[:0], 10, 0); !errors.Is(err, ErrClosed) {
		t.Fatalf("batch after close = %v, want %v", err, ErrClosed)
	}
}

// TestSubscriptionMergesAppends: appends queued back to back arrive as one
// event of their whole range; anything between them, or a delivery, keeps
// them apart; the queue's array is reused once drained.
func TestSubscriptionMergesAppends(t *testing.T) {
	f, err := Create(NewMemStorage(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sub := f.Subscribe()
	defer sub.Close()
	ctx := context.Background()
	for range 3 {
		if err := f.Append([]byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Append([]byte("y"), []byte("z")); err != nil {
		t.Fatal(err)
	}
	sub.push(Event{Kind: EventDownload, Start: 9, End: 10})
	if err := f.Append([]byte("w")); err != nil {
		t.Fatal(err)
	}
	want := []Event{{EventAppend, 0, 5}, {EventDownload, 9, 10}, {EventAppend, 5, 6}}
	evs, err := sub.Batch(ctx, nil, 2, 0)
	if err != nil || !slices.Equal(evs, want[:2]) {
		t.Fatalf("first batch = %v, %v; want %v", evs, err, want[:2])
	}
	// The append delivered next is not extended by later ones.
	if e, err := sub.Next(ctx); err != nil || e != want[2] {
		t.Fatalf("next = %v, %v; want %v", e, err, want[2])
	}
	if err := f.Append([]byte("v")); err != nil {
		t.Fatal(err)
	}
	if e, err := sub.Next(ctx); err != nil || e != (Event{EventAppend, 6, 7}) {
		t.Fatalf("after a delivery, next = %v, %v; want blocks [6, 7)", e, err)
	}
	// A consumer that never drains the queue fully does not grow it.
	for i := range uint64(3 * subscriptionLimit) {
		sub.push(Event{Kind: EventDownload, Start: i, End: i + 1})
		if i%2 == 1 {
			sub.Next(ctx)
		}
	}
	if c := cap(sub.queue); c > 2*subscriptionLimit {
		t.Errorf("queue array of %d events after a consumer that stayed behind, want at most %d", c, 2*subscriptionLimit)
	}
}
