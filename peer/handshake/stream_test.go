package handshake

import (
	"bytes"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"testing"

	"github.com/hyperfs/hyperfs/internal/testvectors"
	"golang.org/x/crypto/salsa20"
)

// Spec 4.3: the keystream of vectors.json transportCipher, cut into
// chunks of 1, 63, 10 and 200 bytes.
func TestTransportCipherVector(t *testing.T) {
	tc, _ := loadVectors(t)
	s := NewStream(hex32(t, tc.Key32), hex24(t, tc.Nonce24))
	for i, n := range tc.PlaintextChunkLengths {
		got := make([]byte, n)
		s.XORKeyStream(got, make([]byte, n))
		if want := testvectors.Hex(t, tc.CiphertextChunks[i]); !bytes.Equal(got, want) {
			t.Errorf("chunk %d (%d bytes):\n got %x\nwant %x", i, n, got, want)
		}
	}
}

// Spec 4.3: every post-handshake chunk of both transcripts, decrypted
// with chunk boundaries as recorded, is the plaintext frames; encrypting
// the frames with the same boundaries gives the recorded chunks.
func TestTranscriptStream(t *testing.T) {
	for _, tr := range loadTranscripts(t) {
		for _, initiator := range []bool{true, false} {
			s, name := tr.role(initiator)
			_, transport := tr.chunks(t, name)
			key := hex32(t, s.AfterHandshake.SplitTx)
			nonce := hex24(t, s.PayloadNonce)
			dec, enc := NewStream(key, nonce), NewStream(key, nonce)
			var plain []byte
			for _, c := range transport {
				p := make([]byte, len(c))
				dec.XORKeyStream(p, c)
				plain = append(plain, p...)
				back := make([]byte, len(p))
				enc.XORKeyStream(back, p)
				if !bytes.Equal(back, c) {
					t.Errorf("%s/%s: re-encrypted chunk differs", tr.Name, name)
				}
			}
			if want := s.plaintext(t); !bytes.Equal(plain, want) {
				t.Errorf("%s/%s: decrypted stream:\n got %x\nwant %x", tr.Name, name, plain, want)
			}
		}
	}
}

// Any chunking, in place or not, equals one XSalsa20 call over the whole.
func TestStreamChunkings(t *testing.T) {
	var key [32]byte
	var nonce [NonceSize]byte
	rng := mrand.New(mrand.NewPCG(1, 2))
	for i := range key {
		key[i] = byte(rng.Uint32())
	}
	for i := range nonce {
		nonce[i] = byte(rng.Uint32())
	}
	src := make([]byte, 9000)
	for i := range src {
		src[i] = byte(rng.Uint32())
	}
	want := make([]byte, len(src))
	salsa20.XORKeyStream(want, src, nonce[:], &key)
	for trial := range 270 {
		maxChunk := []int{1, 3, 64, 65, 200, 1023, 1025, 2100, 9000}[trial%9]
		s := NewStream(key, nonce)
		got := make([]byte, len(src))
		inPlace := trial%2 == 0
		if inPlace {
			copy(got, src)
		}
		for off := 0; off < len(src); {
			n := min(1+rng.IntN(maxChunk), len(src)-off)
			if inPlace {
				s.XORKeyStream(got[off:off+n], got[off:off+n])
			} else {
				s.XORKeyStream(got[off:off+n], src[off:off+n])
			}
			off += n
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("trial %d (chunks up to %d, in place %v) differs from one-shot XSalsa20", trial, maxChunk, inPlace)
		}
	}
	// Empty calls change nothing.
	s := NewStream(key, nonce)
	s.XORKeyStream(nil, nil)
	got := make([]byte, 100)
	s.XORKeyStream(got[:0], nil)
	s.XORKeyStream(got, src[:100])
	if !bytes.Equal(got, want[:100]) {
		t.Fatal("empty calls moved the keystream")
	}
}

// Conn.Write allocates nothing once its buffer has grown.
func TestConnWriteAllocs(t *testing.T) {
	c := NewConn(struct {
		io.Reader
		io.Writer
	}{nil, io.Discard}, Result{}, nil)
	p := make([]byte, 100<<10)
	c.Write(p)
	if a := testing.AllocsPerRun(100, func() { c.Write(p[:1+len(p)/3]) }); a != 0 {
		t.Errorf("Write allocates %v times per call", a)
	}
}

// The sender's stream continues across writes larger than the internal
// buffer, and the leftover from the handshake is decrypted first.
func TestConnLargeWritesAndLeftover(t *testing.T) {
	res := Result{Tx: [32]byte{1}, LocalNonce: [NonceSize]byte{2}}
	var wire bytes.Buffer
	w := NewConn(struct {
		io.Reader
		io.Writer
	}{nil, &wire}, res, nil)
	msg := bytes.Repeat([]byte("0123456789"), 30_000)
	for _, part := range [][]byte{msg[:1], msg[1 : writeChunk+3], msg[writeChunk+3:]} {
		if n, err := w.Write(part); n != len(part) || err != nil {
			t.Fatalf("Write = %d, %v", n, err)
		}
	}
	want := make([]byte, len(msg))
	salsa20.XORKeyStream(want, msg, res.LocalNonce[:], &res.Tx)
	if !bytes.Equal(wire.Bytes(), want) {
		t.Fatal("ciphertext differs from one-shot XSalsa20")
	}
	peer := Result{Rx: res.Tx, RemoteNonce: res.LocalNonce}
	ct := wire.Bytes()
	r := NewConn(struct {
		io.Reader
		io.Writer
	}{bytes.NewReader(ct[100:]), nil}, peer, ct[:100])
	got, err := io.ReadAll(r)
	if err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("read back %d bytes, err %v; equal %v", len(got), err, bytes.Equal(got, msg))
	}
}

// A failed Write leaves the send stream out of step: later writes fail.
func TestConnWriteErrorSticks(t *testing.T) {
	c := NewConn(struct {
		io.Reader
		io.Writer
	}{nil, failWriter{}}, Result{}, nil)
	if _, err := c.Write([]byte("x")); err != errWrite {
		t.Fatalf("err = %v", err)
	}
	if n, err := c.Write([]byte("y")); n != 0 || err != errWrite {
		t.Fatalf("second Write = %d, %v", n, err)
	}
}

// BenchmarkStream measures XORKeyStream per write size; 64 KiB is a
// typical block write on the replication path.
func BenchmarkStream(b *testing.B) {
	for _, size := range []int{64, 1500, 64 << 10} {
		b.Run(fmt.Sprintf("write=%s", sizeName(size)), func(b *testing.B) {
			s := NewStream([32]byte{1}, [NonceSize]byte{2})
			buf := make([]byte, size)
			b.SetBytes(int64(size))
			for b.Loop() {
				s.XORKeyStream(buf, buf)
			}
		})
	}
}

// BenchmarkConnWrite measures Conn.Write (copying encryption) of 64 KiB.
func BenchmarkConnWrite(b *testing.B) {
	c := NewConn(struct {
		io.Reader
		io.Writer
	}{nil, io.Discard}, Result{}, nil)
	p := make([]byte, 64<<10)
	b.SetBytes(int64(len(p)))
	for b.Loop() {
		c.Write(p)
	}
}

func sizeName(n int) string {
	if n >= 1<<10 && n%(1<<10) == 0 {
		return fmt.Sprintf("%dKiB", n>>10)
	}
	return fmt.Sprint(n)
}
