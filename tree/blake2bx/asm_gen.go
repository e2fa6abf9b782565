//go:build ignore

// asm_gen writes compress_amd64.s (go generate, or go run asm_gen.go -out
// compress_amd64.s; without -out it writes to standard output).
// The rounds are unrolled and, for AVX2, registers are allocated here, so
// the generator is the source to read and change, not the .s file.
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/hyperfs/hyperfs/tree/blake2bx/internal/rfc7693"
)

// g is one G call of a round: the four state words it mixes and the two
// message words it adds.
type g struct{ a, b, c, d, m0, m1 int }

// schedule lists the 96 G calls of the 12 rounds in order.
func schedule() []g {
	var gs []g
	for r := 0; r < 12; r++ {
		s := rfc7693.Sigma[r%10]
		cols := [8][4]int{
			{0, 4, 8, 12}, {1, 5, 9, 13}, {2, 6, 10, 14}, {3, 7, 11, 15},
			{0, 5, 10, 15}, {1, 6, 11, 12}, {2, 7, 8, 13}, {3, 4, 9, 14},
		}
		for i, c := range cols {
			gs = append(gs, g{c[0], c[1], c[2], c[3], int(s[2*i]), int(s[2*i+1])})
		}
	}
	return gs
}

// Offsets in a step (see step in batch.go) and in the state h.
const (
	stepBlk  = 0
	stepT    = 64
	stepF    = 128
	stepSize = 192
	hStride  = 64
)

var out strings.Builder

func emit(format string, args ...any) { fmt.Fprintf(&out, "\t"+format+"\n", args...) }

func label(l string) { fmt.Fprintf(&out, "%s:\n", l) }

// lanePtrs holds the block pointer of each lane during a step.
var lanePtrs = []string{"DX", "SI", "DI", "R8", "R9", "R10", "R11", "R12"}

func prologue(name string, frame int) {
	fmt.Fprintf(&out, "\n// func %s(h *[8][8]uint64, s *step, n int)\n", name)
	fmt.Fprintf(&out, "TEXT ·%s(SB), 0, $%d-24\n", name, frame)
	emit("MOVQ h+0(FP), AX")
	emit("MOVQ s+8(FP), BX")
	emit("MOVQ n+16(FP), CX")
	emit("TESTQ CX, CX")
	emit("JZ %s_done", name)
	label(name + "_loop")
	for j := 0; j < 4; j++ {
		emit("MOVQ %d(BX), %s", stepBlk+8*j, lanePtrs[j])
	}
}

func epilogue(name string) {
	emit("ADDQ $%d, BX", stepSize)
	emit("DECQ CX")
	emit("JNZ %s_loop", name)
	label(name + "_done")
	emit("VZEROUPPER")
	emit("RET")
}

// transpose4 turns the four lanes' 32-byte chunk k (message words 4k..4k+3
// of each lane) into four vectors of one word each, dst(w) naming where
// word w goes. perm is the 128-bit half shuffle: VPERM2I128 for VEX,
// VSHUFI64X2 for EVEX (whose immediates differ).
func transpose4(k int, mov, unpck, tmp string, evex bool, dst func(w int) string) {
	r := func(i int) string { return fmt.Sprintf("%s%d", tmp, i) }
	for j := 0; j < 4; j++ {
		emit("%s %d(%s), %s", mov, 32*k, lanePtrs[j], r(j))
	}
	emit("%sLQDQ %s, %s, %s", unpck, r(1), r(0), r(4)) // a0 b0 a2 b2
	emit("%sHQDQ %s, %s, %s", unpck, r(1), r(0), r(5)) // a1 b1 a3 b3
	emit("%sLQDQ %s, %s, %s", unpck, r(3), r(2), r(6)) // c0 d0 c2 d2
	emit("%sHQDQ %s, %s, %s", unpck, r(3), r(2), r(7)) // c1 d1 c3 d3
	lo, hi, perm := "$0x20", "$0x31", "VPERM2I128"
	if evex {
		lo, hi, perm = "$0x00", "$0x03", "VSHUFI64X2"
	}
	emit("%s %s, %s, %s, %s", perm, lo, r(6), r(4), dst(4*k+0))
	emit("%s %s, %s, %s, %s", perm, lo, r(7), r(5), dst(4*k+1))
	emit("%s %s, %s, %s, %s", perm, hi, r(6), r(4), dst(4*k+2))
	emit("%s %s, %s, %s, %s", perm, hi, r(7), r(5), dst(4*k+3))
}

// AVX2: 16 ymm registers hold at most 16 values, but the state alone is
// 16 words and the 63-bit rotation needs a scratch register, so values
// spill to the frame. The allocator evicts the value used furthest in the
// future (Belady), which costs about one store and one load per G call.

