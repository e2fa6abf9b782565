// Package wire encodes and decodes the frames and messages of
// hypercore-protocol 8 (../../../shared/spec/hypercore9.md, sections 4.4-4.9
// and 5), and the bitfield-RLE used in Have messages (4.8.3).
//
// It is pure code: no goroutines, no clock, and no I/O other than the
// io.Reader given to NewFrameReader. The handshake and the XSalsa20 layer
// live below it (the reader is handed the decrypted stream); channels and
// replication live above it in package peer. Nothing here is safe for
// concurrent use; each connection owns its FrameReader or FrameParser, and
// the encoding functions only touch the slices they are given.
//
// # Frames (spec 4.4)
//
//	frame  = varint(L) || varint(header) || body
//	header = channel<<4 | type                  type 0..15, channel <= MaxChannel
//	L      = len(varint(header)) + len(body)
//
//	00                     keep-alive (L = 0): no header, no body
//	07 15 08 00 10 80 80 40 Want{0, 1048576} on channel 1
//
// AppendFrame writes a message as a frame and AppendKeepAlive an empty one.
// FrameParser splits bytes fed to it into frames; FrameReader is the same
// parser filled from an io.Reader, reading straight into the parser's
// buffer (which plays bufio's part, without a second copy). Both return keep-alives as frames with
// KeepAlive set, one per call, so that a stream of zero bytes cannot keep
// the caller in a loop, and so that it can restart its idle timer (JS
// closes a stream after 20 s of silence and sends a keep-alive after 10 s).
//
// # Messages (spec 4.6)
//
//	type  message    fields (number: type, default when absent)
//	0     Open       1 discoveryKey bytes (required); 2 capability bytes (nil)
//	1     Options    1 extensions repeated string; 2 ack bool (false)
//	2     Status     1 uploading bool (false); 2 downloading bool (false)
//	3     Have       1 start (required); 2 length (1); 3 bitfield bytes (nil); 4 ack bool (false)
//	4     Unhave     1 start (required); 2 length (1)
//	5     Want       1 start (required); 2 length (0)
//	6     Unwant     1 start (required); 2 length (0)
//	7     Request    1 index (required); 2 bytes (0); 3 hash bool (false); 4 nodes (0)
//	8     Cancel     1 index (required); 2 bytes (0); 3 hash bool (false)
//	9     Data       1 index (required); 2 value bytes (nil); 3 nodes repeated Node; 4 signature bytes (nil)
//	      Node       1 index; 2 hash bytes; 3 size  (all required)
//	10    Close      1 discoveryKey bytes (nil)
//	11-14 -          unassigned: Decode returns ErrUnknownType
//	15    Extension  varint(id) || payload, not protobuf
//
// Integers are uint64 varints. Decode returns pointers (*Open, *Have, ...);
// AppendBody and AppendFrame take values or pointers.
//
// # Presence (proto2, as the JS codec does it)
//
// JS emits every field that is set, zero and false included, in field
// order, one key per repeated element. The structs do not record presence,
// so the encoder follows what JS sets:
//
//   - always: required fields (even when 0 or nil), Options.ack, both
//     Status fields, Want/Unwant.length, all Request and Cancel fields, all
//     Node fields;
//   - Have.length unless it is 1 on a plain announcement (no bitfield, no
//     ack); Unhave.length unless it is 1; Have.ack only when true;
//   - byte fields when non-nil: an empty non-nil slice is sent as a present,
//     empty field (12 00), which matters for Data.value (an empty block, not
//     a hash-only reply) and Have.bitfield (an empty feed's reply, 1a 00).
//
// Re-encoding a decoded message therefore reproduces every body JS sends,
// but not every body it accepts: an explicit Have length of 1 on a plain
// announcement, a field repeated or out of order, an unknown field or a
// padded varint all come back in the canonical form above.
//
// Decoding gives absent fields the defaults in the table (note Have.length
// and Unhave.length of 1) and absent byte fields nil; present byte fields
// are never nil. A repeated scalar field keeps its last value. Byte slices
// and strings are copied out of the body (all of one message into one
// allocation), so the caller may reuse its read buffer immediately.
//
// Decode is stricter than JS in one way: a known field sent with the wrong
// wire type is an error, where JS would misread the bytes that follow.
// Bools decode as varints, any non-zero value true.
//
// # Limits and errors
//
// Every error caused by peer input wraps ErrMalformed, and every such error
// means the stream is out of step with the peer: close the connection.
//
//   - ErrTooLarge: L above MaxBody plus the longest header varint, or a body
//     above MaxBody (8 MiB, JS's limit). L is checked as soon as its varint
//     is complete, so a claimed length of 2^62 costs nothing; and even a
//     valid L reserves nothing, since the buffer grows only with bytes that
//     actually arrive (to at most one frame plus 128 KiB). DecodeRLE uses
//     the same error for an encoding that expands past the caller's limit,
//     checked before the output is allocated.
//   - ErrChannelRange: a channel id above MaxChannel (2^31-1). JS numbers
//     channels from 1 and never reuses them, so no honest peer gets there;
//     the connection is closed rather than the frame ignored, since ids
//     that large can only come from a broken or hostile peer.
//   - ErrMalformed alone: a varint longer than 10 bytes or above 2^64-1, a
//     header varint running past L, a missing required field, a group (wire
//     types 3 and 4) or invalid wire type (6, 7), a length-delimited field
//     running past its message, a known field with the wrong wire type, an
//     Extension body without an id, or an RLE literal past the end.
//   - io.EOF from FrameReader.Next: the stream ended between frames;
//     io.ErrUnexpectedEOF (wrapped): it ended inside one.
//
// Unknown field numbers of wire types 0, 1, 2 and 5 are skipped, as JS
// does, so that later protocol versions can add fields.
//
// # Ignored types 11-14
//
// Frames of types 11-14 are framed like any other, so FrameReader returns
// them; Decode answers ErrUnknownType, which does not wrap ErrMalformed. The
// receiver drops the frame without looking at its body and keeps the
// connection and the channel open: hypercore-protocol 8 reserves these
// types for later versions and ignores them. The same holds for the types
// hypercore 9 never sends (Unwant, Cancel): they decode, so that garbage is
// still rejected, and package peer then ignores them.
//
// # Bitfield RLE (spec 4.8.3)
//
// A sequence of chunks, each starting with v = varint: v&1 == 1 is a run of
// v>>2 bytes of 0xff (v&2 set) or 0x00; otherwise a literal of the next
// v>>1 bytes. AppendRLE reproduces the JS encoder's choices exactly (trim
// trailing zero bytes; emit a run only when strictly cheaper than folding
// it into a literal), so Have replies are byte-identical to JS's.
// DecodeRLE does not pad its result; callers treat bits past its end as 0.
package wire
