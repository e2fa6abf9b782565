package feed

import (
	"math/bits"
	"slices"
	"sync"

	"github.com/hyperfs/hyperfs/tree"
)

// shareBytes is the batch size from which Append shares its work with
// the helpers (append_share.go): the data write beside the leaf hashes,
// which are taken in chunks. Below it the caller does all of it. 32 KiB
// is where overlapping the data write began to pay before the helpers;
// it was not tuned again.
const shareBytes = 32 << 10

// shareBlocks is the fewest blocks a shared batch has. Helpers spin for a
// while after each job (append_share.go): worth it between the batches
// of a bulk append, but a stream of single-block appends (the mount, one
// per write(2)) would keep a core spinning that the writer and the
// kernel's FUSE work need. Measured through the mount, 64 KiB appends
// went from ~4 200 to ~2 600/s with single blocks shared.
const shareBlocks = 8

// shared reports whether a batch of n blocks and total bytes shares its
// work with the helpers.
func shared(n, total int) bool {
	return total >= shareBytes && n >= shareBlocks && procs >= 2
}

// chunkBytes is about how much data a chunk of leaves holds. A chunk is a
// run of blocks aligned to a power of two, so whoever hashes it also
// hashes the parents inside it; only parents over several chunks are left
// for the serial grow. Smaller chunks balance the cores better (the data
// write is one task among them), larger ones leave grow fewer parents.
const chunkBytes = 8 << 10

// leafHashers spares each chunk an allocated hasher.
var leafHashers = sync.Pool{New: func() any { return tree.NewLeafHasher() }}

// hashBatch hashes the blocks of a batch starting at block first and the
// parents whose subtrees lie inside the batch (inside one chunk, for a
// shared batch), while each of beside runs as one more task, the first
// of them first. The result, in dst's memory when it has room, holds
// node 2*first+k at index k (a leaf at every even k); a parent slot that
// was not computed keeps a zero Index, which no parent has.
func hashBatch(dst []tree.Node, first uint64, blocks [][]byte, total int, beside ...func()) []tree.Node {
	span := dst[:0]
	if need := 2*len(blocks) - 1; cap(span) >= need {
		span = span[:need]
		clear(span)
	} else {
		span = make([]tree.Node, need)
	}
	n := uint64(len(blocks))
	workers := uint64(procs)
	if !shared(len(blocks), total) {
		// A large block or two: the data write still runs beside the
		// hashing, on a goroutine of its own.
		besideHashing(beside, total >= shareBytes, func() { hashRange(first, blocks, span, first, first+n) })
		return span
	}
	chunk := chunkSize(n, uint64(total), workers)
	base := first &^ (chunk - 1)
	chunks := (first + n - base + chunk - 1) / chunk
	// The beside tasks (the data write, the longest) go first so that the
	// chunks balance around them. Each chunk writes only its own slots;
	// share returns after all.
	nb := uint64(len(beside))
	share(nb+chunks, func(k uint64) {
		if k < nb {
			beside[k]()
			return
		}
		k -= nb
		lo := max(first, base+k*chunk)
		hi := min(first+n, base+(k+1)*chunk)
		hashRange(first, blocks, span, lo, hi)
	})
	return span
}

// besideHashing runs hash, with the beside tasks on goroutines of their
// own when concurrently is set, else before it.
func besideHashing(beside []func(), concurrently bool, hash func()) {
	if !concurrently {
		for _, fn := range beside {
			fn()
		}
		hash()
		return
	}
	var wg sync.WaitGroup
	for _, fn := range beside {
		wg.Go(fn)
	}
	hash()
	wg.Wait()
}

// chunkBlocks is the fewest blocks a chunk has where the batch allows:
// tree.LeafHashes hashes up to eight blocks at once, and a chunk of one or
// two large blocks would hash them one at a time.
const chunkBlocks = 8

// chunkSize is the chunk length in blocks: a power of two near chunkBytes
// of data but at least chunkBlocks, small enough to leave each worker
// several chunks to balance.
func chunkSize(n, total, workers uint64) uint64 {
	c := max(chunkBlocks, chunkBytes*n/max(total, 1))
	c = min(c, max(1, n/(4*workers)))
	return 1 << (63 - bits.LeadingZeros64(c)) // round down to a power of two
}

// hashRange hashes blocks [lo, hi) of a batch starting at block first into
// span, with the parents whose subtrees lie inside the range. The leaves
// go to tree.LeafHashes together, and the parents a level at a time to
// tree.ParentNodes, which hash several messages at once: the nodes of a
// level in the range are consecutive, and only a first node whose sibling
// lies left of the range and a last one whose sibling lies right of it
// have no parent here.
func hashRange(first uint64, blocks [][]byte, span []tree.Node, lo, hi uint64) {
	base := 2 * first
	sc := rangeScratch.Get().(*[2][]tree.Node)
	defer rangeScratch.Put(sc)
	level := tree.LeafHashes(sc[0][:0], lo, blocks[lo-first:hi-first])
	next := sc[1][:0]
	for len(level) > 0 {
		for _, n := range level {
			span[n.Index-base] = n
		}
		pairs := level
		if len(pairs) > 0 && tree.Sibling(pairs[0].Index) < pairs[0].Index {
			pairs = pairs[1:] // its sibling is left of the range
		}
		next = tree.ParentNodes(next[:0], pairs) // an odd last one is left out
		level, next = next, level
	}
	sc[0], sc[1] = level[:0], next[:0]
}

// rangeScratch holds the node slices of hashRange's levels between calls.
var rangeScratch = sync.Pool{New: func() any { return new([2][]tree.Node) }}

// grow adds the leaves of a hashed batch (from hashBatch) to a tree with
// the given roots, merging roots as they become siblings (the merkle
// generator), and returns every new node in order and the new roots.
// Parents hashBatch computed are taken from span; the others (over chunks,
// or over old roots) are hashed here.
//
// The nodes go into nodes' memory, which the caller may reuse.
func grow(nodes, roots []tree.Node, first uint64, span []tree.Node) (_, newRoots []tree.Node) {
	base := 2 * first
	nodes = slices.Grow(nodes[:0], len(span)+len(roots))
	for k := 0; k < len(span); k += 2 {
		nodes = append(nodes, span[k])
		roots = append(roots, span[k])
		for len(roots) > 1 {
			a, b := roots[len(roots)-2], roots[len(roots)-1]
			if tree.Sibling(b.Index) != a.Index {
				break
			}
			var p tree.Node
			if i := tree.Parent(a.Index); i >= base && span[i-base].Index == i {
				p = span[i-base]
			} else {
				p = tree.ParentOf(a, b)
			}
			nodes = append(nodes, p)
			roots = append(roots[:len(roots)-2], p)
		}
	}
	return nodes, roots
}
