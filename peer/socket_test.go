package peer

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flynn/noise"

	"github.com/hyperfs/hyperfs/feed"
	"github.com/hyperfs/hyperfs/peer/handshake"
	"github.com/hyperfs/hyperfs/peer/wire"
)

// The socket-level cases of TESTING.md section 3: a real Swarm, and a
// fake peer written by hand on the other end of a net.Pipe (through
// Swarm.Connect, which returns why the connection ended) or of a
// loopback TCP connection (through Swarm.Listen, whose accept loop must
// keep serving). The fake does the real handshake with handshake.Run
// and then writes whatever it likes through handshake.NewConn, or writes
// raw bytes. Every wait has a deadline; none is a bare sleep.

// patience bounds every wait of these tests: reaching it is a failure,
// never the expected outcome.
const patience = 20 * time.Second

// fakePeer is the hand-played end of one connection.
type fakePeer struct {
	t   *testing.T
	nc  net.Conn
	res handshake.Result
	sec *handshake.Conn
	fr  *wire.FrameReader
}

// pipeTo connects a new net.Pipe to sw with Connect, sw answering the
// handshake; the channel gets Connect's result.
func pipeTo(t *testing.T, sw *Swarm, swarmInitiates bool) (net.Conn, <-chan error) {
	t.Helper()
	a, b := net.Pipe()
	errc := make(chan error, 1)
	go func() { errc <- sw.Connect(a, swarmInitiates) }()
	t.Cleanup(func() { b.Close() })
	b.SetDeadline(time.Now().Add(patience))
	return b, errc
}

// handshakeOver does the real handshake (as the initiator) and sets up
// the encrypted transport, both over rw, which is nc or a wrapper of it.
func handshakeOver(t *testing.T, nc net.Conn, rw io.ReadWriter) *fakePeer {
	t.Helper()
	kp, err := handshake.GenerateKeyPair(nil)
	if err != nil {
		t.Fatal(err)
	}
	res, rest, err := handshake.Run(rw, handshake.Config{Initiator: true, Static: kp})
	if err != nil {
		t.Fatalf("fake peer handshake: %v", err)
	}
	sec := handshake.NewConn(rw, res, rest)
	return &fakePeer{t: t, nc: nc, res: res, sec: sec, fr: wire.NewFrameReader(sec)}
}

// fakeOverPipe is a fake peer connected to sw through Connect.
func fakeOverPipe(t *testing.T, sw *Swarm) (*fakePeer, <-chan error) {
	t.Helper()
	nc, errc := pipeTo(t, sw, false)
	return handshakeOver(t, nc, nc), errc
}

// dialFake is a fake peer connected to sw's listener.
func dialFake(t *testing.T, addr net.Addr) *fakePeer {
	t.Helper()
	nc := dialRaw(t, addr)
	return handshakeOver(t, nc, nc)
}

func dialRaw(t *testing.T, addr net.Addr) net.Conn {
	t.Helper()
	nc, err := net.Dial("tcp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(patience))
	return nc
}

// write sends plaintext bytes through the encrypted transport.
func (p *fakePeer) write(b []byte) {
	p.t.Helper()
	if _, err := p.sec.Write(b); err != nil {
		p.t.Fatalf("fake peer write: %v", err)
	}
}

// frames encodes messages on the fake's channel 1.
func frames(msgs ...wire.Message) []byte {
	var b []byte
	for _, m := range msgs {
		b = wire.AppendFrame(b, 1, m)
	}
	return b
}

// open is the fake's Open for f with the capability this connection
// calls for.
func (p *fakePeer) open(f *feed.Feed) *wire.Open {
	dkey := f.DiscoveryKey()
	c := handshake.Capability(p.res, f.Key())
	return &wire.Open{DiscoveryKey: dkey[:], Capability: c[:]}
}

// next returns the next frame from the swarm, its body copied.
func (p *fakePeer) next() (wire.Frame, error) {
	fr, err := p.fr.Next()
	fr.Body = bytes.Clone(fr.Body)
	return fr, err
}

// until reads frames until one satisfies match, failing on a close.
func (p *fakePeer) until(what string, match func(wire.Frame) bool) wire.Frame {
	p.t.Helper()
	for {
		fr, err := p.next()
		if err != nil {
			p.t.Fatalf("waiting for %s: %v", what, err)
		}
		if !fr.KeepAlive && match(fr) {
			return fr
		}
	}
}

// drain reads frames until the swarm closes the connection.
func (p *fakePeer) drain() []wire.Frame {
	p.t.Helper()
	var got []wire.Frame
	for {
		fr, err := p.next()
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				p.t.Fatal("the swarm did not close the connection")
			}
			return got
		}
		got = append(got, fr)
	}
}

