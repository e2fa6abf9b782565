package integration

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

var listeningRE = regexp.MustCompile(`listening on (\S+)`)

// addr waits for the mount's "listening on HOST:PORT" line (printed on
// stderr right after "mounted at").
func (m *mount) addr() string {
	m.t.Helper()
	deadline := time.Now().Add(mountWait)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		if sub := listeningRE.FindStringSubmatch(m.stderrText()); sub != nil {
			return sub[1]
		}
		if time.Now().After(deadline) {
			m.t.Fatalf("no listening line within %v; stderr:\n%s", mountWait, m.stderrText())
		}
		select {
		case <-tick.C:
		case <-m.exited:
			m.t.Fatalf("mount exited: %v; stderr:\n%s", m.err, m.stderrText())
		}
	}
}

// infoOf reads MOUNT/FEED/info, waiting until ok accepts it.
func infoOf(t testing.TB, m *mount, feed string, ok func(map[string]any) bool) map[string]any {
	t.Helper()
	deadline := time.Now().Add(mountWait)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		var info map[string]any
		b, err := os.ReadFile(m.path(feed, "info"))
		if err == nil && json.Unmarshal(b, &info) == nil && ok(info) {
			return info
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s/info never satisfied the test: %s (%v)", feed, b, err)
		}
		<-tick.C
	}
}

// Two mounts replicating over loopback: B follows A's feed by looking up
// its key, reads one block sparsely, reads it all, and sees A's appends
// in tail -f.
func TestTwoMounts(t *testing.T) {
	a, b := newHome(t), newHome(t)
	key := strings.TrimSpace(a.run(nil, "create", "log"))
	var lines strings.Builder
	for i := range 1000 {
		fmt.Fprintf(&lines, "line %04d\n", i)
	}
	a.run([]byte(lines.String()), "append", "log", "--lines")
	ma := a.mount("--listen", "127.0.0.1:0")
	mb := b.mount("--peer", ma.addr())

	// Looking the key up in B follows it; its length comes from A.
	info := infoOf(t, mb, key, func(i map[string]any) bool { return i["length"] == float64(1000) })
	if info["writable"] != false {
		t.Fatalf("B's replica info %v", info)
	}
	got, err := os.ReadFile(mb.path(key, "blocks", "500"))
	if err != nil || string(got) != "line 0500\n" {
		t.Fatalf("B blocks/500 = %q, %v; B stderr:\n%s", got, err, mb.stderrText())
	}
	info = infoOf(t, mb, key, func(map[string]any) bool { return true })
	if d := info["downloaded"].(float64); d < 1 || d > 8 {
		t.Fatalf("reading one block downloaded %v blocks, want a handful", d)
	}

	// The whole remote feed through B equals A's bytes.
	sum := sha256.Sum256([]byte(lines.String()))
	if out := sh(t, "sha256sum < "+mb.path(key, "data")); !strings.HasPrefix(out, hex.EncodeToString(sum[:])) {
		t.Fatalf("sha256sum of B's data: %s, want %x", out, sum)
	}

	// Appends on A reach tail -f on B.
	out := &output{more: make(chan struct{}, 1)}
	tail := exec.Command("tail", "-n", "1", "-f", mb.path(key, "data"))
	tail.Stdout = out
	if err := tail.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tail.Process.Kill(); tail.Wait() })
	out.waitFor(t, "line 0999\n", followWait)
	for i := range 3 {
		line := fmt.Sprintf("appended on A %d", i)
		start := time.Now()
		sh(t, "echo '"+line+"' >> "+ma.path("log", "data"))
		out.waitFor(t, line+"\n", followWait)
		t.Logf("append on A to tail -f on B: %v", time.Since(start))
	}
}
