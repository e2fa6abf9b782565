package integration

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// appenderScript appends blocks argv[2], argv[2]+1, ... (crashBlock) with
// one write and an fsync each, and prints each index once its fsync
// returned, until a write fails (the mount died).
const appenderScript = `
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND)
i = int(sys.argv[2])
while True:
    b = ("block %d\n" % i).encode().ljust(1000, b".")
    try:
        os.write(fd, b)
        os.fsync(fd)
    except OSError as e:
        print("error", e.errno, flush=True)
        break
    print(i, flush=True)
    i += 1
`

// crashBlock is block i as the appender writes it: 1000 bytes.
func crashBlock(i int) []byte {
	b := []byte(fmt.Sprintf("block %d\n", i))
	return append(b, bytes.Repeat([]byte("."), 1000-len(b))...)
}

// TestKillMidAppend kills the mount with SIGKILL while a process appends
// and fsyncs, mounts again on the stale mountpoint, and checks that every
// block whose fsync returned is there; three rounds.
func TestKillMidAppend(t *testing.T) {
	h := newHome(t)
	h.run(nil, "create", "f")
	m := h.mount()
	dir := m.dir
	next := 0 // blocks the feed holds
	for round := range 3 {
		acked := appendUntilKilled(t, m, next, 30)
		m = h.mountAt(dir) // on the stale mountpoint
		data, err := os.ReadFile(m.path("f", "data"))
		if err != nil {
			t.Fatal(err)
		}
		if len(data)%1000 != 0 {
			t.Fatalf("round %d: data has %d bytes: a partial block", round, len(data))
		}
		n := len(data) / 1000
		if n < acked {
			t.Fatalf("round %d: %d blocks after the crash, but fsync returned for %d", round, n, acked)
		}
		for i := range n {
			if !bytes.Equal(data[i*1000:(i+1)*1000], crashBlock(i)) {
				t.Fatalf("round %d: block %d differs after the crash", round, i)
			}
		}
		if got := m.length("f"); got != n {
			t.Errorf("round %d: info length %d for %d blocks of data", round, got, n)
		}
		next = n
	}
	sh(t, "echo more >> "+m.path("f", "data"))
	if got := sh(t, "tail -c 5 "+m.path("f", "data")); got != "more\n" {
		t.Errorf("append after the crashes: data ends %q", got)
	}
}

// appendUntilKilled runs the appender from block start and kills the
// mount with SIGKILL once extra more fsyncs returned. It returns how many
// blocks the feed held when the last acknowledged fsync returned.
func appendUntilKilled(t *testing.T, m *mount, start, extra int) int {
	t.Helper()
	app := exec.Command("python3", "-c", appenderScript, m.path("f", "data"), strconv.Itoa(start))
	stdout, err := app.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := app.Start(); err != nil {
		t.Fatal(err)
	}
	defer app.Wait()
	sc := bufio.NewScanner(stdout)
	acked := start
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "error") {
			break // the mount died under the appender (ECONNABORTED, ENOTCONN)
		}
		i, err := strconv.Atoi(sc.Text())
		if err != nil || i != acked {
			app.Process.Kill()
			t.Fatalf("appender printed %q, want %d", sc.Text(), acked)
		}
		acked++
		if acked == start+extra {
			m.kill()
		}
	}
	if acked < start+extra {
		t.Fatalf("only %d blocks acknowledged before the appender stopped", acked-start)
	}
	if _, err := os.Stat(m.dir); err == nil {
		t.Fatal("the killed mount's directory is readable: the test wants a stale mount")
	}
	return acked
}
