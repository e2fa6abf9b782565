package feed

import (
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// maxIovecs is Linux's IOV_MAX: pwritev takes at most this many buffers.
const maxIovecs = 1024

// WriteVAt implements VectorWriter with pwritev, so a batch of blocks
// reaches the page cache without first being copied into one buffer.
func (o *osFile) WriteVAt(bufs [][]byte, off int64) error {
	f, err := o.file(true)
	if err == nil && o.readOnly.Load() {
		err = fmt.Errorf("write %s: %w", o.path, ErrReadOnly)
	}
	if err != nil {
		return err
	}
	// A private list without empty buffers: a partial write trims its
	// head in place, and a call never carries nothing to write.
	rest := make([][]byte, 0, len(bufs))
	for _, b := range bufs {
		if len(b) > 0 {
			rest = append(rest, b)
		}
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	for len(rest) > 0 {
		chunk := rest[:min(len(rest), maxIovecs)]
		var n int
		var werr error
		if err := rc.Write(func(fd uintptr) bool {
			n, werr = unix.Pwritev(int(fd), chunk, off)
			return werr != unix.EAGAIN
		}); err != nil {
			return err
		}
		switch {
		case werr == unix.EINTR:
			continue
		case werr != nil:
			return &os.PathError{Op: "pwritev", Path: f.Name(), Err: werr}
		case n == 0:
			return &os.PathError{Op: "pwritev", Path: f.Name(), Err: io.ErrShortWrite}
		}
		off += int64(n)
		for n > 0 {
			if n < len(rest[0]) {
				rest[0] = rest[0][n:]
				break
			}
			n -= len(rest[0])
			rest = rest[1:]
		}
	}
	return nil
}
