// Package handshake sets up a hypercore-protocol 8 connection: the Noise
// XX handshake, the XSalsa20 stream that encrypts everything after it, and
// the channel capabilities derived from its keys
// (../../../shared/spec/hypercore9.md, sections 1.6, 1.7, 4.1-4.3, 8).
//
// # Handshake (spec 4.2)
//
// Noise_XX_25519_ChaChaPoly_BLAKE2b with an empty prologue, through
// github.com/flynn/noise. Each message goes on the wire as varint(len) ||
// msg, and each carries our NoisePayload, the protobuf 0a 18 <24-byte
// nonce>:
//
//	initiator                                        responder
//	   msg 1  -> e, payload                  58 bytes (+1 prefix)
//	          <- e, ee, s, es, payload[enc]  122 bytes = 32 + 48 + 26+16   msg 2
//	   msg 3  -> s, se, payload[enc]         90 bytes = 48 + 26+16
//
// The initiator sends the same nonce in msg 1 and msg 3. Like JS, the
// receiver keeps the last non-empty payload it got and decodes it when
// the handshake completes; with none, or with one that is not a 24-byte
// nonce, the handshake fails with ErrNoPayload. The payload in msg 1 is
// sent in clear; the nonce is not secret.
//
// Split gives two cipher states c1, c2. hypercore keeps only their keys:
//
//	initiator: Tx = k(c1), Rx = k(c2)
//	responder: Tx = k(c2), Rx = k(c1)
//
// Handshake is the deterministic core: NewHandshake draws the nonce,
// Start returns msg 1 (initiator) or nothing (responder), Receive takes
// received bytes in any chunking and returns the reply to send. It does
// no I/O and reads no clock, so it is driven byte for byte by the tests
// against the JS transcripts and by FuzzNoiseResponder. Run is the same
// loop over an io.ReadWriter; it returns the bytes it read past the last
// handshake message, which are the start of the remote's encrypted
// stream. Config.Rand is read for the 24-byte nonce first, then for the
// 32-byte ephemeral private key.
//
// # Transport (spec 4.3)
//
// After the handshake each direction is one XSalsa20 keystream, keyed by
// the sender's Tx and nonced by the sender's payload nonce, XORed over
// every byte it sends from then on, starting at block 0 and continuing
// across writes. Stream implements it: HSalsa20 turns the key and
// nonce[0:16] into a subkey, then Salsa20 blocks use the counter
// nonce[16:24] || u64le(block); whole blocks are XORed straight from src
// to dst and the unused tail of a block is kept for the next call. Conn
// wraps a connection with a Stream per direction. It supports one reading
// and one writing goroutine at a time.
//
// # Capabilities (spec 1.7)
//
//	Capability       = BLAKE2b-256(key = Rx, "hypercore capability" || Tx || feedKey)   sent in Open
//	RemoteCapability = BLAKE2b-256(key = Tx, "hypercore capability" || Rx || feedKey)   expected
//
// One side's capability is the other's remote capability. It proves that
// the remote knows the feed key and holds this connection's keys, so a
// capability copied from another connection fails. VerifyCapability
// compares in constant time.
//
// # What is authenticated
//
// The handshake is: msg 2 and msg 3 are AEAD-protected and bound to both
// ephemeral keys, so a replayed or altered transcript fails (ErrHandshake)
// and a completed handshake gives both sides the same keys. The remote's
// static key is learned, not checked: hypercore accepts any key, and a
// caller that wants to pin peers compares Result.RemoteStatic.
//
// The transport is not. XSalsa20 has no MAC: a flipped ciphertext bit
// flips the same plaintext bit and nothing here notices. It surfaces
// above, as a malformed frame (peer/wire), a capability mismatch, or a
// block or proof that fails its hash or signature check (feed), each of
// which closes the connection; data is stored only after its proof
// verifies against the feed key, so integrity rests on the Merkle tree,
// not on the transport. An attacker who can rewrite bytes on the wire
// can still flip bits in message fields that nothing verifies (for
// example Have ranges or Request indexes) and so disturb replication, or
// cut the connection. The stream cipher also means that the two streams
// of one connection must never reuse a key and nonce; each side draws a
// fresh nonce and the split keys differ per direction.
//
// # Limits
//
// A handshake message's length prefix is checked against 1 KiB before
// anything is buffered, so a hostile prefix costs nothing; malformed,
// undecryptable or low-order-key messages are ErrHandshake; EOF before
// the end is io.ErrUnexpectedEOF. Run has no timeout: the connection
// layer sets a deadline on the net.Conn for the handshake (TESTING.md
// A18; JS gives up after 20 s) and clears it before the transport starts.
// After a failed Conn.Write the send stream is out of step with the
// remote, so every later Write fails too.
package handshake
