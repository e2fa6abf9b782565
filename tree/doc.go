// Package tree is the pure arithmetic of a hypercore 9 merkle tree: flat-tree
// indexing, the BLAKE2b node hashes, the bytes a writer signs, and the proof
// helpers that replication uses. It does no I/O and keeps no state.
//
// # Flat tree
//
// A flat tree lays a binary tree over the integers. Even indexes are leaves
// (block i is node 2i), odd indexes are parents, and a node's index is its
// in-order position:
//
//	depth 3                              7
//	depth 2              3                               11
//	depth 1      1               5               9               13
//	depth 0  0       2       4       6       8       10      12      14
//	block    0       1       2       3       4       5       6       7
//
// A feed of length L is covered by the perfect subtrees FullRoots(2L), left
// to right; their sizes sum to the byte length, and the roots left of block i
// sum to its byte offset (spec section 3.10).
//
// # Hashes (spec 1.3, 1.4)
//
// Every hash is unkeyed BLAKE2b-256 over a one-byte type tag and fields with
// big-endian u64 integers:
//
//	leaf    0x00 || u64(len) || data
//	parent  0x01 || u64(left.size+right.size) || left.hash || right.hash
//	roots   0x02 || for each root: hash || u64(index) || u64(size)
//
// A writer signs Signable(roots, L) = TreeHash(roots) || u64(L), 40 bytes.
//
// LeafHashes hashes many leaves at once with the multi-message BLAKE2b of
// package tree/blake2bx, several times faster than Leaf in a loop for the
// equal-size blocks of a batch append or a read window.
//
// # Proofs (spec 4.8.4, 4.8.5)
//
// Digest computes the Request.nodes bitmask a requester sends; ProofNodes
// picks the node indexes a responder sends back; VerifyProof checks a Data
// message against nodes the receiver already trusts and the feed key.
//
// All functions are safe for concurrent use. Indexes are uint64; callers keep
// lengths below 2^53 as JavaScript does.
package tree
