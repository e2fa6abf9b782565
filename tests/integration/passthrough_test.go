package integration

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// dataReads is info's count of READs of data the mount's daemon served.
func dataReads(t testing.TB, m *mount, feed string) float64 {
	t.Helper()
	return infoOf(t, m, feed, func(map[string]any) bool { return true })["data_reads"].(float64)
}

// waitPassthrough waits until info says the next open of data passes
// through (the release of the last handle has arrived, and the feed is
// verified).
func waitPassthrough(t testing.TB, m *mount, feed string) {
	t.Helper()
	infoOf(t, m, feed, func(i map[string]any) bool { return i["passthrough"] == "ready" })
}

// feedDir is the directory holding a feed's hypercore files.
func (h *home) feedDir(feed string) string {
	h.t.Helper()
	var info struct{ Path string }
	if err := json.Unmarshal([]byte(h.run(nil, "info", feed, "--json")), &info); err != nil {
		h.t.Fatal(err)
	}
	return info.Path
}

// TestPassthrough: a local feed's first read after mounting is served by
// the daemon (which verifies every block); later reads pass through to
// the data file, so the daemon serves no READ, with the bytes of `hyperfs
// cat`. While a passthrough reader is open, an append through the mount is
// one block and shows to that reader. A feed missing a block is never
// passed through.
func TestPassthrough(t *testing.T) {
	requireFUSE(t)
	if os.Geteuid() != 0 {
		t.Fatal("passthrough needs root; run the integration tests as root (CI does)")
	}
	h := newHome(t)
	content := randomBytes(7, 24<<20+4321)
	in := filepath.Join(t.TempDir(), "in")
	if err := os.WriteFile(in, content, 0o644); err != nil {
		t.Fatal(err)
	}
	h.run(nil, "create", "big")
	h.run(nil, "append", "big", in, "--block-size", "65536")

	// holey misses block 3: its byte flipped, audit forgot it.
	h.run(nil, "create", "holey")
	h.run(nil, "append", "holey", in, "--block-size", "65536")
	data := filepath.Join(h.feedDir("holey"), "data")
	f, err := os.OpenFile(data, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte{content[3*65536+10] ^ 1}, 3*65536+10); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if out, err := exec.Command(binary, "--home", h.dir, "audit", "holey").CombinedOutput(); err == nil || !strings.Contains(string(out), "invalid 1") {
		t.Fatalf("audit of the flipped feed: %v\n%s", err, out)
	}

	m := h.mount()
	d := m.path("big", "data")
	if i := m.info("big"); i["passthrough"] != "unverified" || i["data_reads"] != float64(0) {
		t.Errorf("before any read: passthrough %v, data_reads %v; want unverified, 0", i["passthrough"], i["data_reads"])
	}
	want := sha(content)
	if got := strings.Fields(sh(t, "cat "+d+" | sha256sum"))[0]; got != want {
		t.Fatalf("first cat: sha256 %s, want %s", got, want)
	}
	first := dataReads(t, m, "big")
	if first == 0 {
		t.Fatal("the first read did not go through the daemon")
	}

	waitPassthrough(t, m, "big")
	if got := strings.Fields(sh(t, "cat "+d+" | sha256sum"))[0]; got != want {
		t.Errorf("cat through passthrough: sha256 %s, want %s", got, want)
	}
	if got := strings.Fields(sh(t, "dd if="+d+" bs=1M iflag=direct status=none | sha256sum"))[0]; got != want {
		t.Errorf("dd iflag=direct through passthrough: sha256 %s, want %s", got, want)
	}
	if n := dataReads(t, m, "big"); n != first {
		t.Errorf("reads after verification reached the daemon: data_reads %v -> %v", first, n)
	}
	if got := h.run(nil, "cat", "big"); got != string(content) {
		t.Errorf("hyperfs cat: %d bytes, differ from the content", len(got))
	}

	// A passthrough reader stays open; a second reader and an appender
	// open beside it (the kernel wants the backing on every open).
	r, err := os.Open(d)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if p := m.info("big")["passthrough"]; p != "active" {
		t.Errorf("with a reader open, passthrough %v, want active", p)
	}
	sh(t, "printf 'appended' >> "+d)
	content = append(content, "appended"...)
	if n := m.length("big"); n != (24<<20+4321)/65536+2 {
		t.Errorf("length %d after one append", n)
	}
	got, err := io.ReadAll(r)
	if err != nil || !bytes.Equal(got, content) {
		t.Errorf("the open reader read %d bytes (%v), want the %d with the append", len(got), err, len(content))
	}
	if got := strings.Fields(sh(t, "cat "+d+" | sha256sum"))[0]; got != sha(content) {
		t.Errorf("a second reader beside the first: sha256 %s differs", got)
	}
	if n := dataReads(t, m, "big"); n != first {
		t.Errorf("passthrough readers reached the daemon: data_reads %v -> %v", first, n)
	}
	r.Close()
	if got := h.run(nil, "cat", "big"); got != string(content) {
		t.Error("hyperfs cat after the append differs")
	}

	// With no passthrough handle open, small appends wait in the
	// daemon's memory; the next passthrough open writes them out first.
	sh(t, "for i in 1 2 3; do echo small-$i >> "+d+"; done")
	content = append(content, "small-1\nsmall-2\nsmall-3\n"...)
	waitPassthrough(t, m, "big")
	if got := strings.Fields(sh(t, "cat "+d+" | sha256sum"))[0]; got != sha(content) {
		t.Errorf("passthrough after small appends: sha256 %s differs", got)
	}
	if n := dataReads(t, m, "big"); n != first {
		t.Errorf("the reader after small appends reached the daemon: data_reads %v -> %v", first, n)
	}

	// The feed missing a block is served by the daemon, every time.
	hd := m.path("holey", "data")
	if p := m.info("holey")["passthrough"]; p != "incomplete" {
		t.Errorf("feed missing a block: passthrough %v, want incomplete", p)
	}
	for k := range 2 {
		// O_DIRECT: past the page cache, to the daemon or, if passed
		// through, to the data file.
		before := dataReads(t, m, "holey")
		if got := sh(t, "dd if="+hd+" bs=65536 count=2 iflag=direct status=none"); got != string(content[:2*65536]) {
			t.Errorf("read %d of the holey feed differs", k)
		}
		infoOf(t, m, "holey", func(i map[string]any) bool { return i["passthrough"] == "incomplete" })
		if n := dataReads(t, m, "holey"); n <= before {
			t.Errorf("read %d of the holey feed did not reach the daemon (data_reads %v -> %v)", k, before, n)
		}
	}
}

