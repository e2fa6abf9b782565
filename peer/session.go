package peer

import (
	"bytes"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"time"

	"github.com/hyperfs/hyperfs/feed"
	"github.com/hyperfs/hyperfs/peer/wire"
	"github.com/hyperfs/hyperfs/tree"
)

// Sentinel errors. Every error Receive returns means "close this
// connection"; those caused by the remote wrap ErrProtocol.
var (
	ErrProtocol   = errors.New("peer: protocol error")
	ErrCapability = fmt.Errorf("%w: invalid remote channel capability", ErrProtocol)
	ErrChecksum   = fmt.Errorf("%w: remote sent data that does not verify", ErrProtocol)
)

// Protocol constants (spec 4.8, section 6).
const (
	wantWindow  = 1 << 20 // blocks per Want
	wantAlign   = 8192    // a Want not aligned to this is ignored
	maxWantsOut = 16      // Wants awaiting their bitfield Have
	maxGetsOut  = 32      // requests in flight for explicit gets
	// A full-mode channel keeps about inflightBytes of blocks requested
	// (by the feed's mean block size, once its length is known; 64
	// requests before), between minInflight and maxInflight requests,
	// unless SessionConfig.MaxInflight fixes the count. A clone is a
	// pipeline of the seeder's reads and encryption, the socket, and
	// our decryption, hashing and writes: it runs at the speed of its
	// slowest stage only if every stage always has work, and 64
	// requests (4 MiB of 64 KiB blocks, what the inbox alone holds) left
	// stages idle: 256 took an in-process 100 MiB clone from ~320 to
	// ~365 MB/s, and a 1 KiB-block clone gained most up to 1024. More
	// requests cost no memory here: what comes back is bounded by the
	// inbox and TCP's window, and the seeder stops answering while its
	// output is full.
	inflightBytes   = 16 << 20
	minInflight     = 16
	maxInflight     = 1024
	defaultInflight = 64
	maxHaveBytes    = wantWindow / 8
	maxChannels     = 1 << 16 // channels a remote may open on one connection
	maxPendingOpens = 1 << 10 // remote Opens for feeds we have not opened
	// maxExtensionQueue and maxExtensionQueueBytes bound extension
	// messages (feed and stream) received and not yet taken by the
	// connection layer, which takes them after every batch of frames, so
	// the bounds matter only to a Session owner that does not.
	maxExtensionQueue      = 1 << 10
	maxExtensionQueueBytes = 16 << 20
	// maxAckQueue bounds acks received and not yet taken (TakeAcks).
	maxAckQueue = 1 << 12
	// maxUnacked is how many of the last Data sent on a channel whose
	// remote we asked for acks are remembered, each until acked.
	maxUnacked = 1 << 14
)

// FeedOptions say how one feed replicates.
type FeedOptions struct {
	// Full downloads every block the remote has, in order; otherwise
	// only blocks asked for with Want (sparse).
	Full bool
	// Live learns the remote's length as it grows, without the data:
	// when a peer announces blocks past our length, the hash of its last
	// block is requested, and its signature raises our length (JS's
	// update(), spec 4.8.6). Without it the length grows only with the
	// blocks downloaded.
	Live bool
	// NoUpload and NoDownload switch a direction off. A writable feed
	// never downloads.
	NoUpload, NoDownload bool
	// Extensions are the feed extension names this side registers (spec
	// 4.9): announced in Options, sorted, and the only names whose
	// messages are delivered (Session.TakeExtensions).
	Extensions []string
	// OnExtension receives, on the connection layer's goroutine and
	// outside its locks, each extension message a peer sends for the
	// feed under a registered name. The Swarm calls it; a Session only
	// queues the messages.
	OnExtension func(name string, payload []byte)
	// Ack asks every peer to acknowledge each Data we send it for this
	// feed once it has verified and stored the block (Options{ack:
	// true}, spec 4.8.8): "peer p holds block i".
	Ack bool
	// OnAck receives each such acknowledgement, on the connection
	// layer's goroutine and outside its locks: from acknowledged that
	// it stored block index. Only acks naming a block we sent that peer
	// and it has not acknowledged yet are reported, so each Data sent
	// is reported at most once. The Swarm calls it; a Session only
	// queues the acks (TakeAcks).
	OnAck func(from Remote, index uint64)
}

// ExtensionMessage is an extension message received from the remote
// under a name this side registered: a feed extension of Feed, or a
// stream extension (spec 4.9) when Feed is nil.
type ExtensionMessage struct {
	Feed    *feed.Feed
	Name    string
	Payload []byte
}

// Ack says that the remote verified and stored block Index of Feed, sent
// by us, after we asked it to acknowledge (FeedOptions.Ack).
type Ack struct {
	Feed  *feed.Feed
	Index uint64
}

