package feed

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// A large Append shares its work (the data write, the leaf hashes, the
// signature) with helper goroutines that keep spinning for a moment after
// each job; sequential readers offer them the hashing of their next
// verify-ahead window (readahead.go). Why not start goroutines per batch: on the VMs we measure on,
// a goroutine started on an idle CPU often first runs 80-200 µs later
// (waking a halted vCPU), usually only once the starter blocks, which is
// as long as a 128 KiB batch takes on one core; started per batch, a
// second worker made appends no faster. A helper that is still spinning
// from the previous batch starts within a microsecond.
//
// The cost is CPU: each helper spins up to spinFor after its last job
// (checking the scheduler each turn, so it delays no other goroutine),
// then parks on a channel, and exits after exitAfter parked. The caller
// always works through the tasks itself too, so a job finishes at one
// core's speed when no helper is awake, or when two Appends on different
// feeds offer jobs at once (the helpers follow the newest).

const (
	spinFor   = 200 * time.Microsecond
	exitAfter = 50 * time.Millisecond
)

// job is n tasks that any goroutine may take, each exactly once. Helpers
// take them from the front and the caller from the back, so the first
// task goes to a helper when one is awake: it is the data write, and the
// caller had better stay on the CPU than wait in a system call.
type job struct {
	seq   uint64
	n     uint64
	run   func(task uint64)
	taken atomic.Uint64 // tasks taken: from the front << 32 | from the back
	done  atomic.Uint64 // tasks finished
}

// helpers is the package's pool of helper goroutines.
var helpers struct {
	offered atomic.Pointer[job] // the newest unfinished job, or nil
	seq     atomic.Uint64       // numbers jobs, so a helper tells a new one
	parked  atomic.Int32        // helpers waiting on wake
	wake    chan struct{}       // one token per parked helper to wake

	mu      sync.Mutex
	running int // helper goroutines alive; guarded by mu
}

// procs is GOMAXPROCS as the process started: the cores the helpers may
// use. It is read once because a mount raises GOMAXPROCS afterwards for
// its threads parked in FUSE reads (fusefs.ReaderProcs), which must not
// mean more helpers spinning than there are cores.
var procs = runtime.GOMAXPROCS(0)

// maxHelpers bounds the pool (and wake's buffer); more cores than this
// add little to one batch.
const maxHelpers = 15

func init() { helpers.wake = make(chan struct{}, maxHelpers) }

// offer makes n (< 2^32) tasks available to helpers and returns the job; the
// caller must call finish, which also runs the tasks no helper took.
func offer(n uint64, run func(task uint64)) *job {
	j := &job{seq: helpers.seq.Add(1), n: n, run: run}
	want := min(procs-1, maxHelpers)
	helpers.mu.Lock()
	for ; helpers.running < want; helpers.running++ {
		// Owned by the package; stops after exitAfter without a job.
		go help()
	}
	helpers.mu.Unlock()
	helpers.offered.Store(j)
	// A helper counts itself parked before it checks offered a last
	// time, so either it sees j or we see it parked.
	for range helpers.parked.Load() {
		select {
		case helpers.wake <- struct{}{}:
		default:
		}
	}
	return j
}

// share runs tasks 0..n-1 on the caller and any awake helper and returns
// when all are done.
func share(n uint64, run func(task uint64)) { offer(n, run).finish() }

// work takes and runs tasks until none is left, from the back when
// fromBack is set.
func (j *job) work(fromBack bool) {
	for {
		t := j.taken.Load()
		front, back := t>>32, t&(1<<32-1)
		if front+back >= j.n {
			return
		}
		k, next := front, t+1<<32
		if fromBack {
			k, next = j.n-1-back, t+1
		}
		if !j.taken.CompareAndSwap(t, next) {
			continue
		}
		j.run(k)
		j.done.Add(1)
	}
}

// finish runs the tasks left and waits for those a helper is running;
// the wait is at most one task, short enough to spin rather than sleep
// (sleeping would cost the wake-up the helpers are there to avoid).
func (j *job) finish() {
	j.work(true)
	for j.done.Load() < j.n {
		runtime.Gosched()
	}
	// Drop the job so that helpers do not keep its blocks alive.
	helpers.offered.CompareAndSwap(j, nil)
}

// cancel takes every task not taken yet without running it, and waits for
// those a helper is running: for work no longer wanted.
func (j *job) cancel() {
	for {
		t := j.taken.Load()
		front, back := t>>32, t&(1<<32-1)
		left := j.n - min(j.n, front+back)
		if left == 0 {
			break
		}
		if j.taken.CompareAndSwap(t, t+left) { // taken from the back
			j.done.Add(left)
			break
		}
	}
	for j.done.Load() < j.n {
		runtime.Gosched()
	}
	helpers.offered.CompareAndSwap(j, nil)
}

// help is a helper goroutine's loop.
func help() {
	var last uint64 // seq of the last job taken
	idle := time.Now()
	for {
		if j := helpers.offered.Load(); j != nil && j.seq != last {
			last = j.seq
			j.work(false)
			idle = time.Now()
			continue
		}
		if time.Since(idle) < spinFor {
			runtime.Gosched()
			continue
		}
		helpers.parked.Add(1)
		if j := helpers.offered.Load(); j != nil && j.seq != last {
			helpers.parked.Add(-1)
			continue
		}
		t := time.NewTimer(exitAfter)
		select {
		case <-helpers.wake:
			helpers.parked.Add(-1)
			t.Stop()
			idle = time.Now()
		case <-t.C:
			helpers.parked.Add(-1)
			helpers.mu.Lock()
			helpers.running--
			helpers.mu.Unlock()
			return
		}
	}
}
