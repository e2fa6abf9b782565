package handshake

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"testing"
	"testing/iotest"

	"github.com/hyperfs/hyperfs/internal/testvectors"
)

// Spec 1.6: crypto_kx_seed_keypair, and the static keys of the
// transcripts, which JS derived from their seeds.
func TestSeedKeyPair(t *testing.T) {
	_, cv := loadVectors(t)
	v := cv.NoiseKeyPairFromSeed
	kp := SeedKeyPair(hex32(t, v.Seed))
	if kp.Public != hex32(t, v.PublicKey) || kp.Private != hex32(t, v.SecretKey) {
		t.Errorf("SeedKeyPair = %x / %x, want %s / %s", kp.Public, kp.Private, v.PublicKey, v.SecretKey)
	}
	for _, tr := range loadTranscripts(t) {
		for _, s := range []*side{&tr.Initiator, &tr.Responder} {
			kp := SeedKeyPair(hex32(t, s.StaticSeed))
			if kp.Public != hex32(t, s.StaticPublicKey) || kp.Private != hex32(t, s.StaticSecretKey) {
				t.Errorf("%s: static key pair from seed %s differs", tr.Name, s.StaticSeed)
			}
		}
	}
}

func TestGenerateKeyPair(t *testing.T) {
	_, cv := loadVectors(t)
	v := cv.NoiseKeyPairFromSeed
	kp, err := GenerateKeyPair(bytes.NewReader(testvectors.Hex(t, v.SecretKey)))
	if err != nil {
		t.Fatal(err)
	}
	if kp.Public != hex32(t, v.PublicKey) {
		t.Errorf("public key %x, want %s", kp.Public, v.PublicKey)
	}
	if _, err := GenerateKeyPair(bytes.NewReader(make([]byte, 31))); err == nil {
		t.Error("GenerateKeyPair with 31 random bytes succeeded")
	}
	a, err := GenerateKeyPair(nil)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := GenerateKeyPair(nil); a == b {
		t.Error("two random key pairs are equal")
	}
}

// checkResult compares a Result with what JS held after the handshake.
func checkResult(t *testing.T, res Result, s *side) {
	t.Helper()
	a := &s.AfterHandshake
	if !bytes.Equal(res.Hash, testvectors.Hex(t, a.HandshakeHash)) {
		t.Errorf("handshake hash %x, want %s", res.Hash, a.HandshakeHash)
	}
	// JS keeps 40-byte split keys; only the first 32 are the key.
	if res.Tx != hex32(t, a.SplitTx) || res.Rx != hex32(t, a.SplitRx) {
		t.Errorf("tx/rx %x/%x, want %s/%s", res.Tx, res.Rx, a.SplitTx, a.SplitRx)
	}
	if res.LocalNonce != hex24(t, a.LocalNonce) || res.RemoteNonce != hex24(t, a.RemoteNonce) {
		t.Errorf("nonces %x/%x, want %s/%s", res.LocalNonce, res.RemoteNonce, a.LocalNonce, a.RemoteNonce)
	}
	if res.RemoteStatic != hex32(t, a.RemotePublicKey) {
		t.Errorf("remote static %x, want %s", res.RemoteStatic, a.RemotePublicKey)
	}
}

// Spec 4.2: each role, fed the other's recorded messages, writes its own
// recorded messages byte for byte and ends with JS's keys.
func TestTranscriptHandshake(t *testing.T) {
	for _, tr := range loadTranscripts(t) {
		for _, initiator := range []bool{true, false} {
			s, name := tr.role(initiator)
			t.Run(tr.Name+"/"+name, func(t *testing.T) {
				ours, _ := tr.chunks(t, name)
				_, remoteName := tr.role(!initiator)
				theirs, theirTransport := tr.chunks(t, remoteName)
				h, err := NewHandshake(s.config(t, initiator))
				if err != nil {
					t.Fatal(err)
				}
				var sent [][]byte
				out, err := h.Start()
				if err != nil {
					t.Fatal(err)
				}
				if out != nil {
					sent = append(sent, out)
				}
				for i, msg := range theirs {
					in := msg
					if i == len(theirs)-1 && len(theirTransport) > 0 {
						// The transport bytes behind the last message must
						// be left alone.
						in = append(append([]byte(nil), msg...), theirTransport[0]...)
					}
					n, out, err := h.Receive(in)
					if err != nil {
						t.Fatalf("message %d from the %s: %v", i, remoteName, err)
					}
					if n != len(msg) {
						t.Fatalf("Receive used %d bytes of a %d-byte message", n, len(msg))
					}
					if out != nil {
						sent = append(sent, out)
					}
				}
				if !h.Done() {
					t.Fatal("handshake not done after the last message")
				}
				if len(sent) != len(ours) {
					t.Fatalf("sent %d messages, JS sent %d", len(sent), len(ours))
				}
				for i := range sent {
					if !bytes.Equal(sent[i], ours[i]) {
						t.Errorf("message %d:\n got %x\nwant %x", i, sent[i], ours[i])
					}
				}
				res, ok := h.Result()
				if !ok {
					t.Fatal("no Result after Done")
				}
				checkResult(t, res, s)
			})
		}
	}
}