// fetch asks for block i of w (which the swarm serves) and checks the
// answer; the fake's Open goes first unless opened is set.
func (p *fakePeer) fetch(w *feed.Feed, i uint64, opened bool) {
	p.t.Helper()
	b := frames(&wire.Request{Index: i})
	if !opened {
		b = append(frames(p.open(w)), b...)
	}
	p.write(b)
	fr := p.until("the block", func(fr wire.Frame) bool {
		if fr.Type != wire.TypeData {
			return false
		}
		d := mustDecode(p.t, fr).(*wire.Data)
		return d.Index == i && d.Value != nil
	})
	want, err := w.GetLocal(i)
	if err != nil {
		p.t.Fatal(err)
	}
	if d := mustDecode(p.t, fr).(*wire.Data); !bytes.Equal(d.Value, want) {
		p.t.Fatalf("block %d differs", i)
	}
}

// waitErr waits for Connect to return.
func waitErr(t *testing.T, errc <-chan error) error {
	t.Helper()
	select {
	case err := <-errc:
		return err
	case <-time.After(patience):
		t.Fatal("the swarm did not close the connection")
		return nil
	}
}

// swarmWith is a test swarm serving or replicating f.
func swarmWith(t *testing.T, cfg Config, f *feed.Feed, opts FeedOptions) *Swarm {
	t.Helper()
	sw, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sw.Close() })
	if f != nil {
		if err := sw.Add(f, opts); err != nil {
			t.Fatal(err)
		}
	}
	return sw
}

// disconnects collects the errors a Swarm logs for the connections it
// accepted ("peer disconnected"), so that Listen tests can check why a
// connection ended.
type disconnects struct{ ch chan error }

func newDisconnects() disconnects { return disconnects{make(chan error, 64)} }

func (d disconnects) Enabled(context.Context, slog.Level) bool { return true }
func (d disconnects) WithAttrs([]slog.Attr) slog.Handler       { return d }
func (d disconnects) WithGroup(string) slog.Handler            { return d }
func (d disconnects) Handle(_ context.Context, r slog.Record) error {
	if r.Message != "peer disconnected" {
		return nil
	}
	r.Attrs(func(a slog.Attr) bool {
		if err, ok := a.Value.Any().(error); ok && a.Key == "err" {
			select {
			case d.ch <- err:
			default:
			}
		}
		return true
	})
	return nil
}

func (d disconnects) next(t *testing.T) error {
	t.Helper()
	select {
	case err := <-d.ch:
		return err
	case <-time.After(patience):
		t.Fatal("no disconnection logged")
		return nil
	}
}

func totalAlloc() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.TotalAlloc
}

func heapAlloc() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// A1: a frame length above 8 MiB, or of 2^63, closes the connection as
// soon as the length prefix is read, and nothing near that size is
// allocated.
func TestSocketFrameTooLarge(t *testing.T) {
	checkNoLeak(t)
	for _, l := range []uint64{wire.MaxBody + 1000, 1 << 63, 1<<64 - 1} {
		sw := swarmWith(t, Config{}, nil, FeedOptions{})
		p, errc := fakeOverPipe(t, sw)
		before := totalAlloc()
		p.write(appendUvarint(nil, l))
		err := waitErr(t, errc)
		delta := totalAlloc() - before
		t.Logf("length %d: %d bytes allocated until the close", l, delta)
		if delta > 1<<20 {
			t.Errorf("length %d: %d bytes allocated", l, delta)
		}
		if !errors.Is(err, wire.ErrTooLarge) {
			t.Errorf("length %d: err = %v, want ErrTooLarge", l, err)
		}
		p.drain()
	}
}