const (
	msgOff   = 0   // 16 transposed message words, 32 bytes each
	spillOff = 512 // 16 spill slots
	avx2Fram = 1024
)

// scratch marks a register held for a rotation, holding no value.
const scratch = -2

type alloc struct {
	reg   [16]int // value in each register, -1 free
	where [16]int // register of each value, -1 not in one
	made  [16]bool
	clean [16]bool // register copy equals the spill slot
	uses  [16][]int
	now   int
}

func newAlloc(gs []g) *alloc {
	a := &alloc{}
	for i := range a.reg {
		a.reg[i], a.where[i] = -1, -1
	}
	for p, x := range gs {
		for _, v := range []int{x.a, x.b, x.c, x.d} {
			a.uses[v] = append(a.uses[v], p)
		}
	}
	for i := 0; i < 8; i++ {
		a.uses[i] = append(a.uses[i], len(gs)+i)
		a.uses[i+8] = append(a.uses[i+8], len(gs)+i)
	}
	return a
}

// next is the position of v's next use at or after now; 1<<30 if dead.
func (a *alloc) next(v int) int {
	for _, p := range a.uses[v] {
		if p >= a.now {
			return p
		}
	}
	return 1 << 30
}

// free returns a register, evicting the resident value used last that is
// not in keep.
func (a *alloc) free(keep ...int) int {
	for r, v := range a.reg {
		if v == -1 {
			return r
		}
	}
	best, bestNext := -1, -1
	for r, v := range a.reg {
		if v == scratch {
			continue
		}
		kept := false
		for _, k := range keep {
			kept = kept || k == v
		}
		if !kept && a.next(v) > bestNext {
			best, bestNext = r, a.next(v)
		}
	}
	v := a.reg[best]
	if bestNext < 1<<30 && !a.clean[v] {
		emit("VMOVDQU Y%d, %d(SP)", best, spillOff+32*v)
	}
	a.reg[best], a.where[v] = -1, -1
	return best
}

// get puts value v in a register and returns its name.
func (a *alloc) get(v int, keep ...int) string {
	if r := a.where[v]; r >= 0 {
		return fmt.Sprintf("Y%d", r)
	}
	r := a.free(append(keep, v)...)
	y := fmt.Sprintf("Y%d", r)
	switch {
	case a.made[v]:
		emit("VMOVDQU %d(SP), %s", spillOff+32*v, y)
		a.clean[v] = true
	case v < 8:
		emit("VMOVDQU %d(AX), %s", hStride*v, y)
	default:
		emit("VPBROADCASTQ ·iv<>+%d(SB), %s", 8*(v-8), y)
		switch v {
		case 12:
			emit("VPXOR %d(BX), %s, %s", stepT, y, y)
		case 14:
			emit("VPXOR %d(BX), %s, %s", stepF, y, y)
		}
	}
	a.made[v] = true
	a.reg[r], a.where[v] = v, r
	return y
}

func (a *alloc) dirty(vs ...int) {
	for _, v := range vs {
		a.clean[v] = false
	}
}

