package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// daemon is a hyperfs process that runs until the test stops it.
type daemon struct {
	cmd    *exec.Cmd
	addr   string // from "listening on HOST:PORT"
	stderr *bytes.Buffer
}

var listeningRE = regexp.MustCompile(`^listening on (\S+)$`)

// startServe runs `hyperfs serve` on home and waits for its listening
// line; it is interrupted (SIGINT) when the test ends and must exit 0.
func startServe(t *testing.T, home string, args ...string) *daemon {
	t.Helper()
	cmd := exec.Command(ownerBin, append([]string{"--home", home, "serve", "--listen", "127.0.0.1:0"}, args...)...)
	cmd.Env = append(os.Environ(), "HYPERFS_HOME=/nonexistent/hyperfs-test-home", "XDG_DATA_HOME=")
	pipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	d := &daemon{cmd: cmd, stderr: &bytes.Buffer{}}
	found := make(chan string, 1)
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			d.stderr.WriteString(sc.Text() + "\n")
			if m := listeningRE.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
			}
		}
	}()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGINT)
		<-copied
		if err := cmd.Wait(); err != nil {
			t.Errorf("serve exited with %v; stderr:\n%s", err, d.stderr)
		}
	})
	select {
	case d.addr = <-found:
	case <-copied:
		t.Fatalf("serve exited without listening")
	case <-time.After(20 * time.Second):
		t.Fatal("serve printed no listening line")
	}
	return d
}

// Two hyperfs processes: one serves a feed, the other clones it fully,
// reads single blocks sparsely with cat --peer, and follows appends live.
func TestServeCloneCat(t *testing.T) {
	src, dst := t.TempDir(), t.TempDir()
	key := strings.TrimSpace(newFeed(t, src, "log"))
	input := testInput(300000)
	must(t, input, "--home", src, "append", "log", "--block-size", "1000")
	d := startServe(t, src)

	// Sparse: cat --peer of two blocks downloads just those.
	out := must(t, nil, "--home", dst, "cat", key, "--peer", d.addr, "--start", "7", "--end", "9")
	if want := string(input[7000:9000]); out != want {
		t.Fatalf("cat --peer blocks 7..8: got %d bytes, want %d", len(out), len(want))
	}
	info := infoOfFeed(t, dst, key)
	if info["downloaded"] != float64(2) || info["length"] != float64(300) {
		t.Fatalf("after a sparse cat: info %v, want 2 blocks downloaded of 300", info)
	}

	// Full clone.
	must(t, nil, "--home", dst, "clone", key, "--peer", d.addr, "--name", "copy")
	if got := must(t, nil, "--home", dst, "cat", "copy"); got != string(input) {
		t.Fatalf("clone: %d bytes, want %d", len(got), len(input))
	}
	must(t, nil, "--home", dst, "audit", "copy")
}

// cat --peer --follow prints what is there, waits, and exits 0 on SIGINT.
// (Appends while it waits come from a JS writer in tests/interop: a
// served home cannot be appended to until commands go through the
// daemon.)
func TestCatFollow(t *testing.T) {
	src, dst := t.TempDir(), t.TempDir()
	key := strings.TrimSpace(newFeed(t, src, "log"))
	must(t, []byte("first\n"), "--home", src, "append", "log", "--lines")
	d := startServe(t, src)
	cmd, lines, stderr := startFollower(t, "--home", dst, "cat", key, "--peer", d.addr, "--follow")
	line, err := lines.ReadString('\n')
	if err != nil || line != "first\n" {
		t.Fatalf("cat --follow printed %q, %v; stderr:\n%s", line, err, stderr.String())
	}
	cmd.Process.Signal(syscall.SIGINT)
	rest, _ := io.ReadAll(lines)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("cat --follow after SIGINT: %v (printed %q); stderr:\n%s", err, rest, stderr.String())
	}
}

// startFollower starts a hyperfs command that runs until interrupted
// (cat --follow) and returns it, its stdout and its stderr. It is killed
// if the test leaves it running for 30 s.
func startFollower(t *testing.T, args ...string) (*exec.Cmd, *bufio.Reader, *bytes.Buffer) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, hyperfsBin, args...)
	cmd.Env = append(os.Environ(), "HYPERFS_HOME=/nonexistent/hyperfs-test-home", "XDG_DATA_HOME=")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := &bytes.Buffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, bufio.NewReader(stdout), stderr
}
