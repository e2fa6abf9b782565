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
	appendN := func(n int) {
		t.Helper()
		for range n {
			if err := f.Append([]byte("x")); err != nil {
				t.Fatal(err)
			}
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
