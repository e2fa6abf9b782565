package integration

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// jsWait bounds one step of a JS script: a result line, or its exit.
const jsWait = 90 * time.Second

// remoteFollowWait bounds how long tail -f may take to print a block a JS
// writer appended: tail's one-second poll, the length learnt from the
// writer's Have and the block fetched for the READ, with room for a busy
// two-core machine.
const remoteFollowWait = 5 * time.Second

// requireNode returns node and the JS scripts' directory
// (tests/interop/js, with hypercore 9 pinned in its node_modules). Without
// them it skips, or fails when HYPERFS_REQUIRE_NODE=1, as the interop
// tests do.
func requireNode(t testing.TB) (node, dir string) {
	t.Helper()
	var reason string
	node, err := exec.LookPath("node")
	if err != nil {
		reason = fmt.Sprintf("node not found: %v", err)
	}
	dir, err = filepath.Abs(filepath.Join("..", "interop", "js"))
	if err != nil {
		t.Fatal(err)
	}
	if reason == "" {
		if st, err := os.Stat(filepath.Join(dir, "node_modules")); err != nil || !st.IsDir() {
			reason = fmt.Sprintf("%s/node_modules missing (run npm ci there): %v", dir, err)
		}
	}
	if reason == "" {
		return node, dir
	}
	if os.Getenv("HYPERFS_REQUIRE_NODE") == "1" {
		t.Fatalf("HYPERFS_REQUIRE_NODE=1 but %s", reason)
	}
	t.Skipf("skipping JS interop: %s", reason)
	return "", ""
}

// jsProc is a running JS script whose stdout is one JSON object per line.
type jsProc struct {
	t      testing.TB
	script string
	stdin  io.WriteCloser
	lines  chan map[string]any // closed at stdout's EOF
	stderr *lockedWriter
	buf    *bytes.Buffer // behind stderr
}

// jsExitWait is how long a script may take to finish once its stdin
// closes.
const jsExitWait = 10 * time.Second

// startJS starts node on a script in the JS directory. Cleanup closes its
// stdin (the scripts' signal to finish), then waits for it, killing it
// after jsExitWait (a script cut short by a failed test may never end).
func startJS(t testing.TB, script string, args ...string) *jsProc {
	t.Helper()
	node, dir := requireNode(t)
	cmd := exec.Command(node, append([]string{filepath.Join(dir, script)}, args...)...)
	cmd.Dir = dir
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &jsProc{t: t, script: script, stdin: stdin, lines: make(chan map[string]any, 1<<12), buf: &bytes.Buffer{}}
	p.stderr = &lockedWriter{w: p.buf}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { // ends at the script's EOF on stdout; then reaps it
		defer close(exited)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var m map[string]any
			if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
				m = map[string]any{"unparsed": sc.Text()}
			}
			p.lines <- m
		}
		close(p.lines)
		cmd.Wait()
	}()
	t.Cleanup(func() {
		stdin.Close()
		select {
		case <-exited:
		case <-time.After(jsExitWait):
			cmd.Process.Kill()
			<-exited
			if !t.Failed() {
				t.Errorf("%s did not exit within %v of its stdin closing; stderr:\n%s", script, jsExitWait, p.stderrText())
			}
		}
	})
	return p
}

func (p *jsProc) stderrText() string {
	p.stderr.mu.Lock()
	defer p.stderr.mu.Unlock()
	return p.buf.String()
}

// next waits for the script's next line that has key, skipping others.
func (p *jsProc) next(key string) map[string]any {
	p.t.Helper()
	deadline := time.After(jsWait)
	for {
		select {
		case m, ok := <-p.lines:
			if !ok {
				p.t.Fatalf("%s exited before printing %q; stderr:\n%s", p.script, key, p.stderrText())
			}
			if _, ok := m[key]; ok {
				return m
			}
		case <-deadline:
			p.t.Fatalf("%s printed no %q within %v; stderr:\n%s", p.script, key, jsWait, p.stderrText())
		}
	}
}

// runJS runs a script to its end and decodes its one JSON line into v.
func runJS(t testing.TB, v any, script string, args ...string) {
	t.Helper()
	node, dir := requireNode(t)
	ctx, cancel := context.WithTimeout(context.Background(), jsWait)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, append([]string{filepath.Join(dir, script)}, args...)...)
	cmd.Dir = dir
	var errb bytes.Buffer
	cmd.Stderr = &errb
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node %s %s: %v\n%s", script, strings.Join(args, " "), err, errb.String())
	}
	if err := json.Unmarshal(out, v); err != nil {
		t.Fatalf("node %s: %v in %.300q", script, err, out)
	}
}

// jsNum reads a JSON number field of a script's line.
func jsNum(t testing.TB, m map[string]any, key string) uint64 {
	t.Helper()
	v, ok := m[key].(float64)
	if !ok {
		t.Fatalf("%q missing or not a number in %v", key, m)
	}
	return uint64(v)
}

// jsWriter is a JS hypercore 9 feed (write.js) served live over TCP by
// peer.js, which appends one PRNG block per line on its stdin.
type jsWriter struct {
	*jsProc
	key        string
	length     uint64
	byteLength uint64
	dataSha256 string
	addr       string
}

