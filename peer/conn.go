package peer

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/hyperfs/hyperfs/peer/handshake"
	"github.com/hyperfs/hyperfs/peer/wire"
)

const (
	// defaultIdleTimeout is JS's (spec 4.4): it drops a peer it has not
	// heard from for 20 s and sends a keep-alive after 10 s of its own
	// silence. Config.IdleTimeout overrides it; the handshake gets the
	// same time and the keep-alive half of it.
	defaultIdleTimeout = 20 * time.Second
	// highWater bounds the encoded frames a connection holds for a peer
	// that does not read: past it we stop applying that peer's requests
	// until it drains (then the inbox fills and we stop reading), so a
	// slow or hostile peer costs a bounded amount of memory and never
	// stalls the others (A19). 2 MiB is plenty to keep a fast peer busy
	// (the writer takes everything queued at once). It was 16 MiB: a
	// seeder whose receive path is pipelined answers a clone's requests
	// faster than its writer sends them, its output grew past what the
	// writer keeps, and regrowing it cost more CPU than answering.
	highWater = 2 << 20
	// keepBuf is the largest output buffer the writer keeps for reuse.
	// It is above highWater plus an answer, so a peer that keeps its
	// output near highWater reuses two buffers instead of growing a new
	// one for every batch; a burst of larger frames (up to 8 MiB) leaves
	// larger buffers, which are dropped: memory follows the load.
	keepBuf = 4 << 20
	// writeChunk is the most the writer sends under one write deadline.
	writeChunk = 64 << 10
)

// handshakeCaps binds capabilities to one connection's handshake.
type handshakeCaps struct{ res handshake.Result }

func (h handshakeCaps) Capability(key []byte) [32]byte { return handshake.Capability(h.res, key) }
func (h handshakeCaps) RemoteCapability(key []byte) [32]byte {
	return handshake.RemoteCapability(h.res, key)
}

// conn is one peer connection. Its applier runs on the goroutine that
// called run; run starts the receiver (recv.go) and the writer and waits
// for both before returning.
type conn struct {
	sw     *Swarm
	nc     net.Conn
	addr   string
	remote Remote // set after the handshake, then read-only

	// mu guards s and out; never held across network I/O.
	mu sync.Mutex
	s  *Session

	wake    chan struct{} // capacity 1: output is pending
	drained chan struct{} // capacity 1: the writer sent something
	done    chan struct{} // closed when the applier stops
	wdone   chan struct{} // closed when the writer stops
}

func newConn(sw *Swarm, nc net.Conn) *conn {
	return &conn{
		sw:      sw,
		nc:      nc,
		addr:    nc.RemoteAddr().String(),
		wake:    make(chan struct{}, 1),
		drained: make(chan struct{}, 1),
		done:    make(chan struct{}),
		wdone:   make(chan struct{}),
	}
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// run does the handshake, then replicates until the connection fails or
// the swarm closes it. It always closes nc.
func (c *conn) run(initiator bool) error {
	defer c.nc.Close()
	if err := c.nc.SetDeadline(time.Now().Add(c.sw.idle)); err != nil {
		return fmt.Errorf("peer %s: %w", c.addr, err)
	}
	res, rest, err := handshake.Run(c.nc, handshake.Config{Initiator: initiator, Static: c.sw.static})
	if err != nil {
		return fmt.Errorf("peer %s: %w", c.addr, err)
	}
	if err := c.nc.SetDeadline(time.Time{}); err != nil {
		return fmt.Errorf("peer %s: %w", c.addr, err)
	}
	sec := handshake.NewConn(c.nc, res, rest)
	c.remote = Remote{Addr: c.addr, PublicKey: res.RemoteStatic}
	c.s = NewSession(SessionConfig{
		Caps:             handshakeCaps{res},
		MaxInflight:      c.sw.cfg.MaxInflight,
		StreamExtensions: c.sw.cfg.StreamExtensions,
		Reservations:     c.sw.res,
		RequestTimeout:   c.sw.reqTimeout,
		Logger:           c.sw.log,
	})
	if !c.sw.attach(c) {
		return ErrClosed
	}
	defer c.sw.detach(c)

	// The first side to stop says why the connection ended; the other
	// then fails on the connection it closed, with an error that depends
	// on the kind of net.Conn (net.ErrClosed, io.ErrClosedPipe).
	var (
		once  sync.Once
		cause error
	)
	stop := func(err error) {
		once.Do(func() { cause = err })
		c.nc.Close()
	}
	// run owns the writer and the receiver and waits for both. The
	// applier runs here: when it returns, done stops the writer and a
	// receiver waiting for room in the inbox, and the closed socket one
	// waiting on the network.
	q := newInbox()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		// A dead writer must also stop the applier, whether it waits for
		// room in waitRoom (wdone) or for frames (the socket closes, so
		// the receiver ends and closes the inbox).
		stop(c.writeLoop(sec))
		close(c.wdone)
	}()
	go func() {
		defer wg.Done()
		c.receive(sec, q)
	}()
	stop(c.applyLoop(q))
	close(c.done)
	wg.Wait()
	if cause != nil && !errors.Is(cause, net.ErrClosed) {
		return fmt.Errorf("peer %s: %w", c.addr, cause)
	}
	return nil
}

