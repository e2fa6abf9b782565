package feed

import (
	"fmt"
	"slices"

	"github.com/hyperfs/hyperfs/tree"
)

// Deferred signing (Options.DeferSigning).
//
// Hypercore 9 signs the roots of a batch's new length and stores the
// signature in the slot of the batch's last block; slots inside a batch
// stay zero, and a reader takes the first signature at or after the block
// it needs. Signing (about 25 us) is most of the cost of a one-block
// append, and the mount appends one block per write(2). With deferred
// signing, Append writes data and tree as usual and no signature; the
// lengths reached since the last signature are signed when one is needed:
//
//   - Sync signs the length it commits, before its bitfield write, so a
//     committed length always has its signature: recovery never steps back
//     past a block a completed Sync acknowledged.
//   - Signature(i), which proofs for peers and the info of a feed use,
//     signs length i+1 if its slot is empty: a peer asking for new blocks
//     gets a signature of exactly the length its proof ends in.
//   - Close syncs, and so signs.
//
// The files are then what JavaScript writes for larger batches (one per
// Sync or proof), and JavaScript opens them as such. A crash loses the
// blocks after the last signed length, which no Sync acknowledged.

// signLength stores the signature of the first length blocks in slot
// length-1 unless it is there already. roots are that length's roots, or
// nil to read them from the tree file.
func (f *Feed) signLength(length uint64, roots []tree.Node) error {
	if length == 0 || f.secretKey == nil || f.readOnly {
		return nil
	}
	f.signMu.Lock()
	defer f.signMu.Unlock()
	f.mu.RLock()
	done := f.mu.signed == length
	f.mu.RUnlock()
	if done {
		return nil
	}
	var stored [signatureSize]byte
	if _, err := readFull(f.sigs, stored[:], signatureOffset(length-1)); err == nil && !isZero(stored[:]) {
		return nil // signed before (a batch's end, or an earlier call)
	}
	if roots == nil {
		var err error
		if roots, err = f.readRoots(length); err != nil {
			return fmt.Errorf("sign length %d: %w", length, err)
		}
	}
	sig := tree.Sign(f.secretKey, roots, length)
	if err := writeAll(f.sigs, sig, signatureOffset(length-1)); err != nil {
		return fmt.Errorf("sign length %d: write signature: %w", length, err)
	}
	f.mu.Lock()
	f.mu.signed = length
	f.mu.Unlock()
	return nil
}

// pendingSignatureLocked returns the length and roots Sync must sign before it
// commits length, or 0 when that length is signed. Called with f.mu held.
func (f *Feed) pendingSignatureLocked() (uint64, []tree.Node) {
	if !f.deferSign || f.mu.signed == f.mu.length {
		return 0, nil
	}
	return f.mu.length, slices.Clone(f.mu.roots)
}
