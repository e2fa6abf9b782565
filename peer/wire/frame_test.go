package wire

import (
	"bytes"
	"errors"
	"io"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
)

// readAll reads frames until an error, copying bodies (valid only until
// the next call).
func readAll(fr *FrameReader) ([]Frame, error) {
	var out []Frame
	for {
		f, err := fr.Next()
		if err != nil {
			return out, err
		}
		f.Body = bytes.Clone(f.Body)
		out = append(out, f)
	}
}

// Spec 4.6: "Full frame: Want on channel 1 = 07 15 08 00 10 80 80 40".
func TestAppendFrameSpecExample(t *testing.T) {
	got := AppendFrame([]byte{0xaa}, 1, Want{Start: 0, Length: 1 << 20})
	if want := unhex(t, "aa 07 15 08 00 10 80 80 40"); !bytes.Equal(got, want) {
		t.Errorf("got %x, want %x", got, want)
	}
	if got := AppendKeepAlive([]byte{1}); !bytes.Equal(got, []byte{1, 0}) {
		t.Errorf("AppendKeepAlive = %x", got)
	}
	// Channel 0 is the stream-level channel (spec 4.9).
	if got, want := AppendFrame(nil, 0, Extension{ID: 1, Payload: []byte("x")}), unhex(t, "03 0f 01 78"); !bytes.Equal(got, want) {
		t.Errorf("stream extension frame %x, want %x", got, want)
	}
}

// foreign is a Message from outside the package: AppendFrame cannot ask
// it for its size.
type foreign struct{ m Message }

func (f foreign) Type() Type                 { return f.m.Type() }
func (f foreign) AppendBody(b []byte) []byte { return f.m.AppendBody(b) }

func TestAppendFrameForeignMessage(t *testing.T) {
	for _, n := range []int{0, 1, 100, 125, 126, 127, 128, 20000, 1 << 20} {
		m := Data{Index: 7, Value: bytes.Repeat([]byte{0x5a}, n)}
		want := AppendFrame([]byte("prefix"), MaxChannel, m)
		if got := AppendFrame([]byte("prefix"), MaxChannel, foreign{m}); !bytes.Equal(got, want) {
			t.Errorf("value of %d bytes: foreign frame differs from native one", n)
		}
		var p FrameParser
		p.Feed(want[len("prefix"):])
		f, ok, err := p.Next()
		if err != nil || !ok || f.Channel != MaxChannel || f.Type != TypeData || !bytes.Equal(f.Body, m.AppendBody(nil)) {
			t.Errorf("value of %d bytes: parsed %v %v ch %d type %d", n, ok, err, f.Channel, f.Type)
		}
	}
}

// Spec 4.4: a stream cut anywhere gives the same frames, keep-alives
// included, one per Next.
func TestFrameParserSplits(t *testing.T) {
	var stream []byte
	stream = AppendKeepAlive(stream)
	stream = AppendFrame(stream, 1, Open{DiscoveryKey: bytes.Repeat([]byte{0xdd}, 32)})
	stream = AppendKeepAlive(stream)
	stream = AppendKeepAlive(stream)
	stream = AppendFrame(stream, 200, Status{Uploading: true})
	stream = AppendFrame(stream, 3, Data{Index: 9, Value: bytes.Repeat([]byte{1}, 300)})
	stream = append(stream, unhex(t, "02 1c 00")...) // type 12 on channel 1: framed like any other
	stream = AppendFrame(stream, 1, Close{})
	wantTypes := []Type{0, TypeOpen, 0, 0, TypeStatus, TypeData, 12, TypeClose}
	wantKeepAlive := []bool{true, false, true, true, false, false, false, false}

	for step := 1; step <= len(stream); step++ {
		var p FrameParser
		var got []Frame
		for off := 0; off < len(stream); off += step {
			p.Feed(stream[off:min(off+step, len(stream))])
			for {
				f, ok, err := p.Next()
				if err != nil {
					t.Fatalf("step %d: %v", step, err)
				}
				if !ok {
					break
				}
				got = append(got, f)
			}
		}
		if len(got) != len(wantTypes) || p.Buffered() != 0 {
			t.Fatalf("step %d: %d frames, %d bytes left", step, len(got), p.Buffered())
		}
		for i, f := range got {
			if f.Type != wantTypes[i] || f.KeepAlive != wantKeepAlive[i] {
				t.Errorf("step %d: frame %d = %+v", step, i, f)
			}
		}
	}
}

