package index

import (
	"sync"

	"github.com/hyperfs/hyperfs/tree"
)

// The node cache keeps tree nodes in memory in front of each feed's tree
// file, for proofs (about 2 log2(length) nodes each), for the leaf a first
// read of a block is checked against, and for the stored nodes a download
// is verified against. It is filled by every Update (append and verified
// download) and by the feed after each tree-file read that missed.
//
// It is memory, not a Pebble table: BenchmarkNode measured a Pebble Get
// of a node at 6.6 us and a pread of the tree file at 0.98 us, so a
// persistent table would be slower than the file it caches, and filling
// it cost a write per node on every append. Earlier versions wrote such a
// table ('t'); Open deletes what is left of it.
//
// A stored node never changes while a process has its feed open (appends
// and downloads only add nodes, clearing a block keeps its node), so
// entries need no invalidation beyond Reset, which the feed calls when its
// files changed behind the index's back. Each FeedIndex (one per opening
// of a feed) has its own id, and Reset gives it a new one; entries under
// an old id are unreachable and wait for the clock to evict them.
//
// Entries live in a fixed array sized from Options.NodeCacheSize and are
// evicted by the clock algorithm, as offset pages are.

// nodeEntrySize approximates an entry's memory: the slot and its map entry.
const nodeEntrySize = 112

type nodeKey struct {
	feed uint64
	n    uint64
}

type nodeSlot struct {
	key  nodeKey
	hash [32]byte
	size uint64
	used bool
	ref  bool
}

// nodeFeed names the entries of one FeedIndex.
type nodeFeed struct {
	id uint64 // guarded by nodeCache.mu
}

type nodeCache struct {
	// mu guards everything below; held for map and array work only.
	mu    sync.Mutex
	slots []nodeSlot
	at    map[nodeKey]int32
	hand  int
	next  uint64 // the last id given to a feed
}

func newNodeCache(bytes int64) *nodeCache {
	n := max(bytes/nodeEntrySize, 1)
	return &nodeCache{
		slots: make([]nodeSlot, n),
		at:    make(map[nodeKey]int32),
	}
}

// newFeed names the entries of a feed opened anew. Nothing is shared with
// an earlier opening of the same key: its files may have changed between
// (JS appending, another directory for the key).
func (c *nodeCache) newFeed() *nodeFeed {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.next++
	return &nodeFeed{id: c.next}
}

// reset forgets every node of the feed.
func (c *nodeCache) reset(nf *nodeFeed) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.next++
	nf.id = c.next
}

func (c *nodeCache) get(nf *nodeFeed, n uint64) (tree.Node, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	k, ok := c.at[nodeKey{nf.id, n}]
	if !ok {
		return tree.Node{}, false
	}
	s := &c.slots[k]
	s.ref = true
	return tree.Node{Index: n, Hash: s.hash, Size: s.size}, true
}

func (c *nodeCache) put(nf *nodeFeed, nodes ...tree.Node) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, node := range nodes {
		key := nodeKey{nf.id, node.Index}
		if _, ok := c.at[key]; ok {
			continue
		}
		k := c.victimLocked()
		s := &c.slots[k]
		if s.used {
			delete(c.at, s.key)
		}
		*s = nodeSlot{key: key, hash: node.Hash, size: node.Size, used: true}
		c.at[key] = int32(k)
	}
}

// victimLocked advances the clock to a slot that is free or unused since
// the hand last passed it.
func (c *nodeCache) victimLocked() int {
	for {
		k := c.hand
		c.hand = (c.hand + 1) % len(c.slots)
		s := &c.slots[k]
		if !s.used || !s.ref {
			return k
		}
		s.ref = false
	}
}
