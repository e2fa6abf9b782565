package fusefs

import (
	"context"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// Cache lifetimes given to the kernel (see "Caching" in doc.go).
const (
	// immutableTimeout is the entry and attribute lifetime of what never
	// changes: blocks/<i>, and the names data, blocks, info.
	immutableTimeout = time.Hour
	// dirEntryTimeout is the entry lifetime of feed directories.
	dirEntryTimeout = time.Second
)

// Block sizes reported in st_blksize: the largest WRITE for data (tools
// size their buffers by it), a page elsewhere.
const (
	dataBlksize = 1 << 20
	pageSize    = 4096
)

// setTimes fills every timestamp of a with t.
func setTimes(a *fuse.Attr, t time.Time) {
	a.SetTimes(&t, &t, &t)
}

// fileAttr fills a for a regular file.
func (fsys *FS) fileAttr(a *fuse.Attr, mode uint32, size uint64, t time.Time) {
	a.Mode = syscall.S_IFREG | mode
	a.Size = size
	a.Blocks = (size + 511) / 512
	a.Blksize = pageSize
	a.Nlink = 1
	a.Uid, a.Gid = fsys.opts.UID, fsys.opts.GID
	setTimes(a, t)
}

// dirAttr fills a for a directory with nlink links.
func (fsys *FS) dirAttr(a *fuse.Attr, mode uint32, nlink uint32, t time.Time) {
	a.Mode = syscall.S_IFDIR | mode
	a.Nlink = nlink
	a.Blksize = pageSize
	a.Uid, a.Gid = fsys.opts.UID, fsys.opts.GID
	setTimes(a, t)
}

// setattr answers SETATTR: only utime(path, NULL), which sets both times
// to now, is allowed (as on chattr +a files); any change of size, mode,
// owner or explicit times is EPERM. The times stay what they were: they
// are the feed's, not the caller's.
func setattr(ctx context.Context, in *fuse.SetAttrIn, out *fuse.AttrOut, get func(context.Context, *fuse.AttrOut) syscall.Errno) syscall.Errno {
	const now = fuse.FATTR_ATIME | fuse.FATTR_MTIME | fuse.FATTR_ATIME_NOW | fuse.FATTR_MTIME_NOW
	const harmless = fuse.FATTR_FH | fuse.FATTR_LOCKOWNER | fuse.FATTR_CTIME | fuse.FATTR_KILL_SUIDGID
	v := in.Valid &^ harmless
	if v == 0 || (v&^now == 0 && v&fuse.FATTR_ATIME_NOW != 0 && v&fuse.FATTR_MTIME_NOW != 0) {
		return get(ctx, out)
	}
	return syscall.EPERM
}

// noDirChanges refuses every change to a directory's entries with EPERM
// (TESTING.md section 2). The root overrides Mkdir.
type noDirChanges struct{}

func (noDirChanges) Create(ctx context.Context, name string, flags, mode uint32, out *fuse.EntryOut) (*fs.Inode, fs.FileHandle, uint32, syscall.Errno) {
	return nil, nil, 0, syscall.EPERM
}
func (noDirChanges) Tmpfile(ctx context.Context, flags, mode uint32, out *fuse.EntryOut) (*fs.Inode, fs.FileHandle, uint32, syscall.Errno) {
	return nil, nil, 0, syscall.EPERM
}
func (noDirChanges) Mkdir(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	return nil, syscall.EPERM
}
func (noDirChanges) Mknod(ctx context.Context, name string, mode, dev uint32, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	return nil, syscall.EPERM
}
func (noDirChanges) Link(ctx context.Context, target fs.InodeEmbedder, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	return nil, syscall.EPERM
}
func (noDirChanges) Symlink(ctx context.Context, target, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	return nil, syscall.EPERM
}
func (noDirChanges) Unlink(ctx context.Context, name string) syscall.Errno { return syscall.EPERM }
func (noDirChanges) Rmdir(ctx context.Context, name string) syscall.Errno  { return syscall.EPERM }
func (noDirChanges) Rename(ctx context.Context, name string, newParent fs.InodeEmbedder, newName string, flags uint32) syscall.Errno {
	return syscall.EPERM
}

// noXattrChanges refuses setxattr and removexattr with EPERM: the
// attributes hyperfs shows are the feed's, read-only.
type noXattrChanges struct{}

func (noXattrChanges) Setxattr(ctx context.Context, attr string, data []byte, flags uint32) syscall.Errno {
	return syscall.EPERM
}
func (noXattrChanges) Removexattr(ctx context.Context, attr string) syscall.Errno {
	return syscall.EPERM
}

// noXattrs answers reads of extended attributes on nodes that have none.
type noXattrs struct{}

func (noXattrs) Getxattr(ctx context.Context, attr string, dest []byte) (uint32, syscall.Errno) {
	return 0, syscall.ENODATA
}
func (noXattrs) Listxattr(ctx context.Context, dest []byte) (uint32, syscall.Errno) { return 0, 0 }

// noAllocate answers fallocate with EOPNOTSUPP, what fallocate(2) says
// where it is unsupported; glibc's posix_fallocate then emulates it with
// writes, which it refuses on O_APPEND descriptors (EBADF) and which are
// refused anyway (offset below the end: EPERM).
type noAllocate struct{}

func (noAllocate) Allocate(ctx context.Context, f fs.FileHandle, off, size uint64, mode uint32) syscall.Errno {
	return syscall.EOPNOTSUPP
}

// readOnlyOpen checks the flags of an open of a file that is never
// written: any write access or O_TRUNC is EPERM.
func readOnlyOpen(flags uint32) syscall.Errno {
	if flags&syscall.O_ACCMODE != syscall.O_RDONLY || flags&syscall.O_TRUNC != 0 {
		return syscall.EPERM
	}
	return 0
}
