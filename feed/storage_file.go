package feed

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// DirStorage stores a feed in a directory of the OS file system, in the
// layout JavaScript hypercore 9 uses, so either can open it.
type DirStorage struct {
	Dir string
}

// Open implements Storage.
func (d DirStorage) Open(name string) (File, error) {
	return &osFile{path: filepath.Join(d.Dir, name), dir: d.Dir, mode: fileMode(name)}, nil
}

// secret_key is readable by its owner only; everything else is public.
func fileMode(name string) fs.FileMode {
	if name == fileSecretKey {
		return 0o600
	}
	return 0o644
}

// Lock implements Storage with flock(LOCK_EX|LOCK_NB) on the bitfield file,
// the lock JavaScript's random-access-file takes.
func (d DirStorage) Lock() (io.Closer, error) {
	if err := os.MkdirAll(d.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("create feed directory: %w", err)
	}
	path := filepath.Join(d.Dir, fileBitfield)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	readOnly := false
	if cannotWrite(err) {
		// flock works on a descriptor open for reading, so a feed on a
		// read-only disk is still locked against writers elsewhere.
		if f, err = os.Open(path); err == nil {
			readOnly = true
		}
	}
	if err != nil {
		return nil, fmt.Errorf("open bitfield for locking: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s", ErrLocked, d.Dir)
		}
		return nil, fmt.Errorf("lock %s: %w", d.Dir, err)
	}
	return &dirLock{File: f, readOnly: readOnly}, nil
}

// dirLock is the locked bitfield descriptor, closed to unlock.
type dirLock struct {
	*os.File
	readOnly bool
}

// ReadOnly implements ReadOnlyLock.
func (l *dirLock) ReadOnly() bool { return l.readOnly }

// cannotWrite reports an open for writing refused by a read-only file
// system or by permissions, where opening for reading may still work.
func cannotWrite(err error) bool {
	return errors.Is(err, unix.EROFS) || errors.Is(err, fs.ErrPermission)
}

// osFile opens its file on first use and creates it on first write.
type osFile struct {
	path, dir string
	mode      fs.FileMode

	// f is set once the file is open; reads then take no lock.
	f atomic.Pointer[os.File]
	// mu serialises opening and creating the file.
	mu sync.Mutex
	// created records a new directory entry that Sync must make durable.
	created bool
	// readOnly is set when the file could only be opened for reading.
	readOnly atomic.Bool
}

func (o *osFile) file(create bool) (*os.File, error) {
	if f := o.f.Load(); f != nil {
		return f, nil
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if f := o.f.Load(); f != nil {
		return f, nil
	}
	f, err := os.OpenFile(o.path, os.O_RDWR, 0)
	if cannotWrite(err) && !create {
		// A read-only feed (see ReadOnlyLock): its reads work, and
		// its writes fail with ErrReadOnly.
		if f, err = os.Open(o.path); err == nil {
			o.readOnly.Store(true)
		}
	}
	if errors.Is(err, fs.ErrNotExist) {
		if !create {
			return nil, nil
		}
		f, err = os.OpenFile(o.path, os.O_RDWR|os.O_CREATE, o.mode)
		o.created = true
	}
	if err != nil {
		return nil, err
	}
	o.f.Store(f)
	return f, nil
}

func (o *osFile) ReadAt(p []byte, off int64) (int, error) {
	f, err := o.file(false)
	if err != nil || f == nil {
		return 0, orEOF(err)
	}
	return f.ReadAt(p, off)
}

func orEOF(err error) error {
	if err == nil {
		return io.EOF
	}
	return err
}

func (o *osFile) WriteAt(p []byte, off int64) (int, error) {
	f, err := o.file(true)
	if err == nil && o.readOnly.Load() {
		err = fmt.Errorf("write %s: %w", o.path, ErrReadOnly)
	}
	if err != nil {
		return 0, err
	}
	return f.WriteAt(p, off)
}

func (o *osFile) Truncate(size int64) error {
	f, err := o.file(size > 0)
	if err == nil && f != nil && o.readOnly.Load() {
		err = fmt.Errorf("truncate %s: %w", o.path, ErrReadOnly)
	}
	if err != nil || f == nil {
		return err
	}
	return f.Truncate(size)
}

func (o *osFile) Size() (int64, error) {
	f, err := o.file(false)
	if err != nil || f == nil {
		return 0, err
	}
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	return st.Size(), nil
}

// ModTime implements ModTimer with fstat; zero before the file exists.
func (o *osFile) ModTime() (time.Time, error) {
	f, err := o.file(false)
	if err != nil || f == nil {
		return time.Time{}, err
	}
	st, err := f.Stat()
	if err != nil {
		return time.Time{}, err
	}
	return st.ModTime(), nil
}

func (o *osFile) Sync() error {
	f := o.f.Load()
	if f == nil {
		return nil
	}
	if err := f.Sync(); err != nil {
		return err
	}
	o.mu.Lock()
	created := o.created
	o.created = false
	o.mu.Unlock()
	if created {
		return syncDir(o.dir)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

func (o *osFile) Close() error {
	if f := o.f.Swap(nil); f != nil {
		return f.Close()
	}
	return nil
}
