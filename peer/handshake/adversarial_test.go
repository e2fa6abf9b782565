package handshake

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"testing"

	"github.com/flynn/noise"
)

// TESTING.md section 3, A5 and A7: what a hostile or broken remote can do
// during the handshake.

// respond runs a responder with random keys over the given input and
// returns its error.
func respond(in []byte) error {
	kp, _ := GenerateKeyPair(nil)
	_, _, err := Run(&scripted{r: bytes.NewReader(in)}, Config{Static: kp})
	return err
}

// initiate runs an initiator with random keys over the given input.
func initiate(in []byte) error {
	kp, _ := GenerateKeyPair(nil)
	_, _, err := Run(&scripted{r: bytes.NewReader(in)}, Config{Initiator: true, Static: kp})
	return err
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// A5: garbage handshakes fail with ErrHandshake, without panicking or
// allocating what a length prefix claims.
func TestGarbage(t *testing.T) {
	msg1 := func(e, payload []byte) []byte { return frame(append(append([]byte(nil), e...), payload...)) }
	valid := encodePayload(&[NonceSize]byte{1})
	tests := []struct {
		name      string
		initiator bool
		in        []byte
	}{
		{"length over 1 KiB", false, []byte{0x81, 0x08}},
		{"length 2^63", false, []byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01}},
		{"varint overflow", false, bytes.Repeat([]byte{0x80}, 11)},
		{"empty message", false, []byte{0}},
		{"msg 1 shorter than a key", false, frame(make([]byte, 31))},
		{"low-order ephemeral key", false, msg1(make([]byte, 32), valid)},
		{"random msg 1 and msg 3", false, append(msg1(randomBytes(32), valid), frame(randomBytes(90))...)},
		{"random msg 1, empty msg 3", false, append(msg1(randomBytes(32), valid), frame(nil)...)},
		{"random msg 2", true, frame(randomBytes(122))},
		{"msg 2 shorter than a key", true, frame(randomBytes(20))},
		{"msg 2 without its static key", true, frame(randomBytes(32 + 40))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			run := respond
			if tc.initiator {
				run = initiate
			}
			err := run(tc.in)
			if !errors.Is(err, ErrHandshake) {
				t.Fatalf("err = %v, want ErrHandshake", err)
			}
		})
	}
}

// A5: a handshake cut short fails with io.ErrUnexpectedEOF, or with
// ErrHandshake when what arrived is already wrong; never a success.
func TestTruncated(t *testing.T) {
	tr := loadTranscripts(t)[1]
	for _, initiator := range []bool{true, false} {
		s, _ := tr.role(initiator)
		_, remoteName := tr.role(!initiator)
		theirs, _ := tr.chunks(t, remoteName)
		all := bytes.Join(theirs, nil)
		for k := range len(all) {
			_, _, err := Run(&scripted{r: bytes.NewReader(all[:k])}, s.config(t, initiator))
			if !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("initiator=%v, %d of %d bytes: err = %v, want unexpected EOF", initiator, k, len(all), err)
			}
		}
	}
}

// noiseInitiator is a bare flynn/noise initiator, to send messages our
// Handshake never would.
func noiseInitiator(t *testing.T) *noise.HandshakeState {
	t.Helper()
	kp, _ := GenerateKeyPair(nil)
	hs, err := noise.NewHandshakeState(noise.Config{
		CipherSuite:   noise.NewCipherSuite(noise.DH25519, noise.CipherChaChaPoly, noise.HashBLAKE2b),
		Pattern:       noise.HandshakeXX,
		Initiator:     true,
		StaticKeypair: noise.DHKey{Private: kp.Private[:], Public: kp.Public[:]},
	})
	if err != nil {
		t.Fatal(err)
	}
	return hs
}