// Spec 4.4: what the reader returns at the end of the stream.
func TestFrameReaderEOF(t *testing.T) {
	want := AppendFrame(nil, 1, Want{Length: 1 << 20})
	for _, c := range []struct {
		name   string
		stream []byte
		frames int
		eof    error // io.EOF exactly, or wrapped io.ErrUnexpectedEOF
	}{
		{"empty", nil, 0, io.EOF},
		{"between frames", append(bytes.Clone(want), want...), 2, io.EOF},
		{"after keep-alive", []byte{0}, 1, io.EOF},
		{"mid length prefix", append(bytes.Clone(want), 0x80), 1, io.ErrUnexpectedEOF},
		{"mid header", unhex(t, "02 80"), 0, io.ErrUnexpectedEOF},
		{"mid body", want[:len(want)-1], 0, io.ErrUnexpectedEOF},
	} {
		for _, rd := range []func([]byte) io.Reader{
			func(b []byte) io.Reader { return bytes.NewReader(b) },
			func(b []byte) io.Reader { return iotest.OneByteReader(bytes.NewReader(b)) },
			func(b []byte) io.Reader { return iotest.DataErrReader(bytes.NewReader(b)) },
		} {
			fr := NewFrameReader(rd(c.stream))
			frames, err := readAll(fr)
			if len(frames) != c.frames {
				t.Errorf("%s: %d frames, want %d", c.name, len(frames), c.frames)
			}
			if c.eof == io.EOF && err != io.EOF {
				t.Errorf("%s: %v, want io.EOF itself", c.name, err)
			}
			if c.eof == io.ErrUnexpectedEOF && (!errors.Is(err, io.ErrUnexpectedEOF) || err == io.ErrUnexpectedEOF) {
				t.Errorf("%s: %v, want wrapped io.ErrUnexpectedEOF", c.name, err)
			}
			if _, again := fr.Next(); again == nil || again.Error() != err.Error() {
				t.Errorf("%s: second error %v, first %v", c.name, again, err)
			}
		}
	}
}

// Spec 4.4 and TESTING.md A1, A2, A4: broken framing closes the stream.
func TestFrameErrors(t *testing.T) {
	big := func(l uint64, rest ...byte) []byte { return append(protowire.AppendVarint(nil, l), rest...) }
	for _, c := range []struct {
		name   string
		stream []byte
		is     error
		msg    string
	}{
		{"length prefix of 11 bytes", unhex(t, "ffffffffffffffffffff01"), ErrMalformed, "length prefix: varint overflow"},
		{"length prefix overflowing", unhex(t, "ffffffffffffffffff7f"), ErrMalformed, "length prefix: varint overflow"},
		{"length 2^62", big(1 << 62), ErrTooLarge, "length 4611686018427387904 exceeds"},
		{"length 2^64-1", big(1<<64 - 1), ErrTooLarge, "exceeds"},
		{"length one past the bound", big(maxFrameLen + 1), ErrTooLarge, "exceeds"},
		{"header past L", unhex(t, "01 80 00"), ErrMalformed, "header: truncated"},
		{"header overflowing", unhex(t, "0a ffffffffffffffffff7f"), ErrMalformed, "header: varint overflow"},
		{"channel 2^31", AppendFrame(nil, MaxChannel+1, Close{}), ErrChannelRange, "channel 2147483648"},
		{"channel 2^60-1", AppendFrame(nil, 1<<60-1, Close{}), ErrChannelRange, "channel"},
	} {
		for _, fr := range []*FrameReader{
			NewFrameReader(bytes.NewReader(c.stream)),
			NewFrameReader(iotest.OneByteReader(bytes.NewReader(c.stream))),
		} {
			f, err := fr.Next()
			if !errors.Is(err, c.is) || !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), c.msg) {
				t.Errorf("%s: %+v, %v; want %v mentioning %q", c.name, f, err, c.is, c.msg)
			}
			if _, again := fr.Next(); !errors.Is(again, c.is) {
				t.Errorf("%s: error not sticky: %v", c.name, again)
			}
		}
	}
}

// Spec 4.4: bodies of exactly MaxBody pass, one byte more fails, whatever
// the header's length.
func TestFrameMaxBody(t *testing.T) {
	body := make([]byte, MaxBody+1)
	for _, c := range []struct {
		hdr  []byte
		body int
		ok   bool
	}{
		{[]byte{0x1f}, MaxBody, true},
		{[]byte{0x1f}, MaxBody + 1, false},
		{[]byte{0x9f, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00}, MaxBody, true}, // padded varint
		{[]byte{0x9f, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00}, MaxBody + 1, false},
	} {
		stream := protowire.AppendVarint(nil, uint64(len(c.hdr)+c.body))
		stream = append(append(stream, c.hdr...), body[:c.body]...)
		f, err := NewFrameReader(bytes.NewReader(stream)).Next()
		if c.ok && (err != nil || len(f.Body) != c.body || f.Channel != 1 || f.Type != TypeExtension) {
			t.Errorf("header %x, body %d: %v", c.hdr, c.body, err)
		}
		if !c.ok && !errors.Is(err, ErrTooLarge) {
			t.Errorf("header %x, body %d: %v, want ErrTooLarge", c.hdr, c.body, err)
		}
	}
}

// endlessReader yields a prefix, then zero bytes for ever.
type endlessReader struct{ prefix []byte }

func (r *endlessReader) Read(p []byte) (int, error) {
	n := copy(p, r.prefix)
	r.prefix = r.prefix[n:]
	clear(p[n:])
	return len(p), nil
}

