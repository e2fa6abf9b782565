package fusefs

import (
	"errors"
	"fmt"
	"log"
	"os"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// MaxWrite is the largest WRITE the kernel sends (go-fuse's cap): with
// direct I/O on append handles, one write(2) of up to MaxWrite bytes is
// one block; a larger one arrives as several WRITEs, so several blocks.
const MaxWrite = 1 << 20

// ErrStale: the mountpoint is a dead FUSE mount (ENOTCONN) that could not
// be cleaned up; the message says what to run.
var ErrStale = errors.New("fusefs: stale mount")

// Mount is a mounted FS.
type Mount struct {
	fsys   *FS
	server *fuse.Server
	dir    string
	done   chan struct{} // closed when the server stops serving
}

// mountOptions are the go-fuse options of every hyperfs mount.
func (fsys *FS) mountOptions() *fs.Options {
	zero, entry := time.Duration(0), dirEntryTimeout
	o := &fs.Options{
		// Attributes are never cached unless a node says so (blocks):
		// data's size and mtime must be live for tail -f.
		AttrTimeout:  &zero,
		EntryTimeout: &entry,
		// NegativeTimeout nil: a failed lookup is not cached, so
		// blocks/N appears as soon as block N exists.
		UID: fsys.opts.UID,
		GID: fsys.opts.GID,
		MountOptions: fuse.MountOptions{
			FsName:      "hyperfs",
			Name:        "hyperfs",
			MaxWrite:    MaxWrite,
			AllowOther:  fsys.opts.AllowOther,
			DirectMount: os.Geteuid() == 0,
			Options:     platformOptions(),
			Debug:       fsys.opts.Debug,
		},
	}
	if fsys.opts.Debug {
		o.Logger = log.Default()
	}
	return o
}

// Mount mounts fsys on dir and starts its goroutines. It returns once the
// kernel answers requests. A stale hyperfs mount on dir is cleaned up
// first (see CheckMountpoint).
func (fsys *FS) Mount(dir string) (*Mount, error) {
	if err := CheckMountpoint(dir); err != nil {
		return nil, err
	}
	server, err := fs.Mount(dir, fsys.root, fsys.mountOptions())
	if err != nil {
		return nil, fmt.Errorf("mount %s: %w", dir, err)
	}
	m := &Mount{fsys: fsys, server: server, dir: dir, done: make(chan struct{})}
	if !fsys.opts.NoPassthrough {
		fsys.pt.mu.Lock()
		fsys.pt.reg = backingRegistryOf(server)
		fsys.pt.mu.Unlock()
	}
	if err := raiseReadahead(dir); err != nil {
		fsys.log.Warn("fusefs: readahead stays at the kernel default", "err", err)
	}
	fsys.start()
	go func() { // owned by m: ends when the server stops serving
		server.Wait()
		close(m.done)
	}()
	return m, nil
}

// Done is closed when the mount stops serving: after Unmount, or when it
// was unmounted from outside (hyperfs unmount, umount).
func (m *Mount) Done() <-chan struct{} { return m.done }

// Unmount unmounts the file system and waits until serving has stopped.
// If files are still open (EBUSY) it detaches the mount lazily, so it
// disappears from the namespace now and the kernel drops it when the
// last file closes; it then waits up to grace for that.
func (m *Mount) Unmount(grace time.Duration) error {
	err := m.server.Unmount()
	if err != nil {
		if lerr := Unmount(m.dir, true); lerr != nil {
			return fmt.Errorf("unmount %s: %w (lazy: %v)", m.dir, err, lerr)
		}
	}
	select {
	case <-m.done:
		return nil
	case <-time.After(grace):
		return fmt.Errorf("unmount %s: still in use after a lazy unmount", m.dir)
	}
}

// Close stops the mount's goroutines and syncs its feeds; call it after
// Done is closed. The feeds stay open for their owner to close.
func (m *Mount) Close() error { return m.fsys.Close() }

// CheckMountpoint makes sure dir can be mounted on: a directory, or a
// dead FUSE mount (ENOTCONN, left by a killed hyperfs), which it unmounts
// lazily. If that fails the error wraps ErrStale and says what to run.
func CheckMountpoint(dir string) error {
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, syscall.ENOTCONN):
		if uerr := Unmount(dir, true); uerr != nil {
			return fmt.Errorf("%w at %s (%v): run `%s` and try again", ErrStale, dir, uerr, unmountCommand(dir))
		}
		if _, err := os.Stat(dir); err != nil {
			return fmt.Errorf("%w at %s: still unusable after a lazy unmount (%v): run `%s`", ErrStale, dir, err, unmountCommand(dir))
		}
		return nil
	case err != nil:
		return fmt.Errorf("mountpoint: %w", err)
	case !st.IsDir():
		return fmt.Errorf("mountpoint %s is not a directory", dir)
	}
	return nil
}

// ReaderProcs is how many more Ps (GOMAXPROCS) a process that had procs
// when it mounted should add for go-fuse's reader threads. They read
// /dev/fuse with a plain blocking syscall, so each parked reader holds a
// P; when they hold them all, the runtime's sysmon takes the Ps back
// every 20 us and wakes threads that find nothing to run: about a tenth
// of the daemon's CPU at 30 000 one-block appends a second (bench/
// RESULTS.md, session 7). On Linux go-fuse parks at most its maxReaders
// + 1 readers, maxReaders being GOMAXPROCS at mount time within [2, 16]
// (elsewhere one: the extra Ps then stay idle, which costs nothing).
// The engine sizes its helpers from GOMAXPROCS at start, so the extra
// Ps never become extra hashing goroutines.
func ReaderProcs(procs int) int {
	return min(max(procs, 2), 16) + 1
}
