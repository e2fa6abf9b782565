//go:build !race

package blake2bx

const raceEnabled = false
