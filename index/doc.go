// Package index is the Pebble database of a home (HOME/index/) that spares
// hyperfs from walking merkle trees on disk and scanning directories: the
// feed registry, and per feed the byte offsets of its blocks; plus, in
// memory, a cache of the feeds' tree nodes.
//
// # Everything here is derived
//
// The hypercore 9 files of each feed stay the source of truth. Deleting
// HOME/index loses nothing: the registry is rebuilt from the feed
// directories (names are also kept in each feed directory, HOME/feeds/KEY/hyperfs.json),
// and a feed's offsets are rebuilt from its tree file the next time it is
// opened. Each feed's entries carry the length and root hash
// they were built for; an index that disagrees with the feed on open (a
// crash between the feed's commit and the index's, or JavaScript hypercore
// having appended behind our back) is dropped and rebuilt, never trusted.
// Writes go out in Pebble batches without sync: Pebble's WAL orders them,
// and a lost tail is caught by the check on open.
//
// # Write-behind
//
// A Pebble commit costs about 6 us (a WAL write and the memtable), as much
// as the rest of a one-block append through the mount. So an Update that
// follows the feed's pending spans (an append, an in-order download) is
// kept in memory, in one ascending run per feed, and committed with the
// ones after it by Flush: at the feed's Sync (the mount syncs within a
// second of an append), at Close, or once maxPending spans wait. Block,
// BlockAt and State answer from the pending run first; a commit drops the
// cached pages it changes before the spans leave the run, so a reader
// finds every span in one place or the other. An Update out of order (a
// sparse download behind the run) and a rebuild step commit what is
// pending first. A crash loses at most the pending spans and the state
// they carried: the index then reopens at an older state and the feed's
// check on open indexes the rest from the tree file.
//
// # Keys
//
// Every key starts with a one-byte table tag; integers are big-endian so
// that byte order is numeric order.
//
//	'n' name                      -> key (32 bytes)           registry: names
//	'f' key                       -> feed record (JSON)       registry: feeds
//	's' key                       -> state: length, byte length, root hash
//	'p' key page                  -> the page's known blocks  offsets, page.go
//	'e' key lastEnd page          -> (empty)                  pages by last end
//
// ('t' held tree nodes in earlier versions, and 'b' and 'o' a key per
// block; Open deletes them, and with 'b' the states, so that each feed
// indexes itself again. Nodes are cached in memory instead, see
// nodecache.go: a Pebble Get cost more than the pread of the tree file it
// would have saved. A key per block cost two Pebble keys and their
// flushes and compactions per one-block append, about 4 us and 45 bytes a
// block; a page holds pageBlocks blocks in about 3 bytes each.)
//
// A page holds the known blocks among 256 consecutive indexes (page.go).
// Blocks ascend by offset as they do by index, so the block holding byte
// x, if known, is in the first page whose last block ends past x: one
// SeekGE in 'e' and one Get. A block's offset and size is one Get of its
// page. A commit rewrites each page its spans fall in, whole, and moves
// the page's 'e' entry when its last end changed.
//
// In front of the tables sits the offset cache (offsetcache.go): the
// pages, decoded, read with one Get when a seek or block look-up misses, so that the reads of a mount (a seek, then the
// following blocks) cost binary searches in memory. Its size is bounded
// for the whole DB (Options.OffsetCacheSize), whatever the feeds' lengths;
// commits and Reset drop the pages they change.
//
// Tree nodes (for proofs, and for checking a block's hash on its first
// read) sit in the node cache, filled by the Updates of downloads (a
// feed's own appends leave theirs out) and by the feed after a tree-file
// read, bounded by Options.NodeCacheSize for the whole DB.
//
// # Read-only and full disks
//
// An index that cannot be opened (a read-only disk) is done without: the
// CLI lists feeds by scanning their directories and feeds read their tree
// files, each saying so once. A full disk must not reach Pebble, which
// panics when its WAL write fails (and can die outright while rotating
// the WAL): below MinFreeBytes free, writes fail with ErrDiskFull and the
// feed stops using the index until it is reopened. A write that fails
// inside Pebble anyway is recovered into ErrUnusable, and the index takes
// no more writes (DB.write).
//
// # Concurrency
//
// DB is safe for concurrent use; Pebble serialises its own writes. A Feed
// handle (see FeedIndex) is used by one feed, whose engine already orders
// its updates; its mutex guards the pending run for in-memory work only,
// and a second one orders its commits.
package index
