package blake2bx

import (
	"encoding/binary"

	"github.com/hyperfs/hyperfs/tree/blake2bx/internal/rfc7693"
)

// BlockSize is the BLAKE2b block: one compression consumes this many bytes.
const BlockSize = 128

// maxLanes is the widest implementation (AVX-512, eight 64-bit lanes);
// narrower ones use the first lanes of step and state.
const maxLanes = 8

// stepsPerCall bounds the steps handed to one compress call, so the steps
// live on the stack; one call per 8 steps is cheap next to 8 compressions
// of every lane, and a batch of short messages zeroes fewer steps.
const stepsPerCall = 8

// step is one compression of every lane. The assembly reads it at fixed
// offsets (asm_gen.go): blk at 0, t at 64, f at 128, 192 bytes in all.
type step struct {
	blk [maxLanes]*[BlockSize]byte // the block each lane compresses
	t   [maxLanes]uint64           // bytes hashed once this block is in
	f   [maxLanes]uint64           // all ones on a lane's last block
}

// state is the chaining value of every lane, word-major: h[i][j] is word i
// of lane j, so one vector load gives word i of all lanes.
type state [8][maxLanes]uint64

// param0 is the first parameter block word of unkeyed BLAKE2b-256: digest
// length 32, key length 0, fanout 1, depth 1.
const param0 = 0x01010020

// initial is the state of every lane before its first block.
var initial = func() (h state) {
	for i := range h {
		for j := range h[i] {
			h[i][j] = rfc7693.IV[i]
		}
	}
	for j := range h[0] {
		h[0][j] ^= param0
	}
	return h
}()

// zeroBlock feeds lanes that have no message or whose message is done;
// their results are thrown away.
var zeroBlock [BlockSize]byte

// blocks is the number of compressions of an n-byte message: the empty
// message still takes one.
func blocks(n int) int {
	if n == 0 {
		return 1
	}
	return (n + BlockSize - 1) / BlockSize
}

// lane is one message of a batch.
type lane struct {
	rest []byte // the message from its next in-place block on
	n    int    // prefix plus message
	last int    // step of the last block
}

// batch hashes up to width messages, idx in out, prefixes and msgs, in
// lock step. idx is sorted by block count, longest first, so the batch
// runs as many steps as its first message needs; a lane that finishes
// earlier compresses zero blocks, and its digest is taken out of the
// state right after its last block, which is why a compress call ends
// there.
func batch(k impl, out [][32]byte, prefixes, msgs [][]byte, idx []int32) {
	var (
		h     state
		lanes [maxLanes]lane
		stage [maxLanes][2][BlockSize]byte // first block; last one if another
		steps [stepsPerCall]step
	)
	h = initial
	width := k.lanes()
	for j, i := range idx {
		p, d := prefixOf(prefixes, int(i)), msgs[i]
		n := len(p) + len(d)
		last := blocks(n) - 1
		c := copy(stage[j][0][:], p)
		copy(stage[j][0][c:], d)
		lanes[j] = lane{n: n, last: last}
		if last > 0 {
			copy(stage[j][1][:], d[BlockSize*last-len(p):])
			lanes[j].rest = d[BlockSize-len(p):]
		}
	}
	// Lanes without a message compress the zero block throughout. The t
	// and f a reused step keeps from before only reach lanes that are idle
	// or whose digest has been taken: their results are never read.
	for n := range steps {
		for j := len(idx); j < width; j++ {
			steps[n].blk[j] = &zeroBlock
		}
	}
	// The steps are written by index, not through a pointer, which escape
	// analysis would take for a store to the heap and move stage there.
	total, n := lanes[0].last+1, 0
	for s := 0; s < total; s++ {
		done := false
		t := uint64(BlockSize * (s + 1))
		for j := range idx {
			switch l := &lanes[j]; {
			case s < l.last:
				if s == 0 {
					steps[n].blk[j] = &stage[j][0]
				} else {
					steps[n].blk[j] = (*[BlockSize]byte)(l.rest)
					l.rest = l.rest[BlockSize:]
				}
				steps[n].t[j], steps[n].f[j] = t, 0
			case s == l.last:
				steps[n].blk[j] = &stage[j][1]
				if s == 0 {
					steps[n].blk[j] = &stage[j][0]
				}
				steps[n].t[j], steps[n].f[j] = uint64(l.n), ^uint64(0)
				done = true
			default:
				steps[n].blk[j] = &zeroBlock
			}
		}
		n++
		if n < len(steps) && !done {
			continue
		}
		compress(k, &h, steps[:n])
		n = 0
		if !done {
			continue
		}
		for j, i := range idx {
			if lanes[j].last != s {
				continue
			}
			o := &out[i]
			for w := 0; w < 4; w++ {
				binary.LittleEndian.PutUint64(o[8*w:], h[w][j])
			}
		}
	}
}
