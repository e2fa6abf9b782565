package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
)

// runIn runs hyperfs in dir (relative paths are dir's; "" is the test's
// own) and returns what it printed and its exit code.
func runIn(t *testing.T, dir string, stdin []byte, args ...string) result {
	t.Helper()
	cmd := exec.Command(hyperfsBin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "HYPERFS_HOME=/nonexistent/hyperfs-test-home", "XDG_DATA_HOME=")
	cmd.Stdin = bytes.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	code := 0
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("run hyperfs %q: %v", args, err)
	}
	return result{out.String(), errb.String(), code}
}

// ownerScript is a session of commands on a home, covering every command
// that goes through the home's owner when one runs, their errors and
// their exit codes. Paths are relative to the working directory.
func ownerScript(t *testing.T, wd, home string) string {
	t.Helper()
	var transcript strings.Builder
	os.WriteFile(filepath.Join(wd, "input.txt"), testInput(200000), 0o644)
	src := filepath.Join(wd, "src")
	must(t, testInput(5000), "--home", src, "create", "imported")
	must(t, testInput(5000), "--home", src, "append", "imported")
	srcKey := strings.TrimSpace(must(t, nil, "--home", src, "info", "imported", "--json"))
	srcKey = srcKey[strings.Index(srcKey, `"key": "`)+8:][:64]
	remote := strings.Repeat("ab", 32)
	steps := []struct {
		stdin string
		args  []string
	}{
		{"", []string{"create", "log"}},
		{"one\ntwo\nthree\n", []string{"append", "log", "--lines"}},
		{"", []string{"append", "log", "input.txt", "--block-size", "30000"}},
		{"", []string{"cat", "log"}},
		{"", []string{"cat", "log", "--start", "1", "--end", "3"}},
		{"", []string{"get", "log", "2"}},
		{"", []string{"info", "log"}},
		{"", []string{"info", "log", "--json"}},
		{"", []string{"create", "second"}},
		{"", []string{"list"}},
		{"", []string{"list", "--json"}},
		{"", []string{"audit", "log"}},
		{"", []string{"follow", remote, "--name", "theirs"}},
		{"", []string{"info", "theirs", "--json"}},
		{"", []string{"import", "src/feeds/" + srcKey, "--name", "copy"}},
		{"", []string{"cat", "copy"}},
		{"", []string{"info", "src/feeds/" + srcKey}},
		{"", []string{"cat", "src/nothing"}},
		// Errors: exit 1 and exit 2.
		{"", []string{"cat", "nothere"}},
		{"", []string{"get", "log", "99"}},
		{"", []string{"create", "log"}},
		{"", []string{"create", "a/b"}},
		{"", []string{"append", "log", "--lines", "--block-size", "5"}},
		{"", []string{"append", "theirs"}},
		{"", []string{"append", "log", "missing.txt"}},
		{"", []string{"cat", "log", "--end", "1000"}},
		{"", []string{"info"}},
		{"", []string{"list"}},
	}
	for _, s := range steps {
		r := runIn(t, wd, []byte(s.stdin), append([]string{"--home", home}, s.args...)...)
		out := r.stdout
		if len(out) > 500 {
			out = fmt.Sprintf("%d bytes, sha256 %x\n", len(out), sha256.Sum256([]byte(out)))
		}
		fmt.Fprintf(&transcript, "$ %s\nexit %d\nstdout:\n%s\nstderr:\n%s\n", strings.Join(s.args, " "), r.code, out, r.stderr)
	}
	return transcript.String()
}

var hexKeyRE = regexp.MustCompile(`[0-9a-f]{64}`)

// normalise replaces what differs between two homes: keys, the home's
// working directory, and the "created" times of list --json.
func normalise(s, wd string) string {
	s = strings.ReplaceAll(s, wd, "WD")
	seen := map[string]string{}
	s = hexKeyRE.ReplaceAllStringFunc(s, func(k string) string {
		if k == strings.Repeat("ab", 32) {
			return k
		}
		if seen[k] == "" {
			seen[k] = fmt.Sprintf("KEY%d", len(seen))
		}
		return seen[k]
	})
	return regexp.MustCompile(`"(created|updated)": "[^"]*"`).ReplaceAllString(s, `"$1": "T"`)
}

