// Package feed is the hypercore 9 engine: one feed stored in the directory
// layout and byte format of JavaScript hypercore 9.12 (../shared/spec/
// hypercore9.md sections 3 and 5), so either implementation can open what
// the other wrote. It knows nothing of FUSE or sockets; replication drives
// it through Put, Subscribe and Fetcher.
//
// # Files (spec 3.1-3.7)
//
//	key         32-byte Ed25519 public key
//	secret_key  64-byte seed||public key, mode 0600; only on writers
//	data        blocks back to back; replicas leave holes
//	tree        32-byte header, then node n at 32+40n: hash(32) || u64be(size)
//	signatures  32-byte header, then slot i at 32+64i signs length i+1
//	bitfield    32-byte header, then 3584-byte pages:
//	              [0,1024)     data bits, 8192 blocks, MSB first
//	              [1024,3072)  tree bits, 16384 nodes
//	              [3072,3584)  index summary (JS's skip-ahead hint)
//
// A directory is locked with flock(LOCK_EX|LOCK_NB) on bitfield, as JS
// locks it; a second opener gets ErrLocked.
//
// # Commit protocol and durability
//
// The bitfield is the commit record: on open the tree bits decide the
// length (spec 3.9). Append and Put write data, tree nodes and signature
// without syncing and publish the result in memory at once (readers see it
// when the call returns). Small writes to the data and tree files wait in
// memory (writebehind.go, up to 64 KiB each) until Sync, Close, a read of
// them, or a share of the data file (ShareData) writes them out. Sync
// fsyncs data, tree and signatures, and only then writes the changed
// bitfield pages and fsyncs them. So the bitfield on disk never claims a
// node or block that is not durable.
//
// A crash can still leave a bitfield page torn, or a batch spanning two
// pages half committed. Open therefore checks the recovered length: it
// keeps the longest length at or below the tree bits' claim whose stored
// signature verifies over stored roots, discards bits beyond it, and cuts
// unverified bytes off the data file of a complete feed. The promise:
// after any crash a feed opens to a verified prefix of what was appended,
// never a partial batch, and holding everything a returned Sync (or Close)
// covered.
//
// # Reads
//
// Block bytes are hashed against their leaf node the first time they are
// read after open and a bit remembers it; our own appends count as
// hashed, and so do downloads, whose bytes Put hands to the next Get when
// a local reader asked for the block (fresh.go) instead of that Get reading
// them back. Bytes that fail are never returned: Get says ErrCorrupt and logs
// once, and Audit forgets the block so it can be fetched again. Offsets
// come from an in-memory table of block end offsets for the prefix whose
// leaves are known (8 bytes a block; the index package will replace it
// with a bounded cache), else from the roots left of a block (spec 3.10).
//
// # Concurrency
//
// Every method is safe for concurrent use. Feed.mu guards the in-memory
// state (length, roots, bitfield, offsets, waiters) and is never held
// across I/O that can block for long or across a sync. writeMu serialises
// writers (Append, Put, Clear, Audit); block bytes, once committed in
// memory, never change, so readers copy state under a read lock and read
// files with no lock. syncMu serialises Sync. Lock order: writeMu, then
// syncMu, then mu.
//
// Waiting is by broadcast: Changed returns a channel closed at the next
// change, and Subscribe gives an ordered, bounded event queue. Neither
// starts a goroutine, and both end when the feed closes.
package feed
