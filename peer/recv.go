package peer

import (
	"errors"
	"io"
	"sync"
	"time"

	"github.com/hyperfs/hyperfs/peer/wire"
	"github.com/hyperfs/hyperfs/tree"
)

// The receive path of a connection is a pipeline of two goroutines, so
// that on a two-core machine the XSalsa20 decryption of one frame
// overlaps the BLAKE2b hashing and storing of the one before (one
// goroutine doing both was the bottleneck of a clone):
//
//	receiver: socket ──► decrypt ──► split frames ──► decode ──┐
//	                                                           │ inbox
//	applier:  ◄── wake writer ◄── Session.receive (feed.Put) ◄─┘
//
// The inbox between them is bounded in bytes and in frames, so a fast
// peer cannot queue more than inboxBytes ahead of a slow disk, and
// backpressure reaches the socket as before: an applier waiting for the
// writer (waitRoom) fills the inbox, and then the receiver stops reading.

const (
	// inboxBytes bounds what decoded frames waiting for the applier
	// hold: their bodies plus msgOverhead each. A larger frame (up to
	// wire.MaxBody) is let in alone, when the inbox is empty, so the
	// bound is max(inboxBytes, wire.MaxBody) in all. 4 MiB holds 64
	// blocks of 64 KiB, MaxInflight's default.
	inboxBytes = 4 << 20
	// inboxFrames bounds the frames waiting, whatever their size: it is
	// the capacity of the inbox's channel.
	inboxFrames = 512
	// msgOverhead is charged per decoded message beside its body (the
	// struct, the interface and the channel slot), so that a flood of
	// empty frames also counts.
	msgOverhead = 64
	// applyFrames and applyBytes bound the frames applied under one hold
	// of conn.mu. One hold per frame would wake the writer per frame
	// (one write syscall per Request of a clone); one hold for a whole
	// inbox would keep the requests it produces from the writer until
	// the end, and the remote would run out of requests to answer.
	applyFrames = 16
	applyBytes  = 512 << 10
)

// inFrame is one decoded frame on its way to the applier.
type inFrame struct {
	channel uint64 // the remote's channel id
	m       wire.Message
	cost    int // charged against inboxBytes
	// leaf is the leaf node of a Data message's value, hashed by the
	// applier before the session sees it (hashLeaves); valid with hashed.
	leaf   tree.Node
	hashed bool
}

// inbox carries decoded frames from a connection's receiver to its
// applier, in order. The receiver is the only sender and closes frames
// when it stops, after setting err; the applier is the only taker.
type inbox struct {
	frames chan inFrame
	room   chan struct{} // capacity 1: the applier freed some budget
	err    error         // why the receiver stopped; read once frames is closed

	// mu guards queued, the cost of the frames put and not yet applied.
	mu     sync.Mutex
	queued int
}

func newInbox() *inbox {
	return &inbox{frames: make(chan inFrame, inboxFrames), room: make(chan struct{}, 1)}
}

// put queues in, waiting for room first. It reports false, with in
// dropped, once stop is closed (the applier has returned).
func (q *inbox) put(in inFrame, stop <-chan struct{}) bool {
	for {
		q.mu.Lock()
		fits := q.queued == 0 || q.queued+in.cost <= inboxBytes
		if fits {
			q.queued += in.cost
		}
		q.mu.Unlock()
		if fits {
			break
		}
		select {
		case <-q.room:
		case <-stop:
			return false
		}
	}
	select {
	case q.frames <- in:
		return true
	case <-stop:
		return false
	}
}

// take waits for the next frame and returns it in buf, followed by those
// already queued behind it, up to applyFrames and applyBytes. ok is
// false once the receiver has stopped and every frame was taken; q.err
// then says why it stopped.
func (q *inbox) take(buf []inFrame) (batch []inFrame, ok bool) {
	in, ok := <-q.frames
	if !ok {
		return buf[:0], false
	}
	batch = append(buf[:0], in)
	for n := in.cost; len(batch) < applyFrames && n < applyBytes; n += in.cost {
		select {
		case in, ok = <-q.frames:
			if !ok {
				return batch, true // the next take reports the end
			}
			batch = append(batch, in)
		default:
			return batch, true
		}
	}
	return batch, true
}

// release returns the budget of applied frames and wakes a receiver
// waiting for room.
func (q *inbox) release(applied []inFrame) {
	n := 0
	for _, in := range applied {
		n += in.cost
	}
	q.mu.Lock()
	q.queued -= n
	q.mu.Unlock()
	signal(q.room)
}

// receive is the connection's receiving goroutine: it reads, decrypts,
// splits and decodes frames from r into q until the socket fails or
// ends, or the applier stops (c.done); then it closes q.frames. run owns
// it and waits for it; closing the socket stops it.
func (c *conn) receive(r io.Reader, q *inbox) {
	q.err = c.receiveFrames(r, q)
	close(q.frames)
}

