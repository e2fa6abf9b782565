//go:build amd64 && !purego

package blake2bx

import "golang.org/x/sys/cpu"

//go:generate go run asm_gen.go -out compress_amd64.s

//go:noescape
func compressAVX2(h *state, s *step, n int)

//go:noescape
func compressAVX512x4(h *state, s *step, n int)

//go:noescape
func compressAVX512x8(h *state, s *step, n int)

// best prefers AVX-512 (see the package doc for the figures). The OS must
// save the zmm registers too, which x/sys/cpu checks for HasAVX512.
func best() impl {
	switch {
	case cpu.X86.HasAVX512F && cpu.X86.HasAVX512VL:
		return implAVX512x8
	case cpu.X86.HasAVX2:
		return implAVX2
	}
	return implNone
}

// available lists the implementations this CPU runs, for tests.
func available() []impl {
	ks := []impl{implNone, implGeneric4, implGeneric8}
	if cpu.X86.HasAVX2 {
		ks = append(ks, implAVX2)
	}
	if cpu.X86.HasAVX512F && cpu.X86.HasAVX512VL {
		ks = append(ks, implAVX512x4, implAVX512x8)
	}
	return ks
}

// compress runs steps on the lanes of h; len(steps) > 0.
func compress(k impl, h *state, steps []step) {
	switch k {
	case implAVX2:
		compressAVX2(h, &steps[0], len(steps))
	case implAVX512x4:
		compressAVX512x4(h, &steps[0], len(steps))
	case implAVX512x8:
		compressAVX512x8(h, &steps[0], len(steps))
	default:
		compressGeneric(h, steps, k.lanes())
	}
}
