//go:build amd64 && !purego

package blake2bx

import (
	"bytes"
	"os"
	"os/exec"
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

// compress_amd64.s is generated; a hand edit or a generator change not
// run shows here.
func TestAssemblyGenerated(t *testing.T) {
	got, err := exec.Command("go", "run", "asm_gen.go").Output()
	if err != nil {
		t.Fatalf("go run asm_gen.go: %v", err)
	}
	want, err := os.ReadFile("compress_amd64.s")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Error("compress_amd64.s differs from what asm_gen.go writes: run go generate")
	}
}
