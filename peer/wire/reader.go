package wire

import (
	"errors"
	"fmt"
	"io"
)

const (
	// readSize is the initial buffer size. The parser's buffer doubles as
	// bufio's: many small frames arrive in one Read, and a 64 KiB Data
	// frame in a few, straight into the buffer it is parsed from instead
	// of being copied out of a bufio.Reader. The buffer doubles when a
	// frame outgrows it, and stays at that size.
	readSize = 64 << 10

	// minRead is the least free space offered to a Read; below it the
	// unparsed tail moves to the front of the buffer, or the buffer grows.
	minRead = 16 << 10

	// maxBufLen caps buffer growth by doubling: one largest frame plus one
	// read's worth of what follows it.
	maxBufLen = maxFrameLen + 2*readSize

	// maxEmptyReads is how many (0, nil) reads in a row are taken as a
	// broken reader, as bufio does.
	maxEmptyReads = 100
)

// FrameReader reads frames from r, which is the decrypted byte stream
// after the handshake. It only calls r.Read, from the goroutine that calls
// Next, and reads ahead at most one buffer.
type FrameReader struct {
	r   io.Reader
	p   FrameParser
	err error // from r, returned once the buffered frames are used up
}

// NewFrameReader returns a FrameReader reading from r.
func NewFrameReader(r io.Reader) *FrameReader {
	return &FrameReader{r: r}
}

// Next returns the next frame; its Body is valid until the next call.
//
// Keep-alives come back one per call as frames with KeepAlive set, so a
// peer sending nothing but zero bytes still hands control back to the
// caller, which restarts its idle timer and may stop.
//
// Errors: io.EOF when the stream ends between frames;
// io.ErrUnexpectedEOF (wrapped) when it ends inside one; ErrTooLarge,
// ErrChannelRange or ErrMalformed when the peer broke the framing, after
// which the connection must be closed; otherwise the error of r, wrapped.
// An error is final.
func (fr *FrameReader) Next() (Frame, error) {
	for empty := 0; ; {
		f, ok, err := fr.p.Next()
		if err != nil || ok {
			return f, err
		}
		if fr.err != nil {
			return Frame{}, fr.endErr()
		}
		fr.p.reserve(minRead)
		buf := fr.p.buf
		n, err := fr.r.Read(buf[len(buf):cap(buf)])
		if n < 0 || n > cap(buf)-len(buf) {
			fr.err = fmt.Errorf("reader returned %d bytes for a %d-byte buffer", n, cap(buf)-len(buf))
			return Frame{}, fr.endErr()
		}
		fr.p.buf = buf[:len(buf)+n]
		if err != nil {
			fr.err = err
			continue
		}
		if n > 0 {
			empty = 0
		} else if empty++; empty >= maxEmptyReads {
			fr.err = io.ErrNoProgress
		}
	}
}

// endErr turns the reader's error into Next's, once no complete frame is
// left.
func (fr *FrameReader) endErr() error {
	if errors.Is(fr.err, io.EOF) {
		if n := fr.p.Buffered(); n > 0 {
			return fmt.Errorf("read frame: stream ended %d bytes into a frame: %w", n, io.ErrUnexpectedEOF)
		}
		return io.EOF
	}
	return fmt.Errorf("read frame: %w", fr.err)
}
