package wire

import (
	"fmt"
	"math"

	"google.golang.org/protobuf/encoding/protowire"
)

// AppendRLE appends the bitfield-RLE encoding of bits (spec 4.8.3) to dst,
// byte for byte what the JS encoder produces for a Have reply. Trailing
// zero bytes are dropped first, so an all-zero bitfield encodes as nothing.
func AppendRLE(dst, bits []byte) []byte {
	end := len(bits)
	for end > 0 && bits[end-1] == 0 {
		end--
	}
	e := rleEncoder{dst: dst, bits: bits[:end]}
	for i, c := range e.bits {
		if c == e.runByte {
			// Also starts a run when runLen is 0, the same as the
			// explicit start below would.
			e.runLen++
			continue
		}
		if e.runLen > 0 {
			e.closeRun(i)
		}
		if c == 0x00 || c == 0xff {
			e.runByte, e.runLen = c, 1
		} else {
			e.runLen = 0
		}
	}
	if e.runLen > 0 {
		e.closeRun(end)
	}
	if e.pending < end {
		e.dst = appendRLELiteral(e.dst, e.bits[e.pending:end])
	}
	return e.dst
}

// rleEncoder holds the scan state of AppendRLE: the candidate run of
// runByte ending at the current position, and bits[pending:], the input
// not yet emitted.
type rleEncoder struct {
	dst     []byte
	bits    []byte
	runByte byte
	runLen  int
	pending int
}

// closeRun decides whether the run ending at i is worth a chunk of its own:
// only when the run chunk, plus a literal for the bytes before it, is
// strictly shorter than one literal for everything pending. Ties go to the
// literal, as in JS.
func (e *rleEncoder) closeRun(i int) {
	head := i - e.runLen - e.pending
	headCost := 0
	if head > 0 {
		headCost = protowire.SizeVarint(uint64(2*head)) + head
	}
	run := uint64(4*e.runLen + 1)
	if e.runByte == 0xff {
		run += 2
	}
	runCost := headCost + protowire.SizeVarint(run)
	literalCost := protowire.SizeVarint(uint64(2*(i-e.pending))) + i - e.pending
	if runCost >= literalCost {
		return
	}
	if head > 0 {
		e.dst = appendRLELiteral(e.dst, e.bits[e.pending:e.pending+head])
	}
	e.dst = protowire.AppendVarint(e.dst, run)
	e.pending = i
}

func appendRLELiteral(dst, lit []byte) []byte {
	dst = protowire.AppendVarint(dst, uint64(2*len(lit)))
	return append(dst, lit...)
}

// maxRLEOutput caps DecodeRLE's limit so that a careless maxBytes cannot
// turn a run chunk into an allocation the runtime refuses (or int
// overflow on 32-bit platforms); it is 2^34 blocks' worth of bits.
const maxRLEOutput = math.MaxInt32

// DecodeRLE decodes a bitfield-RLE encoding, refusing (with ErrTooLarge)
// any that expands to more than maxBytes bytes; a negative maxBytes counts
// as 0 and one above 2^31-1 as 2^31-1. The limit is checked over the whole
// encoding before the output is allocated, because a two-byte run chunk
// can claim 2^60 bytes. The caller picks maxBytes from the range the Have
// covers (length/8 rounded up), or what it can afford for a legacy
// whole-feed Have.
//
// The result is not padded: the decoded length is whatever the chunks
// add up to (JS pads to a multiple of 4 bytes, which changes nothing), and
// callers treat every bit beyond it as 0 ("don't have").
func DecodeRLE(enc []byte, maxBytes int) ([]byte, error) {
	limit := uint64(min(max(maxBytes, 0), maxRLEOutput))
	var total uint64
	for rest := enc; len(rest) > 0; {
		c, next, err := nextRLEChunk(enc, rest)
		if err != nil {
			return nil, err
		}
		if c.n > limit-total {
			return nil, fmt.Errorf("decode bitfield: expands past %d bytes at offset %d: %w", limit, len(enc)-len(rest), ErrTooLarge)
		}
		total += c.n
		rest = next
	}
	out := make([]byte, 0, total)
	for rest := enc; len(rest) > 0; {
		c, next, _ := nextRLEChunk(enc, rest)
		if c.lit != nil {
			out = append(out, c.lit...)
		} else {
			out = appendFill(out, c.fill, int(c.n))
		}
		rest = next
	}
	return out, nil
}

// rleChunk is one decoded chunk: a literal (lit non-nil) or a run of n
// fill bytes.
type rleChunk struct {
	lit  []byte
	fill byte
	n    uint64
}

// nextRLEChunk parses the chunk at the start of rest, a suffix of enc
// (kept for error offsets).
func nextRLEChunk(enc, rest []byte) (rleChunk, []byte, error) {
	v, n := protowire.ConsumeVarint(rest)
	if n < 0 {
		return rleChunk{}, nil, fmt.Errorf("decode bitfield: chunk at offset %d: %s: %w", len(enc)-len(rest), describe(n), ErrMalformed)
	}
	rest = rest[n:]
	if v&1 == 1 {
		c := rleChunk{n: v >> 2}
		if v&2 != 0 {
			c.fill = 0xff
		}
		return c, rest, nil
	}
	l := v >> 1
	if l > uint64(len(rest)) {
		return rleChunk{}, nil, fmt.Errorf("decode bitfield: literal of %d bytes at offset %d has only %d: %w", l, len(enc)-len(rest), len(rest), ErrMalformed)
	}
	return rleChunk{lit: rest[:l:l], n: l}, rest[l:], nil
}

func appendFill(dst []byte, c byte, n int) []byte {
	start := len(dst)
	dst = dst[:start+n]
	if c != 0 {
		fill := dst[start:]
		for i := range fill {
			fill[i] = c
		}
	} else {
		clear(dst[start:])
	}
	return dst
}