// Capabilities derives channel capabilities from a connection's
// handshake (spec 1.7): what we send for a feed key, and what we expect.
type Capabilities interface {
	Capability(feedKey []byte) [32]byte
	RemoteCapability(feedKey []byte) [32]byte
}

// SessionConfig configures a Session.
type SessionConfig struct {
	Caps Capabilities
	// MaxInflight fixes the block requests in flight per channel in full
	// mode; 0 means about 16 MiB of blocks, between 16 and 1024
	// requests.
	MaxInflight int
	// StreamExtensions are the stream-level extension names this side
	// registers (spec 4.9): announced, sorted, in an Options on channel 0
	// when the session starts, and the only names whose channel-0
	// Extension messages are delivered (TakeExtensions, with a nil Feed).
	StreamExtensions []string
	// Reservations is shared by the sessions of one Swarm, so that each
	// block is requested from one peer at a time; nil gives the session
	// a table of its own.
	Reservations *Reservations
	// RequestTimeout is how long a channel's block requests may go
	// unanswered before Tick reports them stalled; 0 means never.
	RequestTimeout time.Duration
	Logger         *slog.Logger
}

// Session is the replication state of one connection: the deterministic
// core of spec 4.7-4.8. It does no I/O of its own besides calling the
// feeds it replicates, starts no goroutines and reads no clock: the
// connection layer hands it every received frame (Receive) and every
// local change (FeedEvent, Want), and sends what Output returns.
//
// A Session is not safe for concurrent use; its owner serialises calls.
type Session struct {
	cfg         SessionConfig
	log         *slog.Logger
	maxInflight int
	res         *Reservations

	// freed lists the feeds of which this session released blocks it
	// did not store while another session of the table could want them;
	// the owner reschedules those (takeFreed). ended is set by End:
	// nothing is requested, so nothing reserved, after it.
	freed []*feed.Feed
	ended bool
	// received counts Data with a block we asked for, handed to Put.
	received uint64

	out        []byte             // encoded plaintext frames not yet taken
	extIn      []ExtensionMessage // received, not yet taken
	extInBytes int                // payload bytes in extIn
	acks       []Ack              // received, not yet taken

	// Stream extensions (channel 0): ours, sorted, and the remote's from
	// its last channel-0 Options.
	streamExtensions       []string
	remoteStreamExtensions []string

	nextID uint64              // next local channel id; 0 is the stream
	local  map[uint64]*channel // by our channel id
	remote map[uint64]*channel // by the remote's channel id, once it opened
	byKey  map[[32]byte]*channel

	// pending holds remote Opens for discovery keys we have not opened:
	// the owner may open the feed later (JS's "discovery-key" event).
	pending map[[32]byte]remoteOpen
	unknown [][32]byte // discovery keys newly pending, for the owner

	// version counts changes to what remotes announced, so the owner can
	// tell waiters (a clone waiting for the remote length) cheaply.
	version uint64
}

type remoteOpen struct {
	id  uint64
	cap []byte
}

// channel is one feed on this connection.
type channel struct {
	f                      *feed.Feed
	dkey                   [32]byte
	id, remoteID           uint64
	opened                 bool // the remote's Open arrived and verified
	full, live             bool
	uploading, downloading bool

	// What the remote told us.
	remoteUploading bool
	remoteWant      bool     // sent a Want: gets every Have from now on
	remoteHas       rangeSet // blocks it announced
	remoteKnown     bool     // it answered a Want: remoteHas is its state
	remoteTree      tree.NodeMarks
	lastBytes       uint64 // last byte-offset request, ignored if repeated

	wantsSent   map[uint64]bool // windows asked for; true while unanswered
	wantsOut    int
	nextWant    uint64              // full mode: the next window to ask for
	inflight    map[uint64]struct{} // block requests awaiting Data
	hashPending bool                // a hash request for the remote's length is out
	gets        map[uint64]struct{} // blocks a local Get waits for
	cursor      uint64              // full mode: lowest block not yet requested
	claims      *claims             // this channel's reservations; every inflight block is reserved
	clock       requestClock        // the request timeout's (timeout.go)

	extensions       []string // ours, sorted: an extension's id is its position
	remoteExtensions []string // the remote's, from its last Options
	remoteAck        bool     // the remote asked to have each Data acknowledged
	ack              bool     // we asked the remote to acknowledge our Data
	unacked          ackLog   // Data sent since we asked, not yet acked
}

