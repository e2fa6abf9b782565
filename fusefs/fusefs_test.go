package fusefs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/hyperfs/hyperfs/feed"
	"github.com/hyperfs/hyperfs/index"
)

func TestParseBlockName(t *testing.T) {
	for _, c := range []struct {
		name   string
		length uint64
		want   uint64
		ok     bool
	}{
		{"0", 1, 0, true},
		{"9", 10, 9, true},
		{"10", 11, 10, true},
		{"10", 10, 0, false}, // == length
		{"0", 0, 0, false},
		{"01", 10, 0, false},
		{"00", 10, 0, false},
		{"-1", 10, 0, false},
		{"+1", 10, 0, false},
		{"1e3", 2000, 0, false},
		{" 1", 10, 0, false},
		{"1 ", 10, 0, false},
		{"", 10, 0, false},
		{"0x1", 10, 0, false},
		{"18446744073709551615", ^uint64(0), 0, false}, // == length
		{"18446744073709551614", ^uint64(0), 18446744073709551614, true},
		{"18446744073709551616", ^uint64(0), 0, false}, // overflow
		{"99999999999999999999", ^uint64(0), 0, false},
	} {
		got, ok := parseBlockName(c.name, c.length)
		if ok != c.ok || ok && got != c.want {
			t.Errorf("parseBlockName(%q, %d) = %d, %t; want %d, %t", c.name, c.length, got, ok, c.want, c.ok)
		}
	}
}

func FuzzBlockName(f *testing.F) {
	for _, s := range []string{"0", "1", "01", "-1", "1e3", "10", "18446744073709551615", "", "٣"} {
		f.Add(s, uint64(11))
	}
	f.Fuzz(func(t *testing.T, name string, length uint64) {
		i, ok := parseBlockName(name, length)
		canon := false
		if v, err := strconv.ParseUint(name, 10, 64); err == nil && strconv.FormatUint(v, 10) == name && v < length {
			canon = true
			if ok && v != i {
				t.Fatalf("parseBlockName(%q) = %d, want %d", name, i, v)
			}
		}
		if ok != canon {
			t.Fatalf("parseBlockName(%q, %d) ok=%t, canonical below length=%t", name, length, ok, canon)
		}
	})
}

// blocksOf builds n blocks whose sizes come from sizes (cycled), with
// distinct bytes.
func blocksOf(sizes []int) [][]byte {
	var out [][]byte
	c := byte(0)
	for _, s := range sizes {
		b := make([]byte, s)
		for k := range b {
			b[k] = c
			c++
		}
		out = append(out, b)
	}
	return out
}

func TestReadDataOffsets(t *testing.T) {
	blocks := blocksOf([]int{3, 0, 5, 1, 0, 0, 7, 4096, 2})
	m := oneFeed(t, blocks...)
	all := concat(blocks, nil)
	d := m.dataOps()
	h := openData(t, m, syscall.O_RDONLY)
	for off := 0; off <= len(all)+3; off++ {
		for _, size := range []int{1, 2, 4, 9, 100, 5000} {
			r, errno := d.Read(context.Background(), h, make([]byte, size), int64(off))
			if errno != 0 {
				t.Fatalf("read(%d, %d): %v", off, size, errno)
			}
			got, _ := r.Bytes(nil)
			want := all[min(off, len(all)):min(off+size, len(all))]
			if !bytes.Equal(got, want) {
				t.Fatalf("read(%d, %d) = %d bytes, want %d", off, size, len(got), len(want))
			}
		}
	}
	if got := readAll(t, d, h, 7); !bytes.Equal(got, all) {
		t.Errorf("reading in 7-byte pieces gave %d bytes, want %d", len(got), len(all))
	}
}

