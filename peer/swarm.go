package peer

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hyperfs/hyperfs/feed"
	"github.com/hyperfs/hyperfs/peer/handshake"
)

// ErrClosed is returned by a Swarm that was closed.
var ErrClosed = errors.New("peer: swarm closed")

// Config configures a Swarm.
type Config struct {
	// Static is the connection key pair; zero means a fresh random one.
	Static handshake.KeyPair
	// MaxInflight fixes the block requests in flight per feed and peer
	// in full mode; by default about 16 MiB of blocks, between 16 and
	// 1024 requests (64 until the feed's length is known).
	MaxInflight int
	// IdleTimeout drops a peer that sends nothing for this long, or that
	// has not finished the handshake after this long; a keep-alive goes
	// out after half of it without other output. 0 means 20 s, JS's
	// default (spec 4.4). Below 10 s, JS's keep-alive interval, idle JS
	// peers are dropped, so only tests set it lower.
	IdleTimeout time.Duration
	// RequestTimeout drops a peer that leaves our block requests on a
	// feed unanswered for this long (between it and 1.25 times it, as
	// the clock ticks), so that the blocks reserved for it are asked of
	// another peer; Data answering any of them restarts the clock, and
	// keep-alives do not. 0 means IdleTimeout (20 s by default): JS
	// hypercore 9 times requests out with its stream's timeout, the
	// same 20 s; below 0, never.
	RequestTimeout time.Duration
	// StreamExtensions are stream-level extension names (spec 4.9):
	// messages about the connection rather than a feed, as JS's
	// protocol.registerExtension. They are announced to every peer when
	// the connection starts.
	StreamExtensions []string
	// OnStreamExtension receives each stream extension message a peer
	// sends under one of StreamExtensions, on that connection's
	// goroutine and outside its locks, in the order sent; it should not
	// block for long, as the connection waits for it.
	OnStreamExtension func(from Remote, name string, payload []byte)
	Logger            *slog.Logger
}

// Remote names the peer at the other end of a connection.
type Remote struct {
	// Addr is its network address.
	Addr string
	// PublicKey is its static Noise key from the handshake: the same for
	// every connection of a peer that keeps its key pair.
	PublicKey [32]byte
}

// Swarm replicates a set of feeds with every peer it is connected to:
// one connection per peer, shared by all feeds. It implements
// feed.Fetcher, so Get on a replica asks the connected peers.
//
// Goroutines: each connection runs a receiver, an applier (the
// goroutine that accepted or dialled it) and a writer; each feed runs
// one goroutine forwarding its events to the connections; listeners and
// dialers run one each. The Swarm owns them all and Close stops and waits
// for them.
type Swarm struct {
	cfg    Config
	log    *slog.Logger
	static handshake.KeyPair
	idle   time.Duration // Config.IdleTimeout or its default
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	// reqTimeout is Config.RequestTimeout or its default; 0 for never.
	reqTimeout time.Duration

	// mu guards feeds, conns and listeners; never held while calling
	// into a connection's session (conn.mu is taken after mu is
	// released).
	mu        sync.Mutex
	feeds     map[[32]byte]*member
	conns     map[*conn]struct{}
	listeners []net.Listener
	updated   chan struct{} // closed and replaced when a remote announces

	// res is shared by every connection's session, so that each block
	// is requested from one peer at a time; it has its own lock.
	res *Reservations
	// received counts Data with a block we asked for, over all
	// connections: tests check that a clone from several peers gets
	// each block once.
	received atomic.Uint64
}

type member struct {
	f      *feed.Feed
	opts   FeedOptions
	cancel context.CancelFunc
	// gets are blocks local readers wait for, replayed to connections
	// that arrive later; a download removes its block. Guarded by
	// Swarm.mu.
	gets map[uint64]struct{}
}

// maxGets bounds member.gets: readers whose context ended leave their
// block behind, and a reader that still waits asks again on its own.
const maxGets = 4096