// With serve running on a home, every command that opens the home's
// feeds runs inside it (the feeds are locked, so opening them directly
// would fail) and prints, byte for byte, what it prints without a serve,
// with the same exit codes.
func TestCommandsThroughOwner(t *testing.T) {
	plainWD, servedWD := t.TempDir(), t.TempDir()
	plain, served := filepath.Join(plainWD, "home"), filepath.Join(servedWD, "home")
	must(t, nil, "--home", served, "list") // serve needs nothing to exist first
	startServe(t, served)
	if st, err := os.Stat(filepath.Join(served, "daemon.sock")); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("control socket: %v, mode %v, want 0600", err, st.Mode())
	}
	want := normalise(ownerScript(t, plainWD, plain), plainWD)
	got := normalise(ownerScript(t, servedWD, served), servedWD)
	if got != want {
		os.WriteFile(filepath.Join(os.TempDir(), "owner-got.txt"), []byte(got), 0o644)
		os.WriteFile(filepath.Join(os.TempDir(), "owner-want.txt"), []byte(want), 0o644)
		t.Errorf("through serve, the commands printed something else.\n--- with serve:\n%s\n--- without:\n%s", got, want)
	}
	// The served feeds were open in serve all along: a direct open
	// would have failed on their locks.
	if !strings.Contains(got, `"peers": 0`) {
		t.Errorf("info --json has no peers field:\n%s", got)
	}
}

// A second serve on a served home is refused, naming the first; a serve
// killed with SIGKILL leaves a stale socket that commands ignore and the
// next serve replaces.
func TestOwnerExclusiveAndStale(t *testing.T) {
	home := t.TempDir()
	newFeed(t, home, "log")
	first := exec.Command(ownerBin, "--home", home, "serve", "--listen", "127.0.0.1:0")
	pipe, _ := first.StderrPipe()
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(pipe)
	if !sc.Scan() || !strings.HasPrefix(sc.Text(), "listening on ") {
		t.Fatalf("serve printed %q", sc.Text())
	}
	r := wantCode(t, 1, nil, "--home", home, "serve")
	if !strings.Contains(r.stderr, fmt.Sprintf("pid %d", first.Process.Pid)) {
		t.Errorf("second serve: %q does not name the first's pid %d", r.stderr, first.Process.Pid)
	}
	must(t, []byte("a\n"), "--home", home, "append", "log", "--lines")

	first.Process.Kill()
	first.Wait()
	if _, err := os.Stat(filepath.Join(home, "daemon.sock")); err != nil {
		t.Fatalf("the killed serve's socket is gone (%v); the test needs it stale", err)
	}
	must(t, []byte("b\n"), "--home", home, "append", "log", "--lines") // directly
	startServe(t, home)
	must(t, []byte("c\n"), "--home", home, "append", "log", "--lines") // through the new serve
	if got := must(t, nil, "--home", home, "cat", "log"); got != "a\nb\nc\n" {
		t.Errorf("cat = %q", got)
	}
}

// A command waiting inside the owner (cat --follow) follows appends made
// through the owner, and ends as it would alone when its client is
// interrupted: exit 0 on SIGINT. A reader that stops reading (head) kills
// the client with SIGPIPE, as without a serve.
func TestOwnerFollowAndInterrupt(t *testing.T) {
	home := t.TempDir()
	newFeed(t, home, "log")
	must(t, []byte("first\n"), "--home", home, "append", "log", "--lines")
	startServe(t, home)
	cmd, lines, stderr := startFollower(t, "--home", home, "cat", "log", "--follow")
	for _, want := range []string{"first\n", "second\n", "third\n"} {
		if want != "first\n" {
			must(t, []byte(want), "--home", home, "append", "log", "--lines")
		}
		if line, err := lines.ReadString('\n'); err != nil || line != want {
			t.Fatalf("cat --follow printed %q, %v, want %q; stderr:\n%s", line, err, want, stderr.String())
		}
	}
	cmd.Process.Signal(syscall.SIGINT)
	rest, _ := io.ReadAll(lines)
	if err := cmd.Wait(); err != nil || len(rest) != 0 {
		t.Fatalf("cat --follow after SIGINT: %v, then %q; stderr:\n%s", err, rest, stderr.String())
	}
	// The owner is still there and ended the command: the feed appends.
	must(t, []byte("fourth\n"), "--home", home, "append", "log", "--lines")

	must(t, testInput(1<<20), "--home", home, "append", "log")
	sh := exec.Command("bash", "-c", `"$0" --home "$1" cat log | head -c 10 >/dev/null; echo "${PIPESTATUS[0]}"`, hyperfsBin, home)
	out, err := sh.CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "141" {
		t.Errorf("cat | head through serve: %v, printed %q, want exit 141 (SIGPIPE)", err, out)
	}
}