func FuzzDataRead(f *testing.F) {
	f.Add([]byte{3, 0, 5, 1}, uint16(0), uint16(2), uint16(6))
	f.Add([]byte{0, 0, 0}, uint16(0), uint16(0), uint16(1))
	f.Add([]byte{200, 200, 1}, uint16(150), uint16(199), uint16(300))
	f.Add([]byte{3, 0, 0, 4, 1}, uint16(1), uint16(3), uint16(2))
	f.Add([]byte{}, uint16(0), uint16(0), uint16(10))
	// A handle first reads size bytes at prev: the second read starts
	// from what its cursor remembers when it can (or seeks).
	f.Fuzz(func(t *testing.T, sizes []byte, prev, off, size uint16) {
		if len(sizes) > 64 {
			sizes = sizes[:64]
		}
		ints := make([]int, len(sizes))
		for k, s := range sizes {
			ints[k] = int(s)
		}
		blocks := blocksOf(ints)
		m := oneFeed(t, blocks...)
		all := concat(blocks, nil)
		h := openData(t, m, syscall.O_RDONLY)
		for _, c := range []struct {
			h   fs.FileHandle
			off uint16
		}{{nil, off}, {h, prev}, {h, off}} {
			r, errno := m.dataOps().Read(context.Background(), c.h, make([]byte, size), int64(c.off))
			if errno != 0 {
				t.Fatalf("read: %v", errno)
			}
			got, _ := r.Bytes(nil)
			want := all[min(int(c.off), len(all)):min(int(c.off)+int(size), len(all))]
			if !bytes.Equal(got, want) {
				t.Fatalf("read(%d, %d) of blocks %v: got %x want %x", c.off, size, sizes, got, want)
			}
		}
	})
}

