//go:build !amd64 || purego || !gc

package xsalsa

func available() []*kernel { return nil }

func fastest() *kernel { return nil }

// xorGroups is never called here: without kernels XORKeyStream always
// takes the fallback.
func xorGroups(*kernel, *byte, *byte, int, *[16]uint32) {}