// startJSWriter writes a JS feed of blocks blocks and serves it, ready to
// append up to appends more.
func startJSWriter(t testing.TB, blocks, appends int) *jsWriter {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "js-feed")
	var made struct {
		Key        string   `json:"key"`
		Length     uint64   `json:"length"`
		ByteLength uint64   `json:"byteLength"`
		DataSha256 string   `json:"dataSha256"`
		Blocks     []string `json:"blocks"`
		Signature  *string  `json:"signature"`
	}
	runJS(t, &made, "write.js", "--dir", dir, "--seed", strings.Repeat("5a", 32),
		"--count", strconv.Itoa(blocks), "--max-size", "4096", "--rand-seed", "11")
	p := startJS(t, "peer.js", "--dir", dir, "--listen", "0", "--live", "--append", strconv.Itoa(appends), "--serve", "--rand-seed", "12")
	port := jsNum(t, p.next("listening"), "listening")
	return &jsWriter{jsProc: p, key: made.Key, length: made.Length, byteLength: made.ByteLength,
		dataSha256: made.DataSha256, addr: net.JoinHostPort("127.0.0.1", strconv.FormatUint(port, 10))}
}

// appendBlock asks the writer for one block without waiting for it.
func (w *jsWriter) appendBlock() {
	w.t.Helper()
	if _, err := fmt.Fprintln(w.stdin, "append"); err != nil {
		w.t.Fatalf("ask peer.js to append: %v; stderr:\n%s", err, w.stderrText())
	}
}

// appended waits for the writer's report of its next append: the block's
// index, size and sha256.
func (w *jsWriter) appended() (index, size uint64, sum string) {
	w.t.Helper()
	m := w.next("appended")
	sum, _ = m["sha256"].(string)
	return jsNum(w.t, m, "appended"), jsNum(w.t, m, "size"), sum
}

// waitBytes waits until the output holds at least n bytes, for at most
// d, and returns the output.
func (o *output) waitBytes(t testing.TB, n uint64, d time.Duration) []byte {
	t.Helper()
	deadline := time.After(d)
	for {
		o.mu.Lock()
		b := bytes.Clone(o.buf.Bytes())
		o.mu.Unlock()
		if uint64(len(b)) >= n {
			return b
		}
		select {
		case <-o.more:
		case <-deadline:
			t.Fatalf("%d of %d bytes in the output after %v", len(b), n, d)
		}
	}
}

func sumHex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// A JS hypercore 9 writer appends live while tail -f on a hyperfs mount
// that follows its key prints every block: paced one at a time, then in a
// burst. tail -c +1 prints the file from its first byte, so the output
// is exactly data and every block is checked at its offset.
func TestTailFollowsJSWriter(t *testing.T) {
	const paced, burst = 8, 8
	requireFUSE(t)
	w := startJSWriter(t, 40, paced+burst)
	m := newHome(t).mount("--peer", w.addr)
	infoOf(t, m, w.key, func(i map[string]any) bool { return i["length"] == float64(w.length) })

	out := &output{more: make(chan struct{}, 1)}
	tail := exec.Command("tail", "-c", "+1", "-f", m.path(w.key, "data"))
	tail.Stdout = out
	if err := tail.Start(); err != nil {
		t.Fatal(err)
	}
	var tailDone sync.WaitGroup
	tailDone.Go(func() { tail.Wait() })
	t.Cleanup(func() { tail.Process.Kill(); tailDone.Wait() })

	// tail has printed what was there: it is polling from the end.
	if got := out.waitBytes(t, w.byteLength, remoteFollowWait); sumHex(got) != w.dataSha256 || uint64(len(got)) != w.byteLength {
		t.Fatalf("tail -f printed %d bytes (sha256 %s), want the JS feed's %d (%s); mount stderr:\n%s",
			len(got), sumHex(got), w.byteLength, w.dataSha256, m.stderrText())
	}
	pos, next := w.byteLength, w.length
	// check waits for the next block's bytes until deadline.
	check := func(index, size uint64, sum string, deadline time.Time) {
		t.Helper()
		if index != next {
			t.Fatalf("peer.js appended block %d, want %d", index, next)
		}
		got := out.waitBytes(t, pos+size, time.Until(deadline))
		if s := sumHex(got[pos : pos+size]); s != sum {
			t.Fatalf("tail -f printed block %d (%d bytes at %d) with sha256 %s, JS appended %s", index, size, pos, s, sum)
		}
		pos, next = pos+size, next+1
	}
	var lat []time.Duration
	for range paced {
		w.appendBlock()
		index, size, sum := w.appended()
		start := time.Now()
		check(index, size, sum, start.Add(remoteFollowWait))
		lat = append(lat, time.Since(start))
	}
	for range burst {
		w.appendBlock()
	}
	deadline := time.Now().Add(remoteFollowWait)
	for range burst {
		index, size, sum := w.appended()
		check(index, size, sum, deadline)
	}
	if got := out.waitBytes(t, pos, 0); uint64(len(got)) != pos {
		t.Errorf("tail -f printed %d bytes, the feed has %d", len(got), pos)
	}
	slices.Sort(lat)
	t.Logf("JS append to tail -f on the mount: p50 %v, max %v", lat[len(lat)/2], lat[len(lat)-1])
}