// TestTranscriptByteByByte feeds the recorded messages one byte per call:
// the framing must not depend on how reads cut the stream.
func TestTranscriptByteByByte(t *testing.T) {
	tr := loadTranscripts(t)[0]
	theirs, _ := tr.chunks(t, "initiator")
	want, _ := tr.chunks(t, "responder")
	h, err := NewHandshake(tr.Responder.config(t, false))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Start(); err != nil {
		t.Fatal(err)
	}
	var sent []byte
	for _, b := range bytes.Join(theirs, nil) {
		n, out, err := h.Receive([]byte{b})
		if err != nil || n != 1 {
			t.Fatalf("Receive = %d, %v", n, err)
		}
		sent = append(sent, out...)
	}
	if !h.Done() || !bytes.Equal(sent, want[0]) {
		t.Fatalf("done %v, sent %x, want %x", h.Done(), sent, want[0])
	}
	if n, out, err := h.Receive([]byte{1, 2, 3}); n != 0 || out != nil || err != nil {
		t.Errorf("Receive after Done = %d, %x, %v; want 0, nil, nil", n, out, err)
	}
}

// Spec 1.7: the capabilities each side put in its Open.
func TestTranscriptCapability(t *testing.T) {
	for _, tr := range loadTranscripts(t) {
		key := testvectors.Hex(t, tr.FeedPublicKey)
		ri := runTranscript(t, tr, true)
		rr := runTranscript(t, tr, false)
		sentI, sentR := hex32(t, tr.Capability.InitiatorSends), hex32(t, tr.Capability.ResponderSends)
		if got := Capability(ri, key); got != sentI {
			t.Errorf("%s: initiator capability %x, want %x", tr.Name, got, sentI)
		}
		if got := rr.Capability(key); got != sentR {
			t.Errorf("%s: responder capability %x, want %x", tr.Name, got, sentR)
		}
		if RemoteCapability(ri, key) != sentR || rr.RemoteCapability(key) != sentI {
			t.Errorf("%s: remote capabilities do not match what the other side sent", tr.Name)
		}
		if !VerifyCapability(ri, key, sentR[:]) || !rr.VerifyCapability(key, sentI[:]) {
			t.Errorf("%s: VerifyCapability rejects the recorded capabilities", tr.Name)
		}
		// A copied capability (the one we sent ourselves), another key,
		// or a short one must all fail.
		other := append([]byte(nil), key...)
		other[0] ^= 1
		for _, bad := range [][]byte{sentI[:], sentR[:31], nil} {
			if VerifyCapability(ri, key, bad) {
				t.Errorf("%s: VerifyCapability accepts %x", tr.Name, bad)
			}
		}
		if VerifyCapability(ri, other, sentR[:]) {
			t.Errorf("%s: capability for another feed key accepted", tr.Name)
		}
	}
}

// runTranscript replays one role's handshake and returns its Result.
func runTranscript(t *testing.T, tr *transcript, initiator bool) Result {
	t.Helper()
	s, _ := tr.role(initiator)
	_, remoteName := tr.role(!initiator)
	theirs, _ := tr.chunks(t, remoteName)
	rw := &scripted{r: bytes.NewReader(bytes.Join(theirs, nil))}
	res, _, err := Run(rw, s.config(t, initiator))
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// scripted is a connection whose remote is a recording: reads come from
// r, writes are kept one by one.
type scripted struct {
	r      io.Reader
	writes [][]byte
}

func (s *scripted) Read(p []byte) (int, error) { return s.r.Read(p) }

func (s *scripted) Write(p []byte) (int, error) {
	s.writes = append(s.writes, append([]byte(nil), p...))
	return len(p), nil
}

// chunkReader returns one recorded chunk (or what fits of it) per Read,
// as the network delivered them.
type chunkReader struct{ chunks [][]byte }

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.chunks) == 0 {
		return 0, io.EOF
	}
	n := copy(p, c.chunks[0])
	if c.chunks[0] = c.chunks[0][n:]; len(c.chunks[0]) == 0 {
		c.chunks = c.chunks[1:]
	}
	return n, nil
}