// A5, spec 4.2: payloads. JS keeps the last non-empty payload it saw, so
// an initiator's nonce may come in msg 1, msg 3 or both (the later one
// wins); with none, or one that does not decode, the handshake fails.
func TestPayload(t *testing.T) {
	n1, n3 := [NonceSize]byte{1}, [NonceSize]byte{3}
	tests := []struct {
		name     string
		p1, p3   []byte
		want     error
		wantNone bool
	}{
		{"none", nil, nil, ErrNoPayload, false},
		{"msg 1 only", encodePayload(&n1), nil, nil, false},
		{"msg 3 only", nil, encodePayload(&n3), nil, false},
		{"msg 3 wins", encodePayload(&n1), encodePayload(&n3), nil, false},
		{"short nonce", []byte{0x0a, 0x17}, nil, ErrNoPayload, false},
		{"not protobuf", []byte{0xff}, nil, ErrNoPayload, false},
		{"good msg 1, bad msg 3", encodePayload(&n1), []byte{0x12, 0x01}, ErrNoPayload, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hs := noiseInitiator(t)
			kp, _ := GenerateKeyPair(nil)
			h, err := NewHandshake(Config{Static: kp})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := h.Start(); err != nil {
				t.Fatal(err)
			}
			m1, _, _, _ := hs.WriteMessage(nil, tc.p1)
			_, m2, err := h.Receive(frame(m1))
			if err != nil {
				t.Fatalf("msg 1: %v", err)
			}
			if _, _, _, err := hs.ReadMessage(nil, m2[1:]); err != nil {
				t.Fatalf("our msg 2 does not verify: %v", err)
			}
			m3, _, _, _ := hs.WriteMessage(nil, tc.p3)
			_, _, err = h.Receive(frame(m3))
			if tc.want != nil {
				if !errors.Is(err, tc.want) || !errors.Is(err, ErrHandshake) {
					t.Fatalf("err = %v, want %v", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			res, _ := h.Result()
			want := n1
			if tc.p3 != nil {
				want = n3
			}
			if res.RemoteNonce != want {
				t.Errorf("remote nonce %x, want %x", res.RemoteNonce, want)
			}
		})
	}
}

// A5: the initiator's only remote payload is the one in msg 2.
func TestPayloadMissingInMsg2(t *testing.T) {
	kp, _ := GenerateKeyPair(nil)
	rs, err := noise.NewHandshakeState(noise.Config{
		CipherSuite:   noise.NewCipherSuite(noise.DH25519, noise.CipherChaChaPoly, noise.HashBLAKE2b),
		Pattern:       noise.HandshakeXX,
		StaticKeypair: noise.DHKey{Private: kp.Private[:], Public: kp.Public[:]},
	})
	if err != nil {
		t.Fatal(err)
	}
	ikp, _ := GenerateKeyPair(nil)
	h, _ := NewHandshake(Config{Initiator: true, Static: ikp})
	m1, err := h.Start()
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := rs.ReadMessage(nil, m1[1:]); err != nil {
		t.Fatal(err)
	}
	m2, _, _, _ := rs.WriteMessage(nil, nil)
	_, m3, err := h.Receive(frame(m2))
	if !errors.Is(err, ErrNoPayload) || m3 != nil {
		t.Fatalf("Receive = %x, %v; want no msg 3 and ErrNoPayload", m3, err)
	}
}

// A7: a recorded session replayed against fresh keys fails. The
// responder accepts the recorded msg 1 (it is not authenticated) but msg
// 3 is encrypted under keys derived from the recorded responder's
// ephemeral key, so it does not decrypt; the recorded msg 2 fails at once
// against a fresh initiator for the same reason.
func TestReplay(t *testing.T) {
	for _, tr := range loadTranscripts(t) {
		ini, _ := tr.chunks(t, "initiator")
		resp, _ := tr.chunks(t, "responder")
		if err := respond(bytes.Join(ini, nil)); !errors.Is(err, ErrHandshake) {
			t.Errorf("%s: replayed initiator: err = %v, want ErrHandshake", tr.Name, err)
		}
		if err := initiate(bytes.Join(resp, nil)); !errors.Is(err, ErrHandshake) {
			t.Errorf("%s: replayed responder: err = %v, want ErrHandshake", tr.Name, err)
		}
	}
}

func TestMisuse(t *testing.T) {
	if _, err := NewHandshake(Config{}); err == nil {
		t.Error("NewHandshake without a static key succeeded")
	}
	kp, _ := GenerateKeyPair(nil)
	if _, err := NewHandshake(Config{Static: kp, Rand: bytes.NewReader(nil)}); err == nil {
		t.Error("NewHandshake with an empty Rand succeeded")
	}
	h, _ := NewHandshake(Config{Initiator: true, Static: kp})
	if _, _, err := h.Receive([]byte{1}); err == nil {
		t.Error("Receive before Start succeeded")
	}
	if _, ok := h.Result(); ok {
		t.Error("Result before Done")
	}
	// Running out of randomness for the ephemeral key.
	h, _ = NewHandshake(Config{Initiator: true, Static: kp, Rand: bytes.NewReader(make([]byte, NonceSize))})
	if _, err := h.Start(); err == nil {
		t.Error("Start without randomness for the ephemeral key succeeded")
	}
	// A failed handshake stays failed.
	h, _ = NewHandshake(Config{Static: kp})
	h.Start()
	_, _, err1 := h.Receive([]byte{0})
	_, _, err2 := h.Receive(nil)
	if err1 == nil || err2 != err1 {
		t.Errorf("errors %v then %v; want the same error twice", err1, err2)
	}
}

// Run reports write failures.
func TestRunWriteError(t *testing.T) {
	kp, _ := GenerateKeyPair(nil)
	rw := struct {
		io.Reader
		io.Writer
	}{bytes.NewReader(nil), failWriter{}}
	if _, _, err := Run(rw, Config{Initiator: true, Static: kp}); !errors.Is(err, errWrite) {
		t.Errorf("err = %v, want %v", err, errWrite)
	}
}

var errWrite = errors.New("write failed")

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errWrite }