// NewSession returns an empty session.
func NewSession(cfg SessionConfig) *Session {
	s := &Session{
		cfg:         cfg,
		log:         cfg.Logger,
		maxInflight: cfg.MaxInflight,
		res:         cfg.Reservations,
		nextID:      1,
		local:       map[uint64]*channel{},
		remote:      map[uint64]*channel{},
		byKey:       map[[32]byte]*channel{},
		pending:     map[[32]byte]remoteOpen{},

		streamExtensions: sortedNames(cfg.StreamExtensions),
	}
	if len(s.streamExtensions) > 0 {
		// Channel 0 names the stream (spec 4.4). JS announces its own
		// names only with its first message; ours go out at once, so a
		// remote can map our ids whenever we send.
		s.send(0, wire.Options{Extensions: s.streamExtensions})
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.maxInflight <= 0 {
		s.maxInflight = defaultInflight
	}
	if s.res == nil {
		s.res = NewReservations()
	}
	return s
}

// Output returns the frames produced since the last call and takes buf
// (emptied) as the buffer for the next ones: a writer passing back the
// previous result swaps two buffers and copies nothing.
func (s *Session) Output(buf []byte) []byte {
	out := s.out
	s.out = buf[:0]
	return out
}

// Pending reports how many output bytes are waiting: the connection
// layer stops reading while a slow peer leaves too much unsent.
func (s *Session) Pending() int { return len(s.out) }

// Unknown returns the discovery keys the remote opened that we have not,
// since the last call: the owner opens those it holds.
func (s *Session) Unknown() [][32]byte {
	u := s.unknown
	s.unknown = nil
	return u
}

// hasUnknown reports whether Unknown would return keys: the connection
// then opens those feeds before it hands the session the next frame.
func (s *Session) hasUnknown() bool { return len(s.unknown) > 0 }

// Opened reports whether the channel of f is open at both ends.
func (s *Session) Opened(f *feed.Feed) bool {
	ch := s.byKey[f.DiscoveryKey()]
	return ch != nil && ch.opened
}

// RemoteLength is the length the remote has announced for f; known is
// false until it has answered our first Want.
func (s *Session) RemoteLength(f *feed.Feed) (length uint64, known bool) {
	if ch := s.byKey[f.DiscoveryKey()]; ch != nil {
		return ch.remoteHas.end(), ch.remoteKnown
	}
	return 0, false
}

// Version changes whenever a remote's announcements change.
func (s *Session) Version() uint64 { return s.version }

func (s *Session) send(id uint64, m wire.Message) {
	s.out = wire.AppendFrame(s.out, id, m)
}

// Open starts replicating f on this connection (spec 4.7).
func (s *Session) Open(f *feed.Feed, opts FeedOptions) {
	dkey := f.DiscoveryKey()
	if s.byKey[dkey] != nil || s.ended {
		return
	}
	writable := f.Writable()
	ch := &channel{
		f:               f,
		dkey:            dkey,
		full:            opts.Full,
		live:            opts.Live,
		uploading:       !opts.NoUpload,
		downloading:     !opts.NoDownload && !writable,
		remoteUploading: true,
		wantsSent:       map[uint64]bool{},
		inflight:        map[uint64]struct{}{},
		gets:            map[uint64]struct{}{},
		extensions:      sortedNames(opts.Extensions),
		ack:             opts.Ack,
	}
	ro, ok := s.pending[dkey]
	if ok {
		delete(s.pending, dkey)
		if !s.capabilityOK(f, ro.cap) {
			// JS answers a remote Open that does not prove the key with
			// Close{discoveryKey} instead of its own Open.
			s.send(s.allocID(), wire.Close{DiscoveryKey: dkey[:]})
			return
		}
	}
	ch.id = s.allocID()
	ch.claims = s.res.join(dkey)
	s.local[ch.id] = ch
	s.byKey[dkey] = ch
	c := s.cfg.Caps.Capability(f.Key())
	s.send(ch.id, wire.Open{DiscoveryKey: dkey[:], Capability: c[:]})
	if ok {
		s.attach(ch, ro.id)
	}
}

// sortedNames is names sorted bytewise without repeats: the order that
// gives each extension its id.
func sortedNames(names []string) []string {
	names = slices.Clone(names)
	slices.Sort(names)
	return slices.Compact(names)
}

// SendExtension sends payload to the remote as f's extension name, if
// this side registered name and the remote announced it (a remote
// without it would drop the message). It reports whether it sent.
func (s *Session) SendExtension(f *feed.Feed, name string, payload []byte) bool {
	ch := s.byKey[f.DiscoveryKey()]
	if ch == nil || !ch.opened || !slices.Contains(ch.remoteExtensions, name) {
		return false
	}
	return s.sendExtension(ch.id, ch.extensions, name, payload)
}

// SendStreamExtension sends payload to the remote as the stream
// extension name (spec 4.9), if this side registered name and the
// payload fits a frame. It reports whether it sent. Unlike feed
// extensions it does not wait for the remote's names: a JS peer
// announces its stream names only with its first stream message, so
// most never do; a remote without the name drops the message.
func (s *Session) SendStreamExtension(name string, payload []byte) bool {
	return s.sendExtension(0, s.streamExtensions, name, payload)
}

// sendExtension sends name, found in ours (sorted), on channel id.
func (s *Session) sendExtension(id uint64, ours []string, name string, payload []byte) bool {
	ext, found := slices.BinarySearch(ours, name)
	if !found {
		return false
	}
	if len(binary.AppendUvarint(nil, uint64(ext)))+len(payload) > wire.MaxBody {
		return false // the remote would close the connection
	}
	s.send(id, wire.Extension{ID: uint64(ext), Payload: payload})
	return true
}

// TakeExtensions returns the extension messages received since the last
// call, for the connection layer to deliver outside its lock.
func (s *Session) TakeExtensions() []ExtensionMessage {
	msgs := s.extIn
	s.extIn, s.extInBytes = nil, 0
	return msgs
}

// TakeAcks returns the acks received since the last call, for the
// connection layer to deliver outside its lock.
func (s *Session) TakeAcks() []Ack {
	acks := s.acks
	s.acks = nil
	return acks
}

// onExtension queues a message whose id names, in the remote's list
// (theirs), an extension this side registered (ours); others are
// dropped, as JS does. f is nil for the stream's extensions.
func (s *Session) onExtension(f *feed.Feed, theirs, ours []string, m *wire.Extension) {
	if m.ID >= uint64(len(theirs)) {
		return
	}
	name := theirs[m.ID]
	if _, found := slices.BinarySearch(ours, name); !found {
		return
	}
	if len(s.extIn) >= maxExtensionQueue || s.extInBytes+len(m.Payload) > maxExtensionQueueBytes {
		s.log.Warn("dropping extension messages: the application is not taking them", "extension", name)
		return
	}
	s.extInBytes += len(m.Payload)
	s.extIn = append(s.extIn, ExtensionMessage{Feed: f, Name: name, Payload: slices.Clone(m.Payload)})
}

// onStream handles a frame on channel 0 that no feed claims: the
// stream's extension names and messages (spec 4.9). JS gives channel 0
// to a feed only if the remote opened one there, as we do.
func (s *Session) onStream(m wire.Message) {
	switch m := m.(type) {
	case *wire.Options:
		// Options.ack means nothing for the stream; JS ignores it too.
		s.remoteStreamExtensions = m.Extensions
	case *wire.Extension:
		s.onExtension(nil, s.remoteStreamExtensions, s.streamExtensions, m)
	}
}

// Close stops replicating f: Close{} on its channel.
func (s *Session) Close(f *feed.Feed) {
	ch := s.byKey[f.DiscoveryKey()]
	if ch == nil {
		return
	}
	s.send(ch.id, wire.Close{})
	s.drop(ch)
}

func (s *Session) drop(ch *channel) {
	if ch.claims.leave() {
		s.noteFreed(ch.f)
	}
	clear(ch.inflight)
	delete(s.local, ch.id)
	delete(s.byKey, ch.dkey)
	if ch.opened {
		delete(s.remote, ch.remoteID)
	}
}

func (s *Session) allocID() uint64 {
	id := s.nextID
	s.nextID++
	return id
}

func (s *Session) capabilityOK(f *feed.Feed, got []byte) bool {
	want := s.cfg.Caps.RemoteCapability(f.Key())
	return len(got) == len(want) && subtle.ConstantTimeCompare(got, want[:]) == 1
}

// attach binds the remote's channel id and starts replication (JS's
// onopen, spec 4.8.2).
func (s *Session) attach(ch *channel, remoteID uint64) {
	ch.remoteID, ch.opened = remoteID, true
	s.remote[remoteID] = ch
	if len(ch.extensions) > 0 || ch.ack {
		// First, as JS does (spec 4.8.2): a JS peer drops Options on a
		// channel whose feed it has not opened yet, so they go once both
		// Opens exist.
		s.send(ch.id, wire.Options{Extensions: ch.extensions, Ack: ch.ack})
	}
	if !ch.uploading || !ch.downloading {
		s.send(ch.id, wire.Status{Uploading: ch.uploading, Downloading: ch.downloading})
	}
	if ch.downloading {
		s.want(ch, 0)
	}
	s.schedule(ch)
}

// Receive handles one frame from the remote. An error means the
// connection must be closed.
func (s *Session) Receive(fr wire.Frame) error {
	m, err := decodeFrame(fr)
	if err != nil || m == nil {
		return err
	}
	return s.receive(fr.Channel, m)
}

// decodeFrame decodes what Receive would handle: nil, with no error, for
// frames that are ignored whatever the state (keep-alives, types 11-14).
// It reads no session state and the message shares no memory with
// fr.Body, so a connection decodes on its receiving goroutine and hands
// the messages to receive later, on another.
func decodeFrame(fr wire.Frame) (wire.Message, error) {
	if fr.KeepAlive {
		return nil, nil
	}
	m, err := wire.Decode(fr.Type, fr.Body)
	if errors.Is(err, wire.ErrUnknownType) {
		return nil, nil // types 11-14: ignored, as JS does
	}
	if err != nil {
		return nil, fmt.Errorf("%w: channel %d: %w", ErrProtocol, fr.Channel, err)
	}
	return m, nil
}

// receive handles message m, decoded by decodeFrame, from the remote's
// channel id.
func (s *Session) receive(id uint64, m wire.Message) error {
	return s.receiveHashed(id, m, nil)
}

// receiveHashed is receive for a frame whose block the connection hashed
// ahead: leaf, when set, is the leaf node of a Data message's value
// (tree.Proof.Leaf).
func (s *Session) receiveHashed(id uint64, m wire.Message, leaf *tree.Node) error {
	if o, ok := m.(*wire.Open); ok {
		return s.onOpen(id, o)
	}
	ch := s.remote[id]
	if ch == nil {
		if id == 0 {
			s.onStream(m)
		}
		// Other unknown channels were never opened or are closed: JS
		// ignores them.
		return nil
	}
	switch m := m.(type) {
	case *wire.Options:
		// Names beyond what a frame can carry are not ours to bound
		// further: the frame cap (8 MiB) already does.
		ch.remoteExtensions, ch.remoteAck = m.Extensions, m.Ack
	case *wire.Extension:
		s.onExtension(ch.f, ch.remoteExtensions, ch.extensions, m)
	case *wire.Unwant, *wire.Cancel:
		return nil // JS ignores both too (spec 4.8)
	case *wire.Status:
		s.onStatus(ch, m)
	case *wire.Have:
		return s.onHave(ch, m)
	case *wire.Unhave:
		s.onUnhave(ch, m)
	case *wire.Want:
		return s.onWant(ch, m)
	case *wire.Request:
		s.onRequest(ch, m)
	case *wire.Data:
		return s.onData(ch, m, leaf)
	case *wire.Close:
		// Answered with our own Close, as JS does, so both ends forget
		// the channel.
		s.send(ch.id, wire.Close{})
		s.drop(ch)
	}
	return nil
}

func (s *Session) onOpen(id uint64, m *wire.Open) error {
	if len(m.DiscoveryKey) != 32 {
		return fmt.Errorf("%w: open with a %d-byte discovery key", ErrProtocol, len(m.DiscoveryKey))
	}
	if s.remote[id] != nil {
		return fmt.Errorf("%w: channel %d opened twice", ErrProtocol, id)
	}
	dkey := [32]byte(m.DiscoveryKey)
	ch := s.byKey[dkey]
	switch {
	case ch == nil:
		if len(s.pending) >= maxPendingOpens {
			return fmt.Errorf("%w: more than %d unanswered opens", ErrProtocol, maxPendingOpens)
		}
		if _, dup := s.pending[dkey]; !dup {
			s.unknown = append(s.unknown, dkey)
		}
		s.pending[dkey] = remoteOpen{id: id, cap: bytes.Clone(m.Capability)}
		return nil
	case ch.opened:
		return fmt.Errorf("%w: feed %x opened twice", ErrProtocol, dkey[:8])
	case !s.capabilityOK(ch.f, m.Capability):
		return fmt.Errorf("%w (feed %x)", ErrCapability, dkey[:8])
	case len(s.remote) >= maxChannels:
		return fmt.Errorf("%w: more than %d channels", ErrProtocol, maxChannels)
	}
	s.attach(ch, id)
	return nil
}

func (s *Session) onStatus(ch *channel, m *wire.Status) {
	if ch.remoteUploading = m.Uploading; !m.Uploading {
		// It will not answer: forget what is in flight so that another
		// peer can be asked.
		s.unrequest(ch, false, slices.Collect(maps.Keys(ch.inflight))...)
		ch.hashPending = false
	}
	s.schedule(ch)
}

// onWant answers with what we have in the window (spec 4.8.3).
func (s *Session) onWant(ch *channel, m *wire.Want) error {
	if !ch.uploading || m.Start%wantAlign != 0 || m.Length%wantAlign != 0 {
		return nil
	}
	if m.Start >= tree.MaxIndex || m.Length > tree.MaxIndex {
		return nil // beyond any feed (A15)
	}
	f := ch.f
	if !ch.remoteWant {
		ch.remoteWant = true
		if n := f.Length(); n > 0 && f.Has(n-1) {
			s.send(ch.id, wire.Have{Start: n - 1, Length: 1})
		}
	}
	end := m.Start + m.Length
	if m.Length == 0 {
		if m.Start != 0 {
			s.send(ch.id, wire.Have{Start: m.Start, Length: 0, Bitfield: []byte{}})
			return nil
		}
		end = f.Length() // legacy: the whole feed
	}
	bits, err := f.BlockBits(m.Start, end)
	if err != nil {
		return fmt.Errorf("answer want %d+%d: %w", m.Start, m.Length, err)
	}
	s.send(ch.id, wire.Have{Start: m.Start, Length: m.Length, Bitfield: wire.AppendRLE([]byte{}, bits)})
	return nil
}

func (s *Session) onHave(ch *channel, m *wire.Have) error {
	start := min(m.Start, tree.MaxIndex)
	if m.Bitfield == nil {
		if m.Ack {
			s.onAck(ch, start)
			return nil
		}
		ch.remoteHas.add(start, min(start+min(m.Length, tree.MaxIndex), tree.MaxIndex))
	} else {
		bits, err := wire.DecodeRLE(m.Bitfield, maxHaveBytes)
		if err != nil {
			return fmt.Errorf("%w: have bitfield at %d: %w", ErrProtocol, m.Start, err)
		}
		if start+uint64(len(bits))*8 > tree.MaxIndex {
			return nil
		}
		ch.remoteHas.addBits(start, bits)
		ch.remoteKnown = true
		if ch.wantsSent[start] {
			ch.wantsSent[start] = false
			ch.wantsOut--
		}
	}
	ch.cursor = min(ch.cursor, start)
	s.version++
	s.schedule(ch)
	return nil
}

// onAck reports an acknowledgement (spec 4.8.8) of a Data we sent and
// that was not acknowledged yet. Anything else is dropped: acks we did
// not ask for, for blocks never sent, or sent and acknowledged already,
// so that a remote cannot make us count a block twice. JS also takes
// such a Have as an ack only when it asked; unlike JS we do not take an
// unasked ack as availability, which it does not mean.
func (s *Session) onAck(ch *channel, i uint64) {
	if !ch.ack || !ch.unacked.acked(i) {
		return
	}
	if len(s.acks) >= maxAckQueue {
		s.log.Warn("dropping acks: the application is not taking them", "feed", fmt.Sprintf("%x", ch.f.Key()[:8]))
		return
	}
	s.acks = append(s.acks, Ack{Feed: ch.f, Index: i})
}

func (s *Session) onUnhave(ch *channel, m *wire.Unhave) {
	start := min(m.Start, tree.MaxIndex)
	end := min(start+min(m.Length, tree.MaxIndex), tree.MaxIndex)
	ch.remoteHas.remove(start, end)
	s.version++
	var gone []uint64
	for i := range ch.inflight {
		if i >= start && i < end {
			gone = append(gone, i) // it will not answer these
		}
	}
	s.unrequest(ch, false, gone...)
	s.schedule(ch)
}

func (s *Session) onRequest(ch *channel, m *wire.Request) {
	if !ch.uploading {
		return
	}
	i, digest := m.Index, m.Nodes
	if m.Bytes > 0 {
		if m.Bytes == ch.lastBytes {
			return
		}
		ch.lastBytes = m.Bytes
		idx, _, err := ch.f.Seek(m.Bytes)
		if err != nil {
			return
		}
		i, digest = idx, 0
	}
	p, err := ch.f.Proof(i, m.Hash, digest, &ch.remoteTree)
	if err != nil {
		if !errors.Is(err, feed.ErrNotAvailable) {
			// Corrupt or unreadable here: the peer must not get it, and
			// it will ask someone else when its request times out (which
			// drops this connection, as JS does).
			s.log.Warn("not serving block", "feed", fmt.Sprintf("%x", ch.f.Key()[:8]), "block", i, "err", err)
		}
		return
	}
	d := wire.Data{Index: i, Signature: p.Signature, Nodes: make([]wire.Node, len(p.Nodes))}
	if p.HasValue {
		d.Value = p.Value
	}
	for k, n := range p.Nodes {
		d.Nodes[k] = wire.Node{Index: n.Index, Hash: n.Hash[:], Size: n.Size}
	}
	s.send(ch.id, &d) // a pointer: no copy of the struct into the interface
	if ch.ack && p.HasValue {
		// A hash-only answer is acknowledged too, but says nothing of
		// the block: its ack finds no entry and is dropped.
		ch.unacked.sent(i)
	}
}

func (s *Session) onData(ch *channel, m *wire.Data, leaf *tree.Node) error {
	if m.Value != nil {
		if _, asked := ch.inflight[m.Index]; !asked {
			// Unrequested pushes are dropped (A16), and the sender is
			// told we do not have the block.
			if ch.remoteWant && !ch.f.Has(m.Index) {
				s.send(ch.id, wire.Unhave{Start: m.Index, Length: 1})
			}
			return nil
		}
		s.received++
		ch.clock.progress++ // an answer: the request clock restarts
	} else {
		ch.hashPending = false
	}
	stored, err := s.put(ch, m, leaf)
	if m.Value != nil {
		// Released after Put, not before: until the block is stored no
		// other session may request it, and from then on they see it
		// held. A block that did not verify is offered to the others.
		s.unrequest(ch, stored, m.Index)
	}
	if err != nil || !stored {
		return err
	}
	delete(ch.gets, m.Index)
	if ch.remoteAck {
		// The remote asked for an acknowledgement of every Data we
		// store (spec 4.8.8).
		s.send(ch.id, wire.Have{Start: m.Index, Length: 1, Ack: true})
	}
	s.schedule(ch)
	return nil
}

// put verifies and stores the block or hash of m. It reports false,
// without an error, when the feed was closed meanwhile.
func (s *Session) put(ch *channel, m *wire.Data, leaf *tree.Node) (bool, error) {
	f := ch.f
	p := tree.Proof{Block: m.Index, Value: m.Value, HasValue: m.Value != nil, Signature: m.Signature, Leaf: leaf}
	p.Nodes = make([]tree.Node, len(m.Nodes))
	for k, n := range m.Nodes {
		if len(n.Hash) != 32 {
			return false, fmt.Errorf("%w: data %d: node %d has a %d-byte hash", ErrProtocol, m.Index, n.Index, len(n.Hash))
		}
		p.Nodes[k] = tree.Node{Index: n.Index, Hash: [32]byte(n.Hash), Size: n.Size}
	}
	err := f.Put(p)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, feed.ErrFork), errors.Is(err, feed.ErrForkedWriter):
		s.log.Error("fork detected: the feed's key signed two histories; keeping ours", "feed", fmt.Sprintf("%x", f.Key()[:8]), "err", err)
		return false, fmt.Errorf("%w: %w", ErrProtocol, err)
	case errors.Is(err, tree.ErrInvalidProof):
		return false, fmt.Errorf("%w: %w", ErrChecksum, err)
	case errors.Is(err, feed.ErrClosed):
		return false, nil
	}
	return false, fmt.Errorf("store block %d from peer: %w", m.Index, err)
}

