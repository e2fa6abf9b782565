package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"

	"google.golang.org/protobuf/encoding/protowire"
)

const (
	// MaxBody is the largest frame body accepted or meant to be sent (spec
	// 4.4); JS destroys the stream on anything larger.
	MaxBody = 8 << 20

	// MaxChannel is the largest channel id accepted. JS counts ids up from
	// 1 and never reuses them, so a larger id means a broken peer.
	MaxChannel = 1<<31 - 1

	// maxHeaderLen bounds varint(channel<<4|type). A minimal header for
	// MaxChannel takes 5 bytes, but varints may carry redundant 0x80
	// bytes, so the bound on L allows the longest varint there is.
	maxHeaderLen = binary.MaxVarintLen64

	// maxFrameLen bounds L, checked as soon as the prefix is read.
	maxFrameLen = MaxBody + maxHeaderLen
)

// Frame is one frame read from the stream. Body aliases the reader's
// buffer and is valid until the next call to Next (or Feed).
type Frame struct {
	Channel uint64
	Type    Type
	Body    []byte
	// KeepAlive marks an empty frame (L = 0). It has no channel, type or
	// body; it only tells the caller that the peer is alive.
	KeepAlive bool
}

// Append appends f's encoding: the frame as read, in minimal varints.
func (f Frame) Append(dst []byte) []byte {
	if f.KeepAlive {
		return AppendKeepAlive(dst)
	}
	dst = appendPrefix(dst, f.Channel, f.Type, len(f.Body))
	return append(dst, f.Body...)
}

// sizer is implemented by every message type of this package; it lets
// AppendFrame write the length before the body.
type sizer interface{ bodyLen() int }

// AppendFrame appends m as a frame on channel. channel must not exceed
// MaxChannel (receivers reject it) and the body must not exceed MaxBody;
// both are the caller's to ensure, as for any message the peer would
// reject.
func AppendFrame(dst []byte, channel uint64, m Message) []byte {
	t := m.Type()
	if s, ok := m.(sizer); ok {
		n := s.bodyLen()
		dst = appendPrefix(dst, channel, t, n)
		return m.AppendBody(dst)
	}
	// A Message from outside this package: encode the body in place
	// after a prefix that assumes an empty body, then move it into place
	// if the real prefix is longer.
	start := len(dst)
	dst = appendPrefix(dst, channel, t, 0)
	hdrEnd := len(dst)
	dst = m.AppendBody(dst)
	n := len(dst) - hdrEnd
	prefix := appendPrefix(make([]byte, 0, 2*binary.MaxVarintLen64), channel, t, n)
	grow := len(prefix) - (hdrEnd - start)
	dst = slices.Grow(dst, grow)[:len(dst)+grow]
	copy(dst[start+len(prefix):], dst[hdrEnd:hdrEnd+n])
	copy(dst[start:], prefix)
	return dst
}

// AppendKeepAlive appends an empty frame, which JS needs to see at least
// every 20 s on an idle stream.
func AppendKeepAlive(dst []byte) []byte { return append(dst, 0) }

// appendPrefix appends varint(L) || varint(header) for a body of n bytes.
func appendPrefix(dst []byte, channel uint64, t Type, n int) []byte {
	hdr := channel<<4 | uint64(t&0xf)
	dst = protowire.AppendVarint(dst, uint64(protowire.SizeVarint(hdr)+n))
	return protowire.AppendVarint(dst, hdr)
}

// FrameParser splits a byte stream into frames. It does no I/O: the caller
// feeds it bytes as they arrive and calls Next until it reports that it
// needs more. FrameReader is a FrameParser filled from an io.Reader.
//
// The zero value is ready to use. An error is final: the stream has lost
// its framing and every later Next returns the same error.
type FrameParser struct {
	buf []byte // buf[off:] is not yet parsed
	off int
	err error
}

// Feed appends p to the parser's buffer. It invalidates the bodies of
// frames returned before.
func (p *FrameParser) Feed(b []byte) {
	p.reserve(len(b))
	p.buf = append(p.buf, b...)
}

// Buffered returns the number of bytes fed but not yet returned as frames.
func (p *FrameParser) Buffered() int { return len(p.buf) - p.off }

// Next returns the next complete frame. ok is false, with a nil error, when
// the buffered bytes do not yet hold one. Body aliases the parser's buffer
// and stays valid until the next call to Next or Feed.
func (p *FrameParser) Next() (f Frame, ok bool, err error) {
	if p.err != nil {
		return Frame{}, false, p.err
	}
	f, n, err := parseFrame(p.buf[p.off:])
	if err != nil {
		p.err = err
		return Frame{}, false, err
	}
	if n == 0 {
		return Frame{}, false, nil
	}
	p.off += n
	if p.off == len(p.buf) {
		// Rewind now rather than when the next bytes come, so that a
		// caller alternating Feed and Next never copies. Body still
		// points at the old bytes, which only the next Feed overwrites.
		p.buf, p.off = p.buf[:0], 0
	}
	return f, true, nil
}

// reserve makes room for n more bytes after the buffered ones, moving the
// unparsed bytes to the front or into a bigger buffer.
func (p *FrameParser) reserve(n int) {
	if cap(p.buf)-len(p.buf) >= n {
		return
	}
	unread := len(p.buf) - p.off
	if p.off > 0 && cap(p.buf)-unread >= n {
		copy(p.buf, p.buf[p.off:])
		p.buf, p.off = p.buf[:unread], 0
		return
	}
	newCap := max(2*cap(p.buf), unread+n, readSize)
	if newCap > maxBufLen {
		newCap = max(maxBufLen, unread+n)
	}
	nb := make([]byte, unread, newCap)
	copy(nb, p.buf[p.off:])
	p.buf, p.off = nb, 0
}

// parseFrame parses the frame at the start of b. It returns the frame and
// its encoded length n, n = 0 when b holds only part of a frame, or an
// error. L is checked as soon as its varint is complete, but even a valid
// L reserves nothing: buffers grow only with bytes actually received, so
// a peer that claims 8 MiB and sends 10 bytes costs 10 bytes.
func parseFrame(b []byte) (Frame, int, error) {
	l, pn := protowire.ConsumeVarint(b)
	if pn < 0 {
		if errors.Is(protowire.ParseError(pn), io.ErrUnexpectedEOF) {
			return Frame{}, 0, nil
		}
		return Frame{}, 0, fmt.Errorf("read frame: length prefix: %s: %w", describe(pn), ErrMalformed)
	}
	if l == 0 {
		return Frame{KeepAlive: true}, pn, nil
	}
	if l > maxFrameLen {
		return Frame{}, 0, fmt.Errorf("read frame: length %d exceeds %d: %w", l, maxFrameLen, ErrTooLarge)
	}
	end := pn + int(l)
	if len(b) < end {
		return Frame{}, 0, nil
	}
	frame := b[pn:end]
	hdr, hn := protowire.ConsumeVarint(frame)
	if hn < 0 {
		return Frame{}, 0, fmt.Errorf("read frame: header: %s (frame length %d): %w", describe(hn), l, ErrMalformed)
	}
	body := frame[hn:]
	if len(body) > MaxBody {
		return Frame{}, 0, fmt.Errorf("read frame: body of %d bytes exceeds %d: %w", len(body), MaxBody, ErrTooLarge)
	}
	ch := hdr >> 4
	if ch > MaxChannel {
		return Frame{}, 0, fmt.Errorf("read frame: channel %d: %w", ch, ErrChannelRange)
	}
	return Frame{Channel: ch, Type: Type(hdr & 0xf), Body: body}, end, nil
}
