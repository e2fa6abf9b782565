//go:build race

package tree_test

// raceEnabled: the race detector makes sync.Pool drop some of what it is
// given, so the pooled hashers allocate.
const raceEnabled = true