// unrequest forgets requests of ch's for blocks and gives up their
// reservations. Unless the blocks are stored, the other sessions that
// share the table may request them now: the owner learns which feeds to
// reschedule from takeFreed.
func (s *Session) unrequest(ch *channel, stored bool, blocks ...uint64) {
	if len(blocks) == 0 {
		return
	}
	for _, i := range blocks {
		delete(ch.inflight, i)
	}
	if ch.claims.release(stored, blocks...) {
		s.noteFreed(ch.f)
	}
}

func (s *Session) noteFreed(f *feed.Feed) {
	if !slices.Contains(s.freed, f) {
		s.freed = append(s.freed, f)
	}
}

// takeFreed returns the feeds of which this session released blocks it
// did not store since the last call: the owner reschedules the other
// sessions of the table on them (Reschedule), since those may be idle.
func (s *Session) takeFreed() []*feed.Feed {
	f := s.freed
	s.freed = nil
	return f
}

// Reschedule makes the requests f's channel can make now: the owner
// calls it when another session released blocks of f (takeFreed).
func (s *Session) Reschedule(f *feed.Feed) {
	if ch := s.byKey[f.DiscoveryKey()]; ch != nil {
		s.schedule(ch)
	}
}

// End gives up every reservation of the session, as its connection is
// gone, and returns the feeds that other sessions may now request blocks
// of (as takeFreed). Nothing is sent or requested after.
func (s *Session) End() []*feed.Feed {
	s.ended = true
	for _, ch := range s.local {
		if ch.claims.leave() {
			s.noteFreed(ch.f)
		}
		clear(ch.inflight)
	}
	return s.takeFreed()
}

