//go:build !amd64 || purego

package blake2bx

// best finds no multi-lane assembly here: one message at a time through
// x/crypto beats plain Go lanes.
func best() impl { return implNone }

// available lists the implementations this build runs, for tests.
func available() []impl { return []impl{implNone, implGeneric4, implGeneric8} }

// compress runs steps on the lanes of h; len(steps) > 0.
func compress(k impl, h *state, steps []step) { compressGeneric(h, steps, k.lanes()) }
