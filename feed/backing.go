package feed

import (
	"context"
	"errors"
	"fmt"
	"math/bits"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// What a layer that reads the data file behind the engine's back needs
// (the mount's FUSE passthrough, which lets the kernel read the file
// itself): the file, and whether the file holds exactly the verified feed.
// The engine promises that bytes failing their hash are never returned as
// data; such a reader keeps that promise only while every block it can
// reach is stored and was hashed since open and the file ends at the byte
// length, which on disk holds only while no write waits in memory.
// LocalState tells the first, DataFile hands the file over, ShareData
// keeps writes from waiting. None knows anything of FUSE.

// LocalState is a snapshot of how much of a feed is stored and verified.
type LocalState struct {
	// Length and ByteLength are the verified feed's.
	Length, ByteLength uint64
	// Stored counts the blocks of [0, Length) stored locally.
	Stored uint64
	// Verified counts the blocks of [0, Length) whose bytes were hashed
	// against their leaf since the feed was opened, or written by this
	// Feed (Append).
	Verified uint64
	// DataSize is the size of the data file (0 before it exists).
	DataSize int64
}

// Complete reports whether the data file is byte for byte the verified
// feed: every block stored and verified since open, and no byte past the
// byte length (an interrupted write's leftovers, or a download past a
// hole). Only then may the file be read without the engine.
func (s LocalState) Complete() bool {
	return s.Stored == s.Length && s.Verified == s.Length && s.DataSize == int64(s.ByteLength)
}

// LocalState reports what is stored and verified now. The counts are
// taken under one read lock and the file is sized after it, so a write
// racing with the call (an append that has written its bytes but not yet
// published its blocks, a Clear cutting the file) makes the snapshot not
// Complete rather than wrongly complete.
func (f *Feed) LocalState() (LocalState, error) {
	f.mu.RLock()
	if f.mu.closed {
		f.mu.RUnlock()
		return LocalState{}, ErrClosed
	}
	s := LocalState{Length: f.mu.length, ByteLength: f.mu.byteLength}
	s.Stored = f.mu.bits.CountBlocks(0, s.Length)
	s.Verified = countBits(f.mu.verified, s.Length)
	f.mu.RUnlock()
	size, err := f.data.Size()
	if err != nil {
		return LocalState{}, fmt.Errorf("local state of feed %x: stat data: %w", f.key[:8], err)
	}
	s.DataSize = size
	return s, nil
}

// countBits counts the set bits of words below bit n.
func countBits(words []uint64, n uint64) uint64 {
	var c uint64
	full := min(n/64, uint64(len(words)))
	for _, w := range words[:full] {
		c += uint64(bits.OnesCount64(w))
	}
	if rest := n % 64; rest != 0 && full < uint64(len(words)) {
		c += uint64(bits.OnesCount64(words[full] & (1<<rest - 1)))
	}
	return c
}

// dataFiler is implemented by Files kept in the OS file system, which can
// hand out a descriptor of their own.
type dataFiler interface {
	dupFile() (*os.File, error)
}

// DataFile returns a new read-only-use descriptor of the feed's data file,
// which the caller closes. ErrNotAvailable when the storage keeps no OS
// file (MemStorage) or the data file does not exist yet. What the file
// holds is only the feed while LocalState is Complete and the file is
// shared (ShareData); the caller must check both, and mind that later
// writes (appends, downloads, Clear) show in the file at once.
func (f *Feed) DataFile() (*os.File, error) {
	file := f.data
	if w, ok := file.(*writeBehind); ok {
		file = w.File
	}
	df, ok := file.(dataFiler)
	if !ok {
		return nil, fmt.Errorf("data file of feed %x: %w: storage keeps no OS file", f.key[:8], ErrNotAvailable)
	}
	dup, err := df.dupFile()
	if err != nil {
		return nil, fmt.Errorf("data file of feed %x: %w", f.key[:8], err)
	}
	return dup, nil
}

// ShareData makes every write to the data file reach it before the call
// that made it returns, until release is called: first what waits in
// memory, then each later append or download. Readers of the file itself
// (DataFile, a passthrough backing file) need that; without a share the
// bytes of small appends may wait in memory for the next Sync, or for a
// read of them through the feed. Shares nest.
func (f *Feed) ShareData() (release func(), err error) {
	w, ok := f.data.(*writeBehind)
	if !ok { // read-only: nothing is ever held
		return func() {}, nil
	}
	if err := w.share(); err != nil {
		return nil, fmt.Errorf("share data file of feed %x: %w", f.key[:8], err)
	}
	var once sync.Once
	return func() { once.Do(w.unshare) }, nil
}

// dupFile implements dataFiler with a close-on-exec duplicate of the open
// descriptor: the same open file, whatever happened to the path.
func (o *osFile) dupFile() (*os.File, error) {
	f, err := o.file(false)
	if err != nil {
		return nil, err
	}
	if f == nil {
		return nil, fmt.Errorf("%w: %s does not exist yet", ErrNotAvailable, o.path)
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return nil, err
	}
	nfd := -1
	var derr error
	if err := rc.Control(func(fd uintptr) {
		nfd, derr = unix.FcntlInt(fd, unix.F_DUPFD_CLOEXEC, 0)
	}); err != nil {
		return nil, err
	}
	if derr != nil {
		return nil, fmt.Errorf("dup %s: %w", o.path, derr)
	}
	return os.NewFile(uintptr(nfd), o.path), nil
}

// HashStored hashes every stored block not verified since open, so that
// later reads (and LocalState) find the whole feed verified without a
// reader having read it first. It reads as Get does, so sequential windows
// are hashed on two cores, and it stops when ctx ends. It returns the
// stored blocks whose bytes fail their hash: they stay stored and
// unverified, and reads of them fail (Audit is what forgets them). Blocks
// appended or downloaded meanwhile are left to their readers.
func (f *Feed) HashStored(ctx context.Context) (bad []uint64, err error) {
	length := f.Length()
	for i := uint64(0); i < length; i++ {
		if err := ctx.Err(); err != nil {
			return bad, err
		}
		f.mu.RLock()
		todo := f.mu.bits.HasBlock(i) && !f.isVerifiedLocked(i)
		f.mu.RUnlock()
		if !todo {
			continue
		}
		_, err := f.GetLocal(i)
		switch {
		case err == nil:
		case errors.Is(err, ErrCorrupt):
			bad = append(bad, i)
		case errors.Is(err, ErrNotAvailable):
			// Cleared meanwhile: nothing to hash.
		default:
			return bad, fmt.Errorf("hash stored blocks of feed %x: %w", f.key[:8], err)
		}
	}
	return bad, nil
}
