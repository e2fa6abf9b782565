package tree

import (
	"crypto/ed25519"
	"encoding/binary"
	"hash"
	"sync"

	"golang.org/x/crypto/blake2b"
)

// Node is a tree node as stored in the tree file and sent in proofs.
type Node struct {
	Index uint64
	Hash  [32]byte
	Size  uint64
}

// Type tags of the hashed node kinds (spec 1.3).
const (
	tagLeaf   = 0x00
	tagParent = 0x01
	tagRoots  = 0x02
)

// SignableSize is the length of the bytes a writer signs.
const SignableSize = 40

// LeafHash is the hash of block data as leaf node.
func LeafHash(data []byte) [32]byte {
	lh := leafHashers.Get().(*leafHashing)
	leafHeader(&lh.hdr, len(data))
	lh.h.Reset()
	lh.h.Write(lh.hdr[:])
	lh.h.Write(data)
	lh.h.Sum(lh.sum[:0])
	out := lh.sum
	leafHashers.Put(lh)
	return out
}

// leafHashing is a hasher with the buffers it is handed: slices passed to
// a hash.Hash escape, so buffers on the stack would be allocated per call.
type leafHashing struct {
	h   hash.Hash
	hdr [leafHeaderSize]byte
	sum [32]byte
}

// leafHashers spares every leaf hash its allocations: appends hash many
// small blocks, and reads hash each block the first time it is read.
var leafHashers = sync.Pool{New: func() any {
	h, _ := blake2b.New256(nil) // fails only for a key over 64 bytes
	return &leafHashing{h: h}
}}

// Leaf returns the leaf node of block i holding data.
func Leaf(block uint64, data []byte) Node {
	return Node{Index: 2 * block, Hash: LeafHash(data), Size: uint64(len(data))}
}

// leafHeaderSize is the tag and length hashed before a block's bytes.
const leafHeaderSize = 1 + 8

// leafHeader writes the bytes hashed before a block of size bytes.
func leafHeader(hdr *[leafHeaderSize]byte, size int) {
	hdr[0] = tagLeaf
	binary.BigEndian.PutUint64(hdr[1:], uint64(size))
}

// parentMsgSize is a parent's hashed message: tag, size, two hashes.
const parentMsgSize = 1 + 8 + 64

// parentMessage writes the bytes a parent of siblings a and b hashes; the
// child with the smaller index comes first, whatever the argument order.
func parentMessage(buf *[parentMsgSize]byte, a, b Node) {
	if a.Index > b.Index {
		a, b = b, a
	}
	buf[0] = tagParent
	binary.BigEndian.PutUint64(buf[1:], a.Size+b.Size)
	copy(buf[9:], a.Hash[:])
	copy(buf[41:], b.Hash[:])
}

// ParentHash hashes two sibling nodes; the argument order does not matter
// because the child with the smaller index is always hashed first.
func ParentHash(a, b Node) [32]byte {
	var buf [parentMsgSize]byte
	parentMessage(&buf, a, b)
	return blake2b.Sum256(buf[:])
}

// ParentOf returns the parent node of two siblings.
func ParentOf(a, b Node) Node {
	return Node{Index: Parent(a.Index), Hash: ParentHash(a, b), Size: a.Size + b.Size}
}

// TreeHash hashes a root list (ascending index). An empty list hashes the
// bare tag, which is the tree hash of an empty feed.
func TreeHash(roots []Node) [32]byte {
	buf := make([]byte, 1, 1+48*len(roots))
	buf[0] = tagRoots
	for _, r := range roots {
		buf = append(buf, r.Hash[:]...)
		buf = binary.BigEndian.AppendUint64(buf, r.Index)
		buf = binary.BigEndian.AppendUint64(buf, r.Size)
	}
	return blake2b.Sum256(buf)
}

// Signable returns the 40 bytes a writer signs for a feed of the given
// length with the given roots (spec 1.4).
func Signable(roots []Node, length uint64) [SignableSize]byte {
	var out [SignableSize]byte
	th := TreeHash(roots)
	copy(out[:], th[:])
	binary.BigEndian.PutUint64(out[32:], length)
	return out
}

// Sign signs the roots of a feed of the given length.
func Sign(secretKey ed25519.PrivateKey, roots []Node, length uint64) []byte {
	msg := Signable(roots, length)
	return ed25519.Sign(secretKey, msg[:])
}

// VerifyRoots checks sig over the roots of a feed of the given length. Like
// JavaScript's verifyCompat it also accepts a signature over the bare tree
// hash, which hypercore 7 and older produced.
func VerifyRoots(publicKey ed25519.PublicKey, roots []Node, length uint64, sig []byte) bool {
	if len(publicKey) != ed25519.PublicKeySize || len(sig) != ed25519.SignatureSize {
		return false
	}
	msg := Signable(roots, length)
	return ed25519.Verify(publicKey, msg[:], sig) || ed25519.Verify(publicKey, msg[:32], sig)
}

// DiscoveryKey is the public name of a feed on the wire: BLAKE2b-256 keyed
// with the public key over "hypercore" (spec 1.2).
func DiscoveryKey(publicKey []byte) [32]byte {
	h, err := blake2b.New256(publicKey)
	if err != nil {
		// Only keys over 64 bytes fail; a public key is 32.
		return [32]byte{}
	}
	h.Write([]byte("hypercore"))
	var out [32]byte
	h.Sum(out[:0])
	return out
}
