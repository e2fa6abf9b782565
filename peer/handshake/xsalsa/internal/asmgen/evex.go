package main

import (
	"fmt"
	"math/bits"
	"strings"
)

// The AVX-512 kernels: all 16 state words in registers 0-15, VPROLD for
// the rotations; 16 blocks per group in zmm (avx512) or, with AVX-512VL,
// 8 in ymm (avx512vl), whose groups are half the size for what is left
// after the groups of 16. Registers 16 and 17 are the counter lanes,
// 18-29 temporaries, 30 ones and 31 the lane count for the counter step.
func evex(name string, lanes int) {
	prefix := "Z"
	if lanes == 8 {
		prefix = "Y"
	}
	v := func(i int) string { return fmt.Sprintf("%s%d", prefix, i) }
	fn := "xor" + strings.ToUpper(name)
	fmt.Fprintf(&out, "// func %s(dst, src *byte, groups int, state *[16]uint32)\n", fn)
	fmt.Fprintf(&out, "TEXT ·%s(SB), NOSPLIT, $0-32\n", fn)
	emit("MOVQ dst+0(FP), DI")
	emit("MOVQ src+8(FP), SI")
	emit("MOVQ groups+16(FP), CX")
	emit("MOVQ state+24(FP), DX")
	emit("TESTQ CX, CX")
	emit("JZ %sDone", name)

	// Ones and the lane count without a memory constant: all-ones shifted.
	emit("VPTERNLOGD $0xff, %s, %s, %s", v(30), v(30), v(30))
	emit("VPSRLD $31, %s, %s", v(30), v(30))
	emit("VPSLLD $%d, %s, %s", bits.TrailingZeros(uint(lanes)), v(30), v(31))

	// Lane i counts block counter+i; a lane whose low word wrapped (new <
	// old, unsigned) adds one to its high word.
	emit("VPBROADCASTD 32(DX), %s", v(16))
	emit("VPBROADCASTD 36(DX), %s", v(17))
	op("VPADDD", v(18), v(16), "lanes<>(SB)")
	counter := func() {
		opImm("VPCMPUD", 1, "K1", v(18), v(16))
		emit("VPADDD %s, %s, K1, %s", v(30), v(17), v(17))
		emit("VMOVDQA32 %s, %s", v(18), v(16))
	}
	counter()

	label(name + "Group")
	for w := range 16 {
		switch w {
		case 8:
			emit("VMOVDQA32 %s, %s", v(16), v(8))
		case 9:
			emit("VMOVDQA32 %s, %s", v(17), v(9))
		default:
			emit("VPBROADCASTD %d(DX), %s", 4*w, v(w))
		}
	}
	emit("MOVQ $10, AX")
	label(name + "Rounds")
	for _, qrs := range [][4][4]int{columnRound, rowRound} {
		for _, s := range halfRound(qrs) {
			op("VPADDD", v(18), v(s.x), v(s.y))
			emit("VPROLD $%d, %s, %s", s.rot, v(18), v(18))
			op("VPXORD", v(s.target), v(s.target), v(18))
		}
	}
	emit("DECQ AX")
	emit("JNZ %sRounds", name)

	for w := range 16 {
		switch w {
		case 8:
			op("VPADDD", v(8), v(8), v(16))
		case 9:
			op("VPADDD", v(9), v(9), v(17))
		default:
			emit("VPADDD.BCST %d(DX), %s, %s", 4*w, v(w), v(w))
		}
	}

	// Per 128-bit lane k, a 4x4 transposition of words 4g..4g+3 leaves
	// them for block 4k+j in register 4g+j.
	for g := range 4 {
		a := [4]string{v(4 * g), v(4*g + 1), v(4*g + 2), v(4*g + 3)}
		op("VPUNPCKLDQ", v(18), a[0], a[1])
		op("VPUNPCKHDQ", v(19), a[0], a[1])
		op("VPUNPCKLDQ", v(20), a[2], a[3])
		op("VPUNPCKHDQ", v(21), a[2], a[3])
		op("VPUNPCKLQDQ", a[0], v(18), v(20))
		op("VPUNPCKHQDQ", a[1], v(18), v(20))
		op("VPUNPCKLQDQ", a[2], v(19), v(21))
		op("VPUNPCKHQDQ", a[3], v(19), v(21))
	}
	xorStore := func(r string, off int) {
		op("VPXORD", r, r, mem(off, "SI"))
		emit("VMOVDQU32 %s, %s", r, mem(off, "DI"))
	}
	for j := range 4 {
		if lanes == 8 {
			// Lanes 0 of registers j, 4+j are 32 bytes of block j, lanes
			// 1 of block j+4; registers 8+j, 12+j hold the next 32.
			for half := range 2 {
				a, b := v(8*half+j), v(8*half+4+j)
				opImm("VSHUFI32X4", 0, v(22), a, b)
				opImm("VSHUFI32X4", 3, v(23), a, b)
				xorStore(v(22), 64*j+32*half)
				xorStore(v(23), 64*(j+4)+32*half)
			}
			continue
		}
		// A 4x4 transposition of the 128-bit lanes of registers j, 4+j,
		// 8+j, 12+j gives blocks j, 4+j, 8+j, 12+j whole: even and odd
		// lanes of A,B and of C,D, then of those.
		a, b, c, d := v(j), v(4+j), v(8+j), v(12+j)
		opImm("VSHUFI32X4", 0x88, v(22), a, b)
		opImm("VSHUFI32X4", 0xdd, v(23), a, b)
		opImm("VSHUFI32X4", 0x88, v(24), c, d)
		opImm("VSHUFI32X4", 0xdd, v(25), c, d)
		opImm("VSHUFI32X4", 0x88, v(26), v(22), v(24))
		opImm("VSHUFI32X4", 0x88, v(27), v(23), v(25))
		opImm("VSHUFI32X4", 0xdd, v(28), v(22), v(24))
		opImm("VSHUFI32X4", 0xdd, v(29), v(23), v(25))
		for k := range 4 {
			xorStore(v(26+k), 64*(4*k+j))
		}
	}

	op("VPADDD", v(18), v(16), v(31))
	counter()

	emit("ADDQ $%d, SI", 64*lanes)
	emit("ADDQ $%d, DI", 64*lanes)
	emit("DECQ CX")
	emit("JNZ %sGroup", name)
	emit("VZEROUPPER")
	label(name + "Done")
	emit("RET")
	out.WriteString("\n")
}