// TESTING.md A1: a huge claimed length is refused at once, before any
// buffer grows for it.
func TestFrameHugeLengthNoAllocation(t *testing.T) {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	_, err := NewFrameReader(&endlessReader{prefix: protowire.AppendVarint(nil, 1<<62)}).Next()
	elapsed := time.Since(start)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("got %v, want ErrTooLarge", err)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 2*readSize {
		t.Errorf("allocated %d bytes before refusing the frame", grew)
	}
	if elapsed > 5*time.Second {
		t.Errorf("took %v to refuse the frame", elapsed)
	}

	// A valid but large claim costs only what actually arrives.
	stream := protowire.AppendVarint(nil, MaxBody)
	stream = append(stream, 0x1f, 1, 2, 3)
	fr := NewFrameReader(bytes.NewReader(stream))
	if _, err := fr.Next(); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("short 8 MiB frame: %v", err)
	}
	if c := cap(fr.p.buf); c > readSize {
		t.Errorf("buffer grew to %d for 8 bytes of a claimed 8 MiB frame", c)
	}
}

// TESTING.md A2: a flood of keep-alives returns control on every one.
func TestKeepAliveFlood(t *testing.T) {
	fr := NewFrameReader(&endlessReader{})
	for i := range 3 * readSize {
		f, err := fr.Next()
		if err != nil || !f.KeepAlive {
			t.Fatalf("keep-alive %d: %+v, %v", i, f, err)
		}
	}
	allocs := testing.AllocsPerRun(1000, func() { _, _ = fr.Next() })
	if allocs != 0 {
		t.Errorf("%v allocations per keep-alive", allocs)
	}
}

type zeroReader struct{}

func (zeroReader) Read([]byte) (int, error) { return 0, nil }

type badCountReader struct{}

func (badCountReader) Read(p []byte) (int, error) { return len(p) + 1, nil }

// The reader's errors pass through, wrapped, and a reader that makes no
// progress ends the stream instead of spinning.
func TestFrameReaderUnderlyingErrors(t *testing.T) {
	boom := errors.New("boom")
	stream := append(AppendFrame(nil, 1, Status{}), 0x05)
	fr := NewFrameReader(io.MultiReader(bytes.NewReader(stream), iotest.ErrReader(boom)))
	if f, err := fr.Next(); err != nil || f.Type != TypeStatus {
		t.Fatalf("first frame: %+v, %v", f, err)
	}
	if _, err := fr.Next(); !errors.Is(err, boom) || errors.Is(err, ErrMalformed) {
		t.Errorf("got %v, want boom", err)
	}
	if _, err := NewFrameReader(zeroReader{}).Next(); !errors.Is(err, io.ErrNoProgress) {
		t.Errorf("empty reads: %v, want io.ErrNoProgress", err)
	}
	if _, err := NewFrameReader(badCountReader{}).Next(); err == nil {
		t.Error("a reader claiming more bytes than asked for was believed")
	}
}

// Large frames arrive in pieces and the buffer follows; small frames
// after them reuse it.
func TestFrameReaderLargeFrames(t *testing.T) {
	var stream []byte
	var want []Data
	for i, n := range []int{10, readSize, 3 * readSize, 1, MaxBody - 100, 5} {
		d := Data{Index: uint64(i), Value: bytes.Repeat([]byte{byte(i + 1)}, n)}
		want = append(want, d)
		stream = AppendFrame(stream, uint64(i+1), d)
	}
	for _, r := range []io.Reader{bytes.NewReader(stream), iotest.HalfReader(bytes.NewReader(stream))} {
		fr := NewFrameReader(r)
		for i, w := range want {
			f, err := fr.Next()
			if err != nil {
				t.Fatalf("frame %d: %v", i, err)
			}
			m, err := Decode(f.Type, f.Body)
			if err != nil || f.Channel != uint64(i+1) || !bytes.Equal(m.(*Data).Value, w.Value) {
				t.Fatalf("frame %d: ch %d, %v", i, f.Channel, err)
			}
		}
		if _, err := fr.Next(); err != io.EOF {
			t.Errorf("end: %v", err)
		}
		if c := cap(fr.p.buf); c > maxBufLen {
			t.Errorf("buffer of %d bytes, bound %d", c, maxBufLen)
		}
	}
}

// Frame.Append writes what was read, so frames can be relayed or
// re-checked.
func TestFrameAppend(t *testing.T) {
	for _, f := range []Frame{
		{KeepAlive: true},
		{Channel: 0, Type: TypeOptions, Body: []byte{}},
		{Channel: MaxChannel, Type: 13, Body: []byte{1, 2, 3}},
	} {
		var p FrameParser
		p.Feed(f.Append(nil))
		got, ok, err := p.Next()
		if err != nil || !ok || got.KeepAlive != f.KeepAlive || got.Channel != f.Channel || got.Type != f.Type || !bytes.Equal(got.Body, f.Body) {
			t.Errorf("%+v came back as %+v (%v, %v)", f, got, ok, err)
		}
	}
}
