package integration

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// modelSteps is how many random operations TestModel runs; CI runs this
// short default, HYPERFS_MODEL_STEPS asks for more.
const modelSteps = 400

// oracle is what the feed must hold: the blocks appended so far.
type oracle struct {
	blocks [][]byte
	size   int
}

func (o *oracle) append(b []byte) {
	o.blocks = append(o.blocks, b)
	o.size += len(b)
}

func (o *oracle) bytes() []byte { return bytes.Join(o.blocks, nil) }

// modelRun is one TestModel run: the mount, its open files and the oracle.
type modelRun struct {
	t       *testing.T
	r       *rand.Rand
	m       *mount
	o       oracle
	appends []*os.File // several O_APPEND descriptors, used at random
	reader  *os.File
	mtime   time.Time
}

func (mr *modelRun) open() {
	mr.appends = mr.appends[:0]
	for range 3 {
		f, err := os.OpenFile(mr.m.path("f", "data"), os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			mr.t.Fatal(err)
		}
		mr.appends = append(mr.appends, f)
	}
	f, err := os.Open(mr.m.path("f", "data"))
	if err != nil {
		mr.t.Fatal(err)
	}
	mr.reader = f
}

func (mr *modelRun) closeFiles() {
	for _, f := range mr.appends {
		f.Close()
	}
	mr.reader.Close()
}

