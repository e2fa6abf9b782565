package integration

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hyperfs/hyperfs/internal/jsharness"
)

// binary is the hyperfs built once by TestMain.
var binary string

// mountWait bounds how long a mount may take to print "mounted at".
const mountWait = 30 * time.Second

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "hyperfs-integration-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	binary = filepath.Join(dir, "hyperfs")
	build := exec.Command("go", "build", "-o", binary, "../../cmd/hyperfs")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build hyperfs: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}

// requireFUSE skips the test when FUSE is unusable here, and fails it
// instead when HYPERFS_REQUIRE_FUSE=1. It, jsharness.Require (node) and
// TestMountAsUser's when not root are the only skips in this package.
func requireFUSE(t testing.TB) {
	t.Helper()
	var reason string
	if _, err := os.Stat("/dev/fuse"); err != nil {
		reason = fmt.Sprintf("no /dev/fuse: %v", err)
	} else if os.Geteuid() != 0 {
		if _, err := exec.LookPath("fusermount3"); err != nil {
			reason = "not root and no fusermount3"
		}
	}
	if reason == "" {
		return
	}
	if os.Getenv("HYPERFS_REQUIRE_FUSE") == "1" {
		t.Fatalf("HYPERFS_REQUIRE_FUSE=1 but FUSE is unusable: %s", reason)
	}
	t.Skipf("no usable FUSE: %s", reason)
}

// home is a temporary hyperfs home.
type home struct {
	t   testing.TB
	dir string
}

func newHome(t testing.TB) *home {
	return &home{t: t, dir: t.TempDir()}
}

// run runs hyperfs on the home and returns stdout; it fails the test on a
// non-zero exit.
func (h *home) run(stdin []byte, args ...string) string {
	h.t.Helper()
	cmd := exec.Command(binary, append([]string{"--home", h.dir}, args...)...)
	cmd.Stdin = bytes.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		h.t.Fatalf("hyperfs %s: %v\n%s", strings.Join(args, " "), err, errb.String())
	}
	return out.String()
}

// mount is a running `hyperfs mount`.
type mount struct {
	t      testing.TB
	dir    string // the mountpoint
	cmd    *exec.Cmd
	stderr *jsharness.LogBuffer
	exited chan struct{} // closed when the process has exited
	killed bool          // by kill: a stale mount is expected
	err    error         // its Wait result, once exited is closed
}

// mount starts `hyperfs mount` on a new mountpoint and waits for its
// "mounted at" line. Cleanup stops it and makes sure nothing stays
// mounted.
func (h *home) mount(args ...string) *mount {
	h.t.Helper()
	requireFUSE(h.t)
	dir := filepath.Join(h.t.TempDir(), "mnt")
	if err := os.Mkdir(dir, 0o755); err != nil {
		h.t.Fatal(err)
	}
	return h.mountAt(dir, args...)
}

func (h *home) mountAt(dir string, args ...string) *mount {
	h.t.Helper()
	t := h.t
	cmd := exec.Command(binary, append([]string{"--home", h.dir, "mount", dir}, args...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	m := &mount{t: t, dir: dir, cmd: cmd, stderr: &jsharness.LogBuffer{}, exited: make(chan struct{})}
	cmd.Stderr = m.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 16)
	go func() { // ends at the process's EOF on stdout
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		m.err = cmd.Wait()
		close(m.exited)
	}()
	t.Cleanup(func() { m.stop() })
	want := "mounted at " + dir
	deadline := time.After(mountWait)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				<-m.exited
				t.Fatalf("hyperfs mount exited (%v) before %q; stderr:\n%s", m.err, want, m.stderrText())
			}
			if l == want {
				go func() { // drain further output until exit
					for range lines {
					}
				}()
				return m
			}
			t.Fatalf("hyperfs mount printed %q, want %q", l, want)
		case <-deadline:
			t.Fatalf("no %q within %v; stderr:\n%s", want, mountWait, m.stderrText())
		}
	}
}

// stop sends SIGTERM and waits for a clean exit; a mount left behind is
// removed and fails the test.
func (m *mount) stop() {
	select {
	case <-m.exited:
	default:
		m.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-m.exited:
			if m.err != nil {
				m.t.Errorf("hyperfs mount exited with %v after SIGTERM; stderr:\n%s", m.err, m.stderrText())
			}
		case <-time.After(mountWait):
			m.cmd.Process.Kill()
			<-m.exited
			m.t.Errorf("hyperfs mount did not exit within %v of SIGTERM; stderr:\n%s", mountWait, m.stderrText())
		}
	}
	if mounted(m.dir) {
		exec.Command("umount", "-l", m.dir).Run()
		exec.Command("fusermount3", "-u", "-z", m.dir).Run()
		if !m.killed {
			m.t.Errorf("%s was still mounted after hyperfs exited", m.dir)
		}
	}
}

// kill kills the mount process with SIGKILL and waits for it, leaving a
// dead mount behind.
func (m *mount) kill() {
	m.killed = true
	m.cmd.Process.Kill()
	<-m.exited
}

func (m *mount) stderrText() string { return m.stderr.String() }

// mounted reports whether dir is a mountpoint in /proc/self/mounts.
func mounted(dir string) bool {
	b, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		return false
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) > 1 && f[1] == dir {
			return true
		}
	}
	return false
}

// path joins elements below the mountpoint.
func (m *mount) path(elem ...string) string {
	return filepath.Join(append([]string{m.dir}, elem...)...)
}

// sh runs a shell command line and returns its stdout; it fails the test
// on a non-zero exit.
func sh(t *testing.T, script string) string {
	t.Helper()
	cmd := exec.Command("bash", "-c", script)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s: %v\n%s", script, err, errb.String())
	}
	return out.String()
}