// A2 (and A4's channel id >= 2^31): broken framing closes the
// connection with the wire error; a stream that ends inside a frame
// closes it with io.ErrUnexpectedEOF, having allocated only what arrived.
func TestSocketBrokenFraming(t *testing.T) {
	checkNoLeak(t)
	ones := func(n int) []byte { return bytes.Repeat([]byte{0xff}, n) }
	cases := []struct {
		name  string
		bytes []byte
		eof   bool // the fake closes after writing
		want  error
	}{
		{"length varint of 11 bytes", append(bytes.Repeat([]byte{0x80}, 10), 0x01), false, wire.ErrMalformed},
		{"length varint above 2^64", append(ones(9), 0x02), false, wire.ErrMalformed},
		{"header varint of 11 bytes", append([]byte{12}, append(ones(10), 0x01, 0)...), false, wire.ErrMalformed},
		{"header varint above 2^64", append([]byte{11}, append(ones(9), 0x02, 0)...), false, wire.ErrMalformed},
		{"header running past the frame", []byte{2, 0x80, 0x80}, false, wire.ErrMalformed},
		{"channel 2^31", append([]byte{6}, appendUvarint(nil, 1<<35|uint64(wire.TypeRequest))...), false, wire.ErrChannelRange},
		{"EOF in the length varint", []byte{0x80}, true, io.ErrUnexpectedEOF},
		{"EOF in a frame claiming 8 MiB", append(appendUvarint(nil, wire.MaxBody+1), 0x19, 0x08, 0x01, 0x12), true, io.ErrUnexpectedEOF},
		{"EOF in the header varint", []byte{3, 0x80}, true, io.ErrUnexpectedEOF},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sw := swarmWith(t, Config{}, nil, FeedOptions{})
			p, errc := fakeOverPipe(t, sw)
			before := totalAlloc()
			p.write(c.bytes)
			if c.eof {
				p.nc.Close()
			}
			err := waitErr(t, errc)
			if delta := totalAlloc() - before; delta > 1<<20 {
				t.Errorf("%d bytes allocated", delta)
			}
			if !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
			if !c.eof {
				p.drain()
			}
		})
	}
}

// A2: a peer sending nothing but keep-alives, as fast as it can, stays
// connected past the idle timeout (any byte is a sign of life, as in JS),
// gets its block when it asks in the middle of the flood, and hears the
// swarm's own keep-alives.
func TestSocketKeepAliveFlood(t *testing.T) {
	checkNoLeak(t)
	w := writer(t, rand.New(rand.NewPCG(41, 42)), 50)
	sw := swarmWith(t, Config{IdleTimeout: 400 * time.Millisecond}, w, FeedOptions{})
	p, errc := fakeOverPipe(t, sw)

	// The flood goroutine is the fake's only writer: other frames go
	// through it, between two bursts of zeros.
	send := make(chan []byte)
	stop := make(chan struct{})
	var flooded atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		zeros := make([]byte, 4096)
		for {
			b := zeros
			select {
			case <-stop:
				return
			case b = <-send:
			default:
			}
			if _, err := p.sec.Write(b); err != nil {
				return
			}
			flooded.Add(int64(len(b)))
		}
	}()
	defer wg.Wait()
	defer p.nc.Close()
	defer close(stop)

	send <- frames(p.open(w), &wire.Request{Index: 7})
	p.until("block 7", func(fr wire.Frame) bool { return fr.Type == wire.TypeData })
	// Three keep-alives from the swarm: at least 1.5 idle timeouts of
	// nothing but keep-alives from the fake.
	for n := 0; n < 3; {
		fr, err := p.next()
		if err != nil {
			t.Fatalf("closed during the flood, after %d keep-alives: %v", n, err)
		}
		if fr.KeepAlive {
			n++
		}
	}
	send <- frames(&wire.Request{Index: 8})
	p.until("block 8", func(fr wire.Frame) bool { return fr.Type == wire.TypeData })
	t.Logf("%d bytes flooded, nearly all keep-alives", flooded.Load())
	p.nc.Close()
	if err := waitErr(t, errc); err != nil && !errors.Is(err, io.ErrClosedPipe) {
		t.Fatalf("after the flood: %v", err)
	}
}

// rawDrain reads raw bytes until the swarm closes the connection.
func rawDrain(t *testing.T, nc net.Conn) {
	t.Helper()
	if _, err := io.Copy(io.Discard, nc); errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatal("the swarm did not close the connection")
	}
}

// recorder keeps what the fake sends, for a replay.
type recorder struct {
	net.Conn
	sent []byte
}

func (r *recorder) Write(b []byte) (int, error) {
	r.sent = append(r.sent, b...)
	return r.Conn.Write(b)
}

