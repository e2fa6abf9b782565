package fusefs

import (
	"context"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// feedDir is MOUNTPOINT/<feed>: data, blocks/ and info, all persistent
// children made when the directory is attached.
type feedDir struct {
	fs.Inode
	noDirChanges
	noXattrChanges
	m *mfeed

	// Set in OnAdd, before the directory is reachable; read-only after.
	data, blocks, info *fs.Inode
}

func (d *feedDir) OnAdd(ctx context.Context) {
	d.data = d.NewPersistentInode(ctx, &dataNode{m: d.m}, fs.StableAttr{Mode: syscall.S_IFREG})
	d.blocks = d.NewPersistentInode(ctx, &blocksDir{m: d.m}, fs.StableAttr{Mode: syscall.S_IFDIR})
	d.info = d.NewPersistentInode(ctx, &infoNode{m: d.m}, fs.StableAttr{Mode: syscall.S_IFREG})
	d.AddChild("data", d.data, false)
	d.AddChild("blocks", d.blocks, false)
	d.AddChild("info", d.info, false)
}

// entry fills a lookup answer for the directory.
func (d *feedDir) entry(ctx context.Context, out *fuse.EntryOut) syscall.Errno {
	var a fuse.AttrOut
	d.Getattr(ctx, nil, &a)
	out.Attr = a.Attr
	out.SetEntryTimeout(dirEntryTimeout)
	return 0
}

func (d *feedDir) Getattr(ctx context.Context, f fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	mode := uint32(0o755)
	if !d.m.f.Writable() {
		mode = 0o555
	}
	d.m.fsys.dirAttr(&out.Attr, mode, 3, d.m.mtime())
	return 0
}

func (d *feedDir) Setattr(ctx context.Context, f fs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	return setattr(ctx, in, out, func(ctx context.Context, out *fuse.AttrOut) syscall.Errno { return d.Getattr(ctx, nil, out) })
}

func (d *feedDir) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	var ch *fs.Inode
	switch name {
	case "data":
		ch = d.data
	case "blocks":
		ch = d.blocks
	case "info":
		ch = d.info
	default:
		if len(name) > maxName {
			return nil, syscall.ENAMETOOLONG
		}
		return nil, syscall.ENOENT
	}
	var a fuse.AttrOut
	if errno := ch.Operations().(fs.NodeGetattrer).Getattr(ctx, nil, &a); errno != 0 {
		return nil, errno
	}
	out.Attr = a.Attr
	out.SetEntryTimeout(immutableTimeout)
	return ch, 0
}

func (d *feedDir) Readdir(ctx context.Context) (fs.DirStream, syscall.Errno) {
	return fs.NewListDirStream([]fuse.DirEntry{
		{Name: "blocks", Mode: syscall.S_IFDIR},
		{Name: "data", Mode: syscall.S_IFREG},
		{Name: "info", Mode: syscall.S_IFREG},
	}), 0
}

func (d *feedDir) Getxattr(ctx context.Context, attr string, dest []byte) (uint32, syscall.Errno) {
	return getxattr(d.m, attr, dest)
}

func (d *feedDir) Listxattr(ctx context.Context, dest []byte) (uint32, syscall.Errno) {
	return listxattr(d.m, dest)
}