func (c *conn) receiveFrames(r io.Reader, q *inbox) error {
	fr := wire.NewFrameReader(r)
	for {
		if err := c.nc.SetReadDeadline(time.Now().Add(c.sw.idle)); err != nil {
			return err
		}
		f, err := fr.Next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		// Keep-alives and ignored types stop here: only a sign of life,
		// and the deadline is renewed; a flood of them costs no lock
		// and wakes no writer.
		m, err := decodeFrame(f)
		if err != nil {
			// The frames before it are applied first; then the applier
			// returns this error.
			return err
		}
		if m == nil {
			continue
		}
		if !q.put(inFrame{channel: f.Channel, m: m, cost: len(f.Body) + msgOverhead}, c.done) {
			return nil // the applier's error is the connection's
		}
	}
}

// applyLoop is the connection's applying side, on run's goroutine: it
// hands the frames of q to the session in order, wakes the writer after
// each batch and stops taking frames while too much output waits (A19).
// It returns the first error of the session, else the receiver's.
func (c *conn) applyLoop(q *inbox) error {
	var batch []inFrame
	for {
		var ok bool
		if batch, ok = q.take(batch); !ok {
			return q.err
		}
		hashLeaves(batch)
		err := c.apply(batch)
		q.release(batch)
		// Drop the references: an applied block is garbage now, not
		// when its slot is reused.
		clear(batch)
		if err != nil {
			return err
		}
	}
}

// hashLeaves hashes the values of the batch's Data messages together
// (tree.LeafHashes: up to eight at once), outside c.mu, so that Put only
// checks them against the tree. Verifying the leaf was most of a
// downloaded block's cost: BLAKE2b of each 64 KiB value one at a time
// took a quarter of a clone's CPU.
func hashLeaves(batch []inFrame) {
	var (
		at     [leafBatch]int
		values [leafBatch][]byte
		leaves [leafBatch]tree.Node
	)
	n := 0
	flush := func() {
		got := tree.LeafHashes(leaves[:0], 0, values[:n])
		for k, l := range got {
			fr := &batch[at[k]]
			l.Index = 2 * fr.m.(*wire.Data).Index
			fr.leaf, fr.hashed = l, true
		}
		clear(values[:n])
		n = 0
	}
	for k := range batch {
		d, ok := batch[k].m.(*wire.Data)
		if !ok || d.Value == nil || d.Index >= tree.MaxIndex/2 {
			continue
		}
		at[n], values[n] = k, d.Value
		if n++; n == len(values) {
			flush()
		}
	}
	if n >= minLeafBatch {
		flush()
	}
}

// leafBatch is how many values hashLeaves hashes in one call, and
// minLeafBatch the fewest worth hashing ahead: below it tree.LeafHashes
// hashes one at a time anyway, and Put does the same.
const leafBatch, minLeafBatch = 16, 4

// apply hands batch to the session under as few holds of c.mu as it can.
// A hold ends early after an Open of a feed the session has not opened,
// so that the connection opens it, if the swarm has it, before the next
// frame (as JS does on its "discovery-key" event), and whenever the
// output reaches highWater, to wait for the writer.
func (c *conn) apply(batch []inFrame) error {
	for len(batch) > 0 {
		c.mu.Lock()
		v, got := c.s.Version(), c.s.received
		n := 0
		var err error
		for n < len(batch) && err == nil {
			fr := &batch[n]
			var leaf *tree.Node
			if fr.hashed {
				leaf = &fr.leaf
			}
			err = c.s.receiveHashed(fr.channel, fr.m, leaf)
			n++
			if c.s.hasUnknown() || c.s.Pending() >= highWater {
				break
			}
		}
		unknown := c.s.Unknown()
		changed := c.s.Version() != v
		wake := c.s.Pending() > 0
		exts, acks := c.s.TakeExtensions(), c.s.TakeAcks()
		freed := c.s.takeFreed()
		c.sw.received.Add(c.s.received - got)
		c.mu.Unlock()
		c.sw.deliver(c.remote, exts, acks)
		c.sw.reschedule(c, freed)
		if err != nil {
			return err
		}
		batch = batch[n:]
		if changed {
			c.sw.announce()
		}
		for _, dkey := range unknown {
			if f, opts, ok := c.sw.lookup(dkey); ok {
				c.mu.Lock()
				c.s.Open(f, opts)
				c.mu.Unlock()
				wake = true
			}
		}
		if wake {
			signal(c.wake)
		}
		if err := c.waitRoom(); err != nil {
			return err
		}
	}
	return nil
}
