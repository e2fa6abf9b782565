package feed

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"

	"time"

	"github.com/hyperfs/hyperfs/tree"
)

// Options configure Create and Open.
type Options struct {
	// Key, when set, must match the stored key (Open) or the secret key
	// (Create).
	Key ed25519.PublicKey
	// SecretKey makes Create use this key pair instead of a new one.
	SecretKey ed25519.PrivateKey
	// Logger receives recovery and corruption notes; nil discards them.
	Logger *slog.Logger
	// Index, when set, holds the feed's offsets instead of memory, so
	// Open reads no more of the tree than the roots (see Index).
	Index Index
	// DeferSigning makes Append leave signatures until one is needed
	// (sign.go): a stream of single-block appends then costs one Ed25519
	// signature per Sync or per proof asked for, not one per append.
	DeferSigning bool
}

// Feed is one hypercore 9 feed on a Storage. All methods are safe for
// concurrent use; see the package documentation for the locking rules.
type Feed struct {
	key       ed25519.PublicKey
	secretKey ed25519.PrivateKey // nil for a replica
	discovery [32]byte
	log       *slog.Logger

	// Files and the lock never change after open; File is safe for
	// concurrent use, so reading them takes no lock.
	store                    Storage
	lock                     io.Closer
	data, treeF, sigs, bitsF File
	// readOnly is set when the storage could only be opened for reading
	// (ReadOnlyLock): nothing is written, not even an open's repairs.
	readOnly bool
	// deferSign is Options.DeferSigning (sign.go).
	deferSign bool
	// signMu serialises writers of deferred signatures; held across one
	// Ed25519 signature and one pwrite, never a sync, and never while
	// taking writeMu or syncMu.
	signMu sync.Mutex

	// writeMu serialises everything that writes blocks, nodes or
	// signatures (Append, Put, Clear, Audit). It is held across file
	// writes but never across a sync.
	writeMu sync.Mutex
	// scratch holds Append's buffers from one call to the next, so a
	// stream of one-block appends allocates less; writeMu guards it.
	scratch struct {
		span, nodes []tree.Node
		tree        []byte
	}
	// syncMu serialises Sync, which holds it across fsyncs and the
	// bitfield write, and never while taking writeMu.
	syncMu sync.Mutex

	// idx is the external offset index, nil without one or after it
	// failed (the feed then falls back to its tree file).
	idx atomic.Pointer[Index]

	// nextRead is the block after the last one Get returned; a Get of
	// exactly that block is a sequential read (see verifyAhead).
	nextRead atomic.Uint64
	// ahead holds the blocks of the last window verifyAhead verified,
	// and the next window, being hashed (readahead.go); the mutex guards
	// the fields, whose values are replaced, never changed.
	ahead struct {
		sync.Mutex
		cur, next *window
	}
	// fresh hands blocks a local reader asked for from Put to Get
	// (fresh.go).
	fresh freshBlocks

	mu struct {
		sync.RWMutex
		// length and byteLength: the verified length and its size.
		length, byteLength uint64
		// roots are the full roots of length, ascending.
		roots []tree.Node
		// bits is the data/tree bitfield, authoritative for Has and
		// HasNode; its dirty pages are what Sync commits.
		bits *bitfield
		// ends[i] is the end offset of block i for the prefix of blocks
		// whose leaf sizes are known, so offsets need no tree walk.
		ends []uint64
		// verified has a bit per block whose bytes were hashed since
		// open (or written by us), so reads hash each block once.
		verified []uint64
		// unsynced is set when appended or downloaded data awaits Sync.
		unsynced bool
		// grown is when the length last grew since open (an append, or
		// a longer signed length learned from a peer); zero before.
		grown time.Time
		// signed is a length whose signature is known to be stored (the
		// recovered length, or the last one signed); with deferSign the
		// lengths after it may have none yet.
		signed uint64
		// changed is closed and replaced on every change (broadcast)
		// that someone may be waiting for: changedTaken is set when it
		// is handed out (under the read lock, so atomic), and a change
		// with nobody holding the channel makes no new one.
		changed      chan struct{}
		changedTaken atomic.Bool
		// subs receive events; see Subscribe.
		subs map[*Subscription]struct{}
		// fetcher asks peers for missing blocks; nil when none.
		fetcher Fetcher
		closed  bool
	}
}

