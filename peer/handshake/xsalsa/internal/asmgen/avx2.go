package main

import "fmt"

// avx2CounterStep adds inc to the counter lanes lo, hi. The caller has
// already added one to every high word; lanes whose low word did not wrap
// take it back. AVX2 has no unsigned compare: a lane wrapped where
// max(new, old) != new.
func avx2CounterStep(lo, hi, inc, t1, t2 string) {
	op("VPADDD", t1, lo, inc)
	op("VPMAXUD", t2, t1, lo)
	op("VPCMPEQD", t2, t2, t1) // all ones (-1) where no wrap
	op("VPADDD", hi, hi, t2)
	emit("VMOVDQA %s, %s", t1, lo)
}

// AVX2 kernel: 8 blocks per group. Registers: Y0-Y13 hold 14 state words,
// Y14 and Y15 are temporaries; words 2 and 7 live on the stack. They are
// the c of every quarter-round they are in, and never in the same one, so
// each quarter-round has at most one memory operand, and the two are
// written once per half-round (step 2) and read twice.
//
// Stack (32-byte aligned, base BX): 0 counter low words, 32 counter high
// words, 64 and 96 words 2 and 7, 128.. the 16 output words for the
// transposition.
func avx2() {
	const (
		cLo, cHi = 0, 32
		xBase    = 128
		frame    = 128 + 16*32 + 32
	)
	spill := map[int]int{2: 64, 7: 96}
	reg := map[int]string{}
	r := 0
	for w := range 16 {
		if _, ok := spill[w]; !ok {
			reg[w] = fmt.Sprintf("Y%d", r)
			r++
		}
	}
	t, u := "Y14", "Y15"
	operand := func(w int) string {
		if off, ok := spill[w]; ok {
			return mem(off, "BX")
		}
		return reg[w]
	}

	out.WriteString("// func xorAVX2(dst, src *byte, groups int, state *[16]uint32)\n")
	// Not NOSPLIT: the frame is too big for the nosplit budget.
	fmt.Fprintf(&out, "TEXT ·xorAVX2(SB), 0, $%d-32\n", frame)
	emit("MOVQ dst+0(FP), DI")
	emit("MOVQ src+8(FP), SI")
	emit("MOVQ groups+16(FP), CX")
	emit("MOVQ state+24(FP), DX")
	// No groups would otherwise loop 2^64 times.
	emit("TESTQ CX, CX")
	emit("JZ avx2Done")
	emit("LEAQ 31(SP), BX")
	emit("ANDQ $~31, BX")

	// Lane i counts block counter+i. The high word first gets 1 in every
	// lane and then loses it again (adding all ones) in lanes that did not
	// carry.
	emit("VPBROADCASTD 32(DX), Y0")
	emit("VPBROADCASTD 36(DX), Y1")
	emit("VPCMPEQD Y2, Y2, Y2")
	op("VPSUBD", "Y1", "Y1", "Y2")
	emit("VMOVDQU lanes<>(SB), Y3")
	avx2CounterStep("Y0", "Y1", "Y3", "Y4", "Y5")
	emit("VMOVDQA Y0, %s", mem(cLo, "BX"))
	emit("VMOVDQA Y1, %s", mem(cHi, "BX"))

	label("avx2Group")
	for w := range 16 {
		switch {
		case w == 8 || w == 9:
			src := mem(cLo, "BX")
			if w == 9 {
				src = mem(cHi, "BX")
			}
			emit("VMOVDQA %s, %s", src, reg[w])
		case spill[w] != 0:
			emit("VPBROADCASTD %d(DX), %s", 4*w, t)
			emit("VMOVDQA %s, %s", t, mem(spill[w], "BX"))
		default:
			emit("VPBROADCASTD %d(DX), %s", 4*w, reg[w])
		}
	}
	emit("MOVQ $10, AX")
	label("avx2Rounds")
	for _, qrs := range [][4][4]int{columnRound, rowRound} {
		// A spilled word is still in u right after its store; the step
		// that reads it next is moved up to take it from there rather
		// than wait for the store to be forwarded.
		inU := -1
		for _, s := range spilledFirst(halfRound(qrs), spill) {
			x, y := s.x, s.y
			if _, ok := spill[x]; ok && x != inU {
				x, y = y, x // the memory operand must be the last source
			}
			ox, oy := operand(x), operand(y)
			if x == inU {
				ox = u
			}
			op("VPADDD", t, ox, oy)
			inU = -1
			// x<<<k: the two shifted halves do not overlap, so both are
			// XORed into the target instead of ORed first.
			emit("VPSLLD $%d, %s, %s", s.rot, t, u)
			emit("VPSRLD $%d, %s, %s", 32-s.rot, t, t)
			if off, ok := spill[s.target]; ok {
				op("VPXOR", u, u, t)
				op("VPXOR", u, u, mem(off, "BX"))
				emit("VMOVDQA %s, %s", u, mem(off, "BX"))
				inU = s.target
			} else {
				op("VPXOR", reg[s.target], reg[s.target], u)
				op("VPXOR", reg[s.target], reg[s.target], t)
			}
		}
	}
	emit("DECQ AX")
	emit("JNZ avx2Rounds")

	// Add the input words and park all 16 for the transposition.
	for w := range 16 {
		x := reg[w]
		if off, ok := spill[w]; ok {
			emit("VMOVDQA %s, %s", mem(off, "BX"), t)
			x = t
		}
		switch w {
		case 8:
			op("VPADDD", x, x, mem(cLo, "BX"))
		case 9:
			op("VPADDD", x, x, mem(cHi, "BX"))
		default:
			emit("VPBROADCASTD %d(DX), %s", 4*w, u)
			op("VPADDD", x, x, u)
		}
		emit("VMOVDQA %s, %s", x, mem(xBase+32*w, "BX"))
	}

	// Lane k of word w is bytes 4w..4w+3 of block k. A 4x4 transposition
	// within each 128-bit half of four words gives, per block, 16 bytes in
	// a register whose other half holds the same words of block k+4;
	// VPERM2I128 joins two such registers into 32 bytes of one block.
	for half := range 2 {
		var b [2][4]string
		for g := range 2 {
			word := 8*half + 4*g
			a := [4]string{}
			for i := range 4 {
				a[i] = fmt.Sprintf("Y%d", 8*g+i)
				emit("VMOVDQA %s, %s", mem(xBase+32*(word+i), "BX"), a[i])
			}
			t0, t1, t2, t3 := fmt.Sprintf("Y%d", 8*g+4), fmt.Sprintf("Y%d", 8*g+5), fmt.Sprintf("Y%d", 8*g+6), fmt.Sprintf("Y%d", 8*g+7)
			op("VPUNPCKLDQ", t0, a[0], a[1])
			op("VPUNPCKHDQ", t1, a[0], a[1])
			op("VPUNPCKLDQ", t2, a[2], a[3])
			op("VPUNPCKHDQ", t3, a[2], a[3])
			op("VPUNPCKLQDQ", a[0], t0, t2)
			op("VPUNPCKHQDQ", a[1], t0, t2)
			op("VPUNPCKLQDQ", a[2], t1, t3)
			op("VPUNPCKHQDQ", a[3], t1, t3)
			b[g] = a
		}
		for j := range 4 {
			lo, hi := "Y14", "Y15"
			opImm("VPERM2I128", 0x20, lo, b[0][j], b[1][j])
			opImm("VPERM2I128", 0x31, hi, b[0][j], b[1][j])
			for _, blk := range []struct {
				r string
				n int
			}{{lo, j}, {hi, j + 4}} {
				off := 64*blk.n + 32*half
				op("VPXOR", blk.r, blk.r, mem(off, "SI"))
				emit("VMOVDQU %s, %s", blk.r, mem(off, "DI"))
			}
		}
	}

	emit("VMOVDQA %s, Y0", mem(cLo, "BX"))
	emit("VMOVDQA %s, Y1", mem(cHi, "BX"))
	emit("VPCMPEQD Y2, Y2, Y2")
	op("VPSUBD", "Y1", "Y1", "Y2")
	emit("VPSRLD $31, Y2, Y3")
	emit("VPSLLD $3, Y3, Y3") // 8 in every lane
	avx2CounterStep("Y0", "Y1", "Y3", "Y4", "Y5")
	emit("VMOVDQA Y0, %s", mem(cLo, "BX"))
	emit("VMOVDQA Y1, %s", mem(cHi, "BX"))

	emit("ADDQ $512, SI")
	emit("ADDQ $512, DI")
	emit("DECQ CX")
	emit("JNZ avx2Group")
	emit("VZEROUPPER")
	label("avx2Done")
	emit("RET")
	out.WriteString("\n")
}
