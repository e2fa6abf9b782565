package blake2bx

import (
	"hash"
	"sync"

	"golang.org/x/crypto/blake2b"
)

// hasher is a pooled single-message BLAKE2b-256. The prefix goes through
// buf and the digest through sum because hash.Hash is an interface: what
// it is handed escapes, and callers keep prefixes and digests on their
// stacks.
type hasher struct {
	h   hash.Hash
	buf [BlockSize]byte
	sum [32]byte
}

var hashers = sync.Pool{New: func() any {
	h, _ := blake2b.New256(nil) // fails only for a key over 64 bytes
	return &hasher{h: h}
}}

// sumOne hashes one message with golang.org/x/crypto/blake2b.
func sumOne(out *[32]byte, prefix, msg []byte) {
	hs := hashers.Get().(*hasher)
	hs.h.Reset()
	for len(prefix) > 0 {
		n := copy(hs.buf[:], prefix)
		hs.h.Write(hs.buf[:n])
		prefix = prefix[n:]
	}
	hs.h.Write(msg)
	hs.h.Sum(hs.sum[:0])
	*out = hs.sum
	hashers.Put(hs)
}
