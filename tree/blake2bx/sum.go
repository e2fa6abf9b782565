package blake2bx

// MaxPrefix is the longest prefix hashed in lanes: the prefix and the
// start of the message share the first block. A longer prefix is still
// hashed correctly, one message at a time.
const MaxPrefix = BlockSize

// chunk is how many messages are sorted at once, so the order fits on the
// stack; messages of equal length come sorted already.
const chunk = 128

// Sum256Prefixed sets out[i] to the unkeyed BLAKE2b-256 digest of
// prefixes[i] followed by msgs[i], for every i < len(msgs). prefixes may
// be nil (no prefixes); otherwise it and out are at least as long as msgs.
// Messages may differ in length, but batches of equal block counts waste
// no lanes. It does not allocate and is safe for concurrent use.
//
// Prefixes are copied; messages are read in place and may be handed to
// x/crypto's hash.Hash, so escape analysis moves a message built on the
// caller's stack to the heap. A short message (up to MaxPrefix bytes)
// kept on the stack is best passed as the prefix of an empty message.
func Sum256Prefixed(out [][32]byte, prefixes [][]byte, msgs [][]byte) {
	k := active
	if k == implNone || len(msgs) < minMessages {
		for i := range msgs {
			sumOne(&out[i], prefixOf(prefixes, i), msgs[i])
		}
		return
	}
	for lo := 0; lo < len(msgs); lo += chunk {
		sumChunk(k, out, prefixes, msgs, lo, min(lo+chunk, len(msgs)))
	}
}

// minMessages is the fewest messages worth lanes: fewer go one at a time.
const minMessages = 4

func prefixOf(prefixes [][]byte, i int) []byte {
	if prefixes == nil {
		return nil
	}
	return prefixes[i]
}

// sumChunk hashes messages lo..hi-1, sorted by block count so that lanes
// of one batch finish together.
func sumChunk(k impl, out [][32]byte, prefixes, msgs [][]byte, lo, hi int) {
	var (
		idx [chunk]int32
		nb  [chunk]int
	)
	m := 0
	for i := lo; i < hi; i++ {
		p := prefixOf(prefixes, i)
		if len(p) > MaxPrefix {
			sumOne(&out[i], p, msgs[i])
			continue
		}
		b := blocks(len(p) + len(msgs[i]))
		// Insertion sort, longest first: linear when lengths are equal.
		j := m
		for ; j > 0 && nb[j-1] < b; j-- {
			idx[j], nb[j] = idx[j-1], nb[j-1]
		}
		idx[j], nb[j] = int32(i), b
		m++
	}
	w := k.lanes()
	j := 0
	for ; m-j >= w; j += w {
		batch(k, out, prefixes, msgs, idx[j:j+w])
	}
	if j == m {
		return
	}
	// The rest fill part of a batch: a narrower implementation, or lanes
	// left idle, still beats hashing them one by one unless only one or
	// two are left.
	tail := k.tail()
	if m-j >= tail.lanes() {
		batch(tail, out, prefixes, msgs, idx[j:j+tail.lanes()])
		j += tail.lanes()
	}
	if m-j > 2 {
		batch(tail, out, prefixes, msgs, idx[j:m])
		return
	}
	for ; j < m; j++ {
		i := idx[j]
		sumOne(&out[i], prefixOf(prefixes, int(i)), msgs[i])
	}
}
