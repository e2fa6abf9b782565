package handshake

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzHandshakePayload: the NoisePayload decoder never panics, accepts
// only a 24-byte nonce, and what it accepts re-encodes to bytes that
// decode to the same nonce.
func FuzzHandshakePayload(f *testing.F) {
	f.Add(encodePayload(&[NonceSize]byte{1, 2, 3}))
	f.Add([]byte{})
	f.Add([]byte{0x0a, 0x17})
	f.Add(append([]byte{0x10, 0x05}, encodePayload(&[NonceSize]byte{9})...)) // unknown field first
	f.Add([]byte{0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	for _, tr := range loadTranscripts(f) {
		for _, s := range []*side{&tr.Initiator, &tr.Responder} {
			n := hex24(f, s.PayloadNonce)
			f.Add(encodePayload(&n))
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		nonce, err := decodePayload(b)
		if err != nil {
			if !errors.Is(err, ErrNoPayload) || !errors.Is(err, ErrHandshake) {
				t.Fatalf("error %v does not wrap ErrNoPayload and ErrHandshake", err)
			}
			return
		}
		again, err := decodePayload(encodePayload(&nonce))
		if err != nil || again != nonce {
			t.Fatalf("round trip of %x: %x, %v", nonce, again, err)
		}
	})
}

// FuzzNoiseResponder feeds fuzz bytes, as the initiator's messages, to a
// responder holding the transcript's responder keys, so that the recorded
// initiator bytes complete the handshake and mutations of them explore
// every message. The first byte chooses how the input is cut into
// Receive calls. Nothing may panic, an error must wrap ErrHandshake, the
// message buffer stays within maxMessageSize, and Receive never claims
// more bytes than it was given.
func FuzzNoiseResponder(f *testing.F) {
	trs := loadTranscripts(f)
	tr := trs[1]
	for _, x := range trs {
		ini, transport := x.chunks(f, "initiator")
		all := bytes.Join(ini, nil)
		f.Add(append([]byte{0}, all...))
		f.Add(append([]byte{7}, append(all, transport[0]...)...))
	}
	f.Add([]byte{1, 0x81, 0x08})
	f.Add([]byte{0, 0x3a})
	f.Add([]byte{3, 0x00})
	cfg := tr.Responder.config(f, false)
	ini, _ := tr.chunks(f, "initiator")
	recorded := bytes.Join(ini, nil)
	wantTx := hex32(f, tr.Responder.AfterHandshake.SplitTx)
	rnd := tr.Responder.random(f)
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) == 0 {
			return
		}
		step := int(in[0])
		in = in[1:]
		c := cfg
		c.Rand = bytes.NewReader(rnd)
		h, err := NewHandshake(c)
		if err != nil {
			t.Fatal(err)
		}
		if out, err := h.Start(); out != nil || err != nil {
			t.Fatalf("responder Start = %x, %v", out, err)
		}
		for off := 0; off < len(in); {
			end := len(in)
			if step > 0 {
				end = min(off+step, len(in))
			}
			n, _, err := h.Receive(in[off:end])
			if n < 0 || n > end-off {
				t.Fatalf("Receive used %d of %d bytes", n, end-off)
			}
			if cap(h.msg) > maxMessageSize {
				t.Fatalf("message buffer grew to %d bytes", cap(h.msg))
			}
			if err != nil {
				if !errors.Is(err, ErrHandshake) {
					t.Fatalf("error %v does not wrap ErrHandshake", err)
				}
				return
			}
			if h.Done() {
				res, ok := h.Result()
				if !ok || len(res.Hash) != 64 {
					t.Fatalf("done without a result")
				}
				if bytes.HasPrefix(in, recorded) && res.Tx != wantTx {
					t.Fatalf("recorded initiator bytes give tx %x, want %x", res.Tx, wantTx)
				}
				return
			}
			off += n
		}
	})
}
