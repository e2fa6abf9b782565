package wire

import (
	"bytes"
	"testing"
)

// benchData is a Data reply as a 7-level proof would carry it.
func benchData(size int) Data {
	d := Data{Index: 12345, Value: bytes.Repeat([]byte{0x42}, size), Signature: bytes.Repeat([]byte{7}, 64)}
	for i := range 7 {
		d.Nodes = append(d.Nodes, Node{Index: uint64(1<<i - 1), Hash: bytes.Repeat([]byte{byte(i)}, 32), Size: uint64(size) << i})
	}
	return d
}

// BenchmarkData measures the per-block cost of the wire layer for Data
// frames: encoding into a reused buffer, decoding (one copy of the
// block, by design), and reading frames off a stream.
func BenchmarkData(b *testing.B) {
	const size = 64 << 10
	d := benchData(size)
	frame := AppendFrame(nil, 1, d)

	b.Run("op=encode/block=64KiB", func(b *testing.B) {
		b.SetBytes(size)
		b.ReportAllocs()
		buf := make([]byte, 0, len(frame))
		for b.Loop() {
			// A pointer, as callers pass it: a Data value would be
			// copied into the interface on every call.
			buf = AppendFrame(buf[:0], 1, &d)
		}
	})
	b.Run("op=decode/block=64KiB", func(b *testing.B) {
		body := frame[len(frame)-d.bodyLen():]
		b.SetBytes(size)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Decode(TypeData, body); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("op=read/block=64KiB", func(b *testing.B) {
		fr := NewFrameReader(&loopReader{b: frame})
		b.SetBytes(size)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := fr.Next(); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// loopReader repeats b for ever, in reads as large as asked for.
type loopReader struct {
	b   []byte
	off int
}

func (r *loopReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		c := copy(p[n:], r.b[r.off:])
		n += c
		r.off = (r.off + c) % len(r.b)
	}
	return n, nil
}
