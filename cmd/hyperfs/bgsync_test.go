package main

import (
	"errors"
	"testing"
)

// A clone's background syncs run one at a time, and the first failure is
// what wait reports, after the running sync has ended.
func TestBackgroundSync(t *testing.T) {
	var b backgroundSync
	if err := b.wait(); err != nil {
		t.Fatalf("wait before any sync: %v", err)
	}
	release := make(chan struct{})
	runs := 0
	blocked := func() error { runs++; <-release; return errors.New("first") }
	b.start(blocked)
	b.start(blocked) // still running: not started again
	close(release)
	if err := b.wait(); err == nil || err.Error() != "first" || runs != 1 {
		t.Fatalf("wait = %v after %d runs, want the first failure after 1", err, runs)
	}
	b.start(func() error { runs++; return errors.New("second") })
	if err := b.wait(); err == nil || err.Error() != "first" || runs != 2 {
		t.Fatalf("wait = %v after %d runs, want the first failure kept", err, runs)
	}
}