// waitRoom blocks the applier while too much output is queued, until the
// writer makes room or stops (then run reports the writer's error).
func (c *conn) waitRoom() error {
	for {
		c.mu.Lock()
		n := c.s.Pending()
		c.mu.Unlock()
		if n < highWater {
			return nil
		}
		select {
		case <-c.drained:
		case <-c.wdone:
			return net.ErrClosed
		case <-c.sw.ctx.Done():
			return ErrClosed
		}
	}
}

func (c *conn) writeLoop(w io.Writer) error {
	keepAliveInterval := c.sw.idle / 2
	keepAlive := time.NewTicker(keepAliveInterval)
	defer keepAlive.Stop()
	// The request timeout's clock (timeout.go) ticks here, beside the
	// keep-alive's, so that it needs no goroutine of its own.
	var requests <-chan time.Time
	if c.sw.reqTimeout > 0 {
		t := time.NewTicker(requestTick(c.sw.reqTimeout))
		defer t.Stop()
		requests = t.C
	}
	var buf []byte
	for {
		idle := false
		select {
		case <-c.wake:
		case <-keepAlive.C:
			idle = true
		case <-requests:
			if err := c.checkRequests(); err != nil {
				return err
			}
			continue
		case <-c.done:
			return nil
		case <-c.sw.ctx.Done():
			return nil
		}
		c.mu.Lock()
		buf = c.s.Output(buf)
		c.mu.Unlock()
		if len(buf) == 0 {
			if !idle {
				continue
			}
			buf = wire.AppendKeepAlive(buf)
		}
		// The deadline is renewed for every chunk: a peer is dropped when
		// it takes nothing for IdleTimeout, not when a large backlog (an
		// 8 MiB block on a slow link) takes longer than that.
		for b := buf; len(b) > 0; {
			n := min(len(b), writeChunk)
			if err := c.nc.SetWriteDeadline(time.Now().Add(c.sw.idle)); err != nil {
				return err
			}
			if _, err := w.Write(b[:n]); err != nil {
				return err
			}
			b = b[n:]
		}
		keepAlive.Reset(keepAliveInterval)
		signal(c.drained)
		// Large buffers are not kept: memory follows the load.
		if cap(buf) > keepBuf {
			buf = nil
		}
	}
}

// do runs fn on the session under the lock and wakes the writer if
// there is output. Most calls are feed events of a download, one per
// block, which send nothing: waking the writer for them would cost two
// goroutine switches per block.
func (c *conn) do(fn func(s *Session)) {
	c.mu.Lock()
	fn(c.s)
	wake := c.s.Pending() > 0
	c.mu.Unlock()
	if wake {
		signal(c.wake)
	}
}
