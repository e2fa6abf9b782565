package feed

import (
	"github.com/hyperfs/hyperfs/index"
	"github.com/hyperfs/hyperfs/tree"
)

// Index is an external cache of a feed's block offsets (persistent) and
// tree nodes (in memory) (package index implements it over Pebble). With one, Open
// reads no more of the tree file than the roots, however long the feed,
// and offsets and seeks are index lookups instead of in-memory tables that
// grow with the feed.
//
// Everything in an Index is derived from the feed's files. Open compares
// its State with the recovered feed: an index that is behind but agrees
// on its own length's roots is brought forward from the tree file; any
// other disagreement (a crash between the two commits, a writer that
// appended behind our back) resets and rebuilds it. Implementations must
// apply each Update atomically, State included, and need not sync.
type Index interface {
	// State returns the length and root hash the index was brought up
	// to; ok is false when it holds nothing for the feed.
	State() (length uint64, rootHash [32]byte, ok bool, err error)
	// Reset drops everything the index holds for the feed.
	Reset() error
	// Update records offsets and nodes and the feed's new state at once.
	// The index may keep them in memory until Flush, answering from there.
	Update(u index.Update) error
	// Flush writes what Update kept in memory; Sync calls it.
	Flush() error
	// Block returns block i's byte range; ok is false when unknown.
	Block(i uint64) (start, end uint64, ok bool, err error)
	// BlockAt returns the known non-empty block holding byte off.
	BlockAt(off uint64) (i, start, end uint64, ok bool, err error)
	// Node returns a tree node from memory; ok is false when it is not
	// there, and the feed reads its tree file.
	Node(n uint64) (node tree.Node, ok bool)
	// CacheNode offers a node the feed read from its tree file.
	CacheNode(node tree.Node)
}
