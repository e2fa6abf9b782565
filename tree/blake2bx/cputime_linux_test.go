package blake2bx

import (
	"fmt"
	"os"
	"runtime"
	"syscall"
	"testing"
	"time"
)

// threadCPU is the CPU time of the calling thread. Wall-clock benchmarks
// on a machine shared with other jobs count the time they take; the
// thread's own CPU time does not.
func threadCPU() time.Duration {
	const rusageThread = 1 // RUSAGE_THREAD
	var ru syscall.Rusage
	if err := syscall.Getrusage(rusageThread, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestCPUThroughput prints the throughput of each implementation on the
// benchmark's leaf sizes, measured in thread CPU time, best of seven runs
// of 150 ms. It runs only with BLAKE2BX_CPUTIME=1; bench.md has figures.
func TestCPUThroughput(t *testing.T) {
	if os.Getenv("BLAKE2BX_CPUTIME") == "" {
		t.Skip("set BLAKE2BX_CPUTIME=1 to measure")
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	saved := active
	defer func() { active = saved }()
	for _, c := range []struct{ size, n int }{{1 << 10, 128}, {4 << 10, 64}, {64 << 10, 16}} {
		msgs, prefixes := make([][]byte, c.n), make([][]byte, c.n)
		for i := range msgs {
			msgs[i] = make([]byte, c.size)
			prefixes[i] = make([]byte, 9)
		}
		out := make([][32]byte, c.n)
		line := fmt.Sprintf("size=%dKiB n=%d:", c.size>>10, c.n)
		for _, k := range available() {
			if k == implGeneric4 || k == implGeneric8 {
				continue
			}
			active = k
			best := time.Duration(1 << 62)
			for range 7 {
				iters := 0
				t0 := threadCPU()
				for threadCPU()-t0 < 150*time.Millisecond {
					Sum256Prefixed(out, prefixes, msgs)
					iters++
				}
				best = min(best, (threadCPU()-t0)/time.Duration(iters))
			}
			line += fmt.Sprintf("  %s %.0f MB/s", k, float64(c.size*c.n)/best.Seconds()/1e6)
		}
		t.Log(line)
	}
}