// Create makes a new writable feed on s. With opts.SecretKey it uses that
// key pair (so a feed can be re-created byte for byte), otherwise a new one.
func Create(s Storage, opts Options) (*Feed, error) {
	sk := opts.SecretKey
	if sk == nil {
		var err error
		if _, sk, err = ed25519.GenerateKey(rand.Reader); err != nil {
			return nil, fmt.Errorf("generate key pair: %w", err)
		}
	}
	if len(sk) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("create feed: secret key is %d bytes, want %d", len(sk), ed25519.PrivateKeySize)
	}
	pub := sk.Public().(ed25519.PublicKey)
	if opts.Key != nil && !bytes.Equal(opts.Key, pub) {
		return nil, fmt.Errorf("create feed: key does not match the secret key")
	}
	lock, err := s.Lock()
	if err != nil {
		return nil, err
	}
	f, err := openLocked(s, lock, opts, func(keyF, skF File) error {
		if n, _ := keyF.Size(); n != 0 {
			return fmt.Errorf("create feed: %w", errors.New("a feed already exists here"))
		}
		if err := writeAll(skF, sk, 0); err != nil {
			return err
		}
		if err := writeAll(keyF, pub, 0); err != nil {
			return err
		}
		return syncAll(skF, keyF)
	})
	if err != nil {
		return nil, err
	}
	return f, nil
}

// Open opens the feed stored on s: writable when its secret key is stored,
// a replica when only its key is. Open recovers the committed length from
// the bitfield and keeps only the longest prefix whose signature verifies.
func Open(s Storage, opts Options) (*Feed, error) {
	lock, err := s.Lock()
	if err != nil {
		return nil, err
	}
	return openLocked(s, lock, opts, nil)
}

// CreateReplica makes an empty replica of the feed with the given key on s,
// ready for Put.
func CreateReplica(s Storage, key ed25519.PublicKey, opts Options) (*Feed, error) {
	if len(key) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("create replica: key is %d bytes, want %d", len(key), ed25519.PublicKeySize)
	}
	lock, err := s.Lock()
	if err != nil {
		return nil, err
	}
	return openLocked(s, lock, opts, func(keyF, _ File) error {
		if n, _ := keyF.Size(); n != 0 {
			return nil // Open's key check decides
		}
		if err := writeAll(keyF, key, 0); err != nil {
			return err
		}
		return syncAll(keyF)
	})
}

// syncAll makes files durable: a new feed's keys and headers must survive
// any crash after Create returns, whatever happens to later appends.
func syncAll(files ...File) error {
	for _, f := range files {
		if err := f.Sync(); err != nil {
			return err
		}
	}
	return nil
}

func writeAll(f File, b []byte, off int64) error {
	if _, err := f.WriteAt(b, off); err != nil {
		return err
	}
	return nil
}

// openLocked opens every file under the held lock; init, when set, writes
// the key files of a new feed first. On error it releases the lock.
func openLocked(s Storage, lock io.Closer, opts Options, init func(keyF, skF File) error) (_ *Feed, err error) {
	f := &Feed{store: s, lock: lock, log: opts.Logger, deferSign: opts.DeferSigning}
	if opts.Index != nil {
		f.idx.Store(&opts.Index)
	}
	if f.log == nil {
		f.log = slog.New(slog.DiscardHandler)
	}
	files := map[string]*File{fileData: &f.data, fileTree: &f.treeF, fileSignatures: &f.sigs, fileBitfield: &f.bitsF}
	defer func() {
		if err != nil {
			f.closeFiles()
		}
	}()
	if ro, ok := lock.(ReadOnlyLock); ok && ro.ReadOnly() {
		if init != nil {
			return nil, fmt.Errorf("create feed: %w", ErrReadOnly)
		}
		f.readOnly = true
	}
	for name, dst := range files {
		if *dst, err = s.Open(name); err != nil {
			return nil, fmt.Errorf("open %s: %w", name, err)
		}
	}
	if !f.readOnly {
		f.treeF = newWriteBehind(f.treeF)
		f.data = newWriteBehind(f.data)
	}
	keyF, err := s.Open(fileKey)
	if err != nil {
		return nil, err
	}
	defer keyF.Close()
	skF, err := s.Open(fileSecretKey)
	if err != nil {
		return nil, err
	}
	defer skF.Close()
	if init != nil {
		if err := init(keyF, skF); err != nil {
			return nil, err
		}
	}
	if err := f.loadKeys(keyF, skF, opts.Key); err != nil {
		return nil, err
	}
	f.discovery = tree.DiscoveryKey(f.key)
	f.mu.bits = newBitfield()
	f.mu.changed = make(chan struct{})
	f.mu.subs = map[*Subscription]struct{}{}
	if err := f.loadHeaders(); err != nil {
		return nil, err
	}
	if err := f.recover(); err != nil {
		return nil, fmt.Errorf("open feed %x: %w", f.key[:8], err)
	}
	if f.readOnly {
		f.log.Warn("feed storage is read-only; opened for reading only", "key", fmt.Sprintf("%x", f.key[:8]))
	}
	return f, nil
}

