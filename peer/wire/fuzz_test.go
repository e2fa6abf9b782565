package wire

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"testing"

	"github.com/hyperfs/hyperfs/internal/testvectors"
)

// addVectorSeeds adds every frame stream, body and bitfield of the shared
// vectors as seeds, through add.
func addVectorSeeds(f *testing.F, stream func([]byte), body func(Type, []byte), rle func([]byte)) {
	v := loadMessageVectors(f)
	for _, c := range v.Messages.Bodies {
		if c.Type != nil && body != nil {
			body(Type(*c.Type), testvectors.Hex(f, c.BodyHex))
		}
	}
	for _, c := range v.Messages.Frames {
		if stream != nil {
			stream(testvectors.Hex(f, c.FrameHex))
		}
	}
	for _, name := range transcripts {
		tr := loadTranscript(f, name)
		for _, sent := range [][]string{tr.Initiator.PlaintextFramesSent, tr.Responder.PlaintextFramesSent} {
			var all []byte
			for _, h := range sent {
				all = append(all, testvectors.Hex(f, h)...)
			}
			if stream != nil {
				stream(all)
			}
		}
		for _, side := range tr.DecodedFrames {
			for _, d := range side {
				if body != nil {
					body(d.Type, testvectors.Hex(f, d.BodyHex))
				}
				if hv, ok := d.Fields["bitfield"].(map[string]any); ok && rle != nil {
					rle(testvectors.Hex(f, hv["hex"].(string)))
				}
			}
		}
	}
	if rle != nil {
		for _, c := range testvectors.Load(f).BitfieldRLE {
			rle(testvectors.Hex(f, c.Encoded))
		}
	}
}

// chunkReader returns the stream in reads whose sizes cycle through cuts.
type chunkReader struct {
	b    []byte
	cuts []byte
	i    int
}

func (r *chunkReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	n := len(r.b)
	if len(r.cuts) > 0 {
		n = int(r.cuts[r.i%len(r.cuts)]) + 1
		r.i++
	}
	n = copy(p, r.b[:min(n, len(r.b))])
	r.b = r.b[n:]
	return n, nil
}

type parsed struct {
	frames []Frame
	err    error // nil when the stream ended cleanly between frames
}

// parseWhole is the reference: the whole stream fed at once.
func parseWhole(stream []byte) parsed {
	var p FrameParser
	p.Feed(stream)
	var out parsed
	for {
		f, ok, err := p.Next()
		if err != nil {
			out.err = err
			return out
		}
		if !ok {
			if p.Buffered() > 0 {
				out.err = io.ErrUnexpectedEOF
			}
			return out
		}
		f.Body = bytes.Clone(f.Body)
		out.frames = append(out.frames, f)
	}
}

func sameFrames(a, b []Frame) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Channel != b[i].Channel || a[i].Type != b[i].Type || a[i].KeepAlive != b[i].KeepAlive || !bytes.Equal(a[i].Body, b[i].Body) {
			return false
		}
	}
	return true
}

// TESTING.md §4 FuzzFrameDecoder: a stream split anywhere parses the same
// through FrameParser and FrameReader, without panics, within the buffer
// bound, and re-encodes stably.
func FuzzFrameDecoder(f *testing.F) {
	addVectorSeeds(f, func(b []byte) {
		f.Add(b, []byte{0})
		f.Add(b, []byte{6, 1, 200})
	}, nil, nil)
	f.Fuzz(func(t *testing.T, stream, cuts []byte) {
		want := parseWhole(stream)

		// Fed in pieces.
		var p FrameParser
		var got []Frame
		var perr error
		for r := (&chunkReader{b: stream, cuts: cuts}); perr == nil; {
			var buf [256]byte
			n, err := r.Read(buf[:])
			if err != nil {
				break
			}
			p.Feed(buf[:n])
			for {
				fr, ok, err := p.Next()
				if err != nil {
					perr = err
				}
				if !ok {
					break
				}
				fr.Body = bytes.Clone(fr.Body)
				got = append(got, fr)
			}
		}
		if !sameFrames(got, want.frames) || (perr != nil) != (want.err != nil && want.err != io.ErrUnexpectedEOF) {
			t.Fatalf("fed in pieces: %d frames, %v; whole: %d frames, %v", len(got), perr, len(want.frames), want.err)
		}
		if perr != nil && perr.Error() != want.err.Error() {
			t.Fatalf("fed in pieces: %v; whole: %v", perr, want.err)
		}

		// Read through FrameReader.
		fr := NewFrameReader(&chunkReader{b: stream, cuts: cuts})
		got = got[:0]
		var rerr error
		for {
			frame, err := fr.Next()
			if err != nil {
				rerr = err
				break
			}
			frame.Body = bytes.Clone(frame.Body)
			got = append(got, frame)
		}
		if !sameFrames(got, want.frames) {
			t.Fatalf("reader: %d frames, whole: %d", len(got), len(want.frames))
		}
		switch {
		case want.err == nil:
			if rerr != io.EOF {
				t.Fatalf("reader: %v, want io.EOF", rerr)
			}
		case want.err == io.ErrUnexpectedEOF:
			if !errors.Is(rerr, io.ErrUnexpectedEOF) {
				t.Fatalf("reader: %v, want unexpected EOF", rerr)
			}
		default:
			if rerr.Error() != want.err.Error() || !errors.Is(rerr, ErrMalformed) {
				t.Fatalf("reader: %v, whole: %v", rerr, want.err)
			}
		}
		if c := cap(fr.p.buf); c > maxBufLen {
			t.Fatalf("reader buffer grew to %d, bound %d", c, maxBufLen)
		}

		// Re-encoding what was read is canonical and stable.
		var enc []byte
		for _, frame := range want.frames {
			enc = frame.Append(enc)
		}
		again := parseWhole(enc)
		if again.err != nil || !sameFrames(again.frames, want.frames) {
			t.Fatalf("re-encoded frames parse as %d frames, %v", len(again.frames), again.err)
		}
		var enc2 []byte
		for _, frame := range again.frames {
			enc2 = frame.Append(enc2)
		}
		if !bytes.Equal(enc, enc2) {
			t.Fatal("re-encoding is not stable")
		}

		// Messages that decode re-frame to the same channel, type and
		// canonical body.
		for _, frame := range want.frames {
			if frame.KeepAlive {
				continue
			}
			m, err := Decode(frame.Type, frame.Body)
			if err != nil {
				continue
			}
			out := parseWhole(AppendFrame(nil, frame.Channel, m))
			if out.err != nil || len(out.frames) != 1 || out.frames[0].Channel != frame.Channel ||
				out.frames[0].Type != frame.Type || !bytes.Equal(out.frames[0].Body, m.AppendBody(nil)) {
				t.Fatalf("AppendFrame(%d, %+v) parses as %+v, %v", frame.Channel, m, out.frames, out.err)
			}
		}
	})
}

