// Package fusefs serves hypercore 9 feeds (package feed) as files through
// FUSE (github.com/hanwen/go-fuse/v2, fs package), so that ls, cat, tail
// -f, dd, cp and a shell's >> work on them. It only translates between
// kernel requests and the engine: no protocol logic lives here, and the
// engine knows nothing of FUSE. It imports feed, tree and index only.
//
// # Node tree
//
//	MOUNTPOINT/                rootNode: one directory per feed; mkdir NAME creates
//	                           a writable feed through Home.Create
//	  <feed>/                  feedDir: the feed's name, or its key in 64 hex digits
//	    data                   dataNode: every block concatenated; size = byte length;
//	                           append-only; mode 0644, or 0444 on a replica
//	    blocks/                blocksDir: made on lookup, listed lazily
//	      <i>                  blockNode: block i alone, 0444; names are canonical
//	                           decimal below the length ("01", "-1", "1e3" are ENOENT)
//	    info                   infoNode: JSON (Info): key, discovery_key, length,
//	                           byte_length, downloaded, writable, peers,
//	                           signed_length, root_hash, last_append
//
// The feed directories and their data, blocks and info are persistent
// inodes, made when the feed is attached; block files are made per lookup.
// A lookup of a 64-hex name that is no mounted feed asks Home.Follow:
// hyperfs mount makes it a sparse replica that its peers fill (ErrNoFeed,
// or no Home, gives ENOENT). The feed directory and data carry read-only extended attributes
// user.hyperfs.{key, discovery_key, length, byte_length, downloaded,
// writable, signed_length, root_hash}. statfs answers with the figures of
// the file system holding the home (Options.StatfsDir). st_nlink is 1 for
// files, 2 + feeds for the root, 3 for a feed directory, 2 for blocks/.
// data's mtime is the data file's mtime in the home: the last append or
// download, by this mount or anyone else.
//
// # Reads
//
// A READ of data at (off, size) places off in a block once and copies
// block after block until size or the byte length: exactly the
// concatenation, across block boundaries (empty blocks are walked past),
// and a short read only at EOF. A block that cannot be read fails the
// whole READ, never a short one: the kernel takes a short READ for EOF and
// would shrink its idea of the size. A block that is not local is asked of
// the engine (feed.Get, which asks the Fetcher that the peer layer
// installs with feed.SetFetcher) and waited for with the request's context
// (a FUSE INTERRUPT, i.e. Ctrl-C, cancels it: EINTR) bounded by
// Options.FetchTimeout (ETIMEDOUT); a handle opened O_NONBLOCK gets EAGAIN
// at once instead.
//
// Each handle has a cursor (read.go): the last block it read and where it
// starts. Reads smaller than a block fetch it once, and a READ that starts
// in that block or right after it is placed without feed.Seek, which on a
// sparse replica may have to fetch blocks (feed.SeekFetch) to find an
// offset; byte 0 is placed without a seek too. Only other READs seek.
//
// Passthrough (passthrough.go, Linux 6.9+ as root): a read-only open of a
// writable feed's data whose data file is exactly the verified feed (every
// block stored and hashed since the feed was opened, nothing past the
// byte length) gets the data file as backing file, and the kernel reads
// it without asking the daemon. The first full read after mounting hashes
// the blocks (or Options.VerifyOnMount does it in the background); later
// opens pass through. Replicas never do (a download past a hole would
// read as zeros). The kernel allows no mix of passthrough and page-cached
// opens of one inode, so passthrough starts only when no other handle of
// data is open, and while it is active every open of data gets the
// backing: appends and reads that no longer qualify with direct I/O,
// which still sends them to the daemon. info's "passthrough" says what the
// next open gets, "data_reads" how many READs the daemon served. Without
// root or on an older kernel the first attempt logs one line and data is
// served as before; Options.NoPassthrough turns it off.
//
// Readahead (readahead.go): a data handle whose READs run in order asks
// the engine, at the start of each READ, for the blocks after the one it
// starts in that are not local and not asked yet, up to a window of
// aheadBlocks (64) blocks or about aheadBytes (8 MiB) at the feed's mean
// block size, and does not wait for them: so cat of a remote feed streams
// instead of paying a round trip per block. "In order" means the READ
// starts no later than the blocks read or asked so far and less than a
// window before the latest READ: the kernel's own readahead sends several
// READs at once, and go-fuse serves them in any order. Any other READ is
// a jump: it asks only for the blocks it reads, as it reads them, and the
// window restarts after it. O_NONBLOCK handles never ask ahead. The ask
// is feed.Prefetch, which asks the Fetcher and returns at once, so
// readahead starts no goroutine and holds nothing when the handle closes;
// the Fetcher interface cannot withdraw an ask, so at most one window per
// closed handle still downloads. The engine's own
// readahead is separate: it hashes windows of stored blocks ahead of
// sequential readers.
//
// # Appends
//
// data opens for writing only with O_APPEND and never with O_TRUNC. Append
// handles get FOPEN_DIRECT_IO and the mount MaxWrite = 1 MiB, so one
// write(2) of up to 1 MiB reaches Write as one WRITE and becomes one block
// (larger writes arrive as several WRITEs of at most 1 MiB: several
// blocks). A WRITE must be at offset == byte length (the kernel sends the
// size for O_APPEND descriptors; a descriptor whose O_APPEND was cleared
// with F_SETFL sends its own offset): else EPERM. The check and the Append
// are one step under mfeed.appendMu. A block is readable when its WRITE
// returns; FSYNC calls feed.Sync (durable); a background syncer syncs
// unsynced appends within syncDelay (0.5 s) of the first.
//
// # Caching and timeouts
//
//	node          entry timeout  attr timeout  open flags
//	root, feeds   1 s            0             -
//	data          1 h (name)     0             KEEP_CACHE (read), DIRECT_IO (append),
//	                                           PASSTHROUGH (verified local feed)
//	blocks/       1 h (name)     0             -
//	blocks/<i>    1 h            1 h           KEEP_CACHE
//	info          1 h (name)     0             DIRECT_IO (size changes)
//	failed lookup not cached (blocks/N appears as soon as block N exists)
//
// data's size and mtime are never cached (tail -f polls fstat once a
// second on FUSE), so an append shows at once. Read handles keep the page
// cache across opens: the bytes below the byte length never change. When
// the size or mtime changes the kernel drops the cached pages of data
// (go-fuse asks for auto-invalidation), so the old last page, padded with
// zeros past the old end, is never served; for appends that did not come
// through a WRITE of this mount (a peer's, later) the watcher also sends
// NotifyContent from the old end's page on. info is regenerated at each
// open and stat and served with direct I/O.
//
// # Errors
//
// errnoOf (errno.go) is the one mapping from errors to errnos:
//
//	feed.ErrNotWritable, write not at the end, write on a read handle  EPERM
//	feed.ErrOutOfRange, ErrNoFeed, index.ErrNotFound                    ENOENT
//	context.Canceled (interrupt)                                         EINTR
//	context.DeadlineExceeded (fetch timeout)                             ETIMEDOUT
//	missing block on an O_NONBLOCK handle                                EAGAIN
//	feed.ErrNotAvailable (missing, and nothing can fetch it)             ENODATA
//	feed.ErrBlockTooLarge (a block of 8 MiB or more)                     EFBIG
//	feed.ErrReadOnly (the feed's disk is read-only)                      EROFS
//	index.ErrNameTaken / index.ErrBadName (mkdir)                        EEXIST / EINVAL
//	a syscall.Errno from storage (ENOSPC, ...)                           itself
//	feed.ErrCorrupt (bytes fail their hash) and anything else            EIO
//
// Unexpected errors get one log line (feed key prefix, offset or block,
// error); a hash failure is logged once by the engine. Mutating operations
// are all implemented (api_check.go lists them) with TESTING.md's errnos:
// create, mkdir (except in the root), mknod, link, symlink, unlink, rmdir,
// rename, setxattr, removexattr, chmod, chown, truncate and explicit
// utimes are EPERM; utime(NULL) is allowed and changes nothing; fallocate
// is EOPNOTSUPP (glibc's posix_fallocate then says EBADF on O_APPEND
// descriptors); opening blocks/<i> or info for writing is EPERM. With
// default_permissions the kernel checks modes first, so an ordinary user
// writing a replica's 0444 data gets EACCES.
//
// # Concurrency
//
// Node methods run concurrently, one goroutine per request. ptInode.mu
// (per data inode) makes an open's passthrough decision and its count one
// step, and is held across the dup and the one-time probe ioctls, never
// a wait; ptMount.mu, taken inside it, guards the probe. FS.mu guards
// the map of mounted feeds and the started flag, and is held only to read
// or change them. mfeed.appendMu makes a WRITE's offset check and Append
// atomic; it is held across Append, which writes without syncing, and
// never across a Sync or a wait. cursor.mu guards one handle's remembered
// block and readahead state; it is held only to read or update them,
// never while a block is read, fetched or asked for (concurrent READs of
// one handle, which the kernel sends, each take it briefly). Reads take no
// mount lock: blocks never change once appended, and the engine is safe
// for concurrent use. No lock is held across feed.Sync or a fetch wait.
//
// # Goroutines
//
// FS.Mount starts, and FS.Close (Mount.Close) stops and waits for:
//   - the syncer, which syncs dirty feeds;
//   - one watcher per feed, subscribed to its events (feed.Subscribe); it
//     updates mtime for appends made by other routes and sends the
//     kernel notifications. Kernel notifications are only sent from these
//     goroutines, never inside a request handler (that can deadlock);
//   - with Options.VerifyOnMount, the verifier: it hashes the stored
//     blocks of the feeds mounted at start, one after another, and ends.
//
// Mount also runs one goroutine that waits for the server to stop and
// closes Mount.Done. Request handlers start none: readahead asks the
// engine without waiting, in the READ's own goroutine. The caller owns the feeds and closes them after
// Close, which does a last sync.
//
// # Lifecycle and platforms
//
// Mount refuses a mountpoint that is not a directory, and cleans a stale
// one (ENOTCONN, left by a killed hyperfs) with a lazy unmount, or fails
// with ErrStale saying what to run. As root it mounts directly (go-fuse
// DirectMount), else through fusermount3. FsName and Name are "hyperfs"
// (findmnt -t fuse.hyperfs). As root, Mount raises the mount's readahead
// to 1 MiB (sysfs read_ahead_kb), so buffered reads arrive as 1 MiB READs.
// Unmount detaches lazily if files are still
// open. On macOS (macFUSE; builds, untested) the mount also sets volname,
// noappledouble and noapplexattr; notifications may be lost there, and the
// zero attribute timeout on data is what keeps sizes fresh.
package fusefs
