package feed

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/hyperfs/hyperfs/tree"
)

// Sizes of the fixed parts of the files (spec 3.2-3.7).
const (
	headerSize    = 32
	nodeSize      = 40 // hash(32) || u64be(size)
	signatureSize = 64
	pageSize      = 3584 // 1024 data bits + 2048 tree bits + 512 index

	// MaxBlockSize is the largest block hypercore 9 accepts (8 MiB).
	MaxBlockSize = 8 << 20
)

// File types in byte 3 of a header.
const (
	typeBitfield   = 0
	typeSignatures = 1
	typeTree       = 2
)

var headerMagic = [3]byte{0x05, 0x02, 0x57}

// header returns the 32-byte header of a tree, signatures or bitfield file.
func header(fileType byte, entrySize uint16, algorithm string) []byte {
	h := make([]byte, headerSize)
	copy(h, headerMagic[:])
	h[3] = fileType
	h[4] = 0 // version
	binary.BigEndian.PutUint16(h[5:], entrySize)
	h[7] = byte(len(algorithm))
	copy(h[8:], algorithm)
	return h
}

var (
	treeHeader       = header(typeTree, nodeSize, "BLAKE2b")
	signaturesHeader = header(typeSignatures, signatureSize, "Ed25519")
	bitfieldHeader   = header(typeBitfield, pageSize, "")
)

// checkHeader validates a stored header against the expected one. The entry
// size of a bitfield is returned rather than compared, because readers must
// take it from the file; the other fields must match exactly.
func checkHeader(name string, got, want []byte) (entrySize uint16, err error) {
	if len(got) < headerSize {
		return 0, fmt.Errorf("%w: %s header is %d bytes", ErrCorrupt, name, len(got))
	}
	if !bytes.Equal(got[:3], headerMagic[:]) || got[3] != want[3] || got[4] != 0 {
		return 0, fmt.Errorf("%w: %s header % x is not a hypercore %s header", ErrCorrupt, name, got[:8], name)
	}
	entrySize = binary.BigEndian.Uint16(got[5:])
	n := int(got[7])
	if 8+n > headerSize {
		return 0, fmt.Errorf("%w: %s header algorithm name length %d", ErrCorrupt, name, n)
	}
	if !bytes.Equal(got[7:8+n], want[7:8+int(want[7])]) {
		return 0, fmt.Errorf("%w: %s header names algorithm %q, want %q", ErrCorrupt, name, got[8:8+n], want[8:8+int(want[7])])
	}
	if name != fileBitfield && entrySize != binary.BigEndian.Uint16(want[5:]) {
		return 0, fmt.Errorf("%w: %s header entry size %d", ErrCorrupt, name, entrySize)
	}
	return entrySize, nil
}

// encodeNode writes a tree record.
func encodeNode(dst []byte, n tree.Node) {
	copy(dst, n.Hash[:])
	binary.BigEndian.PutUint64(dst[32:], n.Size)
}

// decodeNode reads a tree record; ok is false for an all-zero (absent) one.
func decodeNode(index uint64, b []byte) (n tree.Node, ok bool) {
	n.Index = index
	copy(n.Hash[:], b[:32])
	n.Size = binary.BigEndian.Uint64(b[32:])
	return n, n.Size != 0 || n.Hash != [32]byte{}
}

func nodeOffset(i uint64) int64      { return headerSize + nodeSize*int64(i) }
func signatureOffset(i uint64) int64 { return headerSize + signatureSize*int64(i) }

func isZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