func (f *Feed) loadKeys(keyF, skF File, want ed25519.PublicKey) error {
	key := make([]byte, ed25519.PublicKeySize)
	if _, err := readFull(keyF, key, 0); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return ErrNoFeed
		}
		return fmt.Errorf("read key: %w", err)
	}
	if want != nil && !bytes.Equal(want, key) {
		return fmt.Errorf("%w: stored key %x, want %x", ErrWrongKey, key[:8], []byte(want)[:8])
	}
	f.key = key
	if n, _ := skF.Size(); n == 0 {
		return nil
	}
	sk := make([]byte, ed25519.PrivateKeySize)
	if _, err := readFull(skF, sk, 0); err != nil {
		return fmt.Errorf("%w: secret_key: %v", ErrCorrupt, err)
	}
	if !bytes.Equal(sk[32:], key) || !bytes.Equal(ed25519.NewKeyFromSeed(sk[:32]), sk) {
		return fmt.Errorf("%w: secret_key does not belong to key %x", ErrCorrupt, key[:8])
	}
	f.secretKey = sk
	return nil
}

// loadHeaders checks the three headers and writes any that are missing,
// as JavaScript does on every open, and loads the bitfield pages.
func (f *Feed) loadHeaders() error {
	for _, h := range []struct {
		name string
		file File
		want []byte
	}{{fileTree, f.treeF, treeHeader}, {fileSignatures, f.sigs, signaturesHeader}, {fileBitfield, f.bitsF, bitfieldHeader}} {
		size, err := h.file.Size()
		if err != nil {
			return fmt.Errorf("stat %s: %w", h.name, err)
		}
		if size == 0 {
			if f.readOnly {
				return fmt.Errorf("%w: %s has no header, and the storage is read-only", ErrCorrupt, h.name)
			}
			if err := writeAll(h.file, h.want, 0); err != nil {
				return fmt.Errorf("write %s header: %w", h.name, err)
			}
			if err := h.file.Sync(); err != nil {
				return fmt.Errorf("sync %s header: %w", h.name, err)
			}
			continue
		}
		got := make([]byte, headerSize)
		if _, err := readFull(h.file, got, 0); err != nil {
			return fmt.Errorf("%w: %s is %d bytes, shorter than its header", ErrCorrupt, h.name, size)
		}
		entry, err := checkHeader(h.name, got, h.want)
		if err != nil {
			return err
		}
		if h.name == fileBitfield && entry != pageSize {
			return fmt.Errorf("%w: bitfield page size %d is not supported (want %d)", ErrCorrupt, entry, pageSize)
		}
	}
	size, err := f.bitsF.Size()
	if err != nil {
		return fmt.Errorf("stat bitfield: %w", err)
	}
	body := make([]byte, size-headerSize)
	if _, err := readFull(f.bitsF, body, headerSize); err != nil {
		return fmt.Errorf("read bitfield: %w", err)
	}
	f.mu.bits.load(body)
	return nil
}

// Close syncs the feed, closes its files and releases its lock. Waiters
// and subscriptions are woken with ErrClosed.
func (f *Feed) Close() error {
	err := f.Sync()
	f.writeMu.Lock()
	defer f.writeMu.Unlock()
	f.mu.Lock()
	if f.mu.closed {
		f.mu.Unlock()
		return nil
	}
	f.mu.closed = true
	f.notifyLocked(Event{Kind: EventClosed})
	f.mu.Unlock()
	f.dropAhead()                 // up to 2*aheadBytes held for sequential readers
	f.fresh.forget(0, ^uint64(0)) // and up to freshBytes for readers of a replica
	if cerr := f.closeFiles(); err == nil {
		err = cerr
	}
	return err
}

func (f *Feed) closeFiles() error {
	var errs []error
	for _, c := range []io.Closer{f.data, f.treeF, f.sigs, f.bitsF, f.lock} {
		if c != nil {
			errs = append(errs, c.Close())
		}
	}
	return errors.Join(errs...)
}

// Key is the feed's public key.
func (f *Feed) Key() ed25519.PublicKey { return f.key }

// DiscoveryKey is the feed's name on the wire (spec 1.2).
func (f *Feed) DiscoveryKey() [32]byte { return f.discovery }

// Writable reports whether the secret key is stored, so Append works.
func (f *Feed) Writable() bool { return f.secretKey != nil }