// readNoiseMsg reads one varint-prefixed handshake message.
func readNoiseMsg(t *testing.T, nc net.Conn) []byte {
	t.Helper()
	var prefix []byte
	for {
		var b [1]byte
		if _, err := io.ReadFull(nc, b[:]); err != nil {
			t.Fatalf("handshake message: %v", err)
		}
		prefix = append(prefix, b[0])
		if b[0] < 0x80 {
			break
		}
	}
	var n uint64
	for i := len(prefix) - 1; i >= 0; i-- {
		n = n<<7 | uint64(prefix[i]&0x7f)
	}
	msg := make([]byte, n)
	if _, err := io.ReadFull(nc, msg); err != nil {
		t.Fatalf("handshake message: %v", err)
	}
	return msg
}

// noiseWithPayload plays a Noise XX initiator that sends payload (a
// NoisePayload or not) in msg 1 and msg 3, with flynn/noise directly.
func noiseWithPayload(payload []byte) func(t *testing.T, nc net.Conn) {
	return func(t *testing.T, nc net.Conn) {
		cs := noise.NewCipherSuite(noise.DH25519, noise.CipherChaChaPoly, noise.HashBLAKE2b)
		kp, err := noise.DH25519.GenerateKeypair(nil)
		if err != nil {
			t.Fatal(err)
		}
		hs, err := noise.NewHandshakeState(noise.Config{CipherSuite: cs, Pattern: noise.HandshakeXX, Initiator: true, StaticKeypair: kp})
		if err != nil {
			t.Fatal(err)
		}
		msg1, _, _, err := hs.WriteMessage(nil, payload)
		if err != nil {
			t.Fatal(err)
		}
		nc.Write(append(appendUvarint(nil, uint64(len(msg1))), msg1...))
		if _, _, _, err := hs.ReadMessage(nil, readNoiseMsg(t, nc)); err != nil {
			t.Fatalf("msg 2: %v", err)
		}
		msg3, _, _, err := hs.WriteMessage(nil, payload)
		if err != nil {
			t.Fatal(err)
		}
		nc.Write(append(appendUvarint(nil, uint64(len(msg3))), msg3...))
	}
}

// clearFrames is what a noise:false, encrypted:false peer sends first
// (spec 4.3): Open without a capability, Want, Request, in clear.
func clearFrames(w *feed.Feed) []byte {
	dkey := w.DiscoveryKey()
	return frames(&wire.Open{DiscoveryKey: dkey[:]}, &wire.Want{Start: 0, Length: wantWindow}, &wire.Request{Index: 0})
}

// A5, A7, A9 over loopback TCP: handshakes that must fail do, the
// connection is closed, and the listener keeps serving other peers.
func TestSocketBadHandshake(t *testing.T) {
	checkNoLeak(t)
	rng := rand.New(rand.NewPCG(43, 44))
	w := writer(t, rng, 20)
	log := newDisconnects()
	sw := swarmWith(t, Config{Logger: slog.New(log)}, w, FeedOptions{})
	addr, err := sw.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	random := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	// A session to replay (A7), recorded against the same swarm.
	nc, errc := pipeTo(t, sw, false)
	rec := &recorder{Conn: nc}
	p := handshakeOver(t, nc, rec)
	p.fetch(w, 3, false)
	nc.Close()
	waitErr(t, errc)
	recorded := rec.sent

	send := func(b []byte) func(*testing.T, net.Conn) {
		return func(t *testing.T, nc net.Conn) {
			if _, err := nc.Write(b); err != nil {
				t.Fatal(err)
			}
		}
	}
	cases := []struct {
		name string
		play func(t *testing.T, nc net.Conn)
		want error
	}{
		{"A5 random msg 1 and msg 3", send(slicesConcat(
			appendUvarint(nil, 58), random(58), appendUvarint(nil, 90), random(90))), handshake.ErrHandshake},
		{"A5 msg 1 of 5 bytes", send(append([]byte{5}, random(5)...)), handshake.ErrHandshake},
		{"A5 length prefix of 2^28", send([]byte{0x80, 0x80, 0x80, 0x80, 0x01}), handshake.ErrHandshake},
		{"A5 no handshake payload", noiseWithPayload(nil), handshake.ErrNoPayload},
		{"A5 payload without a nonce", noiseWithPayload([]byte{0x0a, 0x03, 1, 2, 3}), handshake.ErrNoPayload},
		{"A7 replayed session", send(recorded), handshake.ErrHandshake},
		{"A9 frames in clear from the first byte", send(clearFrames(w)), handshake.ErrHandshake},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			nc := dialRaw(t, addr)
			c.play(t, nc)
			rawDrain(t, nc)
			if err := log.next(t); !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
		})
	}
	// The listener still serves.
	dialFake(t, addr).fetch(w, 5, false)
}

