//go:build amd64 && !purego && gc

package xsalsa

import "golang.org/x/sys/cpu"

//go:generate go run asm_gen.go

//go:noescape
func xorAVX2(dst, src *byte, groups int, state *[16]uint32)

//go:noescape
func xorAVX512(dst, src *byte, groups int, state *[16]uint32)

func xorGroups(k *kernel, dst, src *byte, groups int, state *[16]uint32) {
	if k.lanes == 16 {
		xorAVX512(dst, src, groups, state)
	} else {
		xorAVX2(dst, src, groups, state)
	}
}

// available lists the kernels this CPU runs, fastest first. Below 192
// bytes (three blocks) x/crypto computes one block at a time faster than
// a kernel computes a group of 8 or 16.
func available() []*kernel {
	avx2 := &kernel{name: "avx2", lanes: 8, tailMin: 192}
	avx512 := &kernel{name: "avx512", lanes: 16, tailMin: 192}
	var ks []*kernel
	if cpu.X86.HasAVX512F {
		ks = append(ks, avx512)
	}
	if cpu.X86.HasAVX2 {
		if len(ks) > 0 {
			// Half the groups of 16 take half the time in groups of 8.
			ks[0].smaller = avx2
		}
		ks = append(ks, avx2)
	}
	return ks
}

func fastest() *kernel {
	if ks := available(); len(ks) > 0 {
		return ks[0]
	}
	return nil
}