// Want asks for block i of f on behalf of a local reader (sparse
// replication): it is requested as soon as the remote announces it.
func (s *Session) Want(f *feed.Feed, i uint64) {
	ch := s.byKey[f.DiscoveryKey()]
	if ch == nil || i >= tree.MaxIndex/2 || f.Has(i) {
		return
	}
	ch.gets[i] = struct{}{}
	if ch.opened {
		s.want(ch, i/wantWindow*wantWindow)
		s.schedule(ch)
	}
}

// FeedEvent tells the session that f changed locally, so peers that sent
// a Want hear of it (spec 4.8.6) and pending work is re-planned.
func (s *Session) FeedEvent(f *feed.Feed, ev feed.Event) {
	ch := s.byKey[f.DiscoveryKey()]
	if ch == nil || !ch.opened {
		return
	}
	if ch.remoteWant && ch.uploading {
		switch ev.Kind {
		case feed.EventAppend:
			// A replica's length also grows from a proof; only a
			// writer's append means it has the blocks.
			if f.Writable() && ev.End > ev.Start {
				s.send(ch.id, wire.Have{Start: ev.Start, Length: ev.End - ev.Start})
			}
		case feed.EventDownload:
			if !ch.remoteHas.has(ev.Start) {
				s.send(ch.id, wire.Have{Start: ev.Start, Length: 1})
			}
		case feed.EventClear:
			if ev.End > ev.Start {
				s.send(ch.id, wire.Unhave{Start: ev.Start, Length: ev.End - ev.Start})
			}
		case feed.EventOverflow:
			s.announceAll(ch)
		}
	}
	s.schedule(ch)
}

