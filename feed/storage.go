package feed

import (
	"errors"
	"io"
	"time"
)

// File is one file of a feed directory. Implementations are safe for
// concurrent use; ReadAt and WriteAt follow io.ReaderAt and io.WriterAt.
// A file that was never written does not exist: Size reports 0 and ReadAt
// io.EOF, and the first WriteAt creates it (even a WriteAt of no bytes),
// as JavaScript's storage does.
type File interface {
	io.ReaderAt
	io.WriterAt
	Truncate(size int64) error
	Size() (int64, error)
	Sync() error
	Close() error
}

// ModTimer is implemented by Files that know when they were last written.
// For OS files it is the kernel's mtime, so what a reader is told survives
// a restart and agrees with ls -l on the feed directory.
type ModTimer interface {
	ModTime() (time.Time, error)
}

// VectorWriter is implemented by Files that write several buffers back to
// back in one call (pwritev), sparing Append a copy of every batch.
type VectorWriter interface {
	WriteVAt(bufs [][]byte, off int64) error
}

// writeBlocks writes bufs back to back from off, creating the file even
// when there is nothing to write.
func writeBlocks(f File, bufs [][]byte, off int64) error {
	if vw, ok := f.(VectorWriter); ok {
		return vw.WriteVAt(bufs, off)
	}
	var total int
	for _, b := range bufs {
		total += len(b)
	}
	joined := make([]byte, 0, total)
	for _, b := range bufs {
		joined = append(joined, b...)
	}
	_, err := f.WriteAt(joined, off)
	return err
}

// ReadOnlyLock is implemented by a Storage's lock when the directory could
// only be opened for reading (a read-only file system, or files the user
// may not write). The feed then opens read-only: it reads and verifies as
// usual and writes nothing, not even the repairs an open would make.
type ReadOnlyLock interface {
	ReadOnly() bool
}

// Storage is a feed directory: named files plus the exclusive lock that
// keeps a second process (Go or JavaScript) from opening the same feed.
type Storage interface {
	// Open returns the named file (key, secret_key, data, tree,
	// signatures, bitfield), creating nothing until it is written.
	Open(name string) (File, error)
	// Lock takes the feed's exclusive lock; ErrLocked when it is held.
	// Closing the returned Closer releases it.
	Lock() (io.Closer, error)
}

// File names inside a feed directory (spec 3.1).
const (
	fileKey        = "key"
	fileSecretKey  = "secret_key"
	fileData       = "data"
	fileTree       = "tree"
	fileSignatures = "signatures"
	fileBitfield   = "bitfield"
)

// readFull reads len(p) bytes at off, treating a short read as absent data.
func readFull(f File, p []byte, off int64) (int, error) {
	n, err := f.ReadAt(p, off)
	if n == len(p) {
		return n, nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		return n, io.ErrUnexpectedEOF
	}
	return n, err
}
