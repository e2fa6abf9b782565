package interop_test

import (
	"bufio"
	"bytes"
	"fmt"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
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
	addr := ""
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
	t.Cleanup(func() {
		serve.Process.Signal(syscall.SIGINT)
		<-copied
		if err := serve.Wait(); err != nil {
			t.Errorf("serve: %v\n%s", err, serveErr.String())
		}
	})
	if addr == "" {
		t.Fatalf("serve printed no listening line:\n%s", serveErr.String())
	}

	const n = 20
	reader := js.start(t, "--dir", t.TempDir(), "--key", key, "--connect", addr, "--live", "--follow", strconv.Itoa(n))
	var lat []time.Duration
	for k := range n {
		line := fmt.Sprintf("appended through serve %d\n", k)
		start := time.Now()
		hyperfs(line, "append", "log", "--lines")
		m := reader.next("block")
		if int(num(t, m, "block")) != k || m["sha256"] != hexSum([]byte(line)) {
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
