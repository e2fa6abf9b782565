package feed

import (
	"context"
	"fmt"
)

// Clear drops the local copies of blocks [start, end) (spec 3.11). Tree
// nodes and signatures stay, so the length and proofs survive and the
// blocks can be fetched again. The bitfield is committed first; then, if
// the cleared bytes reach the end of the data file, the file is cut at the
// first of them, as JavaScript's storage does.
func (f *Feed) Clear(start, end uint64) error {
	if f.readOnly {
		return fmt.Errorf("clear [%d, %d): %w", start, end, ErrReadOnly)
	}
	f.writeMu.Lock()
	defer f.writeMu.Unlock()
	end = min(end, f.Length())
	if start >= end {
		return nil
	}
	from, err := f.offsetOrLength(start)
	if err != nil {
		return fmt.Errorf("clear [%d, %d): %w", start, end, err)
	}
	to, err := f.offsetOrLength(end)
	if err != nil {
		return fmt.Errorf("clear [%d, %d): %w", start, end, err)
	}
	f.fresh.forget(start, end)
	f.mu.Lock()
	if f.mu.closed {
		f.mu.Unlock()
		return ErrClosed
	}
	changed := false
	for i := start; i < end; i++ {
		if f.mu.bits.SetBlock(i, false) {
			changed = true
			if i/64 < uint64(len(f.mu.verified)) {
				f.mu.verified[i/64] &^= 1 << (i % 64)
			}
		}
	}
	if changed {
		f.notifyLocked(Event{Kind: EventClear, Start: start, End: end})
	}
	f.mu.Unlock()
	if !changed {
		return nil
	}
	if err := f.Sync(); err != nil {
		return err
	}
	size, err := f.data.Size()
	if err != nil {
		return fmt.Errorf("clear: stat data: %w", err)
	}
	if to >= uint64(size) {
		if err := f.data.Truncate(int64(from)); err != nil {
			return fmt.Errorf("clear: truncate data at %d: %w", from, err)
		}
		if err := f.data.Sync(); err != nil {
			return fmt.Errorf("clear: sync data: %w", err)
		}
	}
	return nil
}

// offsetOrLength is block i's offset, or the byte length for i == Length.
func (f *Feed) offsetOrLength(i uint64) (uint64, error) {
	f.mu.RLock()
	length, byteLength := f.mu.length, f.mu.byteLength
	f.mu.RUnlock()
	if i >= length {
		return byteLength, nil
	}
	off, _, err := f.BlockRange(i)
	return off, err
}

// AuditResult counts the stored blocks that matched their hash and those
// that did not (and were cleared).
type AuditResult struct {
	Valid, Invalid uint64
	// Bad lists the invalid blocks.
	Bad []uint64
}

// Audit re-hashes every stored block, forgets the ones whose bytes no
// longer match (so they read as missing and can be fetched again), and
// commits the result.
func (f *Feed) Audit(ctx context.Context) (AuditResult, error) {
	var res AuditResult
	length := f.Length()
	for i := uint64(0); i < length; i++ {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		if !f.Has(i) {
			continue
		}
		ok, err := f.auditBlock(i)
		if err != nil {
			return res, fmt.Errorf("audit block %d: %w", i, err)
		}
		if ok {
			res.Valid++
			continue
		}
		res.Invalid++
		res.Bad = append(res.Bad, i)
		f.mu.Lock()
		f.mu.bits.SetBlock(i, false)
		if i/64 < uint64(len(f.mu.verified)) {
			f.mu.verified[i/64] &^= 1 << (i % 64)
		}
		f.notifyLocked(Event{Kind: EventClear, Start: i, End: i + 1})
		f.mu.Unlock()
	}
	if res.Invalid > 0 {
		if err := f.Sync(); err != nil {
			return res, err
		}
	}
	return res, nil
}

// auditBlock hashes block i's stored bytes against its leaf node.
func (f *Feed) auditBlock(i uint64) (bool, error) {
	leaf, err := f.readNode(2 * i)
	if err != nil {
		return false, nil
	}
	off, _, err := f.BlockRange(i)
	if err != nil {
		return false, nil
	}
	if leaf.Size > MaxBlockSize {
		return false, nil
	}
	buf := make([]byte, leaf.Size)
	if _, err := readFull(f.data, buf, int64(off)); err != nil {
		return false, nil
	}
	return leafMatches(leaf, buf), nil
}
