package feed

import (
	"errors"
	"fmt"
	"sync"
	"time"
)

// writeBehind holds a File's writes in memory until enough have gathered
// to be worth a system call. It fronts the tree and data files: a
// one-block append of 100 bytes writes those bytes, a leaf and on average
// one parent, in two or three pwrites that cost more than everything else
// the append does. Held here, a stream of such appends costs one pwrite
// per writeBehindBytes of each file.
//
// Nothing becomes less durable. The bitfield is the commit record (spec
// 3.9, recover.go) and only Sync writes it, after syncing the tree and
// data: Sync here writes what is held first. A crash loses held writes,
// but only writes past the commit point, which recovery discards anyway.
//
// Reads see every write: a read that touches a held range, or the file's
// end, writes what is held first, so the file itself always answers. Reads
// of older bytes, the common case, go straight to the file. Readers of the
// file itself (a passthrough backing file) cannot ask first, so while the
// file is shared (share) nothing is held.
type writeBehind struct {
	File

	mu sync.Mutex
	// runs are the held writes, in no order, none overlapping another;
	// held is their total length; size is the file's own size as of the
	// last write that reached it, -1 until asked; shared counts the
	// shares, during which nothing is held. All guarded by mu, which is
	// held across the pwrites of a flush but never a sync.
	runs   []heldRun
	held   int
	size   int64
	shared int
}

// heldRun is a write not yet made: b belongs at off. pooled is where b
// came from if from runBuffers.
type heldRun struct {
	off    int64
	b      []byte
	pooled *[]byte
}

// runBuffers recycles the buffers of a file's first run (no run holds
// more than writeBehindBytes): in a stream of small appends each flush
// would otherwise leave its buffer, grown by doubling, to the collector,
// which cost more in allocation and zeroing than the writes it saves.
// Later runs, a replica's scattered downloads, get buffers of their size.
var runBuffers = sync.Pool{New: func() any {
	b := make([]byte, 0, writeBehindBytes)
	return &b
}}

func (r heldRun) end() int64 { return r.off + int64(len(r.b)) }

const (
	// writeBehindBytes bounds what a file holds: 64 KiB is 800
	// one-block appends' tree records.
	writeBehindBytes = 64 << 10
	// writeBehindRuns bounds the runs a flush writes one by one; sparse
	// writers (a replica's downloads) reach it long before the bytes.
	writeBehindRuns = 32
	// writeBehindGap is the widest hole past the file's end that a run
	// is stretched over with zeros, so that a leaf written beyond a
	// parent that is not complete yet still joins the run before it.
	writeBehindGap = 4 << 10
)

func newWriteBehind(f File) *writeBehind {
	return &writeBehind{File: f, size: -1}
}

// WriteAt holds p unless it is too large to be worth holding.
func (w *writeBehind) WriteAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("write at %d: negative offset", off)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.knowSizeLocked(); err != nil {
		return 0, err
	}
	if len(p) == 0 || w.shared > 0 {
		// An empty write must create the file now, as the File
		// contract says; a shared file holds nothing.
		return w.writeLocked(p, off)
	}
	if len(p) > writeBehindBytes/2 && !w.overlapsLocked(off, int64(len(p))) {
		// Large writes gain nothing from waiting.
		return w.writeLocked(p, off)
	}
	if err := w.holdLocked(p, off); err != nil {
		return 0, err
	}
	return len(p), nil
}

// WriteVAt implements VectorWriter: bufs are held back to back from off,
// or written in one vectored call when together they are too large to be
// worth holding.
func (w *writeBehind) WriteVAt(bufs [][]byte, off int64) error {
	if off < 0 {
		return fmt.Errorf("write at %d: negative offset", off)
	}
	var total int
	for _, b := range bufs {
		total += len(b)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.knowSizeLocked(); err != nil {
		return err
	}
	if total == 0 || w.shared > 0 || (total > writeBehindBytes/2 && !w.overlapsLocked(off, int64(total))) {
		err := writeBlocks(w.File, bufs, off)
		if err != nil {
			w.size = -1 // a partial write: ask again
			return err
		}
		w.size = max(w.size, off+int64(total))
		return nil
	}
	for _, b := range bufs {
		if len(b) == 0 {
			continue
		}
		if err := w.holdLocked(b, off); err != nil {
			return err
		}
		off += int64(len(b))
	}
	return nil
}

// holdLocked holds p at off, writing what is held first when p does not
// fit beside it. A p larger than writeBehindBytes/2 must not overlap a
// held run unless it falls inside one.
func (w *writeBehind) holdLocked(p []byte, off int64) error {
	if w.absorbLocked(p, off) {
		return nil
	}
	if len(w.runs) >= writeBehindRuns || w.held+len(p) > writeBehindBytes || w.overlapsLocked(off, int64(len(p))) {
		if err := w.flushLocked(); err != nil {
			return err
		}
	}
	if len(p) > writeBehindBytes/2 {
		_, err := w.writeLocked(p, off)
		return err
	}
	var run heldRun
	if len(w.runs) == 0 {
		// Likely the start of a stream: a buffer that takes all of it.
		run.pooled = runBuffers.Get().(*[]byte)
		run.b = (*run.pooled)[:0]
	} else {
		run.b = make([]byte, 0, max(len(p), 1024))
	}
	run.off, run.b = off, append(run.b, p...)
	w.runs = append(w.runs, run)
	w.held += len(p)
	return nil
}

// share writes what is held and holds nothing more until unshare.
func (w *writeBehind) share() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.flushLocked(); err != nil {
		return err
	}
	w.shared++
	return nil
}

