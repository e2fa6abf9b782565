package peer

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/hyperfs/hyperfs/feed"
	"github.com/hyperfs/hyperfs/internal/testvectors"
	"github.com/hyperfs/hyperfs/peer/wire"
)

// testCaps derives capabilities from a shared secret and a direction, so
// that two sessions built with mirrored testCaps accept each other and a
// session built with another secret is refused.
type testCaps struct{ secret, tx, rx string }

func (c testCaps) Capability(key []byte) [32]byte {
	return sha256.Sum256(append([]byte(c.secret+c.tx), key...))
}

func (c testCaps) RemoteCapability(key []byte) [32]byte {
	return sha256.Sum256(append([]byte(c.secret+c.rx), key...))
}

// net is a set of sessions joined pairwise, with the feeds whose events
// the test forwards to them: a whole network driven by one goroutine.
type testNet struct {
	t     *testing.T
	links []*testLink
	subs  []testSub
}

type testLink struct{ a, b *Session }

type testSub struct {
	f        *feed.Feed
	sub      *feed.Subscription
	sessions []*Session
}

// link joins two new sessions.
func (n *testNet) link() (a, b *Session) {
	secret := fmt.Sprint(len(n.links))
	a = NewSession(SessionConfig{Caps: testCaps{secret, "a", "b"}})
	b = NewSession(SessionConfig{Caps: testCaps{secret, "b", "a"}})
	n.links = append(n.links, &testLink{a, b})
	return a, b
}

// watch forwards f's events to the given sessions on every pump.
func (n *testNet) watch(f *feed.Feed, sessions ...*Session) {
	sub := f.Subscribe()
	n.t.Cleanup(sub.Close)
	n.subs = append(n.subs, testSub{f, sub, sessions})
}

// deliver parses out and hands every frame to s; it returns the frames.
func deliver(t *testing.T, out []byte, s *Session) ([]wire.Frame, error) {
	t.Helper()
	r := wire.NewFrameReader(bytes.NewReader(out))
	var frames []wire.Frame
	for {
		fr, err := r.Next()
		if err != nil {
			return frames, nil
		}
		fr.Body = bytes.Clone(fr.Body)
		frames = append(frames, fr)
		if s != nil {
			if err := s.Receive(fr); err != nil {
				return frames, err
			}
		}
	}
}

// pump runs the network until nothing moves. A protocol error fails the
// test unless the caller expects it (use step for that).
func (n *testNet) pump() {
	n.t.Helper()
	for round := 0; n.step(); round++ {
		if round > 100000 {
			n.t.Fatal("network does not settle")
		}
	}
}

// step forwards the feed events queued, then delivers each session's
// output once; it reports whether any frame moved.
func (n *testNet) step() bool {
	n.t.Helper()
	moved := false
	done, cancel := context.WithCancel(context.Background())
	cancel()
	for _, s := range n.subs {
		for {
			ev, err := s.sub.Next(done)
			if err != nil {
				break
			}
			for _, ss := range s.sessions {
				ss.FeedEvent(s.f, ev)
			}
		}
	}
	for _, l := range n.links {
		for _, dir := range [][2]*Session{{l.a, l.b}, {l.b, l.a}} {
			out := dir[0].Output(nil)
			if len(out) == 0 {
				continue
			}
			moved = true
			if _, err := deliver(n.t, out, dir[1]); err != nil {
				n.t.Fatalf("receive: %v", err)
			}
		}
	}
	return moved
}

