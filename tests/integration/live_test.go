package integration

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// followWait bounds how long tail -f may take to print an appended line:
// GNU tail polls FUSE files once a second.
const followWait = 3 * time.Second

// output collects a process's stdout and signals each chunk.
type output struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	more chan struct{} // room for one pending signal
}

func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	o.buf.Write(p)
	o.mu.Unlock()
	select {
	case o.more <- struct{}{}:
	default:
	}
	return len(p), nil
}

func (o *output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// waitFor waits until the output contains s, for at most d.
func (o *output) waitFor(t testing.TB, s string, d time.Duration) {
	t.Helper()
	deadline := time.After(d)
	for !strings.Contains(o.String(), s) {
		select {
		case <-o.more:
		case <-deadline:
			t.Fatalf("no %q in the output within %v; got:\n%s", s, d, o.String())
		}
	}
}

// TestTailFollows runs tail -f on data and appends lines through the mount.
func TestTailFollows(t *testing.T) {
	h := newHome(t)
	h.run(nil, "create", "log")
	h.run([]byte("old 1\nold 2\n"), "append", "log", "--lines")
	m := h.mount()
	out := &output{more: make(chan struct{}, 1)}
	tail := exec.Command("tail", "-f", m.path("log", "data"))
	tail.Stdout = out
	if err := tail.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tail.Process.Kill(); tail.Wait() })
	out.waitFor(t, "old 2\n", followWait)
	for i := range 5 {
		line := fmt.Sprintf("new line %d", i)
		sh(t, "echo '"+line+"' >> "+m.path("log", "data"))
		out.waitFor(t, line+"\n", followWait)
	}
	if got, want := out.String(), "old 1\nold 2\nnew line 0\nnew line 1\nnew line 2\nnew line 3\nnew line 4\n"; got != want {
		t.Errorf("tail -f printed %q, want %q", got, want)
	}
	// A second reader sees the new size at once.
	if st, err := os.Stat(m.path("log", "data")); err != nil || st.Size() != int64(len("old 1\nold 2\n")+5*len("new line 0\n")) {
		t.Errorf("stat after appends: %v, %v", st.Size(), err)
	}
}