func genAVX2() {
	const name = "compressAVX2"
	prologue(name, avx2Fram)
	for k := 0; k < 4; k++ {
		transpose4(k, "VMOVDQU", "VPUNPCK", "Y", false, func(w int) string { return fmt.Sprintf("Y%d", 8+w%4) })
		for w := 0; w < 4; w++ {
			emit("VMOVDQU Y%d, %d(SP)", 8+w, msgOff+32*(4*k+w))
		}
	}
	gs := schedule()
	a := newAlloc(gs)
	m := func(i int) string { return fmt.Sprintf("%d(SP)", msgOff+32*i) }
	// Two G calls of a half round run interleaved: eight values and two
	// scratch registers fit, and two chains in flight hide latency.
	for p := 0; p < len(gs); p += 2 {
		a.now = p
		pair := gs[p : p+2]
		var keep []int
		for _, x := range pair {
			keep = append(keep, x.a, x.b, x.c, x.d)
		}
		var ops [2][]string
		for i, x := range pair {
			va := a.get(x.a, keep...)
			vb := a.get(x.b, keep...)
			vc := a.get(x.c, keep...)
			vd := a.get(x.d, keep...)
			a.dirty(x.a, x.b, x.c, x.d)
			ops[i] = []string{
				fmt.Sprintf("VPADDQ %s, %s, %s", m(x.m0), va, va),
				fmt.Sprintf("VPADDQ %s, %s, %s", vb, va, va),
				fmt.Sprintf("VPXOR %s, %s, %s", va, vd, vd),
				fmt.Sprintf("VPSHUFD $0xb1, %s, %s", vd, vd),
				fmt.Sprintf("VPADDQ %s, %s, %s", vd, vc, vc),
				fmt.Sprintf("VPXOR %s, %s, %s", vc, vb, vb),
				fmt.Sprintf("VPSHUFB ·rot24<>(SB), %s, %s", vb, vb),
				fmt.Sprintf("VPADDQ %s, %s, %s", m(x.m1), va, va),
				fmt.Sprintf("VPADDQ %s, %s, %s", vb, va, va),
				fmt.Sprintf("VPXOR %s, %s, %s", va, vd, vd),
				fmt.Sprintf("VPSHUFB ·rot16<>(SB), %s, %s", vd, vd),
				fmt.Sprintf("VPADDQ %s, %s, %s", vd, vc, vc),
				fmt.Sprintf("VPXOR %s, %s, %s", vc, vb, vb),
			}
		}
		for k := range ops[0] {
			for i := range ops {
				emit("%s", ops[i][k])
			}
		}
		// The scratch registers: the first is held while the second is
		// found, then both are free again.
		var ts [2]int
		for i := range ts {
			ts[i] = a.free(keep...)
			a.reg[ts[i]] = scratch
		}
		for i, x := range pair {
			vb, t := fmt.Sprintf("Y%d", a.where[x.b]), fmt.Sprintf("Y%d", ts[i])
			emit("VPSRLQ $63, %s, %s", vb, t)
			emit("VPADDQ %s, %s, %s", vb, vb, vb)
			emit("VPOR %s, %s, %s", t, vb, vb)
		}
		for _, r := range ts {
			a.reg[r] = -1
		}
	}
	for i := 0; i < 8; i++ {
		a.now = len(gs) + i
		lo := a.get(i)
		hi := a.get(i+8, i)
		emit("VPXOR %s, %s, %s", hi, lo, lo)
		emit("VPXOR %d(AX), %s, %s", hStride*i, lo, lo)
		emit("VMOVDQU %s, %d(AX)", lo, hStride*i)
		a.now++ // both are dead now
	}
	epilogue(name)
}