func (w *writeBehind) unshare() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.shared--
}

// ModTime implements ModTimer with the file's own time.
func (w *writeBehind) ModTime() (time.Time, error) {
	if mt, ok := w.File.(ModTimer); ok {
		return mt.ModTime()
	}
	return time.Time{}, nil
}

// absorbLocked adds p to a run it falls inside, continues or follows
// across a hole past the file's end, and reports whether it did.
func (w *writeBehind) absorbLocked(p []byte, off int64) bool {
	end := off + int64(len(p))
	for i := range w.runs {
		r := &w.runs[i]
		if off >= r.off && end <= r.end() {
			copy(r.b[off-r.off:], p)
			return true
		}
		gap := off - r.end()
		if gap < 0 || gap > writeBehindGap || (gap > 0 && r.end() < w.size) {
			continue
		}
		if w.held+int(gap)+len(p) > writeBehindBytes || w.overlapsOtherLocked(i, r.end(), end-r.end()) {
			return false
		}
		r.b = append(r.b, make([]byte, gap)...)
		r.b = append(r.b, p...)
		w.held += int(gap) + len(p)
		return true
	}
	return false
}

func (w *writeBehind) overlapsLocked(off, n int64) bool {
	return w.overlapsOtherLocked(-1, off, n)
}

// overlapsOtherLocked reports whether a run other than runs[skip] shares
// a byte with [off, off+n).
func (w *writeBehind) overlapsOtherLocked(skip int, off, n int64) bool {
	for i, r := range w.runs {
		if i != skip && off < r.end() && r.off < off+n {
			return true
		}
	}
	return false
}

// knowSizeLocked learns the file's size once: a hole may only be filled
// with zeros where the file has nothing.
func (w *writeBehind) knowSizeLocked() error {
	if w.size >= 0 {
		return nil
	}
	n, err := w.File.Size()
	if err != nil {
		return fmt.Errorf("size before holding writes: %w", err)
	}
	w.size = n
	return nil
}

func (w *writeBehind) writeLocked(p []byte, off int64) (int, error) {
	n, err := w.File.WriteAt(p, off)
	if n > 0 {
		w.size = max(w.size, off+int64(n))
	}
	return n, err
}

// flushLocked writes the held runs. A run that fails stays held, with
// every run after it, for the next flush to try again.
func (w *writeBehind) flushLocked() error {
	for i, r := range w.runs {
		if _, err := w.writeLocked(r.b, r.off); err != nil {
			w.runs = append(w.runs[:0], w.runs[i:]...)
			w.held = 0
			for _, r := range w.runs {
				w.held += len(r.b)
			}
			return fmt.Errorf("write held bytes at %d: %w", r.off, err)
		}
	}
	for _, r := range w.runs {
		if r.pooled != nil && cap(r.b) == writeBehindBytes {
			*r.pooled = r.b[:0]
			runBuffers.Put(r.pooled)
		}
	}
	clear(w.runs) // drop the other buffers
	w.runs = w.runs[:0]
	w.held = 0
	return nil
}

// Flush writes what is held.
func (w *writeBehind) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.flushLocked()
}

// ReadAt writes what is held first when the read touches it, or reaches
// past the file's end (where a held run may have left a hole).
func (w *writeBehind) ReadAt(p []byte, off int64) (int, error) {
	w.mu.Lock()
	end := off + int64(len(p))
	if len(w.runs) > 0 && (end > w.size || w.overlapsLocked(off, int64(len(p)))) {
		if err := w.flushLocked(); err != nil {
			w.mu.Unlock()
			return 0, err
		}
	}
	w.mu.Unlock()
	return w.File.ReadAt(p, off)
}

// Size counts held bytes past the file's end.
func (w *writeBehind) Size() (int64, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n, err := w.File.Size()
	if err != nil {
		return 0, err
	}
	for _, r := range w.runs {
		n = max(n, r.end())
	}
	return n, nil
}

// Truncate writes what is held, then truncates: simpler than cutting
// runs, and truncation happens only in recovery and repair.
func (w *writeBehind) Truncate(size int64) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.flushLocked(); err != nil {
		return err
	}
	if err := w.File.Truncate(size); err != nil {
		return err
	}
	w.size = size
	return nil
}

// Sync writes what is held, then syncs without holding mu.
func (w *writeBehind) Sync() error {
	if err := w.Flush(); err != nil {
		return err
	}
	return w.File.Sync()
}

// Close writes what is held and closes the file, even when the writing
// fails.
func (w *writeBehind) Close() error {
	w.mu.Lock()
	err := w.flushLocked()
	w.mu.Unlock()
	return errors.Join(err, w.File.Close())
}