// TESTING.md §4 FuzzMessageDecode: for every type, decode → encode →
// decode gives the same message, the encoding is stable, bodyLen is
// exact, and nothing aliases the input.
func FuzzMessageDecode(f *testing.F) {
	addVectorSeeds(f, nil, func(t Type, b []byte) { f.Add(uint8(t), b) }, nil)
	for typ := range 16 {
		f.Add(uint8(typ), []byte{})
		f.Add(uint8(typ), []byte{0x08, 0x00})
	}
	f.Fuzz(func(t *testing.T, typ uint8, body []byte) {
		tt := Type(typ & 0xf)
		orig := bytes.Clone(body)
		m, err := Decode(tt, body)
		if err != nil {
			if m != nil {
				t.Fatalf("message %+v returned with error %v", m, err)
			}
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnknownType) {
				t.Fatalf("error %v is neither ErrMalformed nor ErrUnknownType", err)
			}
			if errors.Is(err, ErrUnknownType) != (tt >= 11 && tt <= 14) {
				t.Fatalf("type %d: %v", tt, err)
			}
			return
		}
		if m.Type() != tt {
			t.Fatalf("Decode(%d) returned a %s", tt, m.Type())
		}
		for i := range body {
			body[i] ^= 0xff
		}
		m2, err := Decode(tt, orig)
		if err != nil || !reflect.DeepEqual(m, m2) {
			t.Fatalf("decoded message changed with its body: %+v vs %+v (%v)", m, m2, err)
		}
		enc := m.AppendBody(nil)
		if n := m.(sizer).bodyLen(); n != len(enc) {
			t.Fatalf("bodyLen %d, encoding %d bytes", n, len(enc))
		}
		m3, err := Decode(tt, enc)
		if err != nil {
			t.Fatalf("re-encoded %+v as %x, which fails: %v", m, enc, err)
		}
		if !reflect.DeepEqual(m, m3) {
			t.Fatalf("round trip: %+v became %+v via %x", m, m3, enc)
		}
		if enc2 := m3.AppendBody(nil); !bytes.Equal(enc, enc2) {
			t.Fatalf("encoding not stable: %x then %x", enc, enc2)
		}
	})
}

// TESTING.md §4 FuzzBitfieldRLE: bounded decode; what decodes re-encodes
// to something decoding the same; any bytes encode and decode back, minus
// trailing zeros.
func FuzzBitfieldRLE(f *testing.F) {
	addVectorSeeds(f, nil, nil, func(b []byte) { f.Add(b) })
	const limit = 1 << 16
	f.Fuzz(func(t *testing.T, data []byte) {
		dec, err := DecodeRLE(data, limit)
		if err != nil {
			if !errors.Is(err, ErrMalformed) || dec != nil {
				t.Fatalf("DecodeRLE: %x, %v", dec, err)
			}
		} else {
			if len(dec) > limit {
				t.Fatalf("decoded %d bytes past the limit %d", len(dec), limit)
			}
			enc := AppendRLE(nil, dec)
			dec2, err := DecodeRLE(enc, len(dec))
			if err != nil || !bytes.Equal(dec2, bytes.TrimRight(dec, "\x00")) {
				t.Fatalf("re-encoding %x as %x decodes as %x, %v", dec, enc, dec2, err)
			}
			if enc2 := AppendRLE(nil, dec2); !bytes.Equal(enc, enc2) {
				t.Fatalf("encoding not stable: %x then %x", enc, enc2)
			}
		}
		enc := AppendRLE(nil, data)
		back, err := DecodeRLE(enc, len(data))
		if err != nil || !bytes.Equal(back, bytes.TrimRight(data, "\x00")) {
			t.Fatalf("bits %x encode as %x and decode as %x, %v", data, enc, back, err)
		}
	})
}
