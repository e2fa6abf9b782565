package integration

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// nobody is the unprivileged user the non-root test runs as.
const nobody = 65534

// asNobody runs a command as the user nobody.
func asNobody(cmd *exec.Cmd, home string) *exec.Cmd {
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	cmd.Env = append(os.Environ(), "HOME="+home, "HYPERFS_HOME=", "XDG_DATA_HOME=")
	return cmd
}

// An ordinary user mounts through fusermount3 (go-fuse's direct mount is
// for root only), appends and reads through the mount, and unmounts with
// `hyperfs unmount`. The suite runs as root in CI, so this test drops to
// nobody; run as a user, every other mount test already goes this way.
func TestMountAsUser(t *testing.T) {
	requireFUSE(t)
	if os.Geteuid() != 0 {
		// Run as a user, every other mount test here already goes
		// through fusermount3; CI runs as root and says so.
		if os.Getenv("HYPERFS_REQUIRE_ROOT") == "1" {
			t.Fatal("HYPERFS_REQUIRE_ROOT=1 but not root: cannot drop to nobody")
		}
		t.Skip("not root: every mount test here already mounts through fusermount3")
	}
	if st, err := os.Stat("/dev/fuse"); err != nil || st.Mode().Perm()&0o006 != 0o006 {
		t.Fatalf("/dev/fuse is not open to users (%v, %v): desktops have it 0666; `chmod 0666 /dev/fuse` (as .ci/run does)", st.Mode(), err)
	}
	// A tree nobody can reach: the binary, its home and the mountpoint.
	base, err := os.MkdirTemp("", "hyperfs-user-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	os.Chmod(base, 0o755)
	bin := filepath.Join(base, "hyperfs")
	b, err := os.ReadFile(binary)
	if err != nil || os.WriteFile(bin, b, 0o755) != nil {
		t.Fatalf("copy the binary: %v", err)
	}
	home, mnt := filepath.Join(base, "home"), filepath.Join(base, "mnt")
	for _, d := range []string{home, mnt} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
		os.Chown(d, nobody, nobody)
	}
	run := func(stdin string, args ...string) string {
		t.Helper()
		cmd := asNobody(exec.Command(bin, append([]string{"--home", home}, args...)...), base)
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("hyperfs %q as nobody: %v\n%s", args, err, out)
		}
		return string(out)
	}
	run("", "create", "log")

	mount := asNobody(exec.Command(bin, "--home", home, "mount", mnt), base)
	stdout, _ := mount.StdoutPipe()
	var stderr bytes.Buffer
	mount.Stderr = &stderr
	if err := mount.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		io.Copy(io.Discard, stdout)
		exited <- mount.Wait()
	}()
	t.Cleanup(func() {
		if mounted(mnt) {
			exec.Command("umount", "-l", mnt).Run()
		}
		mount.Process.Kill()
	})
	select {
	case l := <-lines:
		if l != "mounted at "+mnt {
			t.Fatalf("mount as nobody printed %q; stderr:\n%s", l, stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("mount as nobody printed nothing; stderr:\n%s", stderr.String())
	}
	mi, err := exec.Command("findmnt", "-n", "-o", "OPTIONS", mnt).Output()
	if err != nil || !strings.Contains(string(mi), "user_id=65534") {
		t.Fatalf("findmnt %s: %q, %v; want a mount owned by user 65534", mnt, mi, err)
	}

	sh := asNobody(exec.Command("sh", "-c", `echo hello >> "$1/log/data" && cat "$1/log/data" && stat -c %U "$1/log/data"`, "sh", mnt), base)
	out, err := sh.CombinedOutput()
	if err != nil || string(out) != "hello\nnobody\n" {
		t.Fatalf("append and read as nobody: %q, %v", out, err)
	}
	// Through the mount that owns the home, as the same user.
	if got := run("", "cat", "log"); got != "hello\n" {
		t.Errorf("hyperfs cat as nobody while mounted: %q", got)
	}

	run("", "unmount", mnt)
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("mount as nobody exited with %v after unmount; stderr:\n%s", err, stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("mount as nobody still running after hyperfs unmount")
	}
	if mounted(mnt) {
		t.Error("still mounted after hyperfs unmount")
	}
}