// AVX-512: 32 registers hold the 16 state words and the 16 message words,
// and VPRORQ rotates in one instruction, so nothing spills. lanes is 4
// (ymm, AVX512VL) or 8 (zmm).
func genAVX512(lanes int) {
	name, reg, mov := "compressAVX512x4", "Y", "VMOVDQU64"
	if lanes == 8 {
		name, reg = "compressAVX512x8", "Z"
	}
	v := func(i int) string { return fmt.Sprintf("%s%d", reg, i) }
	msg := func(w int) string { return v(16 + w) }
	if lanes == 8 {
		fmt.Fprintf(&out, "\n// func %s(h *[8][8]uint64, s *step, n int)\n", name)
		fmt.Fprintf(&out, "TEXT ·%s(SB), NOSPLIT, $0-24\n", name)
		emit("MOVQ h+0(FP), AX")
		emit("MOVQ s+8(FP), BX")
		emit("MOVQ n+16(FP), CX")
		emit("TESTQ CX, CX")
		emit("JZ %s_done", name)
		label(name + "_loop")
		for j := 0; j < 8; j++ {
			emit("MOVQ %d(BX), %s", stepBlk+8*j, lanePtrs[j])
		}
		for half := 0; half < 2; half++ {
			for j := 0; j < 8; j++ {
				emit("VMOVDQU64 %d(%s), Z%d", 64*half, lanePtrs[j], j)
			}
			for q := 0; q < 4; q++ {
				emit("VPUNPCKLQDQ Z%d, Z%d, Z%d", 2*q+1, 2*q, 8+2*q)
				emit("VPUNPCKHQDQ Z%d, Z%d, Z%d", 2*q+1, 2*q, 8+2*q+1)
			}
			// Z8.. hold, per pair of rows, words {0,2,4,6} and {1,3,5,7}.
			pairs := [4][2]int{{8, 10}, {9, 11}, {12, 14}, {13, 15}}
			for i, p := range pairs {
				emit("VSHUFI64X2 $0x88, Z%d, Z%d, Z%d", p[1], p[0], 2*i)
				emit("VSHUFI64X2 $0xdd, Z%d, Z%d, Z%d", p[1], p[0], 2*i+1)
			}
			// Z0..Z7: rows 0-3 then 4-7 of words {0,4},{2,6},{1,5},{3,7}.
			words := [4][2]int{{0, 4}, {2, 6}, {1, 5}, {3, 7}}
			for i, w := range words {
				emit("VSHUFI64X2 $0x88, Z%d, Z%d, %s", i+4, i, msg(8*half+w[0]))
				emit("VSHUFI64X2 $0xdd, Z%d, Z%d, %s", i+4, i, msg(8*half+w[1]))
			}
		}
	} else {
		fmt.Fprintf(&out, "\n// func %s(h *[8][8]uint64, s *step, n int)\n", name)
		fmt.Fprintf(&out, "TEXT ·%s(SB), NOSPLIT, $0-24\n", name)
		emit("MOVQ h+0(FP), AX")
		emit("MOVQ s+8(FP), BX")
		emit("MOVQ n+16(FP), CX")
		emit("TESTQ CX, CX")
		emit("JZ %s_done", name)
		label(name + "_loop")
		for j := 0; j < 4; j++ {
			emit("MOVQ %d(BX), %s", stepBlk+8*j, lanePtrs[j])
		}
		for k := 0; k < 4; k++ {
			transpose4(k, mov, "VPUNPCK", "Y", true, msg)
		}
	}
	for i := 0; i < 8; i++ {
		emit("%s %d(AX), %s", mov, hStride*i, v(i))
		emit("VPBROADCASTQ ·iv<>+%d(SB), %s", 8*i, v(8+i))
	}
	emit("VPXORQ %d(BX), %s, %s", stepT, v(12), v(12))
	emit("VPXORQ %d(BX), %s, %s", stepF, v(14), v(14))
	// The four G calls of a half round are independent: interleaving
	// them keeps four chains in flight without relying on the scheduler
	// window, and adding the message word before b takes it off the
	// critical path.
	gs := schedule()
	for q := 0; q < len(gs); q += 4 {
		var ops [4][]string
		for i, x := range gs[q : q+4] {
			va, vb, vc, vd := v(x.a), v(x.b), v(x.c), v(x.d)
			ops[i] = []string{
				fmt.Sprintf("VPADDQ %s, %s, %s", msg(x.m0), va, va),
				fmt.Sprintf("VPADDQ %s, %s, %s", vb, va, va),
				fmt.Sprintf("VPXORQ %s, %s, %s", va, vd, vd),
				fmt.Sprintf("VPRORQ $32, %s, %s", vd, vd),
				fmt.Sprintf("VPADDQ %s, %s, %s", vd, vc, vc),
				fmt.Sprintf("VPXORQ %s, %s, %s", vc, vb, vb),
				fmt.Sprintf("VPRORQ $24, %s, %s", vb, vb),
				fmt.Sprintf("VPADDQ %s, %s, %s", msg(x.m1), va, va),
				fmt.Sprintf("VPADDQ %s, %s, %s", vb, va, va),
				fmt.Sprintf("VPXORQ %s, %s, %s", va, vd, vd),
				fmt.Sprintf("VPRORQ $16, %s, %s", vd, vd),
				fmt.Sprintf("VPADDQ %s, %s, %s", vd, vc, vc),
				fmt.Sprintf("VPXORQ %s, %s, %s", vc, vb, vb),
				fmt.Sprintf("VPRORQ $63, %s, %s", vb, vb),
			}
		}
		for k := range ops[0] {
			for i := range ops {
				emit("%s", ops[i][k])
			}
		}
	}
	for i := 0; i < 8; i++ {
		// 0x96 is the truth table of a^b^c.
		emit("VPTERNLOGQ $0x96, %d(AX), %s, %s", hStride*i, v(8+i), v(i))
		emit("%s %s, %d(AX)", mov, v(i), hStride*i)
	}
	epilogue(name)
}

func data() {
	for i, w := range rfc7693.IV {
		emit("DATA ·iv<>+%d(SB)/8, $0x%016x", 8*i, w)
	}
	emit("GLOBL ·iv<>(SB), (NOPTR+RODATA), $64")
	// VPSHUFB masks rotating each 64-bit word right by 24 and 16 bits:
	// byte i of the result is byte i+3 (or i+2) of the word, modulo 8.
	for _, r := range []struct {
		name  string
		bytes int
	}{{"rot24", 3}, {"rot16", 2}} {
		for q := 0; q < 4; q++ {
			var w uint64
			for i := 0; i < 8; i++ {
				w |= uint64((q%2)*8+(i+r.bytes)%8) << (8 * i)
			}
			emit("DATA ·%s<>+%d(SB)/8, $0x%016x", r.name, 8*q, w)
		}
		emit("GLOBL ·%s<>(SB), (NOPTR+RODATA), $32", r.name)
	}
}

var outFile = flag.String("out", "", "file to write instead of standard output")

func main() {
	flag.Parse()
	out.WriteString("// Code generated by asm_gen.go; DO NOT EDIT.\n\n")
	out.WriteString("//go:build amd64 && !purego\n\n")
	out.WriteString("#include \"textflag.h\"\n\n")
	data()
	genAVX2()
	genAVX512(4)
	genAVX512(8)
	text := strings.ReplaceAll(out.String(), "\t\n", "\n")
	if *outFile == "" {
		os.Stdout.WriteString(text)
		return
	}
	if err := os.WriteFile(*outFile, []byte(text), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "asm_gen:", err)
		os.Exit(1)
	}
}
