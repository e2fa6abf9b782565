package handshake

import (
	"io"
)

// writeChunk bounds the buffer a Conn encrypts writes into: large writes
// go out in pieces of this size, so the buffer stays small and is reused.
const writeChunk = 64 << 10

// Conn is the encrypted transport over a connection after Run: reads are
// decrypted with the remote's stream (key Rx, the remote's nonce) and
// writes encrypted with ours (key Tx, our nonce).
//
// One goroutine may Read while another Writes; concurrent Reads, or
// concurrent Writes, would interleave the keystream and are not allowed.
type Conn struct {
	rw       io.ReadWriter
	rx, tx   *Stream
	leftover []byte // transport bytes Run read along with the handshake
	wbuf     []byte // ciphertext of the write in progress, reused
	werr     error  // first write error; the send stream is out of step after it
}

// NewConn wraps rw for the transport of the handshake that produced res.
// leftover is what Run returned: bytes already read from rw that the
// first Reads return (decrypted) before reading rw again.
func NewConn(rw io.ReadWriter, res Result, leftover []byte) *Conn {
	return &Conn{
		rw:       rw,
		rx:       NewStream(res.Rx, res.RemoteNonce),
		tx:       NewStream(res.Tx, res.LocalNonce),
		leftover: leftover,
	}
}

// Read reads and decrypts up to len(p) bytes.
func (c *Conn) Read(p []byte) (int, error) {
	if len(c.leftover) > 0 {
		n := copy(p, c.leftover)
		c.leftover = c.leftover[n:]
		c.rx.XORKeyStream(p[:n], p[:n])
		return n, nil
	}
	n, err := c.rw.Read(p)
	c.rx.XORKeyStream(p[:n], p[:n])
	return n, err
}

// Write encrypts p and writes it; p itself is left untouched. Once a
// write fails, the keystream has moved past bytes the remote never got,
// so every later Write returns the same error.
func (c *Conn) Write(p []byte) (int, error) {
	if c.werr != nil {
		return 0, c.werr
	}
	if need := min(len(p), writeChunk); cap(c.wbuf) < need {
		c.wbuf = make([]byte, need)
	}
	written := 0
	for written < len(p) {
		chunk := p[written:min(len(p), written+cap(c.wbuf))]
		buf := c.wbuf[:len(chunk)]
		c.tx.XORKeyStream(buf, chunk)
		n, err := c.rw.Write(buf)
		written += n
		if err == nil && n < len(buf) {
			err = io.ErrShortWrite
		}
		if err != nil {
			c.werr = err
			return written, err
		}
	}
	return written, nil
}