func TestErrnoOf(t *testing.T) {
	for _, c := range []struct {
		err  error
		want syscall.Errno
	}{
		{nil, 0},
		{feed.ErrNotWritable, syscall.EPERM},
		{fmt.Errorf("x: %w", errNotAtEnd), syscall.EPERM},
		{errReadOnly, syscall.EPERM},
		{fmt.Errorf("get: %w", feed.ErrOutOfRange), syscall.ENOENT},
		{ErrNoFeed, syscall.ENOENT},
		{context.Canceled, syscall.EINTR},
		{fmt.Errorf("get: %w", context.DeadlineExceeded), syscall.ETIMEDOUT},
		{errWouldBlock, syscall.EAGAIN},
		{feed.ErrNotAvailable, syscall.ENODATA},
		{feed.ErrBlockTooLarge, syscall.EFBIG},
		{fmt.Errorf("append: %w", feed.ErrReadOnly), syscall.EROFS},
		{feed.ErrCorrupt, syscall.EIO},
		{feed.ErrClosed, syscall.EIO},
		{index.ErrNameTaken, syscall.EEXIST},
		{index.ErrBadName, syscall.EINVAL},
		{fmt.Errorf("write: %w", syscall.ENOSPC), syscall.ENOSPC},
		{errors.New("anything else"), syscall.EIO},
	} {
		if got := errnoOf(c.err); got != c.want {
			t.Errorf("errnoOf(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}

func TestDataOpenFlags(t *testing.T) {
	w := oneFeed(t, []byte("x"))
	r := replica(t)
	for _, c := range []struct {
		m     *mfeed
		flags int
		want  syscall.Errno
		fopen uint32
	}{
		{w, syscall.O_RDONLY, 0, fuse.FOPEN_KEEP_CACHE},
		{w, syscall.O_RDONLY | syscall.O_NONBLOCK, 0, fuse.FOPEN_KEEP_CACHE},
		{w, syscall.O_WRONLY | syscall.O_APPEND, 0, fuse.FOPEN_DIRECT_IO},
		{w, syscall.O_RDWR | syscall.O_APPEND, 0, fuse.FOPEN_DIRECT_IO},
		{w, syscall.O_WRONLY, syscall.EPERM, 0},
		{w, syscall.O_RDWR, syscall.EPERM, 0},
		{w, syscall.O_WRONLY | syscall.O_APPEND | syscall.O_TRUNC, syscall.EPERM, 0},
		{w, syscall.O_RDONLY | syscall.O_TRUNC, syscall.EPERM, 0},
		{r, syscall.O_RDONLY, 0, fuse.FOPEN_KEEP_CACHE},
		{r, syscall.O_WRONLY | syscall.O_APPEND, syscall.EPERM, 0},
	} {
		_, fl, errno := c.m.dataOps().Open(context.Background(), uint32(c.flags))
		wantErrno(t, fmt.Sprintf("open(%#o) writable=%t", c.flags, c.m.f.Writable()), errno, c.want)
		if errno == 0 && fl != c.fopen {
			t.Errorf("open(%#o): FOPEN flags %#x, want %#x", c.flags, fl, c.fopen)
		}
	}
	var a fuse.AttrOut
	r.dataOps().Getattr(context.Background(), nil, &a)
	if a.Mode&0o777 != 0o444 {
		t.Errorf("replica data mode %o, want 444", a.Mode&0o777)
	}
}

// replica mounts an empty replica (no secret key).
func replica(t *testing.T) *mfeed {
	t.Helper()
	w, _ := testFeed(t)
	f, err := feed.CreateReplica(feed.NewMemStorage(), w.Key(), feed.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	fsys, _ := testFS(t, Options{Feeds: []Entry{{Name: "r", Feed: f}}})
	return fsys.feed("r")
}

func TestWrite(t *testing.T) {
	m := oneFeed(t, []byte("abc"))
	d := m.dataOps()
	ctx := context.Background()
	ah := openData(t, m, syscall.O_WRONLY|syscall.O_APPEND)
	rh := openData(t, m, syscall.O_RDONLY)

	_, errno := d.Write(ctx, ah, []byte("x"), 0)
	wantErrno(t, "write at 0", errno, syscall.EPERM)
	_, errno = d.Write(ctx, ah, []byte("x"), 4)
	wantErrno(t, "write past the end", errno, syscall.EPERM)
	_, errno = d.Write(ctx, rh, []byte("x"), 3)
	wantErrno(t, "write on a read handle", errno, syscall.EPERM)
	_, errno = d.Write(ctx, ah, make([]byte, feed.MaxBlockSize), 3)
	wantErrno(t, "write of 8 MiB", errno, syscall.EFBIG)
	if m.f.Length() != 1 {
		t.Fatalf("refused writes changed the length to %d", m.f.Length())
	}
	n, errno := d.Write(ctx, ah, []byte("defg"), 3)
	if errno != 0 || n != 4 {
		t.Fatalf("append = %d, %v", n, errno)
	}
	if m.f.Length() != 2 || m.f.ByteLength() != 7 {
		t.Fatalf("after append: length %d byte length %d, want 2, 7", m.f.Length(), m.f.ByteLength())
	}
	if got := readAll(t, d, rh, 100); string(got) != "abcdefg" {
		t.Errorf("data = %q", got)
	}
	if !m.dirty.Load() {
		t.Error("append did not mark the feed for the background sync")
	}
	wantErrno(t, "fsync", d.Fsync(ctx, ah, 0), 0)
	var a fuse.AttrOut
	d.Getattr(ctx, nil, &a)
	if a.Size != 7 || a.Nlink != 1 {
		t.Errorf("stat: size %d nlink %d, want 7, 1", a.Size, a.Nlink)
	}
}

func TestSetattr(t *testing.T) {
	m := oneFeed(t, []byte("abc"))
	ctx := context.Background()
	for _, c := range []struct {
		name  string
		valid uint32
		want  syscall.Errno
	}{
		{"truncate", fuse.FATTR_SIZE, syscall.EPERM},
		{"ftruncate", fuse.FATTR_SIZE | fuse.FATTR_FH, syscall.EPERM},
		{"chmod", fuse.FATTR_MODE, syscall.EPERM},
		{"chown", fuse.FATTR_UID | fuse.FATTR_GID, syscall.EPERM},
		{"utime(t)", fuse.FATTR_ATIME | fuse.FATTR_MTIME, syscall.EPERM},
		{"utime(NULL)", fuse.FATTR_ATIME | fuse.FATTR_MTIME | fuse.FATTR_ATIME_NOW | fuse.FATTR_MTIME_NOW, 0},
	} {
		in := &fuse.SetAttrIn{}
		in.Valid = c.valid
		var out fuse.AttrOut
		wantErrno(t, "data "+c.name, m.dataOps().Setattr(ctx, nil, in, &out), c.want)
		wantErrno(t, "info "+c.name, m.infoOps().Setattr(ctx, nil, in, &out), c.want)
		wantErrno(t, "dir "+c.name, m.dir.Setattr(ctx, nil, in, &out), c.want)
	}
	if m.f.ByteLength() != 3 {
		t.Error("a refused setattr changed the feed")
	}
}

func TestForbiddenDirOps(t *testing.T) {
	m := oneFeed(t, []byte("abc"))
	ctx := context.Background()
	root := m.fsys.root
	type dirOps interface {
		Unlink(context.Context, string) syscall.Errno
		Rmdir(context.Context, string) syscall.Errno
	}
	for name, d := range map[string]dirOps{"root": root, "feed": m.dir, "blocks": m.blocksOps()} {
		wantErrno(t, name+" unlink", d.Unlink(ctx, "data"), syscall.EPERM)
		wantErrno(t, name+" rmdir", d.Rmdir(ctx, "blocks"), syscall.EPERM)
	}
	var out fuse.EntryOut
	_, _, _, errno := m.dir.Create(ctx, "x", syscall.O_WRONLY, 0o644, &out)
	wantErrno(t, "create in feed dir", errno, syscall.EPERM)
	_, _, _, errno = root.Create(ctx, "x", syscall.O_WRONLY, 0o644, &out)
	wantErrno(t, "create in root", errno, syscall.EPERM)
	_, errno = m.dir.Mkdir(ctx, "x", 0o755, &out)
	wantErrno(t, "mkdir in feed dir", errno, syscall.EPERM)
	_, errno = m.dir.Link(ctx, m.dataOps(), "x", &out)
	wantErrno(t, "link", errno, syscall.EPERM)
	_, errno = m.dir.Symlink(ctx, "data", "x", &out)
	wantErrno(t, "symlink", errno, syscall.EPERM)
	_, errno = m.dir.Mknod(ctx, "x", syscall.S_IFREG, 0, &out)
	wantErrno(t, "mknod", errno, syscall.EPERM)
	wantErrno(t, "rename", m.dir.Rename(ctx, "data", m.dir, "x", 0), syscall.EPERM)
	wantErrno(t, "setxattr", m.dataOps().Setxattr(ctx, "user.x", []byte("1"), 0), syscall.EPERM)
	wantErrno(t, "removexattr", m.dataOps().Removexattr(ctx, xattrPrefix+"key"), syscall.EPERM)
	wantErrno(t, "fallocate", m.dataOps().Allocate(ctx, nil, 0, 10, 0), syscall.EOPNOTSUPP)
	_, _, errno = m.infoOps().Open(ctx, syscall.O_WRONLY)
	wantErrno(t, "open info for writing", errno, syscall.EPERM)
}

func TestBlocks(t *testing.T) {
	m := oneFeed(t, []byte("a"), []byte(""), []byte("ccc"))
	ctx := context.Background()
	bd := m.blocksOps()
	for _, name := range []string{"01", "-1", "1e3", "3", "+0", "00", "x"} {
		var out fuse.EntryOut
		_, errno := bd.Lookup(ctx, name, &out)
		wantErrno(t, "lookup blocks/"+name, errno, syscall.ENOENT)
	}
	var out fuse.EntryOut
	_, errno := bd.Lookup(ctx, string(bytes.Repeat([]byte("1"), 300)), &out)
	wantErrno(t, "lookup of a 300-byte name", errno, syscall.ENAMETOOLONG)
	for i, want := range []string{"a", "", "ccc"} {
		b := &blockNode{m: m, i: uint64(i)}
		var a fuse.AttrOut
		wantErrno(t, "stat block", b.Getattr(ctx, nil, &a), 0)
		if a.Size != uint64(len(want)) || a.Mode&0o777 != 0o444 {
			t.Errorf("block %d: size %d mode %o", i, a.Size, a.Mode&0o777)
		}
		h, fl, errno := b.Open(ctx, syscall.O_RDONLY)
		if errno != 0 || fl != fuse.FOPEN_KEEP_CACHE {
			t.Fatalf("open block %d: %v flags %#x", i, errno, fl)
		}
		r, errno := b.Read(ctx, h, make([]byte, 10), 0)
		got, _ := r.Bytes(nil)
		if errno != 0 || string(got) != want {
			t.Errorf("block %d = %q, %v", i, got, errno)
		}
		_, _, errno = b.Open(ctx, syscall.O_WRONLY|syscall.O_APPEND)
		wantErrno(t, "open block for appending", errno, syscall.EPERM)
	}
	ds, _ := bd.Readdir(ctx)
	var names []string
	for ds.HasNext() {
		e, _ := ds.Next()
		names = append(names, e.Name)
	}
	if fmt.Sprint(names) != "[0 1 2]" {
		t.Errorf("readdir blocks = %v", names)
	}
}

// stuck is a Fetcher that never delivers.
type stuck struct{ asked chan uint64 }

func (s stuck) Want(f *feed.Feed, i uint64) { s.asked <- i }

func TestMissingBlocks(t *testing.T) {
	blocks := blocksOf([]int{10, 10, 10})
	f, _ := testFeed(t, blocks...)
	if err := f.Clear(1, 2); err != nil {
		t.Fatal(err)
	}
	fsys, _ := testFS(t, Options{Feeds: []Entry{{Name: "f", Feed: f}}, FetchTimeout: time.Millisecond})
	m := fsys.feed("f")
	d := m.dataOps()
	ctx := context.Background()
	read := func(h any, off int64) syscall.Errno {
		_, errno := d.Read(ctx, h, make([]byte, 30), off)
		return errno
	}
	wantErrno(t, "read of the local block 0", func() syscall.Errno { _, e := d.Read(ctx, nil, make([]byte, 10), 0); return e }(), 0)
	wantErrno(t, "read of a missing block, no fetcher", read(nil, 0), syscall.ENODATA)

	s := stuck{asked: make(chan uint64, 10)}
	f.SetFetcher(s)
	wantErrno(t, "nonblocking read of a missing block", read(openData(t, m, syscall.O_RDONLY|syscall.O_NONBLOCK), 5), syscall.EAGAIN)
	if len(s.asked) != 0 {
		t.Error("a nonblocking read asked the fetcher")
	}
	wantErrno(t, "read past the fetch timeout", read(nil, 5), syscall.ETIMEDOUT)
	if i := <-s.asked; i != 1 {
		t.Errorf("fetcher asked for block %d, want 1", i)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, errno := d.Read(cctx, nil, make([]byte, 30), 0)
	wantErrno(t, "interrupted read", errno, syscall.EINTR)
}

func TestCorruptBlockIsEIO(t *testing.T) {
	s := feed.NewMemStorage()
	w, err := feed.Create(s, feed.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Append([]byte("good"), []byte("evil")); err != nil {
		t.Fatal(err)
	}
	w.Close()
	s.Corrupt("data", func(b []byte) []byte { b[5] ^= 1; return b })
	f, err := feed.Open(s, feed.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	fsys, _ := testFS(t, Options{Feeds: []Entry{{Name: "f", Feed: f}}})
	d := fsys.feed("f").dataOps()
	r, errno := d.Read(context.Background(), nil, make([]byte, 4), 0)
	if b, _ := r.Bytes(nil); errno != 0 || string(b) != "good" {
		t.Errorf("read of the good block: %q, %v", b, errno)
	}
	_, errno = d.Read(context.Background(), nil, make([]byte, 8), 0)
	wantErrno(t, "read across a corrupt block", errno, syscall.EIO)
}

func TestXattrs(t *testing.T) {
	m := oneFeed(t, []byte("abc"))
	ctx := context.Background()
	d := m.dataOps()
	n, errno := d.Getxattr(ctx, xattrPrefix+"length", nil)
	if errno != 0 || n != 1 {
		t.Errorf("size of length = %d, %v", n, errno)
	}
	buf := make([]byte, 100)
	n, _ = d.Getxattr(ctx, xattrPrefix+"byte_length", buf)
	if string(buf[:n]) != "3" {
		t.Errorf("byte_length = %q", buf[:n])
	}
	_, errno = d.Getxattr(ctx, xattrPrefix+"key", make([]byte, 10))
	wantErrno(t, "key into 10 bytes", errno, syscall.ERANGE)
	_, errno = m.dir.Getxattr(ctx, "user.other", buf)
	wantErrno(t, "unknown xattr", errno, syscall.ENODATA)
	n, _ = m.dir.Listxattr(ctx, make([]byte, 1000))
	if n == 0 {
		t.Error("listxattr on the feed directory is empty")
	}
}

func TestInfo(t *testing.T) {
	m := oneFeed(t, []byte("abc"), []byte("de"))
	ctx := context.Background()
	h, fl, errno := m.infoOps().Open(ctx, syscall.O_RDONLY)
	if errno != 0 || fl != fuse.FOPEN_DIRECT_IO {
		t.Fatalf("open info: %v %#x", errno, fl)
	}
	r, _ := m.infoOps().Read(ctx, h, make([]byte, 4096), 0)
	b, _ := r.Bytes(nil)
	var in Info
	if err := json.Unmarshal(b, &in); err != nil {
		t.Fatalf("info is not JSON: %v\n%s", err, b)
	}
	if in.Length != 2 || in.ByteLength != 5 || !in.Writable || in.SignedLength != 2 || len(in.RootHash) != 64 || in.Downloaded != 2 {
		t.Errorf("info = %+v", in)
	}
	var a fuse.AttrOut
	m.infoOps().Getattr(ctx, h, &a)
	if a.Size != uint64(len(b)) {
		t.Errorf("info size %d, read %d bytes", a.Size, len(b))
	}
}

// fakeHome creates feeds in memory and follows nothing.
type fakeHome struct{ t *testing.T }

func (h fakeHome) Create(ctx context.Context, name string) (*feed.Feed, error) {
	if err := index.ValidName(name, [32]byte{}); err != nil {
		return nil, err
	}
	f, _ := testFeed(h.t)
	return f, nil
}

func (h fakeHome) Follow(ctx context.Context, key [32]byte) (*feed.Feed, error) {
	return nil, ErrNoFeed
}

func TestRootMkdirLookup(t *testing.T) {
	f, _ := testFeed(t, []byte("x"))
	fsys, _ := testFS(t, Options{Feeds: []Entry{{Name: "a", Feed: f}}, Home: fakeHome{t}})
	r := fsys.root
	ctx := context.Background()
	var out fuse.EntryOut
	if _, errno := r.Mkdir(ctx, "b", 0o755, &out); errno != 0 {
		t.Fatalf("mkdir b: %v", errno)
	}
	_, errno := r.Mkdir(ctx, "a", 0o755, &out)
	wantErrno(t, "mkdir of an existing feed", errno, syscall.EEXIST)
	_, errno = r.Mkdir(ctx, "..", 0o755, &out)
	wantErrno(t, "mkdir ..", errno, syscall.EINVAL)
	if _, errno := r.Lookup(ctx, "b", &out); errno != 0 || out.Attr.Nlink < 2 {
		t.Errorf("lookup b: %v nlink %d", errno, out.Attr.Nlink)
	}
	_, errno = r.Lookup(ctx, fmt.Sprintf("%064x", 7), &out)
	wantErrno(t, "lookup of an unknown key", errno, syscall.ENOENT)
	_, errno = r.Lookup(ctx, "nope", &out)
	wantErrno(t, "lookup of an unknown name", errno, syscall.ENOENT)
	ds, _ := r.Readdir(ctx)
	var names []string
	for ds.HasNext() {
		e, _ := ds.Next()
		names = append(names, e.Name)
	}
	if fmt.Sprint(names) != "[a b]" {
		t.Errorf("readdir root = %v", names)
	}
}

func TestWatcherNotifies(t *testing.T) {
	f, _ := testFeed(t, []byte("abc"))
	fsys, n := testFS(t, Options{Feeds: []Entry{{Name: "f", Feed: f}}})
	m := fsys.feed("f")
	before := m.mtime()
	fsys.start()
	// An append by another route than a WRITE (a peer, say).
	if err := f.Append(bytes.Repeat([]byte("x"), 5000)); err != nil {
		t.Fatal(err)
	}
	n.waitFor(t)
	n.mu.Lock()
	off := n.inode[0]
	n.mu.Unlock()
	if off != 0 {
		t.Errorf("notified from offset %d, want the page holding the old end (0)", off)
	}
	if !m.mtime().After(before) {
		t.Error("mtime did not move on an append")
	}
	if err := f.Append([]byte("y")); err != nil {
		t.Fatal(err)
	}
	n.waitFor(t)
	n.mu.Lock()
	off = n.inode[len(n.inode)-1]
	n.mu.Unlock()
	if off != 4096 {
		t.Errorf("notified from offset %d, want 4096", off)
	}
}

func TestBackgroundSync(t *testing.T) {
	m := oneFeed(t)
	m.fsys.start()
	h := openData(t, m, syscall.O_WRONLY|syscall.O_APPEND)
	if _, errno := m.dataOps().Write(context.Background(), h, []byte("a"), 0); errno != 0 {
		t.Fatal(errno)
	}
	if err := m.fsys.Close(); err != nil {
		t.Fatal(err)
	}
	if m.dirty.Load() {
		t.Error("close left the feed unsynced")
	}
}
