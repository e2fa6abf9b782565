//go:build !amd64 || purego || !gc

package xsalsa

func available() []*kernel { return nil }

func fastest() *kernel { return nil }

func xorGroups(*kernel, *byte, *byte, int, *[16]uint32) { panic("xsalsa: no kernels") }