// announceAll re-sends our whole bitfield after lost events.
func (s *Session) announceAll(ch *channel) {
	n := ch.f.Length()
	for start := uint64(0); start < n; start += wantWindow {
		bits, err := ch.f.BlockBits(start, start+wantWindow)
		if err != nil {
			return
		}
		s.send(ch.id, wire.Have{Start: start, Length: wantWindow, Bitfield: wire.AppendRLE([]byte{}, bits)})
	}
}

// want sends Want for the window starting at w unless it was sent.
func (s *Session) want(ch *channel, w uint64) {
	if _, sent := ch.wantsSent[w]; sent || ch.wantsOut >= maxWantsOut || !ch.remoteUploading {
		return
	}
	ch.wantsSent[w] = true
	ch.wantsOut++
	s.send(ch.id, wire.Want{Start: w, Length: wantWindow})
}

// schedule sends the requests the channel can make now.
func (s *Session) schedule(ch *channel) {
	if !ch.opened || !ch.remoteUploading || s.ended {
		return
	}
	f := ch.f
	length := f.Length()
	if remote := ch.remoteHas.end(); remote > length && ch.live && !ch.hashPending && !f.Writable() && (ch.downloading || len(ch.gets) > 0) {
		// Learn the longer length without the data (update(), spec
		// 4.8.6): the hash of its last block comes with the signature.
		ch.hashPending = true
		s.request(ch, remote-1, true)
	}
	if len(ch.gets) > 0 {
		gets := make([]uint64, 0, len(ch.gets))
		for i := range ch.gets {
			gets = append(gets, i)
		}
		slices.Sort(gets)
		for _, i := range gets {
			if f.Has(i) {
				delete(ch.gets, i)
				continue
			}
			if _, out := ch.inflight[i]; out || len(ch.inflight) >= maxGetsOut+s.maxInflight {
				continue
			}
			switch {
			case !ch.remoteHas.has(i):
				s.want(ch, i/wantWindow*wantWindow)
			case ch.claims.reserve(i):
				s.request(ch, i, false)
			}
			// Else another peer was asked: its Data wakes the reader,
			// and should it not come, the release reschedules us.
		}
	}
	if !ch.full || !ch.downloading {
		return
	}
	// Ask for the windows below the remote's length, at most
	// maxWantsOut at a time: a Have claiming 2^53 blocks costs sixteen
	// Wants, not 2^33 loop turns.
	for end := ch.remoteHas.end(); ch.nextWant < end && ch.wantsOut < maxWantsOut; ch.nextWant += wantWindow {
		s.want(ch, ch.nextWant)
	}
	if low, ok := ch.claims.takeFreed(); ok {
		// Another peer gave up blocks it did not deliver; ours may be
		// among them, behind the cursor. The walk from there skips what
		// is stored or held at the cost of a bitfield look-up each.
		ch.cursor = min(ch.cursor, low)
	}
	for limit := s.inflightLimit(ch); len(ch.inflight) < limit; {
		i, ok := ch.remoteHas.next(ch.cursor)
		if !ok {
			return
		}
		ch.cursor = i + 1
		if _, out := ch.inflight[i]; out || f.Has(i) || !ch.claims.reserve(i) {
			continue // held, or requested from another peer
		}
		s.request(ch, i, false)
	}
}

// inflightLimit is how many block requests a full-mode channel keeps
// out (see inflightBytes).
func (s *Session) inflightLimit(ch *channel) int {
	if s.cfg.MaxInflight > 0 {
		return s.cfg.MaxInflight
	}
	n := ch.f.Length()
	if n == 0 {
		return defaultInflight
	}
	mean := max(ch.f.ByteLength()/n, 1)
	return int(min(max(inflightBytes/mean, minInflight), maxInflight))
}

func (s *Session) request(ch *channel, i uint64, hash bool) {
	f := ch.f
	digest := tree.Digest(f, 2*i, 2*f.Length()+2)
	if !hash {
		if len(ch.inflight) == 0 {
			ch.clock.progress++ // the request clock starts
		}
		ch.inflight[i] = struct{}{}
	}
	s.send(ch.id, wire.Request{Index: i, Hash: hash, Nodes: digest})
}
