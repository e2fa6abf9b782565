// Package jsharness runs the pinned JavaScript hypercore 9 scripts of
// tests/interop/js (write.js, append.js, verify.js, peer.js, bench.js) for
// Go tests, which take JS as the reference: a script is either run to its
// end, printing one JSON object, or started and read line by line, one
// JSON object per line, while the test talks to it on stdin.
//
// Require is the one place that decides what happens without node or the
// installed node_modules: the test is skipped, or fails when
// HYPERFS_REQUIRE_NODE=1, which CI sets.
package jsharness

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Timeout bounds one script run, and one wait for a started script's line.
const Timeout = 90 * time.Second

// exitWait is how long a started script may take to end once its stdin
// closes (the scripts' signal to finish) before it is killed.
const exitWait = 10 * time.Second

// Env is node and the scripts' directory.
type Env struct {
	Node, Dir string
}

// Require returns the Env, or skips t (fails it when
// HYPERFS_REQUIRE_NODE=1) when node or tests/interop/js/node_modules is
// missing.
func Require(t testing.TB) Env {
	t.Helper()
	var reason string
	node, err := exec.LookPath("node")
	if err != nil {
		reason = fmt.Sprintf("node not found: %v", err)
	}
	dir, err := scriptsDir()
	if err != nil {
		t.Fatal(err)
	}
	if reason == "" {
		if st, err := os.Stat(filepath.Join(dir, "node_modules")); err != nil || !st.IsDir() {
			reason = fmt.Sprintf("%s/node_modules missing (run npm ci there): %v", dir, err)
		}
	}
	if reason != "" {
		if os.Getenv("HYPERFS_REQUIRE_NODE") == "1" {
			t.Fatalf("HYPERFS_REQUIRE_NODE=1 but %s", reason)
		}
		t.Skipf("skipping JS interop: %s", reason)
	}
	return Env{Node: node, Dir: dir}
}

// scriptsDir is tests/interop/js of the module holding the working
// directory (a test's package directory).
func scriptsDir() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "tests", "interop", "js"), nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above the working directory")
		}
		dir = parent
	}
}

// Exec runs script with args and returns its stdout, stderr and error.
func (e Env) Exec(t testing.TB, script string, args ...string) (stdout, stderr []byte, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, e.Node, append([]string{filepath.Join(e.Dir, script)}, args...)...)
	cmd.Dir = e.Dir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err = cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("%w (timeout %v: %v)", err, Timeout, ctx.Err())
	}
	t.Logf("node %s %s: %v", script, strings.Join(args, " "), time.Since(start).Round(time.Millisecond))
	return out.Bytes(), errb.Bytes(), err
}

// Run runs script, which must succeed and print one JSON line, and
// decodes the line into v, refusing fields v does not have (the scripts'
// output is an interface the tests pin).
func (e Env) Run(t testing.TB, v any, script string, args ...string) {
	t.Helper()
	stdout, stderr, err := e.Exec(t, script, args...)
	if err != nil {
		t.Fatalf("node %s %s: %v\nstderr:\n%s", script, strings.Join(args, " "), err, stderr)
	}
	line := bytes.TrimRight(stdout, "\n")
	if bytes.Count(line, []byte("\n")) != 0 || len(line) == 0 {
		t.Fatalf("node %s: want one JSON line on stdout, got %d bytes\nstderr:\n%s", script, len(stdout), stderr)
	}
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("node %s: decode stdout: %v\nstdout: %.500s\nstderr:\n%s", script, err, line, stderr)
	}
}

// Proc is a started script.
type Proc struct {
	t      testing.TB
	script string
	// Stdin is the script's stdin: peer.js appends a block per line.
	Stdin io.WriteCloser
	lines chan map[string]any // closed at the script's EOF on stdout

	stderr LogBuffer // written by exec's copier
}

// Stderr is what the script printed on stderr so far.
func (p *Proc) Stderr() string { return p.stderr.String() }

// LogBuffer collects what other goroutines write (a child process's
// stderr through exec's copier, a logger's output) while a test reads it.
type LogBuffer struct {
	mu sync.Mutex // guards b
	b  bytes.Buffer
}

func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String is everything written so far.
func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Start starts script. Cleanup closes its stdin, then waits for it to
// end, killing it after a while (a script cut short by a failed test may
// never end).
func (e Env) Start(t testing.TB, script string, args ...string) *Proc {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*Timeout)
	cmd := exec.CommandContext(ctx, e.Node, append([]string{filepath.Join(e.Dir, script)}, args...)...)
	cmd.Dir = e.Dir
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &Proc{t: t, script: script, Stdin: stdin, lines: make(chan map[string]any, 1<<16)}
	cmd.Stderr = &p.stderr
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { // ends at the script's EOF on stdout; then reaps it
		defer close(exited)
		defer cancel()
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
		case <-time.After(exitWait):
			t.Logf("%s did not end within %v of its stdin closing; killed", script, exitWait)
			cmd.Process.Kill()
			<-exited
		}
	})
	return p
}

// Next waits for the script's next line that has key, skipping others.
func (p *Proc) Next(key string) map[string]any {
	p.t.Helper()
	deadline := time.After(Timeout)
	for {
		select {
		case m, ok := <-p.lines:
			if !ok {
				p.t.Fatalf("%s exited before printing %q; stderr:\n%s", p.script, key, p.Stderr())
			}
			if se, ok := m["streamError"]; ok {
				p.t.Logf("%s: stream error: %v", p.script, se)
			}
			if _, ok := m[key]; ok {
				return m
			}
		case <-deadline:
			p.t.Fatalf("%s printed no %q within %v; stderr:\n%s", p.script, key, Timeout, p.Stderr())
		}
	}
}

// Num reads the JSON number field key of a script's line.
func Num(t testing.TB, m map[string]any, key string) uint64 {
	t.Helper()
	v, ok := m[key].(float64)
	if !ok {
		t.Fatalf("%q missing or not a number in %v", key, m)
	}
	return uint64(v)
}
