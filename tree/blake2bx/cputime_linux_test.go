package blake2bx

import (
	"syscall"
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
