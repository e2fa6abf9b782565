package fusefs

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/hyperfs/hyperfs/tree"
)

// Info is the content of <feed>/info. The JSON keys are an interface.
type Info struct {
	Name         string `json:"name"`
	Key          string `json:"key"`
	DiscoveryKey string `json:"discovery_key"`
	Length       uint64 `json:"length"`
	ByteLength   uint64 `json:"byte_length"`
	Downloaded   uint64 `json:"downloaded"`
	Writable     bool   `json:"writable"`
	Peers        int    `json:"peers"`
	// SignedLength is the length the newest stored signature covers, and
	// RootHash the tree hash of that length's roots (what it signs).
	SignedLength uint64    `json:"signed_length"`
	RootHash     string    `json:"root_hash,omitempty"`
	LastAppend   time.Time `json:"last_append"`
	// Passthrough says whether a read-only open of data now passes
	// through to the data file: active, ready, or why not (off,
	// unavailable, replica, incomplete, unverified, busy).
	Passthrough string `json:"passthrough"`
	// DataReads counts the READs of data this mount served; reads that
	// pass through never reach it.
	DataReads uint64 `json:"data_reads"`
}

// info describes the feed now.
func (m *mfeed) info() Info {
	dk := m.f.DiscoveryKey()
	length := m.f.Length()
	in := Info{
		Name:         m.name,
		Key:          hex.EncodeToString(m.f.Key()),
		DiscoveryKey: hex.EncodeToString(dk[:]),
		Length:       length,
		ByteLength:   m.f.ByteLength(),
		Downloaded:   m.f.Downloaded(0, length),
		Writable:     m.f.Writable(),
		LastAppend:   m.mtime().UTC(),
		Passthrough:  m.ptStatus(),
		DataReads:    m.reads.Load(),
	}
	if length > 0 {
		if _, slot, err := m.f.Signature(length - 1); err == nil {
			in.SignedLength = slot + 1
			if roots, err := m.f.RootHashes(slot); err == nil {
				h := tree.TreeHash(roots)
				in.RootHash = hex.EncodeToString(h[:])
			}
		}
	}
	return in
}

// infoJSON is the info file's bytes.
func (m *mfeed) infoJSON() []byte {
	b, err := json.MarshalIndent(m.info(), "", "  ")
	if err != nil {
		return nil // cannot happen: the struct has only plain fields
	}
	return append(b, '\n')
}

// infoNode is <feed>/info: JSON regenerated at each open and stat. It is
// served with direct I/O, so no stale size or page survives a change.
type infoNode struct {
	fs.Inode
	noXattrs
	noXattrChanges
	noAllocate
	m *mfeed
}

// infoHandle holds the snapshot one open reads, so that reads in pieces
// see one consistent document.
type infoHandle struct{ b []byte }

func (n *infoNode) Getattr(ctx context.Context, f fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	size := len(n.m.infoJSON())
	if h, ok := f.(*infoHandle); ok {
		size = len(h.b)
	}
	n.m.fsys.fileAttr(&out.Attr, 0o444, uint64(size), n.m.mtime())
	return 0
}

func (n *infoNode) Setattr(ctx context.Context, f fs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	return setattr(ctx, in, out, func(ctx context.Context, out *fuse.AttrOut) syscall.Errno { return n.Getattr(ctx, nil, out) })
}

func (n *infoNode) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	if errno := readOnlyOpen(flags); errno != 0 {
		return nil, 0, errno
	}
	return &infoHandle{b: n.m.infoJSON()}, fuse.FOPEN_DIRECT_IO, 0
}

func (n *infoNode) Read(ctx context.Context, f fs.FileHandle, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	b := n.m.infoJSON()
	if h, ok := f.(*infoHandle); ok {
		b = h.b
	}
	if off >= int64(len(b)) {
		return fuse.ReadResultData(nil), 0
	}
	k := copy(dest, b[off:])
	return fuse.ReadResultData(dest[:k]), 0
}

func (n *infoNode) Write(ctx context.Context, f fs.FileHandle, data []byte, off int64) (uint32, syscall.Errno) {
	return 0, syscall.EPERM
}

func (n *infoNode) Fsync(ctx context.Context, f fs.FileHandle, flags uint32) syscall.Errno { return 0 }

// xattrPrefix starts every extended attribute hyperfs shows.
const xattrPrefix = "user.hyperfs."

// xattrNames lists the attributes on a feed directory and its data file.
var xattrNames = []string{"key", "discovery_key", "length", "byte_length", "downloaded", "writable", "signed_length", "root_hash"}

// xattr returns the value of one attribute.
func (m *mfeed) xattr(attr string) (string, bool) {
	name, ok := strings.CutPrefix(attr, xattrPrefix)
	if !ok {
		return "", false
	}
	in := m.info()
	switch name {
	case "key":
		return in.Key, true
	case "discovery_key":
		return in.DiscoveryKey, true
	case "length":
		return strconv.FormatUint(in.Length, 10), true
	case "byte_length":
		return strconv.FormatUint(in.ByteLength, 10), true
	case "downloaded":
		return strconv.FormatUint(in.Downloaded, 10), true
	case "writable":
		return strconv.FormatBool(in.Writable), true
	case "signed_length":
		return strconv.FormatUint(in.SignedLength, 10), true
	case "root_hash":
		return in.RootHash, true
	}
	return "", false
}

// getxattr answers GETXATTR: the size when dest is empty, ERANGE when it
// is too small.
func getxattr(m *mfeed, attr string, dest []byte) (uint32, syscall.Errno) {
	v, ok := m.xattr(attr)
	if !ok {
		return 0, syscall.ENODATA
	}
	return copyAttr(dest, []byte(v))
}

// listxattr answers LISTXATTR with the NUL-terminated names.
func listxattr(m *mfeed, dest []byte) (uint32, syscall.Errno) {
	var b []byte
	for _, n := range xattrNames {
		b = append(append(b, xattrPrefix+n...), 0)
	}
	return copyAttr(dest, b)
}

func copyAttr(dest, v []byte) (uint32, syscall.Errno) {
	switch {
	case len(dest) == 0:
		return uint32(len(v)), 0
	case len(dest) < len(v):
		return uint32(len(v)), syscall.ERANGE
	}
	return uint32(copy(dest, v)), 0
}