// TestPassthroughVerifyOnMount: with --verify the mount hashes every block
// in the background, and the first read already passes through.
func TestPassthroughVerifyOnMount(t *testing.T) {
	requireFUSE(t)
	if os.Geteuid() != 0 {
		t.Fatal("passthrough needs root; run the integration tests as root (CI does)")
	}
	h := newHome(t)
	content := randomBytes(8, 8<<20+99)
	h.run(nil, "create", "f")
	h.run(content, "append", "f", "--block-size", "16384")
	m := h.mount("--verify")
	waitPassthrough(t, m, "f")
	if got := strings.Fields(sh(t, "cat "+m.path("f", "data")+" | sha256sum"))[0]; got != sha(content) {
		t.Errorf("cat: sha256 %s, want %s", got, sha(content))
	}
	if n := dataReads(t, m, "f"); n != 0 {
		t.Errorf("data_reads %v after --verify, want 0", n)
	}
	if got := h.run(nil, "cat", "f"); got != string(content) {
		t.Error("hyperfs cat differs")
	}
}

// TestNoPassthrough: --no-passthrough serves every read through the
// daemon.
func TestNoPassthrough(t *testing.T) {
	h := newHome(t)
	content := randomBytes(9, 1<<20)
	h.run(nil, "create", "f")
	h.run(content, "append", "f", "--block-size", "65536")
	m := h.mount("--no-passthrough", "--verify")
	infoOf(t, m, "f", func(i map[string]any) bool { return i["passthrough"] == "off" })
	if got := sh(t, "cat "+m.path("f", "data")); got != string(content) {
		t.Error("cat differs")
	}
	if n := dataReads(t, m, "f"); n == 0 {
		t.Error("cat did not reach the daemon")
	}
}