func slicesConcat(bs ...[]byte) []byte {
	var out []byte
	for _, b := range bs {
		out = append(out, b...)
	}
	return out
}

// A9, the other way round: a swarm that dials a peer answering in clear
// fails the handshake on msg 2. hyperfs has no noise:false mode.
func TestSocketClearResponder(t *testing.T) {
	checkNoLeak(t)
	w := writer(t, rand.New(rand.NewPCG(49, 50)), 20)
	sw := swarmWith(t, Config{}, w, FeedOptions{})
	nc, errc := pipeTo(t, sw, true)
	readNoiseMsg(t, nc) // msg 1, which a clear peer would take for a frame
	wrote := make(chan struct{})
	go func() {
		defer close(wrote)
		nc.Write(clearFrames(w)) // ends when read, or when the swarm closes
	}()
	defer func() { <-wrote }()
	rawDrain(t, nc)
	if err := waitErr(t, errc); !errors.Is(err, handshake.ErrHandshake) {
		t.Fatalf("err = %v, want ErrHandshake", err)
	}
}

// flipper flips bits of one byte of the ciphertext the fake sends.
type flipper struct {
	net.Conn
	n    int64 // bytes written so far, handshake included
	at   int64 // offset of the byte to flip, -1 for none
	mask byte
}

func (f *flipper) Write(b []byte) (int, error) {
	if f.at >= f.n && f.at < f.n+int64(len(b)) {
		b = bytes.Clone(b)
		b[f.at-f.n] ^= f.mask
	}
	f.n += int64(len(b))
	return f.Conn.Write(b)
}

