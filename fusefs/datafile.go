package fusefs

import (
	"context"
	"fmt"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/hyperfs/hyperfs/feed"
)

// dataNode is <feed>/data: every block concatenated, append-only.
type dataNode struct {
	fs.Inode
	noXattrChanges
	noAllocate
	m *mfeed
}

// dataHandle is an open data file.
type dataHandle struct {
	appender bool   // opened O_APPEND for writing: WRITEs append blocks
	nonblock bool   // O_NONBLOCK: missing blocks are EAGAIN, not waited for
	cache    cursor // where the reader is, and what it asked ahead
}

func (d *dataNode) Getattr(ctx context.Context, f fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	mode := uint32(0o644)
	if !d.m.f.Writable() {
		mode = 0o444
	}
	d.m.fsys.fileAttr(&out.Attr, mode, d.m.f.ByteLength(), d.m.mtime())
	out.Blksize = dataBlksize
	return 0
}

func (d *dataNode) Setattr(ctx context.Context, f fs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	return setattr(ctx, in, out, func(ctx context.Context, out *fuse.AttrOut) syscall.Errno { return d.Getattr(ctx, nil, out) })
}

// Open allows reading, and writing only with O_APPEND to a writable feed.
// Append handles get direct I/O, so that one write(2) of up to MaxWrite
// bytes reaches Write as one WRITE, unsplit by the page cache; read
// handles keep the page cache (data never changes below its length), or
// pass through to the data file when it is the verified feed
// (passthrough.go decides, and may give appends the backing file with
// direct I/O).
func (d *dataNode) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	switch {
	case flags&syscall.O_TRUNC != 0:
		return nil, 0, syscall.EPERM
	case flags&syscall.O_ACCMODE == syscall.O_RDONLY:
	case flags&syscall.O_APPEND == 0, !d.m.f.Writable():
		return nil, 0, syscall.EPERM
	}
	appender := flags&syscall.O_ACCMODE != syscall.O_RDONLY
	h, fl := d.m.openData(appender, flags&syscall.O_NONBLOCK != 0)
	return h, fl, 0
}

func (d *dataNode) Read(ctx context.Context, f fs.FileHandle, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	d.m.reads.Add(1)
	var c *cursor
	nonblock := false
	if h := handleOf(f); h != nil {
		c, nonblock = &h.cache, h.nonblock
	}
	n, err := d.m.readData(ctx, c, dest, uint64(off), nonblock)
	if err != nil {
		return nil, fail(d.m.fsys.log, "read data", err, "feed", d.m.tag, "offset", off, "size", len(dest))
	}
	return fuse.ReadResultData(dest[:n]), 0
}

// Write appends data as one block, if off is the byte length.
func (d *dataNode) Write(ctx context.Context, f fs.FileHandle, data []byte, off int64) (uint32, syscall.Errno) {
	if h := handleOf(f); h == nil || !h.appender {
		return 0, errnoOf(errReadOnly)
	}
	if err := d.m.appendAt(data, uint64(off)); err != nil {
		return 0, fail(d.m.fsys.log, "append", err, "feed", d.m.tag, "offset", off, "size", len(data))
	}
	return uint32(len(data)), 0
}

// appendAt appends b as one block if off is the feed's byte length.
// Blocks of MaxBlockSize or more are EFBIG (hypercore 9 wants them under
// 8 MiB; the kernel's MaxWrite keeps WRITEs far below).
func (m *mfeed) appendAt(b []byte, off uint64) error {
	if len(b) >= feed.MaxBlockSize {
		return fmt.Errorf("append %d bytes: %w", len(b), feed.ErrBlockTooLarge)
	}
	m.appendMu.Lock()
	defer m.appendMu.Unlock()
	if n := m.f.ByteLength(); off != n {
		return fmt.Errorf("write at %d, byte length %d: %w", off, n, errNotAtEnd)
	}
	if err := m.f.Append(b); err != nil {
		return err
	}
	m.ownEnd.Store(off + uint64(len(b)))
	m.dirty.Store(true)
	m.fsys.wakeSyncer()
	return nil
}

// Fsync makes every append so far durable (feed.Sync), whatever handle
// asks. No mount lock is held across it.
func (d *dataNode) Fsync(ctx context.Context, f fs.FileHandle, flags uint32) syscall.Errno {
	if err := d.m.f.Sync(); err != nil {
		return fail(d.m.fsys.log, "fsync", err, "feed", d.m.tag)
	}
	return 0
}

func (d *dataNode) Flush(ctx context.Context, f fs.FileHandle) syscall.Errno { return 0 }

// Release uncounts the handle (passthrough depends on what is open).
func (d *dataNode) Release(ctx context.Context, f fs.FileHandle) syscall.Errno {
	if handleOf(f) != nil {
		d.m.releaseData(f)
	}
	return 0
}

func (d *dataNode) Getxattr(ctx context.Context, attr string, dest []byte) (uint32, syscall.Errno) {
	return getxattr(d.m, attr, dest)
}

func (d *dataNode) Listxattr(ctx context.Context, dest []byte) (uint32, syscall.Errno) {
	return listxattr(d.m, dest)
}
