package handshake

import (
	"errors"
	"fmt"
	"io"
)

// Run performs the handshake over rw: it writes our messages, reads the
// remote's, and returns the Result and the bytes it read past the
// remote's last handshake message. Those bytes are the start of the
// remote's encrypted stream (a JS initiator sends frames right behind msg
// 3); pass them to NewConn.
//
// Run starts no goroutines and has no timeout of its own: a silent or
// stalling peer blocks it in Read for as long as rw allows. The
// connection layer sets a deadline on the net.Conn before calling Run and
// clears it afterwards (TESTING.md A18; JS gives up after 20 s).
//
// Errors wrap ErrHandshake when the remote broke the protocol, and the
// I/O error otherwise; EOF before the handshake completes is
// io.ErrUnexpectedEOF.
func Run(rw io.ReadWriter, cfg Config) (Result, []byte, error) {
	h, err := NewHandshake(cfg)
	if err != nil {
		return Result{}, nil, err
	}
	out, err := h.Start()
	if err != nil {
		return Result{}, nil, err
	}
	if err := writeAll(rw, out); err != nil {
		return Result{}, nil, fmt.Errorf("handshake msg 1: write: %w", err)
	}
	// Big enough for msg 2 and, for the responder, msg 3 plus the first
	// frames behind it in one read.
	buf := make([]byte, 512)
	for {
		n, rerr := rw.Read(buf)
		used, send, err := h.Receive(buf[:n])
		if err != nil {
			return Result{}, nil, err
		}
		if err := writeAll(rw, send); err != nil {
			return Result{}, nil, fmt.Errorf("handshake: write: %w", err)
		}
		if res, ok := h.Result(); ok {
			var leftover []byte
			if used < n {
				leftover = append([]byte(nil), buf[used:n]...)
			}
			return res, leftover, nil
		}
		if rerr != nil {
			if errors.Is(rerr, io.EOF) {
				rerr = io.ErrUnexpectedEOF
			}
			return Result{}, nil, fmt.Errorf("handshake msg %d: read: %w", h.msgNo, rerr)
		}
	}
}

// writeAll writes b with one Write, as JS sends each handshake message as
// one buffer.
func writeAll(w io.Writer, b []byte) error {
	if len(b) == 0 {
		return nil
	}
	n, err := w.Write(b)
	if err == nil && n < len(b) {
		err = io.ErrShortWrite
	}
	return err
}
