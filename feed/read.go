package feed

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"sort"

	"github.com/hyperfs/hyperfs/tree"
)

// blockState is what Get needs to know about a block, read under one lock.
type blockState struct {
	closed, has, verified, located bool
	length                         uint64
	offset, size                   uint64
	changed                        <-chan struct{}
	fetcher                        Fetcher
}

func (f *Feed) state(i uint64) blockState {
	f.mu.RLock()
	defer f.mu.RUnlock()
	s := blockState{
		closed:  f.mu.closed,
		length:  f.mu.length,
		changed: f.takeChangedLocked(),
		fetcher: f.mu.fetcher,
	}
	s.has = i < s.length && f.mu.bits.HasBlock(i)
	s.verified = f.isVerifiedLocked(i)
	if s.has && i < uint64(len(f.mu.ends)) {
		s.located = true
		s.offset = f.offsetLocked(i)
		s.size = f.mu.ends[i] - s.offset
	}
	return s
}

// stateOf is state with the offset from the index when memory lacks it.
func (f *Feed) stateOf(i uint64) blockState {
	s := f.state(i)
	if s.has && !s.located {
		if start, end, ok := f.locate(i); ok {
			s.located, s.offset, s.size = true, start, end-start
		}
	}
	return s
}

func (f *Feed) offsetLocked(i uint64) uint64 {
	if i == 0 {
		return 0
	}
	return f.mu.ends[i-1]
}

