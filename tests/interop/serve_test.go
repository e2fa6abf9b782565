package interop_test

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hyperfs/hyperfs/internal/jsharness"

	"github.com/hyperfs/hyperfs/feed"
	"github.com/hyperfs/hyperfs/index"
)

// With `hyperfs serve` owning a home, `hyperfs append` on that home runs
// inside serve, and each block reaches a JS hypercore 9 reader that is
// connected live.
func TestServeAppendReachesJS(t *testing.T) {
	js := newJS(t)
	bin := hyperfsBinary(t)
	home := t.TempDir()
	hyperfs := func(stdin string, args ...string) string {
		t.Helper()
		cmd := exec.Command(bin, append([]string{"--home", home}, args...)...)
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.Output()
		if err != nil {
			var stderr []byte
			if ee, ok := err.(*exec.ExitError); ok {
				stderr = ee.Stderr
			}
			t.Fatalf("hyperfs %q: %v\n%s", args, err, stderr)
		}
		return string(out)
	}
	key := strings.TrimSpace(hyperfs("", "create", "log"))

	addr, _ := startServe(t, bin, home)

	const n = 20
	reader := js.Start(t, "peer.js", "--dir", t.TempDir(), "--key", key, "--connect", addr, "--live", "--follow", strconv.Itoa(n))
	var lat []time.Duration
	for k := range n {
		line := fmt.Sprintf("appended through serve %d\n", k)
		start := time.Now()
		hyperfs(line, "append", "log", "--lines")
		m := reader.Next("block")
		if int(jsharness.Num(t, m, "block")) != k || m["sha256"] != hexSum([]byte(line)) {
			t.Fatalf("JS reader got %v, want block %d", m, k)
		}
		lat = append(lat, time.Since(start))
		if k == 0 {
			// The reader stays connected until its last block.
			if got := hyperfs("", "info", "log", "--json"); !strings.Contains(got, `"peers": 1`) {
				t.Errorf("info --json through serve with a JS peer connected:\n%s", got)
			}
		}
	}
	slices.Sort(lat)
	t.Logf("hyperfs append (through serve) to JS live reader: p50 %v, max %v", lat[len(lat)/2], lat[len(lat)-1])
}

// startServe runs `hyperfs serve` on home until stop (or the test's end)
// and returns the address it listens on. stop interrupts it and checks
// that it exits 0.
func startServe(t *testing.T, bin, home string) (addr string, stop func()) {
	t.Helper()
	serve := exec.Command(bin, "--home", home, "serve", "--listen", "127.0.0.1:0")
	pipe, err := serve.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	var serveErr bytes.Buffer
	sc := bufio.NewScanner(pipe)
	for addr == "" && sc.Scan() {
		serveErr.WriteString(sc.Text() + "\n")
		addr, _ = strings.CutPrefix(sc.Text(), "listening on ")
	}
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		for sc.Scan() {
			serveErr.WriteString(sc.Text() + "\n")
		}
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			serve.Process.Signal(syscall.SIGINT)
			<-copied
			if err := serve.Wait(); err != nil {
				t.Errorf("serve: %v\n%s", err, serveErr.String())
			}
		})
	}
	t.Cleanup(stop)
	if addr == "" {
		stop()
		t.Fatalf("serve printed no listening line:\n%s", serveErr.String())
	}
	return addr, stop
}

// The serve owning a home keeps the home's index. When JS hypercore 9
// appends to a feed directory while no serve runs, the next serve finds
// the index behind the feed (its length and root hash), brings it forward
// and serves every block; the index then answers seeks for the new blocks
// as the tree does.
func TestIndexBroughtForwardAfterJSAppends(t *testing.T) {
	js := newJS(t)
	bin := hyperfsBinary(t)
	home := t.TempDir()
	run := func(stdin string, args ...string) string {
		t.Helper()
		cmd := exec.Command(bin, append([]string{"--home", home}, args...)...)
		cmd.Stdin = strings.NewReader(stdin)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("hyperfs %q: %v\n%s", args, err, stderr.String())
		}
		return string(out)
	}
	key := strings.TrimSpace(run("", "create", "log"))
	run(strings.Repeat("before any serve\n", 300), "append", "log", "--lines")
	_, stop := startServe(t, bin, home)
	run(strings.Repeat("through the first serve\n", 50), "append", "log", "--lines")
	stop()

	var js1 summary
	js.Run(t, &js1, "append.js", "--dir", filepath.Join(home, "feeds", key), "--count", "200", "--rand-seed", "5")
	if js1.Length != 550 {
		t.Fatalf("append.js: length %d, want 550", js1.Length)
	}

	_, stop = startServe(t, bin, home)
	got := run("", "cat", "log")
	if sum := hexSum([]byte(got)); sum != js1.DataSha256 || uint64(len(got)) != js1.ByteLength {
		t.Fatalf("cat through the second serve: %d bytes, sha256 %s; want %d, %s", len(got), sum, js1.ByteLength, js1.DataSha256)
	}
	stop()

	db, err := index.Open(filepath.Join(home, "index"), index.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	kb, _ := hex.DecodeString(key)
	fi, _ := db.Feed(kb)
	length, _, ok, err := fi.State()
	if err != nil || !ok || length != 550 {
		t.Fatalf("index state after the second serve: length %d, ok %v, %v; want 550", length, ok, err)
	}
	f, err := feed.Open(feed.DirStorage{Dir: filepath.Join(home, "feeds", key)}, feed.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rng := rand.New(rand.NewPCG(5, 5))
	for range 2000 {
		off := rng.Uint64N(f.ByteLength())
		i, _, err := f.Seek(off)
		if err != nil {
			t.Fatal(err)
		}
		start, size, _ := f.BlockRange(i)
		ii, s, e, ok, err := fi.BlockAt(off)
		if err != nil || !ok || ii != i || s != start || e != start+size {
			t.Fatalf("index BlockAt(%d) = %d [%d,%d) %v %v; the tree says block %d [%d,%d)", off, ii, s, e, ok, err, i, start, start+size)
		}
	}
}
