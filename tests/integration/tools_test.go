package integration

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// randomBytes returns n seeded pseudo-random bytes.
func randomBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// info reads and decodes FEED/info through the mount.
func (m *mount) info(feed string) map[string]any {
	m.t.Helper()
	b, err := os.ReadFile(m.path(feed, "info"))
	if err != nil {
		m.t.Fatal(err)
	}
	var v map[string]any
	if err := json.Unmarshal(b, &v); err != nil {
		m.t.Fatalf("info of %s is not JSON: %v\n%s", feed, err, b)
	}
	return v
}

func (m *mount) length(feed string) int {
	m.t.Helper()
	return int(m.info(feed)["length"].(float64))
}

// TestReadWithTools reads a feed made with the CLI through the mount with
// ls, stat, cat, dd, sha256sum and cp.
func TestReadWithTools(t *testing.T) {
	h := newHome(t)
	h.run(nil, "create", "log")
	content := randomBytes(1, 3<<20+12345)
	in := filepath.Join(t.TempDir(), "in")
	if err := os.WriteFile(in, content, 0o644); err != nil {
		t.Fatal(err)
	}
	h.run(nil, "append", "log", in, "--block-size", "65536")
	blocks := (len(content) + 65535) / 65536
	m := h.mount()
	d := m.path("log", "data")

	if got := sh(t, "ls "+m.dir); got != "log\n" {
		t.Errorf("ls = %q", got)
	}
	if got := sh(t, "stat -c '%s %h %a' "+d); got != fmt.Sprintf("%d 1 644\n", len(content)) {
		t.Errorf("stat data = %q", got)
	}
	if got := sh(t, "stat -c %h "+m.path("log")); got != "3\n" {
		t.Errorf("nlink of the feed directory = %q", got)
	}
	want := sha(content)
	if got := strings.Fields(sh(t, "sha256sum "+d))[0]; got != want {
		t.Errorf("sha256sum data = %s, want %s", got, want)
	}
	if got := strings.Fields(sh(t, "cat "+d+" | sha256sum"))[0]; got != want {
		t.Errorf("cat | sha256sum = %s, want %s", got, want)
	}
	if got := strings.Fields(sh(t, "dd if="+d+" bs=1M status=none | sha256sum"))[0]; got != want {
		t.Errorf("dd bs=1M | sha256sum = %s", got)
	}
	// Odd offsets and sizes across block boundaries.
	for _, c := range []struct{ bs, skip, count int }{{1000, 65, 3}, {7, 9362, 5}, {65536, 1, 2}, {4096, 800, 10}} {
		got := sh(t, fmt.Sprintf("dd if=%s bs=%d skip=%d count=%d status=none", d, c.bs, c.skip, c.count))
		lo := min(c.bs*c.skip, len(content))
		hi := min(lo+c.bs*c.count, len(content))
		if got != string(content[lo:hi]) {
			t.Errorf("dd bs=%d skip=%d count=%d: %d bytes differ from the content (%d)", c.bs, c.skip, c.count, len(got), hi-lo)
		}
	}
	out := filepath.Join(t.TempDir(), "copy")
	sh(t, "cp "+d+" "+out)
	if b, _ := os.ReadFile(out); !bytes.Equal(b, content) {
		t.Errorf("cp out of the mount: %d bytes differ", len(b))
	}
	if got := sh(t, "ls "+m.path("log", "blocks")+" | wc -l"); strings.TrimSpace(got) != strconv.Itoa(blocks) {
		t.Errorf("ls blocks | wc -l = %s, want %d", got, blocks)
	}
	if got := sh(t, "cat "+m.path("log", "blocks", "5")); got != string(content[5*65536:6*65536]) {
		t.Errorf("cat blocks/5: %d bytes, differ", len(got))
	}
	last := strconv.Itoa(blocks - 1)
	if got := sh(t, "stat -c %s "+m.path("log", "blocks", last)); got != fmt.Sprintf("%d\n", len(content)%65536) {
		t.Errorf("size of the last block = %q", got)
	}
	if n := m.length("log"); n != blocks {
		t.Errorf("info length %d, want %d", n, blocks)
	}
	if got := sh(t, "stat -f -c %b "+m.dir); got == "0\n" {
		t.Error("statfs reports no blocks")
	}
	if got := sh(t, "python3 -c 'import os,sys; print(os.getxattr(sys.argv[1], \"user.hyperfs.byte_length\").decode())' "+d); got != fmt.Sprintf("%d\n", len(content)) {
		t.Errorf("xattr byte_length = %q", got)
	}
}

// TestAppendWithTools appends with echo >>, dd oflag=append and single
// large writes, and checks one block per write.
func TestAppendWithTools(t *testing.T) {
	h := newHome(t)
	m := h.mount()
	sh(t, "mkdir "+m.path("new"))
	d := m.path("new", "data")
	sh(t, fmt.Sprintf("echo first >> %s && echo second >> %s && env printf 'x\\ny\\n' >> %s", d, d, d))
	if n := m.length("new"); n != 3 {
		t.Fatalf("three echo >> gave %d blocks", n)
	}
	for i, want := range []string{"first\n", "second\n", "x\ny\n"} {
		if got := sh(t, "cat "+m.path("new", "blocks", strconv.Itoa(i))); got != want {
			t.Errorf("block %d = %q, want %q", i, got, want)
		}
	}
	src := filepath.Join(t.TempDir(), "src")
	payload := randomBytes(2, 16*65536)
	os.WriteFile(src, payload, 0o644)
	sh(t, fmt.Sprintf("dd if=%s of=%s bs=64k oflag=append conv=notrunc status=none", src, d))
	if n := m.length("new"); n != 3+16 {
		t.Fatalf("dd of 16 x 64 KiB gave %d blocks, want 19", n)
	}
	for _, i := range []int{3, 10, 18} {
		if got := sh(t, "stat -c %s "+m.path("new", "blocks", strconv.Itoa(i))); got != "65536\n" {
			t.Errorf("block %d: size %q, want 65536", i, got)
		}
	}
	// One write(2) of 2.5 MiB: the kernel splits it into ≤ 1 MiB WRITEs.
	big := randomBytes(3, 5<<19)
	os.WriteFile(src, big, 0o644)
	sh(t, fmt.Sprintf(`python3 -c '
import os, sys
b = open(sys.argv[1], "rb").read()
fd = os.open(sys.argv[2], os.O_WRONLY | os.O_APPEND)
assert os.write(fd, b) == len(b)
os.fsync(fd)
os.close(fd)' %s %s`, src, d))
	n := m.length("new")
	if n < 19+3 {
		t.Errorf("a 2.5 MiB write gave %d blocks, want at least 3", n-19)
	}
	for i := 19; i < n; i++ {
		sz, _ := strconv.Atoi(strings.TrimSpace(sh(t, "stat -c %s "+m.path("new", "blocks", strconv.Itoa(i)))))
		if sz > 1<<20 {
			t.Errorf("block %d has %d bytes, more than 1 MiB", i, sz)
		}
	}
	all := append(append([]byte("first\nsecond\nx\ny\n"), payload...), big...)
	if got := strings.Fields(sh(t, "sha256sum "+d))[0]; got != sha(all) {
		t.Error("data differs from what was appended")
	}
	m.stop()
	if got := h.run(nil, "cat", "new"); got != string(all) {
		t.Errorf("hyperfs cat after unmount: %d bytes, want %d", len(got), len(all))
	}
}
