//go:build amd64 && !purego && gc

package xsalsa

import "golang.org/x/sys/cpu"

//go:generate go run ./internal/asmgen

//go:noescape
func xorAVX2(dst, src *byte, groups int, state *[16]uint32)

//go:noescape
func xorAVX512(dst, src *byte, groups int, state *[16]uint32)

//go:noescape
func xorAVX512VL(dst, src *byte, groups int, state *[16]uint32)

func xorGroups(k *kernel, dst, src *byte, groups int, state *[16]uint32) {
	switch k.name {
	case "avx512":
		xorAVX512(dst, src, groups, state)
	case "avx512vl":
		xorAVX512VL(dst, src, groups, state)
	default:
		xorAVX2(dst, src, groups, state)
	}
}

// available lists the kernels this CPU runs, fastest first. Below 192
// bytes (three blocks; 128 for avx512vl) x/crypto computes one block at a
// time faster than a kernel computes a group.
func available() []*kernel {
	var ks []*kernel
	if cpu.X86.HasAVX512F {
		ks = append(ks, &kernel{name: "avx512", lanes: 16, tailMin: 192})
		if cpu.X86.HasAVX512VL {
			ks = append(ks, &kernel{name: "avx512vl", lanes: 8, tailMin: 128})
		}
	}
	if cpu.X86.HasAVX2 {
		ks = append(ks, &kernel{name: "avx2", lanes: 8, tailMin: 192})
	}
	if len(ks) > 1 && ks[0].lanes == 16 {
		// Groups of 8 take half the time of 16, so what is left after the
		// groups of 16 goes to the next kernel.
		ks[0].smaller = ks[1]
	}
	return ks
}

func fastest() *kernel {
	if ks := available(); len(ks) > 0 {
		return ks[0]
	}
	return nil
}
