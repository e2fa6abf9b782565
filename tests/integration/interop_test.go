package integration

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hyperfs/hyperfs/internal/jsharness"
)

// remoteFollowWait bounds how long tail -f may take to print a block a JS
// writer appended: tail's one-second poll, the length learnt from the
// writer's Have and the block fetched for the READ, with room for a busy
// two-core machine.
const remoteFollowWait = 5 * time.Second

// jsWriter is a JS hypercore 9 feed (write.js) served live over TCP by
// peer.js, which appends one PRNG block per line on its stdin.
type jsWriter struct {
	*jsharness.Proc
	t          testing.TB
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
	js := jsharness.Require(t)
	js.Run(t, &made, "write.js", "--dir", dir, "--seed", strings.Repeat("5a", 32),
		"--count", strconv.Itoa(blocks), "--max-size", "4096", "--rand-seed", "11")
	p := js.Start(t, "peer.js", "--dir", dir, "--listen", "0", "--live", "--append", strconv.Itoa(appends), "--serve", "--rand-seed", "12")
	port := jsharness.Num(t, p.Next("listening"), "listening")
	return &jsWriter{Proc: p, t: t, key: made.Key, length: made.Length, byteLength: made.ByteLength,
		dataSha256: made.DataSha256, addr: net.JoinHostPort("127.0.0.1", strconv.FormatUint(port, 10))}
}

// appendBlock asks the writer for one block without waiting for it.
func (w *jsWriter) appendBlock() {
	w.t.Helper()
	if _, err := fmt.Fprintln(w.Stdin, "append"); err != nil {
		w.t.Fatalf("ask peer.js to append: %v; stderr:\n%s", err, w.Stderr())
	}
}

// appended waits for the writer's report of its next append: the block's
// index, size and sha256.
func (w *jsWriter) appended() (index, size uint64, sum string) {
	w.t.Helper()
	m := w.Next("appended")
	sum, _ = m["sha256"].(string)
	return jsharness.Num(w.t, m, "appended"), jsharness.Num(w.t, m, "size"), sum
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
