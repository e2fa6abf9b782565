package integration

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// While a mount owns its home, create, append, follow, cat and info on
// that home run inside the mount process, and what they do shows in the
// mount as soon as they return. A second mount or a serve on the home is
// refused.
func TestCommandsThroughMount(t *testing.T) {
	h := newHome(t)
	h.run(nil, "create", "log")
	m := h.mount()

	h.run(nil, "create", "fresh")
	if _, err := os.Stat(m.path("fresh", "data")); err != nil {
		t.Fatalf("a feed created through the mount is not in it: %v", err)
	}
	h.run([]byte("one\ntwo\n"), "append", "fresh", "--lines")
	if b, err := os.ReadFile(m.path("fresh", "data")); err != nil || string(b) != "one\ntwo\n" {
		t.Fatalf("fresh/data after an append through the mount: %q, %v", b, err)
	}
	if b, err := os.ReadFile(m.path("fresh", "blocks", "1")); err != nil || string(b) != "two\n" {
		t.Fatalf("fresh/blocks/1: %q, %v", b, err)
	}

	// And the other way: what the mount appends, the commands see.
	sh(t, "echo hello >> "+m.path("log", "data"))
	if got := h.run(nil, "cat", "log"); got != "hello\n" {
		t.Fatalf("cat through the mount after echo >>: %q", got)
	}
	var info struct {
		Length uint64 `json:"length"`
		Peers  *int   `json:"peers"`
	}
	if err := json.Unmarshal([]byte(h.run(nil, "info", "log", "--json")), &info); err != nil || info.Length != 1 || info.Peers == nil {
		t.Fatalf("info --json through the mount: %+v, %v", info, err)
	}

	key := strings.Repeat("5a", 32)
	h.run(nil, "follow", key, "--name", "theirs")
	var finfo map[string]any
	b, err := os.ReadFile(m.path("theirs", "info"))
	if err != nil || json.Unmarshal(b, &finfo) != nil || finfo["key"] != key || finfo["writable"] != false {
		t.Fatalf("theirs/info after follow through the mount: %s, %v", b, err)
	}
	entries, err := os.ReadDir(m.dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if err != nil || strings.Join(names, " ") != "fresh log theirs" {
		t.Fatalf("ls of the mount: %v, %v", names, err)
	}

	for _, args := range [][]string{
		{"mount", filepath.Join(t.TempDir())},
		{"serve"},
	} {
		cmd := exec.Command(binary, append([]string{"--home", h.dir}, args...)...)
		var errb bytes.Buffer
		cmd.Stderr = &errb
		err := cmd.Run()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(errb.String(), "in use by another hyperfs") {
			t.Errorf("hyperfs %s on a mounted home: %v, stderr %q; want exit 1 saying the home is in use", args[0], err, errb.String())
		}
	}
}
