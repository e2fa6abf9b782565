package index

import (
	"errors"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/hyperfs/hyperfs/tree"
)

func testNode(n uint64) tree.Node {
	node := tree.Node{Index: n, Size: n * 3}
	node.Hash[0], node.Hash[31] = byte(n), byte(n>>8)
	return node
}

func TestNodeCache(t *testing.T) {
	const slots = 64
	c := newNodeCache(slots * nodeEntrySize)
	a, b := c.newFeed(), c.newFeed()
	for n := range uint64(10 * slots) {
		c.put(a, testNode(n))
		if len(c.at) > slots {
			t.Fatalf("%d entries after %d puts, cache holds %d", len(c.at), n+1, slots)
		}
	}
	// What is there is right, and the newest puts are there.
	for n := range uint64(10 * slots) {
		got, ok := c.get(a, n)
		if ok && got != testNode(n) {
			t.Fatalf("node %d = %+v", n, got)
		}
		if n >= 9*slots && !ok {
			t.Fatalf("node %d, among the last %d put, was evicted", n, slots)
		}
	}
	// Feeds do not see each other's nodes.
	if _, ok := c.get(b, 10*slots-1); ok {
		t.Fatal("another feed's node was found")
	}

	// A node used since the clock hand last passed survives the hand's
	// next turn (slots-1 evictions of others); one not used does not.
	for _, used := range []bool{true, false} {
		c.put(b, testNode(1000))
		for n := range uint64(slots - 1) {
			c.put(a, testNode(2000+n))
		}
		if used {
			c.get(b, 1000) // as a hot upper node would be
		}
		for n := range uint64(slots - 1) {
			c.put(a, testNode(3000+n))
		}
		if _, ok := c.get(b, 1000); ok != used {
			t.Fatalf("used %v: node found %v after a turn of the clock", used, ok)
		}
		c.reset(b)
	}

	c.put(b, testNode(1000))
	c.reset(b)
	if _, ok := c.get(b, 1000); ok {
		t.Fatal("a node survived its feed's reset")
	}
}

// The node table of earlier versions is deleted on open.
func TestOldNodeTableDropped(t *testing.T) {
	fs := vfs.NewMem()
	old, err := pebble.Open("index", &pebble.Options{FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	nodeKey := append(key(tagNode, make([]byte, 32)), u64(6)...)
	stateKey := key(tagState, make([]byte, 32))
	for _, k := range [][]byte{nodeKey, stateKey} {
		if err := old.Set(k, make([]byte, 40), pebble.Sync); err != nil {
			t.Fatal(err)
		}
	}
	old.Close()

	db, err := Open("index", Options{FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, _, err := db.db.Get(nodeKey); !errors.Is(err, pebble.ErrNotFound) {
		t.Fatalf("old node entry: %v, want not found", err)
	}
	if _, closer, err := db.db.Get(stateKey); err != nil {
		t.Fatalf("state entry: %v", err)
	} else {
		closer.Close()
	}
}