// writer creates a writable in-memory feed with n blocks of random sizes,
// runs of empty blocks included.
func writer(t *testing.T, rng *rand.Rand, n int) *feed.Feed {
	t.Helper()
	w, err := feed.Create(feed.NewMemStorage(), feed.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	appendRandom(t, rng, w, n)
	return w
}

func appendRandom(t *testing.T, rng *rand.Rand, w *feed.Feed, n int) {
	t.Helper()
	for n > 0 {
		batch := min(n, 1+rng.IntN(20))
		blocks := make([][]byte, batch)
		for i := range blocks {
			if rng.IntN(5) > 0 {
				blocks[i] = make([]byte, rng.IntN(3000))
				for k := range blocks[i] {
					blocks[i][k] = byte(rng.Uint32())
				}
			}
		}
		if err := w.Append(blocks...); err != nil {
			t.Fatal(err)
		}
		n -= batch
	}
}

func replica(t *testing.T, w *feed.Feed) *feed.Feed {
	t.Helper()
	r, err := feed.CreateReplica(feed.NewMemStorage(), w.Key(), feed.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// sameBlocks checks that r holds exactly the blocks want says, equal to
// w's.
func sameBlocks(t *testing.T, w, r *feed.Feed, want func(i uint64) bool) {
	t.Helper()
	for i := range w.Length() {
		if r.Has(i) != want(i) {
			t.Fatalf("replica has block %d = %v, want %v", i, r.Has(i), want(i))
		}
		if !r.Has(i) {
			continue
		}
		a, err := w.GetLocal(i)
		if err != nil {
			t.Fatal(err)
		}
		b, err := r.GetLocal(i)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a, b) {
			t.Fatalf("block %d differs", i)
		}
	}
}

func all(uint64) bool { return true }

// pair is a writer and a replica of it, each opened in one session of a
// link, with the network settled.
type pair struct {
	n    *testNet
	w, r *feed.Feed
	a, b *Session // a holds w, b holds r
}

func newPair(t *testing.T, rng *rand.Rand, blocks int, wopts, ropts FeedOptions) pair {
	t.Helper()
	p := pair{n: &testNet{t: t}}
	p.w = writer(t, rng, blocks)
	p.r = replica(t, p.w)
	p.a, p.b = p.n.link()
	p.n.watch(p.w, p.a)
	p.n.watch(p.r, p.b)
	p.a.Open(p.w, wopts)
	p.b.Open(p.r, ropts)
	p.n.pump()
	return p
}

func TestFullReplication(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	p := newPair(t, rng, 700, FeedOptions{Live: true}, FeedOptions{Full: true, Live: true})
	n, w, r := p.n, p.w, p.r
	if r.Length() != w.Length() || r.ByteLength() != w.ByteLength() {
		t.Fatalf("replica length %d/%d bytes, want %d/%d", r.Length(), r.ByteLength(), w.Length(), w.ByteLength())
	}
	sameBlocks(t, w, r, all)

	// Live: appends reach the replica through Have announcements.
	for range 5 {
		appendRandom(t, rng, w, 1+rng.IntN(40))
		n.pump()
		if r.Length() != w.Length() {
			t.Fatalf("after append: replica length %d, want %d", r.Length(), w.Length())
		}
		sameBlocks(t, w, r, all)
	}
}

func TestSparseGet(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	p := newPair(t, rng, 1000, FeedOptions{}, FeedOptions{})
	n, w, r, b := p.n, p.w, p.r, p.b
	if r.Downloaded(0, w.Length()) != 0 {
		t.Fatal("a sparse replica downloaded blocks nobody asked for")
	}
	want := map[uint64]bool{}
	for range 20 {
		i := rng.Uint64N(w.Length())
		want[i] = true
		b.Want(r, i)
		n.pump()
		if !r.Has(i) {
			t.Fatalf("block %d not fetched", i)
		}
	}
	sameBlocks(t, w, r, func(i uint64) bool { return want[i] })
	if r.Length() != w.Length() {
		t.Fatalf("replica length %d, want %d (learned from the proofs' signatures)", r.Length(), w.Length())
	}
}

// A live sparse replica learns a longer length without downloading.
func TestLiveLength(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	p := newPair(t, rng, 10, FeedOptions{Live: true}, FeedOptions{Live: true})
	n, w, r := p.n, p.w, p.r
	if r.Length() != 10 {
		t.Fatalf("length %d, want 10", r.Length())
	}
	appendRandom(t, rng, w, 7)
	n.pump()
	if r.Length() != 17 || r.Downloaded(0, 17) != 0 {
		t.Fatalf("length %d with %d blocks downloaded, want 17 and 0", r.Length(), r.Downloaded(0, 17))
	}
}

// Three peers in a line: an append at A reaches C through B.
func TestLine(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	w := writer(t, rng, 50)
	rb, rc := replica(t, w), replica(t, w)
	n := &testNet{t: t}
	a, b1 := n.link()
	b2, c := n.link()
	n.watch(w, a)
	n.watch(rb, b1, b2)
	n.watch(rc, c)
	a.Open(w, FeedOptions{Live: true})
	b1.Open(rb, FeedOptions{Full: true, Live: true})
	b2.Open(rb, FeedOptions{Full: true, Live: true})
	c.Open(rc, FeedOptions{Full: true, Live: true})
	n.pump()
	sameBlocks(t, w, rc, all)
	appendRandom(t, rng, w, 30)
	n.pump()
	if rc.Length() != w.Length() {
		t.Fatalf("C length %d, want %d", rc.Length(), w.Length())
	}
	sameBlocks(t, w, rc, all)
}

// Opens for a feed we do not have wait until the owner opens it.
func TestUnknownThenOpened(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	w := writer(t, rng, 20)
	r := replica(t, w)
	n := &testNet{t: t}
	a, b := n.link()
	b.Open(r, FeedOptions{Full: true})
	n.pump()
	u := a.Unknown()
	if len(u) != 1 || u[0] != w.DiscoveryKey() {
		t.Fatalf("unknown = %x, want the feed's discovery key", u)
	}
	a.Open(w, FeedOptions{})
	n.pump()
	sameBlocks(t, w, r, all)
}

func TestWrongCapability(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	w := writer(t, rng, 20)
	r := replica(t, w)
	a := NewSession(SessionConfig{Caps: testCaps{"x", "a", "b"}})
	b := NewSession(SessionConfig{Caps: testCaps{"y", "b", "a"}}) // another connection's keys
	a.Open(w, FeedOptions{})
	b.Open(r, FeedOptions{})
	aOut := a.Output(nil)
	_, err := deliver(t, b.Output(nil), a)
	if !errors.Is(err, ErrCapability) {
		t.Fatalf("wrong capability: err = %v, want ErrCapability", err)
	}
	frames, _ := deliver(t, a.Output(nil), nil)
	for _, fr := range frames {
		t.Fatalf("after a bad capability the writer sent %v", fr.Type)
	}
	// The other way round: the replica's Open is pending when the
	// writer opens the feed, and is refused with Close{discoveryKey}.
	_ = aOut
	a2 := NewSession(SessionConfig{Caps: testCaps{"x", "a", "b"}})
	r2 := NewSession(SessionConfig{Caps: testCaps{"y", "b", "a"}})
	r2.Open(r, FeedOptions{})
	if _, err := deliver(t, r2.Output(nil), a2); err != nil {
		t.Fatal(err)
	}
	a2.Open(w, FeedOptions{})
	frames, _ = deliver(t, a2.Output(nil), nil)
	if len(frames) != 1 || frames[0].Type != wire.TypeClose {
		t.Fatalf("answer to a pending Open with a bad capability: %v, want one Close", frames)
	}
}

// The session reproduces both sides of the sparse-get5 transcript frame
// for frame (../shared/vectors/wire/sparse-get5.json): a JS writer
// answering get(5), and a JS sparse reader asking for it.
func TestTranscriptSparseGet5(t *testing.T) {
	tr := loadTranscript(t, "sparse-get5")
	w, err := feed.Open(feed.DirStorage{Dir: testvectors.CopyFeed(t, "seven")}, feed.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	caps := fixedCaps{local: tr.Capability.ResponderSends, remote: tr.Capability.InitiatorSends}

	// Responder: feed it the initiator's frames one by one.
	s := NewSession(SessionConfig{Caps: caps})
	s.Open(w, FeedOptions{})
	got := s.Output(nil)
	for _, fr := range tr.frames(t, "initiator") {
		if err := s.Receive(fr); err != nil {
			t.Fatal(err)
		}
		got = append(got, s.Output(nil)...)
	}
	if want := tr.sent(t, "responder"); !bytes.Equal(got, want) {
		t.Fatalf("responder frames:\n got %x\nwant %x", got, want)
	}

	// Initiator: an empty sparse replica that wants block 5.
	r := replica(t, w)
	s = NewSession(SessionConfig{Caps: fixedCaps{local: tr.Capability.InitiatorSends, remote: tr.Capability.ResponderSends}})
	s.Open(r, FeedOptions{})
	s.Want(r, 5)
	got = s.Output(nil)
	for _, fr := range tr.frames(t, "responder") {
		if err := s.Receive(fr); err != nil {
			t.Fatal(err)
		}
		got = append(got, s.Output(nil)...)
	}
	if want := tr.sent(t, "initiator"); !bytes.Equal(got, want) {
		t.Fatalf("initiator frames:\n got %x\nwant %x", got, want)
	}
	if !r.Has(5) || r.Downloaded(0, r.Length()) != 1 || r.Length() != 7 {
		t.Fatalf("replica: has 5 = %v, %d blocks, length %d; want block 5 only, length 7", r.Has(5), r.Downloaded(0, r.Length()), r.Length())
	}
}

// As the writer in full-download, the session answers every request
// with the bytes JS sent (the non-live end of that transcript, Status and
// Close, is JS's and not ours: we stay live).
func TestTranscriptFullDownload(t *testing.T) {
	tr := loadTranscript(t, "full-download")
	w, err := feed.Open(feed.DirStorage{Dir: testvectors.CopyFeed(t, "seven")}, feed.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	s := NewSession(SessionConfig{Caps: fixedCaps{local: tr.Capability.ResponderSends, remote: tr.Capability.InitiatorSends}})
	s.Open(w, FeedOptions{})
	got := s.Output(nil)
	for _, fr := range tr.frames(t, "initiator") {
		if fr.Type == wire.TypeStatus || fr.Type == wire.TypeClose {
			break
		}
		if err := s.Receive(fr); err != nil {
			t.Fatal(err)
		}
		got = append(got, s.Output(nil)...)
	}
	// Everything the writer sent up to its closing Status{false, false}.
	// JS answered the seven requests in the order its disk reads
	// finished; we answer in request order, so Data frames compare as a
	// set and everything else in sequence.
	var want []wire.Frame
	for _, fr := range tr.frames(t, "responder") {
		if fr.Type == wire.TypeStatus && !mustDecode(t, fr).(*wire.Status).Uploading {
			break
		}
		want = append(want, fr)
	}
	gotFrames, err := deliver(t, got, nil)
	if err != nil {
		t.Fatal(err)
	}
	if g, w := canonical(gotFrames), canonical(want); !slices.Equal(g, w) {
		t.Fatalf("responder frames:\n got %q\nwant %q", g, w)
	}
}

// canonical lists frames as hex, Data frames sorted after the others.
func canonical(frames []wire.Frame) []string {
	var other, data []string
	for _, fr := range frames {
		h := hex.EncodeToString(fr.Append(nil))
		if fr.Type == wire.TypeData {
			data = append(data, h)
		} else {
			other = append(other, h)
		}
	}
	slices.Sort(data)
	return append(other, data...)
}

func mustDecode(t *testing.T, fr wire.Frame) wire.Message {
	t.Helper()
	m, err := wire.Decode(fr.Type, fr.Body)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// fixedCaps plays back the capabilities a transcript recorded.
type fixedCaps struct{ local, remote hexBytes }

func (c fixedCaps) Capability([]byte) [32]byte       { return [32]byte(c.local) }
func (c fixedCaps) RemoteCapability([]byte) [32]byte { return [32]byte(c.remote) }

type hexBytes []byte

func (h *hexBytes) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := hex.DecodeString(s)
	*h = v
	return err
}

type transcript struct {
	Capability struct {
		InitiatorSends hexBytes `json:"initiatorSends"`
		ResponderSends hexBytes `json:"responderSends"`
	} `json:"capability"`
	Initiator struct {
		Frames []hexBytes `json:"plaintextFramesSent"`
	} `json:"initiator"`
	Responder struct {
		Frames []hexBytes `json:"plaintextFramesSent"`
	} `json:"responder"`
}

func loadTranscript(t *testing.T, name string) *transcript {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testvectors.SharedDir(t), "vectors", "wire", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var tr transcript
	if err := json.Unmarshal(b, &tr); err != nil {
		t.Fatal(err)
	}
	return &tr
}

// sent is everything one side sent after the handshake, as plaintext.
func (tr *transcript) sent(t *testing.T, side string) []byte {
	t.Helper()
	frames := tr.Initiator.Frames
	if side == "responder" {
		frames = tr.Responder.Frames
	}
	var all []byte
	for _, f := range frames {
		all = append(all, f...)
	}
	return all
}

func (tr *transcript) frames(t *testing.T, side string) []wire.Frame {
	t.Helper()
	frames, err := deliver(t, tr.sent(t, side), nil)
	if err != nil {
		t.Fatal(err)
	}
	return frames
}

// A full-mode channel keeps about inflightBytes of blocks requested:
// 64 requests until the length is known, then by the mean block size,
// within [minInflight, maxInflight]; SessionConfig.MaxInflight fixes it.
func TestInflightLimit(t *testing.T) {
	for _, c := range []struct {
		size, count int
		fixed       int
		want        int
	}{
		{0, 0, 0, defaultInflight},
		{64 << 10, 3, 0, 256},
		{1 << 10, 5, 0, maxInflight},
		{0, 5, 0, maxInflight}, // empty blocks
		{4 << 20, 2, 0, minInflight},
		{64 << 10, 3, 7, 7},
	} {
		f, err := feed.Create(feed.NewMemStorage(), feed.Options{})
		if err != nil {
			t.Fatal(err)
		}
		for range c.count {
			if err := f.Append(make([]byte, c.size)); err != nil {
				t.Fatal(err)
			}
		}
		s := NewSession(SessionConfig{Caps: testCaps{}, MaxInflight: c.fixed})
		if got := s.inflightLimit(&channel{f: f}); got != c.want {
			t.Errorf("%d blocks of %d bytes, MaxInflight %d: limit %d, want %d", c.count, c.size, c.fixed, got, c.want)
		}
		f.Close()
	}
}
