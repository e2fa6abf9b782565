package feed

import "errors"

// Sentinel errors. Callers test them with errors.Is; returned errors wrap
// them with the feed and block they concern.
var (
	// ErrNotWritable: the feed has no secret key, so it cannot append.
	ErrNotWritable = errors.New("feed: not writable")
	// ErrReadOnly: the feed's directory could only be opened for reading
	// (a read-only file system), so nothing can be appended, downloaded
	// or cleared.
	ErrReadOnly = errors.New("feed: read-only storage")
	// ErrCorrupt: stored bytes fail their hash, or a file is malformed.
	ErrCorrupt = errors.New("feed: corrupt storage")
	// ErrLocked: another process (or Feed) has the feed open.
	ErrLocked = errors.New("feed: locked by another process")
	// ErrWrongKey: the directory holds another feed ("Another hypercore is
	// stored here").
	ErrWrongKey = errors.New("feed: another hypercore is stored here")
	// ErrClosed: the feed was closed.
	ErrClosed = errors.New("feed: closed")
	// ErrOutOfRange: a block index or byte offset past the feed's length.
	ErrOutOfRange = errors.New("feed: out of range")
	// ErrNotAvailable: the block is part of the feed but not stored here,
	// and nothing can fetch it.
	ErrNotAvailable = errors.New("feed: block not available locally")
	// ErrBlockTooLarge: hypercore 9 rejects blocks over 8 MiB.
	ErrBlockTooLarge = errors.New("feed: block larger than 8 MiB")
	// ErrNoFeed: the directory holds no feed (no key file).
	ErrNoFeed = errors.New("feed: no feed stored here")
)