// New returns a Swarm with no feeds and no connections.
func New(cfg Config) (*Swarm, error) {
	s := &Swarm{cfg: cfg, log: cfg.Logger, static: cfg.Static, feeds: map[[32]byte]*member{}, conns: map[*conn]struct{}{}, updated: make(chan struct{}), res: NewReservations()}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.idle = cfg.IdleTimeout; s.idle <= 0 {
		s.idle = defaultIdleTimeout
	}
	switch s.reqTimeout = cfg.RequestTimeout; {
	case s.reqTimeout == 0:
		s.reqTimeout = s.idle
	case s.reqTimeout < 0:
		s.reqTimeout = 0
	}
	if s.static == (handshake.KeyPair{}) {
		kp, err := handshake.GenerateKeyPair(nil)
		if err != nil {
			return nil, err
		}
		s.static = kp
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s, nil
}

// Add replicates f with every current and future peer until Remove or
// Close. Get on f then fetches missing blocks from peers.
func (s *Swarm) Add(f *feed.Feed, opts FeedOptions) error {
	dkey := f.DiscoveryKey()
	s.mu.Lock()
	if s.ctx.Err() != nil {
		s.mu.Unlock()
		return ErrClosed
	}
	if s.feeds[dkey] != nil {
		s.mu.Unlock()
		return nil
	}
	ctx, cancel := context.WithCancel(s.ctx)
	s.feeds[dkey] = &member{f: f, opts: opts, cancel: cancel, gets: map[uint64]struct{}{}}
	conns := s.connList()
	sub := f.Subscribe()
	s.wg.Add(1)
	s.mu.Unlock()

	f.SetFetcher(s)
	go s.forward(ctx, f, sub)
	for _, c := range conns {
		c.do(func(ss *Session) { ss.Open(f, opts) })
	}
	return nil
}

// Remove stops replicating f and closes its channels.
func (s *Swarm) Remove(f *feed.Feed) {
	s.mu.Lock()
	m := s.feeds[f.DiscoveryKey()]
	delete(s.feeds, f.DiscoveryKey())
	conns := s.connList()
	s.mu.Unlock()
	if m == nil {
		return
	}
	m.cancel()
	f.SetFetcher(nil)
	for _, c := range conns {
		c.do(func(ss *Session) { ss.Close(f) })
	}
}

// forwardBatch bounds the events forward hands over under one hold of
// each connection's lock.
const forwardBatch = 256

// forwardPace is the shortest time between two wake-ups of forward: a
// stream of local appends wakes it once per pace, not once per append
// (a wake-up costs the appender a futex call and another CPU), and its
// Haves go out at most a millisecond later than they would have.
const forwardPace = time.Millisecond

// forward hands f's events to every connection until ctx ends. It takes
// what has queued up behind the event it waited for and hands it all
// over under one hold of each connection's lock: a clone downloads a
// block per event, and taking the lock the applier holds, per block and
// connection, cost a wake-up and a lock hand-off each.
func (s *Swarm) forward(ctx context.Context, f *feed.Feed, sub *feed.Subscription) {
	defer s.wg.Done()
	defer sub.Close()
	evs := make([]feed.Event, 0, forwardBatch)
	for {
		var err error
		evs, err = sub.Batch(ctx, evs[:0], forwardBatch, forwardPace)
		if err != nil {
			return
		}
		closed := evs[len(evs)-1].Kind == feed.EventClosed
		if closed {
			evs = evs[:len(evs)-1]
		}
		s.mu.Lock()
		if m := s.feeds[f.DiscoveryKey()]; m != nil {
			for _, ev := range evs {
				if ev.Kind == feed.EventDownload {
					delete(m.gets, ev.Start)
				}
			}
		}
		conns := s.connList()
		s.mu.Unlock()
		for _, c := range conns {
			c.do(func(ss *Session) {
				for _, ev := range evs {
					ss.FeedEvent(f, ev)
				}
			})
		}
		if closed {
			return
		}
	}
}

// Want implements feed.Fetcher: every connection learns that block i is
// wanted, and the first that can reserve it asks its peer (the others
// ask only if that reservation ends unanswered); the verified answer
// wakes the reader.
func (s *Swarm) Want(f *feed.Feed, i uint64) {
	s.mu.Lock()
	if m := s.feeds[f.DiscoveryKey()]; m != nil {
		if len(m.gets) >= maxGets {
			clear(m.gets)
		}
		m.gets[i] = struct{}{}
	}
	conns := s.connList()
	s.mu.Unlock()
	for _, c := range conns {
		c.do(func(ss *Session) { ss.Want(f, i) })
	}
}

// SendExtension sends payload as f's extension name to every connected
// peer that announced the name (f must have been added with it in
// FeedOptions.Extensions); it returns how many peers it went to.
func (s *Swarm) SendExtension(f *feed.Feed, name string, payload []byte) int {
	s.mu.Lock()
	conns := s.connList()
	s.mu.Unlock()
	n := 0
	for _, c := range conns {
		c.do(func(ss *Session) {
			if ss.SendExtension(f, name, payload) {
				n++
			}
		})
	}
	return n
}

// SendStreamExtension sends payload as the stream extension name to
// every connected peer; name must be one of Config.StreamExtensions, and
// the payload must fit a frame (8 MiB with the id). A peer that did not
// register the name drops the message: we cannot know beforehand, as a
// JS peer announces its stream names only when it first sends. It
// returns how many peers it went to.
func (s *Swarm) SendStreamExtension(name string, payload []byte) int {
	s.mu.Lock()
	conns := s.connList()
	s.mu.Unlock()
	n := 0
	for _, c := range conns {
		c.do(func(ss *Session) {
			if ss.SendStreamExtension(name, payload) {
				n++
			}
		})
	}
	return n
}

// deliver hands received extension messages and acks to their handlers.
// The connection's apply loop calls it outside the connection's lock.
func (s *Swarm) deliver(from Remote, msgs []ExtensionMessage, acks []Ack) {
	for _, m := range msgs {
		if m.Feed == nil {
			if s.cfg.OnStreamExtension != nil {
				s.cfg.OnStreamExtension(from, m.Name, m.Payload)
			}
			continue
		}
		_, opts, ok := s.lookup(m.Feed.DiscoveryKey())
		if ok && opts.OnExtension != nil {
			opts.OnExtension(m.Name, m.Payload)
		}
	}
	var (
		last  *feed.Feed
		onAck func(Remote, uint64)
	)
	for _, a := range acks {
		if a.Feed != last {
			// One look-up per run of a feed's acks: a clone acks every
			// block.
			last, onAck = a.Feed, nil
			if _, opts, ok := s.lookup(a.Feed.DiscoveryKey()); ok {
				onAck = opts.OnAck
			}
		}
		if onAck != nil {
			onAck(from, a.Index)
		}
	}
}

// Peers counts the connections on which f's channel is open at both
// ends.
func (s *Swarm) Peers(f *feed.Feed) int {
	s.mu.Lock()
	conns := s.connList()
	s.mu.Unlock()
	n := 0
	for _, c := range conns {
		c.mu.Lock()
		if c.s.Opened(f) {
			n++
		}
		c.mu.Unlock()
	}
	return n
}

// RemoteLength is the longest length any connected peer announced for f;
// known reports whether some peer has answered with its whole state.
func (s *Swarm) RemoteLength(f *feed.Feed) (length uint64, known bool) {
	s.mu.Lock()
	conns := s.connList()
	s.mu.Unlock()
	for _, c := range conns {
		c.mu.Lock()
		n, k := c.s.RemoteLength(f)
		c.mu.Unlock()
		length, known = max(length, n), known || k
	}
	return length, known
}

// Updated returns a channel closed at the next change to what peers
// announced; callers re-check RemoteLength, then call Updated again.
func (s *Swarm) Updated() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.updated
}

