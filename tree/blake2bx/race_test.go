//go:build race

package blake2bx

// raceEnabled: the race detector makes sync.Pool drop some of what it is
// given, so the pooled x/crypto hashers allocate.
const raceEnabled = true
