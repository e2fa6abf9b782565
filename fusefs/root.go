package fusefs

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// rootNode is MOUNTPOINT: one directory per feed.
type rootNode struct {
	fs.Inode
	noDirChanges
	noXattrs
	noXattrChanges
	fsys *FS
}

// OnAdd attaches the feeds given at New.
func (r *rootNode) OnAdd(ctx context.Context) {
	for _, m := range r.fsys.all() {
		r.AddChild(m.name, r.attach(ctx, m), false)
	}
}

// attach makes the persistent inode of m's directory.
func (r *rootNode) attach(ctx context.Context, m *mfeed) *fs.Inode {
	return r.NewPersistentInode(ctx, m.dir, fs.StableAttr{Mode: syscall.S_IFDIR})
}

func (r *rootNode) Getattr(ctx context.Context, f fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	r.fsys.dirAttr(&out.Attr, 0o755, uint32(2+len(r.fsys.names())), r.fsys.mountTime)
	return 0
}

func (r *rootNode) Setattr(ctx context.Context, f fs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	return setattr(ctx, in, out, func(ctx context.Context, out *fuse.AttrOut) syscall.Errno { return r.Getattr(ctx, nil, out) })
}

func (r *rootNode) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	if len(name) > maxName {
		return nil, syscall.ENAMETOOLONG
	}
	if m := r.fsys.feed(name); m != nil {
		if ch := r.GetChild(name); ch != nil {
			return ch, m.dir.entry(ctx, out)
		}
	}
	key, ok := parseKey(name)
	if !ok {
		return nil, syscall.ENOENT
	}
	m, err := r.fsys.follow(ctx, key)
	if err != nil {
		return nil, fail(r.fsys.log, "follow", err, "key", name)
	}
	ch := r.attach(ctx, m)
	r.AddChild(m.name, ch, false)
	r.fsys.watchAdded(m)
	return ch, m.dir.entry(ctx, out)
}

// follow asks the home to follow the feed with key (a lookup of its
// 64-hex name) and mounts it. The peer layer fills the Home's Follow; until
// then it is ErrNoFeed.
func (fsys *FS) follow(ctx context.Context, key [32]byte) (*mfeed, error) {
	if fsys.opts.Home == nil || fsys.byKey(key) != nil {
		// A feed mounted under its name is not also reachable by key.
		return nil, ErrNoFeed
	}
	f, err := fsys.opts.Home.Follow(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("follow %x: %w", key[:8], err)
	}
	m, ok := fsys.add(Entry{Name: hex.EncodeToString(key[:]), Feed: f})
	if !ok {
		return nil, fmt.Errorf("follow %x: %w", key[:8], ErrNoFeed)
	}
	return m, nil
}

func parseKey(s string) (k [32]byte, ok bool) {
	if len(s) != 64 {
		return k, false
	}
	_, err := hex.Decode(k[:], []byte(s))
	return k, err == nil
}

// Mkdir creates a writable feed named name (what `hyperfs create NAME`
// does) and mounts it.
func (r *rootNode) Mkdir(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	if len(name) > maxName {
		return nil, syscall.ENAMETOOLONG
	}
	if r.fsys.feed(name) != nil {
		return nil, syscall.EEXIST
	}
	if r.fsys.opts.Home == nil {
		return nil, syscall.EPERM
	}
	f, err := r.fsys.opts.Home.Create(ctx, name)
	if err != nil {
		return nil, fail(r.fsys.log, "mkdir", err, "name", name)
	}
	m, ok := r.fsys.add(Entry{Name: name, Feed: f})
	if !ok {
		return nil, syscall.EEXIST
	}
	ch := r.attach(ctx, m)
	r.AddChild(m.name, ch, false)
	r.fsys.watchAdded(m)
	return ch, m.dir.entry(ctx, out)
}

func (r *rootNode) Readdir(ctx context.Context) (fs.DirStream, syscall.Errno) {
	names := r.fsys.names()
	entries := make([]fuse.DirEntry, len(names))
	for i, n := range names {
		entries[i] = fuse.DirEntry{Name: n, Mode: syscall.S_IFDIR}
	}
	return fs.NewListDirStream(entries), 0
}

// Statfs reports the figures of the file system holding the home.
func (r *rootNode) Statfs(ctx context.Context, out *fuse.StatfsOut) syscall.Errno {
	if r.fsys.opts.StatfsDir == "" {
		return 0
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(r.fsys.opts.StatfsDir, &st); err != nil {
		var en syscall.Errno
		if errors.As(err, &en) {
			return en
		}
		return syscall.EIO
	}
	out.FromStatfsT(&st)
	return 0
}
