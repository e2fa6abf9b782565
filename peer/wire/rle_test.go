package wire

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
)

// Spec 4.8.3: the encoder examples.
func TestRLESpecExamples(t *testing.T) {
	rep := func(b byte, n int) []byte { return bytes.Repeat([]byte{b}, n) }
	for _, c := range []struct {
		in   []byte
		want string
	}{
		{nil, ""},
		{rep(0, 100), ""},
		{[]byte{0xfe}, "02fe"},
		{[]byte{0xff}, "07"},
		{rep(0xff, 8), "23"},
		{append(rep(0xff, 10), 0x80), "2b0280"},
		{[]byte{1, 2, 3}, "06010203"},
		{rep(0xff, 125), "f703"},
		{rep(0xff, 1025), "8720"},
		// Trailing zeros go before anything else is decided.
		{append([]byte{0xff}, rep(0, 50)...), "07"},
		// A run is split off when that beats one literal up to its end
		// (ties go to the literal), whatever follows it.
		{[]byte{1, 0, 1}, "06010001"},
		{[]byte{1, 0, 0, 1}, "0201090201"},
		{append(append([]byte{1}, rep(0, 4)...), 1), "0201110201"},
	} {
		if got := AppendRLE(nil, c.in); !bytes.Equal(got, unhex(t, c.want)) {
			t.Errorf("AppendRLE(%x) = %x, want %s", c.in, got, c.want)
		}
	}
}

func TestDecodeRLE(t *testing.T) {
	for _, c := range []struct {
		enc, want string
		max       int
	}{
		{"", "", 0},
		{"01 03 00", "", 0}, // empty runs and literals are legal
		{"05 07 0401ff", "00ff01ff", 4},
		{"0d 0b", "000000ffff", 5},
		{"0200", "00", 1}, // a zero literal is kept, not trimmed
	} {
		got, err := DecodeRLE(unhex(t, c.enc), c.max)
		if err != nil || !bytes.Equal(got, unhex(t, c.want)) {
			t.Errorf("DecodeRLE(%s, %d) = %x, %v; want %s", c.enc, c.max, got, err, c.want)
		}
	}
	for _, c := range []struct {
		enc string
		max int
		is  error
		msg string
	}{
		{"04 01", 10, ErrMalformed, "literal of 2 bytes at offset 1 has only 1"},
		{"ffff", 10, ErrMalformed, "chunk at offset 0: truncated"},
		{"07 80", 10, ErrMalformed, "chunk at offset 1: truncated"},
		{"ffffffffffffffffff7f", 10, ErrMalformed, "varint overflow"},
		{"0d", 2, ErrTooLarge, "expands past 2 bytes"},
		{"07", -1, ErrTooLarge, "expands past 0 bytes"},
		{"0702ff", 1, ErrTooLarge, "at offset 1"},
		// TESTING.md A15: a two-byte chunk claiming 2^62 bytes, twice
		// (the sum must not wrap).
		{"ffffffffffffffffff01", 1 << 30, ErrTooLarge, "expands"},
		{"ffffffffffffffff7f ffffffffffffffff7f", 1 << 62, ErrTooLarge, "expands"},
		{"ffffffffffffffff7f", 1<<63 - 1, ErrTooLarge, "expands past 2147483647"},
	} {
		got, err := DecodeRLE(unhex(t, c.enc), c.max)
		if !errors.Is(err, c.is) || !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), c.msg) || got != nil {
			t.Errorf("DecodeRLE(%s, %d) = %x, %v; want %v mentioning %q", c.enc, c.max, got, err, c.is, c.msg)
		}
	}
}

// TESTING.md A15: refusing a huge run allocates nothing but the error.
func TestDecodeRLEHugeRunNoAllocation(t *testing.T) {
	enc := unhex(t, "0202 ffffffffffffffff7f")
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range 100 {
		if _, err := DecodeRLE(enc, 1<<30); !errors.Is(err, ErrTooLarge) {
			t.Fatalf("got %v", err)
		}
	}
	runtime.ReadMemStats(&after)
	if per := (after.TotalAlloc - before.TotalAlloc) / 100; per > 1024 {
		t.Errorf("%d bytes allocated to refuse a 2^61-byte run", per)
	}
}

// Bitfields as a feed has them (mostly full or empty, a ragged edge)
// and noise survive encode then decode, and decoding allocates once.
func TestRLERoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 2000 {
		n := rng.IntN(3000)
		bits := make([]byte, n)
		for j := 0; j < n; {
			run := 1 + rng.IntN(200)
			var b byte
			switch rng.IntN(4) {
			case 0:
				b = 0xff
			case 1:
				b = byte(rng.Uint32())
			}
			for k := 0; k < run && j < n; k, j = k+1, j+1 {
				bits[j] = b
				if rng.IntN(50) == 0 {
					bits[j] = byte(rng.Uint32())
				}
			}
		}
		enc := AppendRLE([]byte("x"), bits)[1:]
		dec, err := DecodeRLE(enc, n)
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		if !bytes.Equal(dec, bytes.TrimRight(bits, "\x00")) {
			t.Fatalf("case %d: round trip of %x gave %x", i, bits, dec)
		}
		if lit := len(appendRLELiteral(nil, bits)); len(enc) > 2*lit {
			t.Errorf("case %d: encoding of %d bytes for %d input bytes", i, len(enc), n)
		}
	}
	enc := AppendRLE(nil, bytes.Repeat([]byte{0xff, 0x12, 0, 0, 0, 0, 0, 0}, 1000))
	if allocs := testing.AllocsPerRun(100, func() { _, _ = DecodeRLE(enc, 8000) }); allocs != 1 {
		t.Errorf("DecodeRLE made %v allocations, want 1", allocs)
	}
}
