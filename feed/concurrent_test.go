package feed_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/hyperfs/hyperfs/feed"
)

func concBlock(i uint64) []byte {
	return []byte(fmt.Sprintf("block %d %s", i, bytes.Repeat([]byte{'.'}, int(i%50))))
}

// Appenders, readers, seekers and subscribers on one feed at once (run with
// -race): readers only ever see whole, correct blocks, subscribers see every
// append in order, and WaitLength wakes.
func TestConcurrentAppendGet(t *testing.T) {
	f, err := feed.Create(feed.DirStorage{Dir: t.TempDir()}, feed.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	const writers, batches, per = 4, 50, 5
	const total = writers * batches * per
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	sub := f.Subscribe()
	defer sub.Close()
	var next sync.Mutex // makes block contents a function of their index
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for range writers {
		wg.Go(func() {
			for range batches {
				next.Lock()
				n := f.Length()
				batch := make([][]byte, per)
				for j := range batch {
					batch[j] = concBlock(n + uint64(j))
				}
				err := f.Append(batch...)
				next.Unlock()
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	for range 4 {
		wg.Go(func() {
			for f.Length() < total {
				n := f.Length()
				if n == 0 {
					continue
				}
				i := n - 1
				b, err := f.Get(ctx, i)
				if err != nil || !bytes.Equal(b, concBlock(i)) {
					errs <- fmt.Errorf("Get(%d) = %q, %v", i, b, err)
					return
				}
				if bl := f.ByteLength(); bl > 0 {
					if _, _, err := f.Seek(bl / 2); err != nil {
						errs <- fmt.Errorf("seek: %w", err)
						return
					}
				}
			}
		})
	}
	wg.Go(func() {
		if _, err := f.WaitLength(ctx, total-1); err != nil {
			errs <- fmt.Errorf("WaitLength: %w", err)
		}
	})
	var seen uint64
	for seen < total {
		e, err := sub.Next(ctx)
		if err != nil {
			t.Fatalf("subscription: %v", err)
		}
		if e.Kind != feed.EventAppend || e.Start != seen {
			t.Fatalf("event %+v, want an append from %d", e, seen)
		}
		seen = e.End
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for i := range uint64(total) {
		if b, err := f.Get(ctx, i); err != nil || !bytes.Equal(b, concBlock(i)) {
			t.Fatalf("block %d = %q, %v", i, b, err)
		}
	}
}

// Waiters end with their context or when the feed closes; nothing leaks.
func TestWaitEnds(t *testing.T) {
	f, err := feed.Create(feed.NewMemStorage(), feed.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if _, err := f.WaitLength(ctx, 0); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitLength = %v", err)
	}
	sub := f.Subscribe()
	done := make(chan error, 1)
	go func() {
		_, err := f.WaitLength(context.Background(), 5)
		done <- err
	}()
	f.Close()
	if err := <-done; !errors.Is(err, feed.ErrClosed) {
		t.Fatalf("WaitLength after close = %v", err)
	}
	if e, err := sub.Next(context.Background()); err != nil || e.Kind != feed.EventClosed {
		t.Fatalf("Next = %+v, %v", e, err)
	}
	if _, err := sub.Next(context.Background()); !errors.Is(err, feed.ErrClosed) {
		t.Fatalf("Next after closed = %v", err)
	}
}

// Seek agrees with the block ranges for every byte, including runs of
// empty blocks, on both the offset table and the tree walk (a replica).
func TestSeekEveryByte(t *testing.T) {
	f, err := feed.Create(feed.NewMemStorage(), feed.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sizes := []int{0, 3, 0, 0, 1, 7, 0, 2, 0, 0, 0, 5, 1}
	var batch [][]byte
	for _, s := range sizes {
		batch = append(batch, bytes.Repeat([]byte{'x'}, s))
	}
	if err := f.Append(batch...); err != nil {
		t.Fatal(err)
	}
	var off uint64
	for i, s := range sizes {
		for k := range uint64(s) {
			idx, in, err := f.Seek(off + k)
			if err != nil || idx != uint64(i) || in != k {
				t.Fatalf("Seek(%d) = %d+%d, %v; want %d+%d", off+k, idx, in, err, i, k)
			}
		}
		off += uint64(s)
	}
	if idx, in, err := f.Seek(off); err != nil || idx != uint64(len(sizes)) || in != 0 {
		t.Fatalf("Seek(byteLength) = %d %d %v", idx, in, err)
	}
	if _, _, err := f.Seek(off + 1); !errors.Is(err, feed.ErrOutOfRange) {
		t.Fatalf("Seek past end = %v", err)
	}
}
