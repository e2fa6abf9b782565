//go:build !linux

package blake2bx

import "time"

// threadCPU is unknown here: BenchmarkSum256Prefixed reports no cpu-MB/s.
func threadCPU() time.Duration { return 0 }