// Spec 4.2-4.3 end to end: Run and Conn against the other side's whole
// recorded byte stream, with reads cut three ways. Our writes must be the
// recorded chunks, and the decrypted stream the remote's frames.
func TestTranscriptRunAndConn(t *testing.T) {
	readers := map[string]func([][]byte) io.Reader{
		"whole":   func(c [][]byte) io.Reader { return bytes.NewReader(bytes.Join(c, nil)) },
		"chunks":  func(c [][]byte) io.Reader { return &chunkReader{c} },
		"onebyte": func(c [][]byte) io.Reader { return iotest.OneByteReader(bytes.NewReader(bytes.Join(c, nil))) },
	}
	for _, tr := range loadTranscripts(t) {
		for _, initiator := range []bool{true, false} {
			for rname, mk := range readers {
				s, name := tr.role(initiator)
				remote, remoteName := tr.role(!initiator)
				t.Run(fmt.Sprintf("%s/%s/%s", tr.Name, name, rname), func(t *testing.T) {
					ourHS, ourTransport := tr.chunks(t, name)
					theirHS, theirTransport := tr.chunks(t, remoteName)
					rw := &scripted{r: mk(append(theirHS, theirTransport...))}
					res, leftover, err := Run(rw, s.config(t, initiator))
					if err != nil {
						t.Fatal(err)
					}
					checkResult(t, res, s)
					if len(rw.writes) != len(ourHS) {
						t.Fatalf("Run wrote %d messages, want %d", len(rw.writes), len(ourHS))
					}
					for i := range ourHS {
						if !bytes.Equal(rw.writes[i], ourHS[i]) {
							t.Errorf("handshake write %d:\n got %x\nwant %x", i, rw.writes[i], ourHS[i])
						}
					}
					c := NewConn(rw, res, leftover)
					got, err := io.ReadAll(c)
					if err != nil {
						t.Fatal(err)
					}
					if want := remote.plaintext(t); !bytes.Equal(got, want) {
						t.Errorf("decrypted stream:\n got %x\nwant %x", got, want)
					}
					rw.writes = nil
					plain := s.plaintext(t)
					for _, chunk := range ourTransport {
						p := plain[:len(chunk)]
						keep := append([]byte(nil), p...)
						if n, err := c.Write(p); n != len(p) || err != nil {
							t.Fatalf("Write = %d, %v", n, err)
						}
						if !bytes.Equal(p, keep) {
							t.Fatal("Write modified its argument")
						}
						plain = plain[len(chunk):]
					}
					if len(plain) != 0 {
						t.Fatalf("%d plaintext bytes beyond the recorded chunks", len(plain))
					}
					if !equalChunks(rw.writes, ourTransport) {
						t.Errorf("encrypted writes differ from the recording")
					}
				})
			}
		}
	}
}

func equalChunks(a, b [][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

// Both roles against each other over net.Pipe with random keys.
func TestPipe(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	ka, _ := GenerateKeyPair(nil)
	kb, _ := GenerateKeyPair(nil)
	type outcome struct {
		res      Result
		leftover []byte
		err      error
	}
	done := make(chan outcome, 1)
	// Owned by the test; ends when Run returns (the pipe closes on failure).
	go func() {
		res, left, err := Run(b, Config{Static: kb})
		if err != nil {
			b.Close()
		}
		done <- outcome{res, left, err}
	}()
	ra, lefta, err := Run(a, Config{Initiator: true, Static: ka})
	if err != nil {
		t.Fatal(err)
	}
	ob := <-done
	if ob.err != nil {
		t.Fatal(ob.err)
	}
	rb := ob.res
	if ra.Tx != rb.Rx || ra.Rx != rb.Tx || ra.Tx == ra.Rx {
		t.Error("split keys do not pair up")
	}
	if ra.LocalNonce != rb.RemoteNonce || ra.RemoteNonce != rb.LocalNonce {
		t.Error("nonces do not pair up")
	}
	if ra.RemoteStatic != kb.Public || rb.RemoteStatic != ka.Public {
		t.Error("remote static keys wrong")
	}
	if !bytes.Equal(ra.Hash, rb.Hash) || len(ra.Hash) != 64 {
		t.Errorf("handshake hashes %x / %x", ra.Hash, rb.Hash)
	}
	key := []byte("0123456789abcdef0123456789abcdef")
	if !rb.VerifyCapability(key, sliceOf(ra.Capability(key))) || !ra.VerifyCapability(key, sliceOf(rb.Capability(key))) {
		t.Error("capabilities do not verify across the connection")
	}
	if ra.Capability(key) == rb.Capability(key) {
		t.Error("both sides send the same capability")
	}

	// Full duplex through Conn: one writer goroutine per side, as the
	// connection layer does.
	ca, cb := NewConn(a, ra, lefta), NewConn(b, rb, ob.leftover)
	msgA, msgB := make([]byte, 200_000), make([]byte, 70_001)
	rand.Read(msgA)
	rand.Read(msgB)
	errs := make(chan error, 2)
	go func() { _, err := ca.Write(msgA); errs <- err }()
	go func() { _, err := cb.Write(msgB); errs <- err }()
	gotB, gotA := make([]byte, len(msgB)), make([]byte, len(msgA))
	readErrs := make(chan error, 1)
	go func() { _, err := io.ReadFull(cb, gotA); readErrs <- err }()
	if _, err := io.ReadFull(ca, gotB); err != nil {
		t.Fatal(err)
	}
	if err := <-readErrs; err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(gotA, msgA) || !bytes.Equal(gotB, msgB) {
		t.Error("data corrupted through the pipe")
	}
}

func sliceOf(a [32]byte) []byte { return a[:] }
