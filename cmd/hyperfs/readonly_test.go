package main

import (
	"crypto/sha256"
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// roMount mounts a tmpfs at a new directory and returns it with a
// function that remounts it read-only. It needs root: CI runs as root and
// sets HYPERFS_REQUIRE_ROOT=1, which turns the skip a developer's run as a
// user gets into a failure.
func roMount(t *testing.T) (dir string, readOnly func()) {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("HYPERFS_REQUIRE_ROOT") == "1" {
			t.Fatal("HYPERFS_REQUIRE_ROOT=1 but not root: cannot mount a read-only file system")
		}
		t.Skip("mounting a read-only file system needs root (CI runs as root)")
	}
	dir = t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "hyperfs-test", dir).CombinedOutput(); err != nil {
		t.Fatalf("mount tmpfs: %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir, func() {
		t.Helper()
		if out, err := exec.Command("mount", "-o", "remount,ro", dir).CombinedOutput(); err != nil {
			t.Fatalf("remount read-only: %v: %s", err, out)
		}
	}
}

// snapshot hashes every file under dir.
func snapshot(t *testing.T, dir string) map[string][32]byte {
	t.Helper()
	sums := map[string][32]byte{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		sums[path] = sha256.Sum256(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return sums
}

// A home on a read-only disk: the commands that read work without the
// index (saying so once), the ones that write fail with a clear message,
// and nothing on the disk changes.
func TestReadOnlyHome(t *testing.T) {
	dir, readOnly := roMount(t)
	home := filepath.Join(dir, "home")
	key := newFeed(t, home, "notes")
	must(t, []byte("one\ntwo\nthree\n"), "--home", home, "append", "notes", "--lines")
	readOnly()
	before := snapshot(t, dir)

	for _, c := range []struct {
		args []string
		out  string
	}{
		{[]string{"cat", "notes"}, "one\ntwo\nthree\n"},
		{[]string{"get", key, "1"}, "two\n"},
		{[]string{"list"}, "notes  3  14  writable\n"},
		{[]string{"audit", "notes"}, "valid 3 invalid 0\n"},
	} {
		r := wantCode(t, exitOK, nil, append([]string{"--home", home}, c.args...)...)
		if r.stdout != c.out {
			t.Errorf("%q on a read-only home: %q, want %q", c.args, r.stdout, c.out)
		}
		if n := strings.Count(r.stderr, "index unavailable"); n != 1 {
			t.Errorf("%q: the index fallback was logged %d times:\n%s", c.args, n, r.stderr)
		}
	}
	var info feedInfo
	if err := json.Unmarshal([]byte(must(t, nil, "--home", home, "info", "notes", "--json")), &info); err != nil {
		t.Fatal(err)
	}
	if !info.ReadOnly || !info.Writable || info.Length != 3 {
		t.Errorf("info on a read-only home: %+v", info)
	}

	for _, c := range []struct {
		args []string
		says string
	}{
		{[]string{"append", "notes"}, "read-only"},
		{[]string{"create", "other"}, "read-only"},
		{[]string{"serve"}, "read-only file system"},
	} {
		r := wantCode(t, exitError, []byte("four\n"), append([]string{"--home", home}, c.args...)...)
		if !strings.Contains(r.stderr, c.says) {
			t.Errorf("%q on a read-only home: stderr does not say %q:\n%s", c.args, c.says, r.stderr)
		}
	}

	after := snapshot(t, dir)
	if len(after) != len(before) {
		t.Errorf("%d files before, %d after", len(before), len(after))
	}
	for path, sum := range before {
		if after[path] != sum {
			t.Errorf("%s changed on a read-only disk", path)
		}
	}
}