func (s *Swarm) announce() {
	s.mu.Lock()
	close(s.updated)
	s.updated = make(chan struct{})
	s.mu.Unlock()
}

func (s *Swarm) connList() []*conn {
	l := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		l = append(l, c)
	}
	return l
}

func (s *Swarm) lookup(dkey [32]byte) (*feed.Feed, FeedOptions, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.feeds[dkey]
	if m == nil {
		return nil, FeedOptions{}, false
	}
	return m.f, m.opts, true
}

// attach registers a connection whose handshake is done and opens every
// feed on it. It reports false once the swarm is closed.
func (s *Swarm) attach(c *conn) bool {
	s.mu.Lock()
	if s.ctx.Err() != nil {
		s.mu.Unlock()
		return false
	}
	s.conns[c] = struct{}{}
	type open struct {
		m    *member
		gets []uint64
	}
	opens := make([]open, 0, len(s.feeds))
	for _, m := range s.feeds {
		o := open{m: m}
		for i := range m.gets {
			o.gets = append(o.gets, i)
		}
		opens = append(opens, o)
	}
	s.mu.Unlock()
	c.do(func(ss *Session) {
		for _, o := range opens {
			ss.Open(o.m.f, o.m.opts)
			for _, i := range o.gets {
				ss.Want(o.m.f, i)
			}
		}
	})
	return true
}

// detach unregisters a connection that ended, gives up its sessions's
// reservations and reschedules the other connections on the blocks it
// had requested, so another peer picks them up at once.
func (s *Swarm) detach(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	c.mu.Lock()
	freed := c.s.End()
	c.mu.Unlock()
	s.reschedule(c, freed)
}

// reschedule tells every connection but from that blocks of feeds were
// given up unstored: a session whose requests are all answered waits
// for nothing else that would make it look again. It takes each
// connection's lock in turn, holding no other.
func (s *Swarm) reschedule(from *conn, feeds []*feed.Feed) {
	if len(feeds) == 0 {
		return
	}
	s.mu.Lock()
	conns := s.connList()
	s.mu.Unlock()
	for _, c := range conns {
		if c == from {
			continue
		}
		c.do(func(ss *Session) {
			for _, f := range feeds {
				ss.Reschedule(f)
			}
		})
	}
}