// ReadOnly reports a feed whose storage could only be opened for reading.
func (f *Feed) ReadOnly() bool { return f.readOnly }

// SecretKey returns the secret key, or nil for a replica.
func (f *Feed) SecretKey() ed25519.PrivateKey { return f.secretKey }

// Length is the number of blocks in the verified feed.
func (f *Feed) Length() uint64 {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.mu.length
}

// ByteLength is the total size of the verified feed's blocks.
func (f *Feed) ByteLength() uint64 {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.mu.byteLength
}

// ModTime is when the feed last grew: its last append, or the last longer
// length learned from a peer. Downloads of blocks below the length do not
// count: they change no byte a reader can see, and a FUSE kernel that saw
// the time change would drop the cached pages of a replica being read.
// Before the feed grows after open it is the data file's time as its
// storage tells (the kernel's mtime for DirStorage); zero when the storage
// cannot tell or the feed has no data yet.
func (f *Feed) ModTime() time.Time {
	f.mu.RLock()
	t := f.mu.grown
	f.mu.RUnlock()
	if !t.IsZero() {
		return t
	}
	mt, ok := f.data.(ModTimer)
	if !ok {
		return time.Time{}
	}
	t, err := mt.ModTime()
	if err != nil {
		return time.Time{}
	}
	return t
}

// Has reports whether block i is stored locally.
func (f *Feed) Has(i uint64) bool {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return i < f.mu.length && f.mu.bits.HasBlock(i)
}

// BlockBits returns the data bits of blocks [start, end) as a peer's Have
// bitfield carries them (MSB first, spec 4.8.3), cut at the feed's length.
// start must be a multiple of 8.
func (f *Feed) BlockBits(start, end uint64) ([]byte, error) {
	if start%8 != 0 {
		return nil, fmt.Errorf("block bits from %d: start not a multiple of 8", start)
	}
	f.mu.RLock()
	defer f.mu.RUnlock()
	end = min(end, f.mu.length)
	if start >= end {
		return nil, nil
	}
	return f.mu.bits.AppendBlockBits(make([]byte, 0, (end-start+7)/8), start, end), nil
}

// Downloaded counts the blocks in [start, end) that are stored locally.
func (f *Feed) Downloaded(start, end uint64) uint64 {
	f.mu.RLock()
	defer f.mu.RUnlock()
	end = min(end, f.mu.length)
	if start >= end {
		return 0
	}
	return f.mu.bits.CountBlocks(start, end)
}

// HasNode reports whether tree node n is stored (implements tree.NodeSet).
func (f *Feed) HasNode(n uint64) bool {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.mu.bits.HasNode(n)
}

// Node reads stored tree node n (implements tree.NodeSource).
func (f *Feed) Node(n uint64) (tree.Node, error) {
	return f.readNode(n)
}

// readNode returns stored node n from the index's node cache, else from
// the tree file (and offers it to the cache). Callers check HasNode first
// where a missing node is not corruption.
func (f *Feed) readNode(n uint64) (tree.Node, error) {
	if n >= tree.MaxIndex {
		return tree.Node{}, fmt.Errorf("%w: node %d", ErrOutOfRange, n)
	}
	idx := f.index()
	if idx != nil {
		if node, ok := idx.Node(n); ok {
			return node, nil
		}
	}
	node, err := f.readTreeNode(n)
	if err == nil && idx != nil {
		idx.CacheNode(node)
	}
	return node, err
}

func (f *Feed) readTreeNode(n uint64) (tree.Node, error) {
	var b [nodeSize]byte
	if _, err := readFull(f.treeF, b[:], nodeOffset(n)); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return tree.Node{}, fmt.Errorf("%w: tree node %d missing (tree file too short)", ErrCorrupt, n)
		}
		return tree.Node{}, fmt.Errorf("read tree node %d: %w", n, err)
	}
	node, ok := decodeNode(n, b[:])
	if !ok {
		return tree.Node{}, fmt.Errorf("%w: tree node %d is blank", ErrCorrupt, n)
	}
	return node, nil
}

func (f *Feed) readRoots(length uint64) ([]tree.Node, error) {
	idx := tree.FullRoots(2 * length)
	roots := make([]tree.Node, 0, len(idx))
	for _, i := range idx {
		n, err := f.readNode(i)
		if err != nil {
			return nil, err
		}
		roots = append(roots, n)
	}
	return roots, nil
}

func sumSizes(nodes []tree.Node) uint64 {
	var s uint64
	for _, n := range nodes {
		s += n.Size
	}
	return s
}