// TestModel runs seeded random appends from several descriptors, reads of
// data ranges and blocks, stats, directory listings, forbidden operations
// and a remount, checking each against an in-memory oracle. The seed is
// logged; HYPERFS_MODEL_SEED replays one.
func TestModel(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("HYPERFS_MODEL_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	steps := modelSteps
	if s := os.Getenv("HYPERFS_MODEL_STEPS"); s != "" {
		steps, _ = strconv.Atoi(s)
	}
	t.Logf("seed %d (HYPERFS_MODEL_SEED=%d replays it), %d steps", seed, seed, steps)
	h := newHome(t)
	h.run(nil, "create", "f")
	mr := &modelRun{t: t, r: rand.New(rand.NewPCG(seed, 0)), m: h.mount()}
	mr.open()
	defer func() { mr.closeFiles() }()
	for step := range steps {
		if step == steps/2 {
			mr.remount(h)
		}
		switch k := mr.r.IntN(100); {
		case k < 40:
			mr.appendBlock()
		case k < 60:
			mr.readRange()
		case k < 75:
			mr.readBlock()
		case k < 85:
			mr.stat()
		case k < 90:
			mr.readdir()
		default:
			mr.forbidden()
		}
		if t.Failed() {
			t.Fatalf("step %d failed (seed %d)", step, seed)
		}
	}
	mr.closeFiles()
	mr.m.stop()
	if got := h.run(nil, "cat", "f"); got != string(mr.o.bytes()) {
		t.Errorf("hyperfs cat after the run: %d bytes, want %d", len(got), mr.o.size)
	}
}

func (mr *modelRun) remount(h *home) {
	mr.closeFiles()
	mr.m.stop()
	mr.m = h.mountAt(mr.m.dir)
	mr.open()
}

func (mr *modelRun) appendBlock() {
	size := 1 + mr.r.IntN(70000)
	if mr.r.IntN(4) == 0 {
		size = 1 + mr.r.IntN(100)
	}
	b := make([]byte, size)
	for i := range b {
		b[i] = byte(mr.r.Uint32())
	}
	f := mr.appends[mr.r.IntN(len(mr.appends))]
	if n, err := f.Write(b); err != nil || n != size {
		mr.t.Errorf("append %d bytes: %d, %v", size, n, err)
		return
	}
	mr.o.append(b)
}

func (mr *modelRun) readRange() {
	off := mr.r.IntN(mr.o.size + 10)
	size := mr.r.IntN(200000)
	buf := make([]byte, size)
	n, err := mr.reader.ReadAt(buf, int64(off))
	all := mr.o.bytes()
	want := all[min(off, len(all)):min(off+size, len(all))]
	if n != len(want) || !bytes.Equal(buf[:n], want) || (err != nil && n == size) {
		mr.t.Errorf("pread(%d, %d) = %d, %v; want %d bytes", off, size, n, err, len(want))
	}
}

func (mr *modelRun) readBlock() {
	i := mr.r.IntN(len(mr.o.blocks) + 2)
	b, err := os.ReadFile(mr.m.path("f", "blocks", strconv.Itoa(i)))
	switch {
	case i >= len(mr.o.blocks):
		if !errors.Is(err, os.ErrNotExist) {
			mr.t.Errorf("read of blocks/%d past the length %d: %v", i, len(mr.o.blocks), err)
		}
	case err != nil || !bytes.Equal(b, mr.o.blocks[i]):
		mr.t.Errorf("blocks/%d: %d bytes, %v; want %d bytes", i, len(b), err, len(mr.o.blocks[i]))
	}
}

func (mr *modelRun) stat() {
	st, err := os.Stat(mr.m.path("f", "data"))
	if err != nil || st.Size() != int64(mr.o.size) {
		mr.t.Errorf("stat data: %v, size %d, want %d", err, st.Size(), mr.o.size)
		return
	}
	if st.ModTime().Before(mr.mtime) {
		mr.t.Errorf("mtime went back from %v to %v", mr.mtime, st.ModTime())
	}
	mr.mtime = st.ModTime()
	var fst unix.Stat_t
	if err := unix.Fstat(int(mr.reader.Fd()), &fst); err != nil || fst.Size != int64(mr.o.size) || fst.Nlink != 1 {
		mr.t.Errorf("fstat of an open reader: %v, size %d nlink %d, want %d, 1", err, fst.Size, fst.Nlink, mr.o.size)
	}
}

func (mr *modelRun) readdir() {
	names, err := os.ReadDir(mr.m.path("f", "blocks"))
	if err != nil || len(names) != len(mr.o.blocks) {
		mr.t.Errorf("readdir blocks: %d entries, %v; want %d", len(names), err, len(mr.o.blocks))
	}
	top, err := os.ReadDir(mr.m.dir)
	if err != nil || len(top) != 1 || top[0].Name() != "f" {
		mr.t.Errorf("readdir of the root: %v, %v", top, err)
	}
}

// forbidden tries an operation TESTING.md refuses and checks the errno
// and that the oracle still holds.
func (mr *modelRun) forbidden() {
	data := mr.m.path("f", "data")
	ops := []struct {
		name string
		do   func() error
		want syscall.Errno
	}{
		{"truncate", func() error { return os.Truncate(data, 0) }, syscall.EPERM},
		{"open O_WRONLY", func() error { f, err := os.OpenFile(data, os.O_WRONLY, 0); f.Close(); return err }, syscall.EPERM},
		{"unlink", func() error { return os.Remove(data) }, syscall.EPERM},
		{"rename", func() error { return os.Rename(data, filepath.Join(mr.m.dir, "f", "x")) }, syscall.EPERM},
		{"pwrite not at the end", func() error {
			if mr.o.size == 0 {
				return syscall.EPERM
			}
			f, err := os.OpenFile(data, os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				return err
			}
			defer f.Close()
			if _, err := unix.FcntlInt(f.Fd(), unix.F_SETFL, 0); err != nil {
				return err
			}
			_, err = unix.Pwrite(int(f.Fd()), []byte("x"), 0)
			return err
		}, syscall.EPERM},
		{"write to a block", func() error {
			if len(mr.o.blocks) == 0 {
				return syscall.EPERM
			}
			f, err := os.OpenFile(mr.m.path("f", "blocks", "0"), os.O_WRONLY|os.O_APPEND, 0)
			f.Close()
			return err
		}, syscall.EPERM},
	}
	op := ops[mr.r.IntN(len(ops))]
	if err := op.do(); !errors.Is(err, op.want) {
		mr.t.Errorf("%s: %v, want %v", op.name, err, op.want)
	}
}

// TestConcurrentAppenders appends from several processes at once: no block
// is lost or merged.
func TestConcurrentAppenders(t *testing.T) {
	h := newHome(t)
	h.run(nil, "create", "f")
	m := h.mount()
	const procs, each = 4, 200
	script := `
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND)
for i in range(int(sys.argv[3])):
    os.write(fd, ("%s-%d\n" % (sys.argv[2], i)).encode())
`
	var cmds []*exec.Cmd
	for p := range procs {
		c := exec.Command("python3", "-c", script, m.path("f", "data"), strconv.Itoa(p), strconv.Itoa(each))
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, c)
	}
	for _, c := range cmds {
		if err := c.Wait(); err != nil {
			t.Fatalf("appender: %v", err)
		}
	}
	if n := m.length("f"); n != procs*each {
		t.Fatalf("%d blocks, want %d", n, procs*each)
	}
	seen := map[string]bool{}
	for i := range procs * each {
		b, err := os.ReadFile(m.path("f", "blocks", strconv.Itoa(i)))
		if err != nil {
			t.Fatal(err)
		}
		if seen[string(b)] || bytes.Count(b, []byte("\n")) != 1 {
			t.Fatalf("block %d = %q: merged or repeated", i, b)
		}
		seen[string(b)] = true
	}
}