// Get returns block i. A block that is not stored is asked of the Fetcher
// (replication) and waited for until ctx ends; without a Fetcher Get fails
// at once with ErrNotAvailable, or ErrOutOfRange past the length. Bytes that
// do not match their hash are never returned (ErrCorrupt).
func (f *Feed) Get(ctx context.Context, i uint64) ([]byte, error) {
	asked := false
	for {
		s := f.stateOf(i)
		switch {
		case s.closed:
			return nil, ErrClosed
		case s.has:
			return f.readBlock(i, s)
		case s.fetcher == nil && i >= s.length:
			return nil, fmt.Errorf("get block %d of %d: %w", i, s.length, ErrOutOfRange)
		case s.fetcher == nil:
			return nil, fmt.Errorf("get block %d: %w", i, ErrNotAvailable)
		}
		if !asked {
			f.fresh.ask(i)
			s.fetcher.Want(f, i)
			asked = true
		}
		select {
		case <-s.changed:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// GetLocal returns block i if it is stored here, and never asks the
// Fetcher: what a replicator serving a peer's request needs, and what
// Get answers without a Fetcher. A block past the length is
// ErrOutOfRange, another that is not stored ErrNotAvailable.
func (f *Feed) GetLocal(i uint64) ([]byte, error) {
	s := f.stateOf(i)
	switch {
	case s.closed:
		return nil, ErrClosed
	case !s.has && i >= s.length:
		return nil, fmt.Errorf("get block %d of %d: %w", i, s.length, ErrOutOfRange)
	case !s.has:
		return nil, fmt.Errorf("get block %d: %w", i, ErrNotAvailable)
	}
	return f.readBlock(i, s)
}

// Head returns the last block.
func (f *Feed) Head(ctx context.Context) ([]byte, error) {
	n := f.Length()
	if n == 0 {
		return nil, fmt.Errorf("head of empty feed: %w", ErrOutOfRange)
	}
	return f.Get(ctx, n-1)
}

// readBlock reads a stored block, hashing it the first time it is read.
func (f *Feed) readBlock(i uint64, s blockState) ([]byte, error) {
	inOrder := f.nextRead.Swap(i+1) == i
	if b, ok := f.fresh.take(i); ok {
		return b, nil // downloaded for this reader a moment ago, hashed by Put
	}
	if inOrder && s.located {
		if s.verified {
			if b, ok := f.fromAhead(i); ok {
				return b, nil
			}
		} else if b, ok, err := f.verifyAhead(i); ok {
			return b, err
		}
	} else if !inOrder && !s.verified {
		if b, ok, err := f.verifyAround(i); ok {
			return b, err
		}
	}
	var leaf tree.Node
	if !s.located || !s.verified {
		var err error
		if leaf, err = f.readNode(2 * i); err != nil {
			return nil, fmt.Errorf("read block %d: %w", i, err)
		}
		if !s.located {
			off, err := f.offsetFromTree(i)
			if err != nil {
				return nil, fmt.Errorf("read block %d: %w", i, err)
			}
			s.offset, s.size = off, leaf.Size
		}
	}
	if s.size > MaxBlockSize {
		return nil, fmt.Errorf("%w: block %d claims %d bytes", ErrCorrupt, i, s.size)
	}
	buf := make([]byte, s.size)
	if _, err := readFull(f.data, buf, int64(s.offset)); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("%w: block %d is past the end of the data file", ErrCorrupt, i)
		}
		return nil, fmt.Errorf("read block %d: %w", i, err)
	}
	if s.verified {
		return buf, nil
	}
	if !leafMatches(leaf, buf) {
		return nil, f.failedHash(i)
	}
	if s.located {
		f.mu.Lock()
		if i/64 < uint64(len(f.mu.verified)) {
			f.mu.verified[i/64] |= 1 << (i % 64)
		}
		f.mu.Unlock()
	}
	return buf, nil
}

// failedHash logs and returns the error for stored bytes of block i that
// do not match its leaf.
func (f *Feed) failedHash(i uint64) error {
	f.log.Error("block fails its hash", "key", fmt.Sprintf("%x", f.key[:8]), "block", i)
	return fmt.Errorf("%w: block %d of feed %x fails its hash", ErrCorrupt, i, f.key[:8])
}

// offsetFromTree sums the sizes of the roots left of block i (spec 3.10).
func (f *Feed) offsetFromTree(i uint64) (uint64, error) {
	var off uint64
	for _, r := range tree.FullRoots(2 * i) {
		n, err := f.readNode(r)
		if err != nil {
			return 0, err
		}
		off += n.Size
	}
	return off, nil
}

// BlockRange returns the byte offset and size of block i, which need not be
// stored locally as long as its tree nodes are.
func (f *Feed) BlockRange(i uint64) (offset, size uint64, err error) {
	if length := f.Length(); i >= length {
		return 0, 0, fmt.Errorf("block %d of %d: %w", i, length, ErrOutOfRange)
	}
	if start, end, ok := f.spanOf(i); ok {
		return start, end - start, nil
	}
	leaf, err := f.readNode(2 * i)
	if err != nil {
		return 0, 0, fmt.Errorf("locate block %d: %w", i, err)
	}
	if offset, err = f.offsetFromTree(i); err != nil {
		return 0, 0, fmt.Errorf("locate block %d: %w", i, err)
	}
	return offset, leaf.Size, nil
}

// Seek finds the block holding byte off of the feed and the offset inside
// it. Empty blocks hold no bytes and are never returned; off equal to the
// byte length gives (Length, 0), as in JavaScript.
func (f *Feed) Seek(off uint64) (index, inBlock uint64, err error) {
	f.mu.RLock()
	length, byteLength := f.mu.length, f.mu.byteLength
	if off < byteLength && uint64(len(f.mu.ends)) == length {
		ends := f.mu.ends
		i := uint64(sort.Search(len(ends), func(k int) bool { return ends[k] > off }))
		inBlock = off - f.offsetLocked(i)
		f.mu.RUnlock()
		return i, inBlock, nil
	}
	roots := f.mu.roots
	f.mu.RUnlock()
	switch {
	case off == byteLength:
		return length, 0, nil
	case off > byteLength:
		return 0, 0, fmt.Errorf("seek to byte %d of %d: %w", off, byteLength, ErrOutOfRange)
	}
	if idx := f.index(); idx != nil {
		i, start, _, ok, err := idx.BlockAt(off)
		if err != nil {
			f.dropIndex("seek", err)
		} else if ok {
			return i, off - start, nil
		}
	}
	return f.seekTree(roots, off)
}

// SeekFetch is Seek for a sparse replica, which may lack the tree nodes
// that locate byte off: it then fetches blocks through the Fetcher (Get,
// until ctx ends) in a binary search on their offsets, so at most about
// log2(length) blocks, each of which brings the proof nodes that place
// it.
func (f *Feed) SeekFetch(ctx context.Context, off uint64) (index, inBlock uint64, err error) {
	i, in, err := f.Seek(off)
	if err == nil || errors.Is(err, ErrOutOfRange) || errors.Is(err, ErrClosed) {
		return i, in, err
	}
	lo, hi := uint64(0), f.Length() // the block holding off is in [lo, hi)
	for lo < hi {
		mid := lo + (hi-lo)/2
		start, size, err := f.BlockRange(mid)
		if err != nil {
			if _, gerr := f.Get(ctx, mid); gerr != nil {
				return 0, 0, fmt.Errorf("seek to byte %d: fetch block %d: %w", off, mid, gerr)
			}
			if start, size, err = f.BlockRange(mid); err != nil {
				return 0, 0, fmt.Errorf("seek to byte %d: %w", off, err)
			}
		}
		switch {
		case off < start:
			hi = mid
		case off >= start+size:
			lo = mid + 1
		default:
			return mid, off - start, nil
		}
	}
	return 0, 0, fmt.Errorf("%w: byte %d of %d is in no block", ErrCorrupt, off, f.ByteLength())
}

// seekTree walks the roots, then descends, subtracting left sizes.
func (f *Feed) seekTree(roots []tree.Node, off uint64) (uint64, uint64, error) {
	for _, r := range roots {
		if off >= r.Size {
			off -= r.Size
			continue
		}
		n := r
		for tree.Depth(n.Index) > 0 {
			l, err := f.readNode(tree.LeftChild(n.Index))
			if err != nil {
				return 0, 0, fmt.Errorf("seek: %w", err)
			}
			if off < l.Size {
				n = l
				continue
			}
			off -= l.Size
			if n, err = f.readNode(tree.RightChild(n.Index)); err != nil {
				return 0, 0, fmt.Errorf("seek: %w", err)
			}
		}
		return n.Index / 2, off, nil
	}
	return 0, 0, fmt.Errorf("%w: roots do not cover byte %d", ErrCorrupt, off)
}

// RootHashes returns the full roots of the feed's first i+1 blocks.
func (f *Feed) RootHashes(i uint64) ([]tree.Node, error) {
	if n := f.Length(); i >= n {
		return nil, fmt.Errorf("roots of block %d of %d: %w", i, n, ErrOutOfRange)
	}
	return f.readRoots(i + 1)
}

// Signature returns the first stored signature at or after block i and the
// block whose length (slot+1) it signs, as JavaScript's signature(i) does.
func (f *Feed) Signature(i uint64) (sig []byte, slot uint64, err error) {
	length := f.Length()
	if f.deferSign && i < length {
		// Sign exactly length i+1 if nothing has (sign.go).
		if err := f.signLength(i+1, nil); err != nil {
			return nil, 0, err
		}
	}
	const batch = 256
	buf := make([]byte, batch*signatureSize)
	for s := i; s < length; s += batch {
		n := min(batch, length-s)
		b := buf[:n*signatureSize]
		if _, err := readFull(f.sigs, b, signatureOffset(s)); err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, 0, fmt.Errorf("read signatures from %d: %w", s, err)
		}
		for k := range n {
			if rec := b[k*signatureSize : (k+1)*signatureSize]; !isZero(rec) {
				return append([]byte(nil), rec...), s + k, nil
			}
		}
	}
	return nil, 0, fmt.Errorf("signature at or after block %d: %w", i, ErrNotAvailable)
}

// Verify checks sig as the signature of the feed's first i+1 blocks.
func (f *Feed) Verify(i uint64, sig []byte) error {
	roots, err := f.RootHashes(i)
	if err != nil {
		return err
	}
	if !tree.VerifyRoots(ed25519.PublicKey(f.key), roots, i+1, sig) {
		return fmt.Errorf("%w: signature for length %d", tree.ErrBadSignature, i+1)
	}
	return nil
}

func leafMatches(leaf tree.Node, data []byte) bool {
	if uint64(len(data)) != leaf.Size {
		return false
	}
	lh := leafHashers.Get().(*tree.LeafHasher)
	defer leafHashers.Put(lh)
	return lh.Leaf(tree.Offset(leaf.Index), data).Hash == leaf.Hash
}
