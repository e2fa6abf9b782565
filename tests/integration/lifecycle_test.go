package integration

import (
	"os"
	"syscall"
	"testing"
	"time"
)

// TestUnmountCommand: `hyperfs unmount` ends the mount process, which
// exits 0 after syncing; what was appended is in the home.
func TestUnmountCommand(t *testing.T) {
	h := newHome(t)
	m := h.mount()
	sh(t, "mkdir "+m.path("n")+" && echo hi >> "+m.path("n", "data"))
	h.run(nil, "unmount", m.dir)
	m.waitExit()
	if got := h.run(nil, "cat", "n"); got != "hi\n" {
		t.Errorf("after unmount, cat n = %q", got)
	}
}

// TestSIGINT: Ctrl-C unmounts and exits 0 even with a file held open: the
// mount is detached lazily, and the process exits after a grace period.
func TestSIGINT(t *testing.T) {
	h := newHome(t)
	h.run(nil, "create", "f")
	m := h.mount()
	f, err := os.Open(m.path("f", "data"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m.cmd.Process.Signal(syscall.SIGINT)
	m.waitExit()
}

// waitExit waits for the mount process to exit and fails unless it exited
// 0 and left nothing mounted.
func (m *mount) waitExit() {
	m.t.Helper()
	select {
	case <-m.exited:
	case <-time.After(mountWait):
		m.t.Fatalf("hyperfs mount still running; stderr:\n%s", m.stderrText())
	}
	if m.err != nil {
		m.t.Errorf("hyperfs mount exited with %v; stderr:\n%s", m.err, m.stderrText())
	}
	if mounted(m.dir) {
		m.t.Errorf("%s still mounted after hyperfs exited", m.dir)
	}
}
