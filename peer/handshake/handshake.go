package handshake

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/flynn/noise"
)

// maxMessageSize bounds a handshake message's length prefix before any
// buffer is grown for it. Real messages are 58, 122 and 90 bytes.
const maxMessageSize = 1024

// Config configures one side of a handshake.
type Config struct {
	// Initiator is true on the side that sends the first message (usually
	// the side that dialled; spec 4.2).
	Initiator bool
	// Static is this side's X25519 key pair. It must be set.
	Static KeyPair
	// Rand supplies, in this order, the 24-byte payload nonce (read by
	// NewHandshake) and the 32-byte ephemeral private key (read when our
	// first message is written). nil means crypto/rand. A fixed reader
	// makes the handshake reproducible, which is how the JS transcripts
	// are replayed.
	Rand io.Reader
}

// Result is what a completed handshake leaves for the transport: the
// split keys and payload nonces that key the two XSalsa20 streams, the
// remote's static key and the handshake hash.
type Result struct {
	// Tx keys the stream we send, Rx the one we receive; one side's Tx is
	// the other's Rx.
	Tx, Rx [32]byte
	// LocalNonce is the nonce of our payload (and of our sending stream),
	// RemoteNonce that of the remote's payload (and its stream).
	LocalNonce, RemoteNonce [NonceSize]byte
	// RemoteStatic is the remote's static public key. hypercore accepts
	// any key; a caller that wants to pin peers checks it here.
	RemoteStatic [32]byte
	// Hash is the 64-byte Noise handshake hash, equal on both sides (JS
	// handshakeHash; unused by hypercore 9).
	Hash []byte
}

type state uint8

const (
	stateNew     state = iota // Start not called yet
	stateRunning              // waiting for the remote's next message
	stateDone                 // Result is valid
	stateFailed               // an error was returned; every call repeats it
)

// Handshake is the deterministic core of the Noise XX handshake: it does
// no I/O, starts no goroutines and reads no clock. The caller sends what
// Start returns, then feeds every received byte to Receive and sends what
// it returns, until Done. Run is this loop over an io.ReadWriter.
//
// A Handshake is not safe for concurrent use.
type Handshake struct {
	initiator bool
	hs        *noise.HandshakeState
	nonce     [NonceSize]byte
	payload   []byte // our encoded NoisePayload, sent in each of our messages
	state     state
	err       error // set in stateFailed
	msgNo     int   // number (1-3) of the message being received

	// Framing of the message being received: its length prefix is decoded
	// byte by byte so that any chunking of the input works.
	length   uint64 // message length once the prefix is complete
	shift    uint   // bits of the prefix decoded so far
	inPrefix bool   // still decoding the prefix
	msg      []byte // message bytes received so far, at most maxMessageSize

	// remotePayload is the last non-empty payload the remote sent: JS
	// keeps the last one it sees, so an initiator's payload may be in msg
	// 1, msg 3 or both. It is decoded when the handshake completes.
	remotePayload []byte
	result        Result
}

// NewHandshake prepares one side of a handshake and draws the payload
// nonce from cfg.Rand.
func NewHandshake(cfg Config) (*Handshake, error) {
	if cfg.Static == (KeyPair{}) {
		return nil, errors.New("handshake: Config.Static is not set")
	}
	rnd := cfg.Rand
	if rnd == nil {
		rnd = rand.Reader
	}
	h := &Handshake{initiator: cfg.Initiator, inPrefix: true}
	if _, err := io.ReadFull(rnd, h.nonce[:]); err != nil {
		return nil, fmt.Errorf("handshake: payload nonce: %w", err)
	}
	h.payload = encodePayload(&h.nonce)
	hs, err := noise.NewHandshakeState(noise.Config{
		CipherSuite: noise.NewCipherSuite(noise.DH25519, noise.CipherChaChaPoly, noise.HashBLAKE2b),
		Random:      rnd,
		Pattern:     noise.HandshakeXX,
		Initiator:   cfg.Initiator,
		// hypercore never sets a prologue (spec 4.2).
		StaticKeypair: noise.DHKey{Private: cfg.Static.Private[:], Public: cfg.Static.Public[:]},
	})
	if err != nil {
		return nil, fmt.Errorf("handshake: %w", err)
	}
	h.hs = hs
	return h, nil
}

// Start begins the handshake and returns the bytes to send first: the
// framed msg 1 for the initiator, nothing for the responder (which, like
// JS, waits for msg 1).
func (h *Handshake) Start() ([]byte, error) {
	if h.state != stateNew {
		return nil, h.fail(errors.New("handshake: Start called twice"))
	}
	h.state = stateRunning
	if !h.initiator {
		h.msgNo = 1
		return nil, nil
	}
	h.msgNo = 2
	out, _, _, err := h.hs.WriteMessage(nil, h.payload)
	if err != nil {
		return nil, h.fail(fmt.Errorf("handshake msg 1: %w", err))
	}
	return frame(out), nil
}

