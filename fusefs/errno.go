package fusefs

import (
	"context"
	"errors"
	"log/slog"
	"syscall"

	"github.com/hyperfs/hyperfs/feed"
	"github.com/hyperfs/hyperfs/index"
)

// Sentinel errors of the mount. Home implementations return ErrNoFeed.
var (
	// ErrNoFeed: no feed by that name or key (a lookup of an unknown name,
	// or a Follow the home cannot do yet).
	ErrNoFeed = errors.New("fusefs: no such feed")
	// errNotAtEnd: a WRITE whose offset is not the feed's byte length.
	errNotAtEnd = errors.New("fusefs: write not at the end of the feed")
	// errWouldBlock: a read of a missing block on an O_NONBLOCK handle.
	errWouldBlock = errors.New("fusefs: block not local and the handle is non-blocking")
	// errReadOnly: a write to a handle that was not opened for appending.
	errReadOnly = errors.New("fusefs: handle not open for appending")
)

// errnoOf maps an error from feed, index or the home to the errno the
// kernel gets. It is the only place that does (see the table in doc.go).
func errnoOf(err error) syscall.Errno {
	var en syscall.Errno
	switch {
	case err == nil:
		return 0
	case errors.Is(err, feed.ErrNotWritable), errors.Is(err, errNotAtEnd), errors.Is(err, errReadOnly):
		return syscall.EPERM
	case errors.Is(err, feed.ErrOutOfRange), errors.Is(err, ErrNoFeed), errors.Is(err, index.ErrNotFound):
		return syscall.ENOENT
	case errors.Is(err, context.Canceled):
		return syscall.EINTR
	case errors.Is(err, context.DeadlineExceeded):
		return syscall.ETIMEDOUT
	case errors.Is(err, errWouldBlock):
		return syscall.EAGAIN
	case errors.Is(err, feed.ErrNotAvailable):
		return syscall.ENODATA
	case errors.Is(err, feed.ErrBlockTooLarge):
		return syscall.EFBIG
	case errors.Is(err, feed.ErrReadOnly):
		return syscall.EROFS
	case errors.Is(err, index.ErrNameTaken):
		return syscall.EEXIST
	case errors.Is(err, index.ErrBadName):
		return syscall.EINVAL
	case errors.As(err, &en):
		return en
	default:
		// ErrCorrupt, ErrClosed, storage errors: the engine has
		// logged corruption already; the rest is logged by fail.
		return syscall.EIO
	}
}

// quiet reports whether an error is an expected answer that needs no log
// line: the caller gave up, a name does not exist, a policy refusal, or
// corruption the engine logged itself.
func quiet(err error) bool {
	for _, s := range []error{
		context.Canceled, context.DeadlineExceeded, errWouldBlock, errNotAtEnd, errReadOnly,
		feed.ErrNotWritable, feed.ErrOutOfRange, feed.ErrBlockTooLarge, feed.ErrCorrupt,
		ErrNoFeed, index.ErrNotFound, index.ErrNameTaken, index.ErrBadName,
	} {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

// fail turns err into an errno, logging it once unless it is expected.
// args name the feed and the block or offset concerned.
func fail(log *slog.Logger, op string, err error, args ...any) syscall.Errno {
	if !quiet(err) {
		log.Error("fusefs: "+op+" failed", append(args, "err", err)...)
	}
	return errnoOf(err)
}