// A6: one byte of ciphertext flipped in a Data frame. XSalsa20 has no
// MAC, so the same bit flips in the plaintext and nothing notices at
// the transport; what notices is the layer that owns the bit. A flip in
// the block, a proof node or the signature fails verification
// (ErrChecksum) and closes the connection; a flip in the frame's length
// or type breaks the framing or the protobuf (wire.ErrMalformed) and
// closes it; a flip that moves the frame to a channel never opened, or
// to a block never requested, gets it ignored and the connection stays.
// In every case nothing unverified is stored.
func TestSocketBitFlip(t *testing.T) {
	checkNoLeak(t)
	w := writer(t, rand.New(rand.NewPCG(45, 46)), 30)
	block := uint64(3)
	for ; ; block++ {
		if v, err := w.GetLocal(block); err != nil {
			t.Fatal(err)
		} else if len(v) >= 64 {
			break
		}
	}
	lenLen := func(fr []byte) int { // bytes of the length prefix
		n := 1
		for fr[n-1] >= 0x80 {
			n++
		}
		return n
	}
	cases := []struct {
		name  string
		where func(t *testing.T, fr []byte, d *wire.Data) (int, byte)
		want  error // nil: the frame is dropped, the connection stays
	}{
		{"block byte", func(_ *testing.T, fr []byte, d *wire.Data) (int, byte) {
			return bytes.Index(fr, d.Value) + len(d.Value)/2, 0x10
		}, ErrChecksum},
		{"proof node hash", func(_ *testing.T, fr []byte, d *wire.Data) (int, byte) {
			return bytes.Index(fr, d.Nodes[0].Hash) + 7, 0x01
		}, ErrChecksum},
		{"proof node size", func(_ *testing.T, fr []byte, d *wire.Data) (int, byte) {
			// The first byte of the first node's size varint, after
			// its hash and the field key.
			return bytes.Index(fr, d.Nodes[0].Hash) + 32 + 1, 0x01
		}, ErrChecksum},
		{"signature", func(_ *testing.T, fr []byte, d *wire.Data) (int, byte) {
			return bytes.Index(fr, d.Signature) + 20, 0x80
		}, ErrChecksum},
		{"frame length", func(t *testing.T, fr []byte, _ *wire.Data) (int, byte) {
			// Clear the lowest set bit of L's low 7 bits: the frame
			// ends up to 64 bytes early, inside the signature.
			low := fr[0] & 0x7f
			if low == 0 {
				t.Fatalf("frame length %x: no low bit to clear", fr[:lenLen(fr)])
			}
			return 0, low & -low
		}, wire.ErrMalformed},
		{"frame type Data to Cancel", func(_ *testing.T, fr []byte, _ *wire.Data) (int, byte) {
			return lenLen(fr), 0x01
		}, wire.ErrMalformed},
		{"frame channel 1 to 3", func(_ *testing.T, fr []byte, _ *wire.Data) (int, byte) {
			return lenLen(fr), 0x20
		}, nil},
		{"block index", func(_ *testing.T, fr []byte, _ *wire.Data) (int, byte) {
			return lenLen(fr) + 2, 0x01 // header, key 08, index
		}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := replica(t, w)
			sw := swarmWith(t, Config{}, r, FeedOptions{})
			nc, errc := pipeTo(t, sw, false)
			flip := &flipper{Conn: nc, at: -1}
			p := handshakeOver(t, nc, flip)
			p.write(frames(p.open(w), &wire.Have{Start: 0, Length: w.Length()}))
			sw.Want(r, block)
			fr := p.until("the request", func(fr wire.Frame) bool { return fr.Type == wire.TypeRequest })
			req := mustDecode(t, fr).(*wire.Request)
			if req.Index != block {
				t.Fatalf("request for %d, want %d", req.Index, block)
			}
			proof, err := w.Proof(block, false, req.Nodes, nil)
			if err != nil {
				t.Fatal(err)
			}
			d := toData(proof)
			frame := wire.AppendFrame(nil, 1, d)
			off, mask := c.where(t, frame, d)
			flip.at, flip.mask = flip.n+int64(off), mask
			p.write(frame)
			stored := func() bool { return r.Downloaded(0, w.Length()) > 0 }
			if c.want != nil {
				p.drain()
				if err := waitErr(t, errc); !errors.Is(err, c.want) {
					t.Fatalf("err = %v, want %v", err, c.want)
				}
				if stored() || r.Length() != 0 {
					t.Fatalf("stored: length %d, %d blocks", r.Length(), r.Downloaded(0, w.Length()))
				}
				return
			}
			// The frame was dropped: a Want still gets its answer, and
			// nothing was stored; the honest frame is then taken.
			p.write(frames(&wire.Want{Start: 0, Length: wantWindow}))
			p.until("the answer to a Want", func(fr wire.Frame) bool {
				return fr.Type == wire.TypeHave && mustDecode(t, fr).(*wire.Have).Bitfield != nil
			})
			if stored() {
				t.Fatal("the flipped frame was stored")
			}
			p.write(frame)
			waitFor(t, r, "the honest block", func() bool { return r.Has(block) })
			sameBlocks(t, w, r, func(i uint64) bool { return i == block })
			nc.Close()
			waitErr(t, errc)
		})
	}
}

// A8 at the socket level: a peer that knows the discovery key but not a
// capability valid for this connection is closed with ErrCapability and
// hears nothing about the feed: no Have, no Data, although its Open came
// with a Want and a Request.
func TestSocketBadCapability(t *testing.T) {
	checkNoLeak(t)
	rng := rand.New(rand.NewPCG(47, 48))
	w := writer(t, rng, 20)
	other := writer(t, rng, 1)
	sw := swarmWith(t, Config{}, w, FeedOptions{})
	dkey := w.DiscoveryKey()
	ask := func(capability []byte) []byte {
		return frames(&wire.Open{DiscoveryKey: dkey[:], Capability: capability},
			&wire.Want{Start: 0, Length: wantWindow}, &wire.Request{Index: 3})
	}

	// Control: the right capability gets the bitfield and the block. It
	// is also the capability copied below.
	p, errc := fakeOverPipe(t, sw)
	good := p.open(w).Capability
	p.write(ask(good))
	var have, data bool
	for !have || !data {
		fr := p.until("the answers", func(wire.Frame) bool { return true })
		have = have || fr.Type == wire.TypeHave
		data = data || fr.Type == wire.TypeData
	}
	p.nc.Close()
	waitErr(t, errc)

	random := make([]byte, 32)
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	cases := []struct {
		name string
		cap  func(p *fakePeer, theirs *wire.Open) []byte
	}{
		{"none", func(*fakePeer, *wire.Open) []byte { return nil }},
		{"zero", func(*fakePeer, *wire.Open) []byte { return make([]byte, 32) }},
		{"random", func(*fakePeer, *wire.Open) []byte { return random }},
		{"truncated", func(p *fakePeer, _ *wire.Open) []byte { return p.open(w).Capability[:31] }},
		{"reflected", func(_ *fakePeer, theirs *wire.Open) []byte { return theirs.Capability }},
		{"copied from another connection", func(*fakePeer, *wire.Open) []byte { return good }},
		{"for another feed", func(p *fakePeer, _ *wire.Open) []byte { return p.open(other).Capability }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, errc := fakeOverPipe(t, sw)
			fr := p.until("the swarm's Open", func(fr wire.Frame) bool { return fr.Type == wire.TypeOpen })
			p.write(ask(c.cap(p, mustDecode(t, fr).(*wire.Open))))
			for _, fr := range p.drain() {
				if fr.Type == wire.TypeHave || fr.Type == wire.TypeData {
					t.Errorf("sent %v to a peer without the capability", fr.Type)
				}
			}
			if err := waitErr(t, errc); !errors.Is(err, ErrCapability) {
				t.Fatalf("err = %v, want ErrCapability", err)
			}
		})
	}
}

