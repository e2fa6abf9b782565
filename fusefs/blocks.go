package fusefs

import (
	"context"
	"strconv"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// blocksDir is <feed>/blocks: one read-only file per block, named by its
// index in canonical decimal. Entries are made on lookup and never cached
// negatively, so blocks/N appears as soon as block N exists.
type blocksDir struct {
	fs.Inode
	noDirChanges
	noXattrs
	noXattrChanges
	m *mfeed
}

func (d *blocksDir) Getattr(ctx context.Context, f fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	mode := uint32(0o755)
	if !d.m.f.Writable() {
		mode = 0o555
	}
	d.m.fsys.dirAttr(&out.Attr, mode, 2, d.m.mtime())
	return 0
}

func (d *blocksDir) Setattr(ctx context.Context, f fs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	return setattr(ctx, in, out, func(ctx context.Context, out *fuse.AttrOut) syscall.Errno { return d.Getattr(ctx, nil, out) })
}

func (d *blocksDir) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	if len(name) > maxName {
		return nil, syscall.ENAMETOOLONG
	}
	i, ok := parseBlockName(name, d.m.f.Length())
	if !ok {
		return nil, syscall.ENOENT
	}
	b := &blockNode{m: d.m, i: i}
	var a fuse.AttrOut
	if errno := b.Getattr(ctx, nil, &a); errno != 0 {
		return nil, errno
	}
	out.Attr = a.Attr
	out.SetEntryTimeout(immutableTimeout)
	out.SetAttrTimeout(immutableTimeout)
	return d.NewInode(ctx, b, fs.StableAttr{Mode: syscall.S_IFREG}), 0
}

func (d *blocksDir) Readdir(ctx context.Context) (fs.DirStream, syscall.Errno) {
	return &blockStream{n: d.m.f.Length()}, 0
}

// blockStream lists 0 .. n-1 without building the list.
type blockStream struct {
	next, n uint64
}

func (s *blockStream) HasNext() bool { return s.next < s.n }
func (s *blockStream) Next() (fuse.DirEntry, syscall.Errno) {
	e := fuse.DirEntry{Name: strconv.FormatUint(s.next, 10), Mode: syscall.S_IFREG}
	s.next++
	return e, 0
}
func (s *blockStream) Close() {}

// blockNode is blocks/<i>: block i alone, read-only, never changing.
type blockNode struct {
	fs.Inode
	noXattrs
	noXattrChanges
	noAllocate
	m *mfeed
	i uint64
}

// blockHandle is an open block file; it keeps the block once read.
type blockHandle struct {
	nonblock bool
	cache    cursor // remembers the block; its offsets are unused here
}

func (b *blockNode) Getattr(ctx context.Context, f fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	_, size, err := b.m.f.BlockRange(b.i)
	if err != nil && !b.m.f.Has(b.i) && b.i < b.m.f.Length() {
		// A sparse replica learns a block's size with the block: stat
		// fetches it as a read would (waiting up to the fetch timeout).
		var data []byte
		data, err = b.m.block(ctx, nil, b.i, 0, false)
		size = uint64(len(data))
	}
	if err != nil {
		return fail(b.m.fsys.log, "stat block", err, "feed", b.m.tag, "block", b.i)
	}
	b.m.fsys.fileAttr(&out.Attr, 0o444, size, b.m.fsys.mountTime)
	out.SetTimeout(immutableTimeout)
	return 0
}

func (b *blockNode) Setattr(ctx context.Context, f fs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	return setattr(ctx, in, out, func(ctx context.Context, out *fuse.AttrOut) syscall.Errno { return b.Getattr(ctx, nil, out) })
}

// Open allows reading only; the kernel may keep the pages for good.
func (b *blockNode) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	if errno := readOnlyOpen(flags); errno != 0 {
		return nil, 0, errno
	}
	return &blockHandle{nonblock: flags&syscall.O_NONBLOCK != 0}, fuse.FOPEN_KEEP_CACHE, 0
}

func (b *blockNode) Read(ctx context.Context, f fs.FileHandle, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	var c *cursor
	nonblock := false
	if h, ok := f.(*blockHandle); ok {
		c, nonblock = &h.cache, h.nonblock
	}
	data, err := b.m.block(ctx, c, b.i, 0, nonblock)
	if err != nil {
		return nil, fail(b.m.fsys.log, "read block", err, "feed", b.m.tag, "block", b.i)
	}
	if off >= int64(len(data)) {
		return fuse.ReadResultData(nil), 0
	}
	n := copy(dest, data[off:])
	return fuse.ReadResultData(dest[:n]), 0
}

func (b *blockNode) Write(ctx context.Context, f fs.FileHandle, data []byte, off int64) (uint32, syscall.Errno) {
	return 0, syscall.EPERM
}

func (b *blockNode) Fsync(ctx context.Context, f fs.FileHandle, flags uint32) syscall.Errno { return 0 }
