// Package peer replicates feeds with other hypercore 9 peers over
// hypercore-protocol 8 (../shared/spec/hypercore9.md, section 4).
//
// # Layers
//
//	TCP ──► handshake.Run (Noise XX, peer/handshake)
//	     ──► handshake.Conn (XSalsa20 stream per direction)
//	     ──► wire.FrameReader / wire.AppendFrame (varint frames, peer/wire)
//	     ──► Session (replication state machine, this package)
//	     ──► feed.Feed (Proof to answer, Put to store what verifies)
//
// # The deterministic core
//
// Session holds one connection's replication state: channels by local and
// remote id, what the remote announced (a span set, so a Have of 2^53
// blocks costs one span), the Wants sent, the requests in flight, the
// blocks local readers wait for. It has no goroutines, no clock and no
// sockets: Receive takes one decoded frame, FeedEvent one local change,
// Want one local read of a missing block, and Output hands back the
// encoded frames to send. Given the same inputs and feed states it
// produces the same bytes, which is how the wire transcripts of
// ../shared/vectors/wire are replayed in tests.
//
// Behaviour follows JS hypercore 9 (spec 4.7-4.8): Open carries the
// capability for the connection's handshake keys, and a wrong one closes
// the connection before anything about the feed is sent; once both Opens
// exist a side sends Status if it does not both upload and download, then
// Want{0, 2^20} when it downloads. Wants are answered with the last block
// first (announcing the length) and an RLE bitfield of the window. Block
// requests carry the proof digest of what we hold, so answers are
// minimal; answers are built by feed.Proof and checked by feed.Put, which
// writes nothing unless the whole proof verifies against the key. A proof
// that fails closes the connection (ErrChecksum); an unrequested push is
// dropped and answered with Unhave.
//
// Download modes per feed: sparse (blocks are requested only when a local
// reader asks, through Swarm.Want, which feed.Get calls as the feed's
// Fetcher) or full (every announced block, lowest first, with at most
// MaxInflight requests in flight per peer). Live feeds also learn a longer
// remote length at once by asking for the hash of the last announced
// block. Appends and downloads are announced to every peer that sent a
// Want, as Have.
//
// What the remote may not make us do (TESTING.md section 3): frames over
// 8 MiB are refused before allocating (wire); a Have bitfield decodes to
// at most 2^17 bytes; announced ranges are clamped to 2^53; a remote may
// hold at most 2^16 channels and 2^10 unanswered Opens; frames on channels
// never opened, unknown message types, Unwant, Cancel, Options and
// extensions are ignored; requests for blocks we lack are never answered.
//
// # The shell
//
// A Swarm owns the goroutines and sockets: per connection a reader (which
// decrypts, decodes and calls the Session under conn.mu) and a writer
// (which takes Output and sends it, or a keep-alive after 10 s of
// silence); per feed one goroutine forwarding feed events to every
// connection; per Listen an accept loop; per Dial a redial loop with
// jittered exponential backoff. conn.mu is never held across network
// I/O. A reader stops reading while more than 16 MiB of output waits for a
// slow peer, so one peer's backlog is bounded and the others proceed. A
// peer silent for 20 s, stuck in the handshake for 20 s, or taking none
// of a 64 KiB write for 20 s is dropped; a slow peer that keeps reading
// is not (Config.IdleTimeout; the keep-alive follows at half of it).
// Whichever of reader and writer stops first gives the reason the
// connection ended, and stops the other. Close cancels everything and
// waits for every goroutine.
//
// A bit flipped in transit (A6) is not caught by the transport: XSalsa20
// has no MAC, so the same bit flips in the plaintext, and the layer that
// owns it notices. A block, proof node or signature fails verification
// and closes the connection (ErrChecksum); a frame length or type breaks
// the framing (wire.ErrMalformed); a channel id moved to one never
// opened, or a block index moved to one never requested, gets the frame
// ignored. Nothing unverified is stored (socket_test.go plays these).
package peer