// A18: a peer silent after connecting, stalled in the handshake, or
// silent after it is closed after Config.IdleTimeout; meanwhile the
// listener serves others.
func TestSocketTimeouts(t *testing.T) {
	checkNoLeak(t)
	w := writer(t, rand.New(rand.NewPCG(51, 52)), 20)
	log := newDisconnects()
	sw := swarmWith(t, Config{IdleTimeout: time.Second, Logger: slog.New(log)}, w, FeedOptions{})
	addr, err := sw.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	kp, err := handshake.GenerateKeyPair(nil)
	if err != nil {
		t.Fatal(err)
	}
	h, err := handshake.NewHandshake(handshake.Config{Initiator: true, Static: kp})
	if err != nil {
		t.Fatal(err)
	}
	msg1, err := h.Start()
	if err != nil {
		t.Fatal(err)
	}

	var stalled []net.Conn
	stalled = append(stalled, dialRaw(t, addr)) // silent
	half := dialRaw(t, addr)
	half.Write(msg1[:len(msg1)/2])
	stalled = append(stalled, half)
	one := dialRaw(t, addr)
	one.Write(msg1)
	stalled = append(stalled, one)
	after := dialFake(t, addr) // silent after the handshake
	stalled = append(stalled, after.nc)

	// The swarm dials a peer that reads msg 1 and says nothing.
	nc, errc := pipeTo(t, sw, true)
	readNoiseMsg(t, nc)

	dialFake(t, addr).fetch(w, 4, false)

	for _, nc := range stalled {
		rawDrain(t, nc)
	}
	if err := waitErr(t, errc); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("dialled peer: err = %v, want a deadline", err)
	}
	for n := 0; n < len(stalled); {
		if err := log.next(t); errors.Is(err, os.ErrDeadlineExceeded) {
			n++
		} else {
			t.Logf("other disconnection: %v", err)
		}
	}
}

