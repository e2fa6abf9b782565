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
// Want one local read of a missing block, Tick one tick of the request
// timeout's clock, and Output hands back the encoded frames to send.
// Given the same inputs and feed states it produces the same bytes,
// which is how the wire transcripts of ../shared/vectors/wire are
// replayed in tests.
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
// Fetcher) or full (every announced block, lowest first, with about 16
// MiB of blocks, 16 to 1024 requests, in flight per peer, so that every
// stage of the pipeline always has work; Config.MaxInflight fixes the
// count). Live feeds also learn a longer
// remote length at once by asking for the hash of the last announced
// block.
//
// # Reservations: each block asked of one peer
//
// The sessions of a Swarm share a Reservations table (reserve.go), JS
// hypercore 9's feed._reserved: a session reserves a block before it
// requests it and skips blocks another connection holds, so a clone
// from N seeders downloads each block once instead of up to N times,
// and the seeders share the work (the walks interleave, lowest free
// block first). Sparse gets too: Swarm.Want tells every connection, and
// the first that can reserve the block asks its peer; the others keep
// the get and ask only if that reservation is given up unanswered. We
// do not ask two peers for a block a reader waits on: the second copy
// would cost a block's transfer and hash for every get to save only the
// wait for a peer that stalls, and a stalled peer is dropped anyway
// (the request timeout below), which releases what it held.
//
// A reservation ends when its Data is applied (after feed.Put, so no
// other session asks for a block while it is being stored; a block
// that does not verify closes the connection), on Unhave of the block,
// on Status without uploading, on the remote's Close or our own, and
// when the connection ends (Session.End, called as the connection is
// detached; nothing is reserved after it). A block given up without
// being stored must reach a peer whose full-mode cursor is past it,
// without a rescan on every message: the release lowers a mark in
// every other member of the feed's table, which the member's next
// schedule takes and rewinds its cursor to (a walk over what was
// skipped since, one bitfield look-up per block held); and since an
// idle session (all its requests answered, the rest reserved by the
// leaving peer) receives nothing that would run its schedule, the
// session that released reports the feed (takeFreed) and the Swarm
// reschedules every other connection on it, after the applier's hold
// or the detach, holding one connection's lock at a time.
//
// The table's mutex is taken under a conn.mu, never the other way
// round, and guards in-memory maps only. It holds one entry per block
// in flight and one member per channel, and a feed's table goes with
// its last member. The core stays deterministic given the table: a
// lone Session makes its own, and session tests drive two sessions on
// one table from one goroutine (reserve_test.go). End game: the last
// blocks wait for the slowest peer asked, as in JS. Appends and
// downloads are announced to every peer that sent a Want, as Have.
//
// # Request timeout: a peer that does not answer is dropped
//
// A peer that keeps the connection alive (keep-alives, Haves) but never
// answers would hold its reservations for ever, and a clone or a reader
// waiting on them would stall although another peer could serve them.
// As JS hypercore 9 (lib/replicate.js, _onrequesttimeout), a feed's
// channel whose block requests get no Data, for any of them, for
// Config.RequestTimeout closes the connection ("peer stopped answering
// requests", logged once with the peer's address; the connection ends
// with ErrRequestTimeout). Data answering any request restarts the
// clock, a request made when none was out starts it, and nothing else
// counts: a slow peer whose answers keep coming is kept. The default is
// IdleTimeout's, 20 s: JS uses its stream's timeout for both.
//
// The clock stays out of the core: the writer, which already owns the
// keep-alive's ticker, calls Session.Tick with the time every eighth of
// the timeout; Tick starts a channel's clock at the first tick after its
// last answer (or first request), and reports the channel stalled at the
// first tick a timeout after that, so a peer goes between 1 and 1.25
// timeouts after its last answer, never earlier, even when late ticks
// arrive bunched together (timeout.go; tested tick by tick on the
// core, and on sockets with a fake seeder that announces everything,
// sends keep-alives and answers nothing, beside an honest one). Before
// it reports a stall, Tick forgets requests for blocks stored meanwhile
// by another route and restarts the clock instead, as JS does for its
// oldest request.
//
// Closing rather than cancelling the requests and releasing the
// reservations while keeping the peer: cancelling does not stop the
// peer (JS ignores Cancel, as we do), so a late answer would download
// the block twice, from it and from the peer that took the block over;
// a peer that has answered nothing for 20 s while alive is broken or
// hostile, and keeping it would only have it reserve more blocks and
// stall them again; the close releases everything through the one path
// already used by every ended connection (Session.End, then the
// reschedule of the others); and it is what JS does, so a Go peer and
// a JS peer treat a staller alike. The cost, as in JS, is that one
// stalled feed drops the connection for the others too, and that a
// peer we dialled is redialled and may stall again: not before 30 s
// (stallBackoff in swarm.go), so it holds blocks for at most a request
// timeout in every 50 s or so.
// Hash requests for the remote's length (live feeds) are not timed:
// they reserve nothing, and every connection asks its own peer, so a
// peer ignoring one delays nothing another peer could do (JS times them
// too). Our own refusal to serve a block that is corrupt here leaves the
// request unanswered, so the peer drops us after its timeout and asks
// another, as a JS peer would.
//
// What the remote may not make us do (TESTING.md section 3): frames over
// 8 MiB are refused before allocating (wire); a Have bitfield decodes to
// at most 2^17 bytes; announced ranges are clamped to 2^53; a remote may
// hold at most 2^16 channels and 2^10 unanswered Opens; frames on channels
// never opened, unknown message types, Unwant and Cancel are ignored;
// requests for blocks we lack are never answered.
//
// Extensions and acks (spec 4.8.8, 4.9). A feed's registered extension
// names (FeedOptions.Extensions) go out, sorted, in an Options once both
// Opens exist (a JS peer drops Options on a channel whose feed it has not
// opened yet); an extension's id is its position in the sender's list.
// The remote's last Options gives its names; an Extension frame whose id
// names, in that list, one of ours is queued for the connection layer
// (TakeExtensions), which calls FeedOptions.OnExtension outside its lock;
// anything else is dropped. SendExtension sends only names the remote
// announced.
//
// Stream extensions (Config.StreamExtensions, JS's
// protocol.registerExtension) are the same on channel 0, which names the
// connection: our sorted names go out in an Options on channel 0 as the
// session starts, and Options and Extension frames on channel 0 set the
// remote's names and carry its messages, unless the remote opened a feed
// on channel 0 (JS never does; it would then be that feed's, as in JS).
// They are queued with the feed messages (a nil Feed) and reach
// Config.OnStreamExtension with the sending peer. SendStreamExtension
// does not wait for the remote's names: JS announces its stream names
// only with its first stream message, so a remote that has not sent
// any may still have registered ours; one that has not drops it. The
// queue holds at most 1024 messages and 16 MiB of payload; a payload
// that would not fit a frame is not sent.
//
// A remote whose Options asks for acks gets Have{index, 1, ack} for each
// Data we store. A feed with FeedOptions.Ack asks every remote for them;
// each Data we send with a block is then logged (the last 2^14 per
// channel, so a remote that never acks costs bounded memory), and a
// Have{ack}, without bitfield, for a logged block settles it and is
// queued (TakeAcks, at most 4096) for FeedOptions.OnAck with the peer:
// "peer p stores block i", each Data sent counted at most once. Acks for
// blocks we never sent or sent and saw acknowledged, and acks we did not
// ask for, are dropped (JS would take the latter as availability).
//
// # The shell
//
// A Swarm owns the goroutines and sockets. Per connection, run (on the
// goroutine that accepted or dialled) owns three, and waits for the
// other two before it returns:
//
//	receiver  reads the socket, decrypts, splits and decodes frames into
//	          the inbox (recv.go); it alone touches the read side of the
//	          socket and the read deadline.
//	applier   (run's own goroutine) takes frames from the inbox in order,
//	          hashes the values of their Data messages together outside
//	          conn.mu (hashLeaves: tree.LeafHashes, up to eight blocks at
//	          once), and hands the frames to the Session under conn.mu;
//	          feed.Put (the proof against the leaf, the writes) runs here.
//	          A value the Session then drops (an unrequested push, A16)
//	          was hashed for nothing, which costs less than decrypting it.
//	writer    takes Output under conn.mu and sends it outside the lock,
//	          or a keep-alive after half the idle timeout of silence; it
//	          alone touches the write side and the write deadline, and
//	          it ticks the request timeout's clock (ends the connection
//	          when a feed's requests are stalled).
//
// Splitting receiver and applier lets one core decrypt frame n+1 while
// the other hashes and stores frame n: a clone was bound by the two done
// in turn on one goroutine. The inbox between them holds at most 512
// frames and 4 MiB of decoded bodies (one larger frame, up to 8 MiB, is
// let in alone), so memory stays bounded whatever the peer sends. The
// applier takes what is queued, up to 16 frames or 512 KiB, under one
// hold of conn.mu and wakes the writer once per hold; it ends a hold
// early after an Open of a feed the session does not know (the feed is
// opened before the next frame is applied, as before the split) and when
// the output reaches 2 MiB.
//
// Backpressure: the applier stops while more than 2 MiB of output waits
// for a slow peer; the inbox then fills and the receiver stops reading,
// so one peer's backlog is bounded and the others proceed. Keep-alives
// stop at the receiver: they renew the read deadline and take no lock.
// The writer reuses its two output buffers up to 4 MiB each and drops
// larger ones, so memory follows the load.
//
// Locks: Swarm.mu guards the feed, connection and listener sets and is
// never held while taking a conn.mu; Reservations.mu is taken under a
// conn.mu and takes nothing else; conn.mu guards the Session (and so
// its output) and is never held across network I/O, though it is held
// across feed calls (Put, Proof), which do disk I/O; the inbox's mutex
// guards only its byte count. Stop paths: the first of applier and
// writer to stop gives the reason the connection ended, and closes the
// socket, which stops the receiver; the applier's end (conn.done) also
// stops a receiver waiting for room and the writer; the writer's end
// (conn.wdone) stops an applier waiting for room; a receiver that stops
// (socket error or EOF) closes the inbox, and the applier returns its
// error once the frames read before it are applied.
//
// Per feed one goroutine forwards feed events to every connection; per
// Listen an accept loop; per Dial a redial loop with jittered
// exponential backoff. A peer silent for 20 s, stuck in the handshake
// for 20 s, or taking none of a 64 KiB write for 20 s is dropped; a slow
// peer that keeps reading is not (Config.IdleTimeout; the keep-alive
// follows at half of it). A peer that answers none of our block
// requests on a feed for 20 s is dropped too (Config.RequestTimeout,
// above). Close cancels everything and waits for every goroutine.
//
// A bit flipped in transit (A6) is not caught by the transport: XSalsa20
// has no MAC, so the same bit flips in the plaintext, and the layer that
// owns it notices. A block, proof node or signature fails verification
// and closes the connection (ErrChecksum); a frame length or type breaks
// the framing (wire.ErrMalformed); a channel id moved to one never
// opened, or a block index moved to one never requested, gets the frame
// ignored. Nothing unverified is stored (socket_test.go plays these).
package peer
