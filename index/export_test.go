package index

import "time"

// SetDiskCheckEvery makes every write read the free space (0), and
// returns a function that restores the interval.
func SetDiskCheckEvery(d time.Duration) (restore func()) {
	old := diskCheckEvery
	diskCheckEvery = d
	return func() { diskCheckEvery = old }
}