// Listen accepts peers on addr until Close and returns the address it
// listens on (the real port when addr asks for port 0).
func (s *Swarm) Listen(addr string) (net.Addr, error) {
	var lc net.ListenConfig
	l, err := lc.Listen(s.ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	if s.ctx.Err() != nil {
		s.mu.Unlock()
		l.Close()
		return nil, ErrClosed
	}
	s.listeners = append(s.listeners, l)
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		for {
			nc, err := l.Accept()
			if err != nil {
				if s.ctx.Err() == nil {
					s.log.Warn("accept failed; listener stopped", "addr", l.Addr().String(), "err", err)
				}
				return
			}
			s.serve(nc, false)
		}
	}()
	return l.Addr(), nil
}

// Connect replicates over an established connection (a net.Pipe in
// tests, or a socket the caller dialled) until it ends, and returns why.
func (s *Swarm) Connect(nc net.Conn, initiator bool) error {
	s.mu.Lock()
	if s.ctx.Err() != nil {
		s.mu.Unlock()
		nc.Close()
		return ErrClosed
	}
	s.wg.Add(1)
	s.mu.Unlock()
	defer s.wg.Done()
	return s.runConn(nc, initiator)
}

// serve runs an accepted connection on its own goroutine.
func (s *Swarm) serve(nc net.Conn, initiator bool) {
	s.mu.Lock()
	if s.ctx.Err() != nil {
		s.mu.Unlock()
		nc.Close()
		return
	}
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		if err := s.runConn(nc, initiator); err != nil && s.ctx.Err() == nil {
			s.log.Info("peer disconnected", "err", err)
		}
	}()
}

func (s *Swarm) runConn(nc net.Conn, initiator bool) error {
	c := newConn(s, nc)
	// Closing the swarm must unblock a reader waiting on the network.
	stop := context.AfterFunc(s.ctx, func() { nc.Close() })
	defer stop()
	return c.run(initiator)
}

// Dial keeps a connection to addr until Close: it redials with
// exponential backoff (100 ms up to 10 s, jittered) whenever the
// connection fails or ends (see redialAfter).
func (s *Swarm) Dial(addr string) error {
	s.mu.Lock()
	if s.ctx.Err() != nil {
		s.mu.Unlock()
		return ErrClosed
	}
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		backoff := time.Duration(0)
		var d net.Dialer
		for s.ctx.Err() == nil {
			start := time.Now()
			nc, err := d.DialContext(s.ctx, "tcp", addr)
			if err == nil {
				err = s.runConn(nc, true)
			}
			if s.ctx.Err() != nil {
				return
			}
			backoff = redialAfter(backoff, time.Since(start), err)
			s.log.Info("peer connection ended; redialling", "addr", addr, "err", err, "in", backoff)
			t := time.NewTimer(backoff/2 + rand.N(backoff/2+1))
			select {
			case <-t.C:
			case <-s.ctx.Done():
				t.Stop()
				return
			}
		}
	}()
	return nil
}

// Redial backoff bounds. A peer dropped for not answering requests
// (ErrRequestTimeout) waits at least stallBackoff: redialled at once, it
// would hold the blocks it is asked for (each block is asked of one peer
// at a time) for another request timeout.
const (
	minBackoff   = 100 * time.Millisecond
	maxBackoff   = 10 * time.Second
	stallBackoff = 30 * time.Second
)

// redialAfter is the wait before redialling a connection that lasted
// lasted and ended with err, after a wait of prev before it (0 at first):
// it doubles from minBackoff up to maxBackoff, starts over after a
// connection that worked for a minute, and is at least stallBackoff
// after a stall.
func redialAfter(prev, lasted time.Duration, err error) time.Duration {
	next := minBackoff
	if lasted <= time.Minute && prev > 0 {
		next = min(2*prev, maxBackoff)
	}
	if errors.Is(err, ErrRequestTimeout) {
		next = max(next, stallBackoff)
	}
	return next
}

// Close disconnects every peer, stops listening and dialling, uninstalls
// itself as the feeds' fetcher and waits for its goroutines. The feeds
// stay open: they belong to the caller.
func (s *Swarm) Close() error {
	s.mu.Lock()
	s.cancel()
	ls := s.listeners
	s.listeners = nil
	feeds := s.feeds
	s.feeds = map[[32]byte]*member{}
	s.mu.Unlock()
	for _, l := range ls {
		l.Close()
	}
	for _, m := range feeds {
		m.f.SetFetcher(nil)
	}
	s.wg.Wait()
	return nil
}