// Receive consumes bytes received from the remote. It returns how many of
// p it used and the bytes to send in reply (nil if none yet). Once the
// handshake is complete it stops consuming: p[n:] is the start of the
// encrypted transport stream and belongs to the caller. Any error is
// final and is returned again by every later call.
func (h *Handshake) Receive(p []byte) (n int, send []byte, err error) {
	switch h.state {
	case stateNew:
		return 0, nil, h.fail(errors.New("handshake: Receive before Start"))
	case stateDone:
		return 0, nil, nil
	case stateFailed:
		return 0, nil, h.err
	}
	for n < len(p) && h.state == stateRunning {
		if h.inPrefix {
			if err := h.prefixByte(p[n]); err != nil {
				return n, send, h.fail(err)
			}
			n++
			continue
		}
		k := min(int(h.length)-len(h.msg), len(p)-n)
		h.msg = append(h.msg, p[n:n+k]...)
		n += k
		if len(h.msg) < int(h.length) {
			break
		}
		out, err := h.process()
		if err != nil {
			return n, send, h.fail(err)
		}
		send = append(send, out...)
		h.msg, h.inPrefix, h.length, h.shift = h.msg[:0], true, 0, 0
	}
	return n, send, nil
}

// prefixByte decodes one byte of a message's varint length prefix,
// refusing a length over maxMessageSize before anything is allocated.
func (h *Handshake) prefixByte(b byte) error {
	v := uint64(b & 0x7f)
	if h.shift > 63 || h.shift == 63 && v > 1 {
		return fmt.Errorf("handshake msg %d: %w: length prefix overflows", h.msgNo, ErrHandshake)
	}
	h.length |= v << h.shift
	if h.length > maxMessageSize {
		return fmt.Errorf("handshake msg %d: %w: length over %d bytes", h.msgNo, ErrHandshake, maxMessageSize)
	}
	if b&0x80 != 0 {
		h.shift += 7
		return nil
	}
	if h.length == 0 {
		return fmt.Errorf("handshake msg %d: %w: empty message", h.msgNo, ErrHandshake)
	}
	h.inPrefix = false
	if uint64(cap(h.msg)) < h.length {
		// Exactly the announced size, so the buffer never outgrows the
		// bound (append would round up).
		h.msg = make([]byte, 0, h.length)
	}
	return nil
}

// process handles the complete message h.msg and returns the framed
// reply, if any.
func (h *Handshake) process() ([]byte, error) {
	payload, cs1, cs2, err := h.hs.ReadMessage(nil, h.msg)
	if err != nil {
		return nil, fmt.Errorf("handshake msg %d: %w: %w", h.msgNo, ErrHandshake, err)
	}
	if len(payload) > 0 {
		h.remotePayload = payload
	}
	if cs1 != nil { // the responder has read msg 3
		return nil, h.finish(cs1, cs2)
	}
	// Our turn: msg 2 for the responder, msg 3 for the initiator.
	h.msgNo++
	out, cs1, cs2, err := h.hs.WriteMessage(nil, h.payload)
	if err != nil {
		// A low-order ephemeral key from the remote fails here, in DH.
		return nil, fmt.Errorf("handshake msg %d: %w: %w", h.msgNo, ErrHandshake, err)
	}
	h.msgNo++
	if cs1 != nil { // the initiator has written msg 3
		if err := h.finish(cs1, cs2); err != nil {
			return nil, err
		}
	}
	return frame(out), nil
}

// finish fills the Result. The split maps to keys by role (spec 4.2): the
// initiator sends with the first cipher state, the responder with the
// second. Only the keys are kept; the ChaCha cipher states are discarded.
func (h *Handshake) finish(cs1, cs2 *noise.CipherState) error {
	nonce, err := decodePayload(h.remotePayload)
	if err != nil {
		return fmt.Errorf("handshake: %w", err)
	}
	r := &h.result
	if h.initiator {
		r.Tx, r.Rx = cs1.UnsafeKey(), cs2.UnsafeKey()
	} else {
		r.Tx, r.Rx = cs2.UnsafeKey(), cs1.UnsafeKey()
	}
	r.LocalNonce, r.RemoteNonce = h.nonce, nonce
	copy(r.RemoteStatic[:], h.hs.PeerStatic())
	r.Hash = append([]byte(nil), h.hs.ChannelBinding()...)
	h.state = stateDone
	h.msg, h.remotePayload = nil, nil
	return nil
}

func (h *Handshake) fail(err error) error {
	h.state, h.err = stateFailed, err
	return err
}

// Done reports whether the handshake is complete.
func (h *Handshake) Done() bool { return h.state == stateDone }

// Result returns the outcome of a completed handshake; ok is false until
// Done.
func (h *Handshake) Result() (res Result, ok bool) {
	if h.state != stateDone {
		return Result{}, false
	}
	res = h.result
	res.Hash = append([]byte(nil), res.Hash...)
	return res, true
}

// frame prefixes a handshake message with its varint length (spec 4.2).
func frame(msg []byte) []byte {
	out := make([]byte, 0, binary.MaxVarintLen16+len(msg))
	out = binary.AppendUvarint(out, uint64(len(msg)))
	return append(out, msg...)
}
