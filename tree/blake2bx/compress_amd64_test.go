//go:build amd64 && !purego

package blake2bx

import (
	"testing"
	"unsafe"
)

// The assembly reads steps and the state at offsets fixed in asm_gen.go.
func TestAssemblyLayout(t *testing.T) {
	var s step
	for _, c := range []struct {
		what      string
		got, want uintptr
	}{
		{"step.t offset", unsafe.Offsetof(s.t), 64},
		{"step.f offset", unsafe.Offsetof(s.f), 128},
		{"step size", unsafe.Sizeof(s), 192},
		{"state size", unsafe.Sizeof(state{}), 8 * 64},
	} {
		if c.got != c.want {
			t.Errorf("%s is %d, the assembly assumes %d", c.what, c.got, c.want)
		}
	}
}