// bigWriter is a writable feed of n blocks of size bytes.
func bigWriter(t *testing.T, n, size int) *feed.Feed {
	t.Helper()
	w, err := feed.Create(feed.NewMemStorage(), feed.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	rng := rand.New(rand.NewPCG(uint64(n), uint64(size)))
	blocks := make([][]byte, n)
	for i := range blocks {
		blocks[i] = make([]byte, size)
		for k := range blocks[i] {
			blocks[i][k] = byte(rng.Uint32())
		}
	}
	if err := w.Append(blocks...); err != nil {
		t.Fatal(err)
	}
	return w
}

// flood sends Open and then count Requests for blocks of w, in batches,
// never reading; it reports how many Requests the swarm took.
func (p *fakePeer) flood(w *feed.Feed, count int, took *atomic.Int64) {
	p.write(frames(p.open(w)))
	const batch = 500
	for sent := 0; sent < count; sent += batch {
		var b []byte
		for k := range batch {
			b = wire.AppendFrame(b, 1, &wire.Request{Index: uint64(sent+k) % w.Length()})
		}
		if _, err := p.sec.Write(b); err != nil {
			return
		}
		took.Add(batch)
	}
}

// onlyConn waits until sw has one connection whose session matches cond.
func onlyConn(t *testing.T, sw *Swarm, cond func(s *Session) bool) {
	t.Helper()
	deadline := time.Now().Add(patience)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		sw.mu.Lock()
		conns := sw.connList()
		sw.mu.Unlock()
		if len(conns) == 1 {
			c := conns[0]
			c.mu.Lock()
			ok := cond(c.s)
			c.mu.Unlock()
			if ok {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("the connection did not reach the expected state")
		}
		<-tick.C
	}
}

// A19: a peer floods Requests for 64 KiB blocks and never reads. The
// swarm stops reading it once highWater bytes of answers wait, so memory
// stays bounded; another peer gets its blocks meanwhile; when the
// flooder goes away, its connection ends.
func TestSocketRequestFlood(t *testing.T) {
	checkNoLeak(t)
	const blocks, size, requests = 32, 64 << 10, 50000 // 3.2 GB of answers
	w := bigWriter(t, blocks, size)
	a := swarmWith(t, Config{}, w, FeedOptions{})
	base := heapAlloc()
	p, errc := fakeOverPipe(t, a)
	var took atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		p.flood(w, requests, &took)
	}()
	defer wg.Wait()
	defer p.nc.Close()

	onlyConn(t, a, func(s *Session) bool { return s.Pending() >= highWater })
	grown := int64(heapAlloc()) - int64(base)
	t.Logf("stalled after %d requests; heap grew by %d MiB", took.Load(), grown>>20)
	if grown > 4*highWater {
		t.Errorf("heap grew by %d MiB", grown>>20)
	}
	if took.Load() >= requests/2 {
		t.Errorf("the swarm took %d of %d requests", took.Load(), requests)
	}

	// Another peer, a real swarm, reads blocks while the flood waits.
	r := replica(t, w)
	b := swarmWith(t, Config{}, r, FeedOptions{})
	c1, c2 := net.Pipe()
	go a.Connect(c1, false)
	go b.Connect(c2, true)
	for _, i := range []uint64{0, 17, 31} {
		ctx, cancel := context.WithTimeout(t.Context(), patience)
		got, err := r.Get(ctx, i)
		cancel()
		if err != nil {
			t.Fatalf("get %d during the flood: %v", i, err)
		}
		if want, _ := w.GetLocal(i); !bytes.Equal(got, want) {
			t.Fatalf("block %d differs", i)
		}
	}

	p.nc.Close()
	waitErr(t, errc)
}

// A19 with a short idle timeout: a peer that reads nothing is dropped
// when a write has waited that long.
func TestSocketNeverReads(t *testing.T) {
	checkNoLeak(t)
	w := bigWriter(t, 8, 64<<10)
	a := swarmWith(t, Config{IdleTimeout: 300 * time.Millisecond}, w, FeedOptions{})
	p, errc := fakeOverPipe(t, a)
	var took atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		p.flood(w, 50000, &took)
	}()
	defer wg.Wait()
	defer p.nc.Close()
	if err := waitErr(t, errc); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("err = %v, want a write deadline", err)
	}
}

// slowReader is a slow link: each Read waits for a tick and returns at
// most 16 KiB, and the peer says it is alive (a keep-alive) meanwhile.
type slowReader struct {
	r     io.Reader
	tick  <-chan time.Time
	alive func()
}

func (s slowReader) Read(b []byte) (int, error) {
	<-s.tick
	s.alive()
	return s.r.Read(b[:min(len(b), 16<<10)])
}

// A18/A19, the other side: a peer that reads slowly but steadily, and
// says it is alive, is not taken for a dead one although one block takes
// several idle timeouts to go through. The write deadline is about
// progress, not about the whole backlog.
func TestSocketSlowReader(t *testing.T) {
	checkNoLeak(t)
	// 1.6 MB/s at most: a 2 MiB block takes 2.2 idle timeouts, a 64 KiB
	// write 40 ms.
	w := bigWriter(t, 2, 2<<20)
	sw := swarmWith(t, Config{IdleTimeout: 600 * time.Millisecond}, w, FeedOptions{})
	p, errc := fakeOverPipe(t, sw)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	p.fr = wire.NewFrameReader(slowReader{r: p.sec, tick: tick.C, alive: func() { p.write([]byte{0}) }})
	p.fetch(w, 1, false)
	p.nc.Close()
	waitErr(t, errc)
}
