package peer

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/hyperfs/hyperfs/feed"
	"github.com/hyperfs/hyperfs/peer/wire"
	"github.com/hyperfs/hyperfs/tree"
)

// victim is a replica session whose peer the test plays by hand: frames
// are injected as if sent on the writer's channel (id 1).
type victim struct {
	t    *testing.T
	w, r *feed.Feed
	s    *Session
}

// newVictim opens a sparse replica of a 100-block writer with its Open,
// Want and Have exchanged, so that blocks can be requested.
func newVictim(t *testing.T) *victim {
	t.Helper()
	return newVictimWith(t, FeedOptions{})
}

func newVictimWith(t *testing.T, opts FeedOptions) *victim {
	t.Helper()
	p := newPair(t, rand.New(rand.NewPCG(21, 22)), 100, FeedOptions{}, opts)
	return &victim{t: t, w: p.w, r: p.r, s: p.b}
}

// inject hands the victim one message on channel 1.
func (v *victim) inject(m wire.Message) error {
	v.t.Helper()
	return v.injectOn(1, m)
}

func (v *victim) injectOn(ch uint64, m wire.Message) error {
	v.t.Helper()
	frames, err := deliver(v.t, wire.AppendFrame(nil, ch, m), nil)
	if err != nil || len(frames) != 1 {
		v.t.Fatalf("encode %T: %v", m, err)
	}
	return v.s.Receive(frames[0])
}

// output returns the frames the victim wants to send.
func (v *victim) output() []wire.Frame {
	v.t.Helper()
	frames, err := deliver(v.t, v.s.Output(nil), nil)
	if err != nil {
		v.t.Fatal(err)
	}
	return frames
}

// ask makes the victim request block i and drops the request.
func (v *victim) ask(i uint64) {
	v.t.Helper()
	v.s.Want(v.r, i)
	for _, fr := range v.output() {
		if fr.Type == wire.TypeRequest {
			return
		}
	}
	v.t.Fatalf("no request for block %d", i)
}

// data is the writer's honest answer for block i.
func (v *victim) data(i uint64) *wire.Data {
	v.t.Helper()
	p, err := v.w.Proof(i, false, 0, nil)
	if err != nil {
		v.t.Fatal(err)
	}
	return toData(p)
}

func toData(p tree.Proof) *wire.Data {
	d := &wire.Data{Index: p.Block, Signature: bytes.Clone(p.Signature)}
	if p.HasValue {
		d.Value = bytes.Clone(p.Value)
	}
	for _, n := range p.Nodes {
		d.Nodes = append(d.Nodes, wire.Node{Index: n.Index, Hash: bytes.Clone(n.Hash[:]), Size: n.Size})
	}
	return d
}

// unchanged checks that nothing was stored.
func (v *victim) unchanged() {
	v.t.Helper()
	if v.r.Length() != 0 || v.r.Downloaded(0, v.w.Length()) != 0 {
		v.t.Fatalf("replica changed: length %d, %d blocks", v.r.Length(), v.r.Downloaded(0, v.w.Length()))
	}
}

// TESTING.md section 3, A10-A13 and A17: proofs that do not verify close
// the connection and store nothing.
func TestForgedData(t *testing.T) {
	other := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, 32))
	cases := []struct {
		name  string
		block uint64
		edit  func(v *victim, d *wire.Data)
	}{
		{"A10 value flipped", 5, func(_ *victim, d *wire.Data) { d.Value = append(d.Value, 1) }},
		{"A10 node hash flipped", 5, func(_ *victim, d *wire.Data) { d.Nodes[0].Hash[3] ^= 1 }},
		{"A11 signature flipped", 5, func(_ *victim, d *wire.Data) { d.Signature[10] ^= 1 }},
		{"A11 signed by another key", 5, func(v *victim, d *wire.Data) {
			roots, err := v.w.RootHashes(v.w.Length() - 1)
			if err != nil {
				t.Fatal(err)
			}
			d.Signature = tree.Sign(other, roots, v.w.Length())
		}},
		{"A12 no signature", 5, func(_ *victim, d *wire.Data) { d.Signature = nil }},
		{"A13 nodes missing", 5, func(_ *victim, d *wire.Data) { d.Nodes = d.Nodes[:len(d.Nodes)-1] }},
		{"A13 no nodes", 5, func(_ *victim, d *wire.Data) { d.Nodes = nil }},
		{"A13 nodes reordered", 5, func(_ *victim, d *wire.Data) {
			d.Nodes[0], d.Nodes[1] = d.Nodes[1], d.Nodes[0]
		}},
		{"A13 node duplicated", 5, func(_ *victim, d *wire.Data) { d.Nodes = append(d.Nodes[:1], d.Nodes...) }},
		{"A13 node mis-indexed", 5, func(_ *victim, d *wire.Data) { d.Nodes[0].Index += 2 }},
		{"A13 size overflowing", 5, func(_ *victim, d *wire.Data) { d.Nodes[0].Size = 1<<64 - 1 }},
		{"A13 short hash", 5, func(_ *victim, d *wire.Data) { d.Nodes[0].Hash = d.Nodes[0].Hash[:31] }},
		{"A13 index past the tree", 5, func(_ *victim, d *wire.Data) { d.Nodes[len(d.Nodes)-1].Index = 1 << 62 }},
		{"A17 index past the signed length", 5, func(_ *victim, d *wire.Data) { d.Index = 150 }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := newVictim(t)
			v.ask(c.block)
			if c.name == "A17 index past the signed length" {
				// Announced, asked for, answered with block 5's proof.
				if err := v.inject(&wire.Have{Start: 150, Length: 1}); err != nil {
					t.Fatal(err)
				}
				v.ask(150)
			}
			d := v.data(c.block)
			c.edit(v, d)
			err := v.inject(d)
			if !errors.Is(err, ErrProtocol) {
				t.Fatalf("err = %v, want ErrProtocol", err)
			}
			v.unchanged()
		})
	}
}

// A14: a second, validly signed history for the same key (a leaked
// secret key) fails against what is stored and keeps local data.
func TestFork(t *testing.T) {
	v := newVictim(t)
	v.ask(5)
	if err := v.inject(v.data(5)); err != nil {
		t.Fatal(err)
	}
	fork, err := feed.Create(feed.NewMemStorage(), feed.Options{SecretKey: v.w.SecretKey()})
	if err != nil {
		t.Fatal(err)
	}
	defer fork.Close()
	blocks := make([][]byte, 120)
	for i := range blocks {
		blocks[i] = []byte{byte(i), 'f'}
	}
	if err := fork.Append(blocks...); err != nil {
		t.Fatal(err)
	}
	v.ask(6)
	p, err := fork.Proof(6, false, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.inject(toData(p)); !errors.Is(err, ErrProtocol) || !errors.Is(err, feed.ErrFork) {
		t.Fatalf("fork accepted: %v", err)
	}
	if v.r.Has(6) || !v.r.Has(5) || v.r.Length() != v.w.Length() {
		t.Fatalf("after the fork: has 6 = %v, has 5 = %v, length %d", v.r.Has(6), v.r.Has(5), v.r.Length())
	}
}

// A16: an unrequested push is dropped and answered with Unhave.
func TestUnrequestedData(t *testing.T) {
	v := newVictim(t)
	if err := v.inject(&wire.Want{Start: 0, Length: wantWindow}); err != nil {
		t.Fatal(err)
	}
	v.output()
	if err := v.inject(v.data(7)); err != nil {
		t.Fatal(err)
	}
	v.unchanged()
	out := v.output()
	if len(out) != 1 || out[0].Type != wire.TypeUnhave {
		t.Fatalf("answer to a push: %v, want one Unhave", out)
	}
	if u := mustDecode(t, out[0]).(*wire.Unhave); u.Start != 7 || u.Length != 1 {
		t.Fatalf("unhave %+v, want block 7", u)
	}
}

// A4, A15, A17, A20: messages that are ignored, with nothing sent,
// stored or allocated beyond a bound.
func TestIgnored(t *testing.T) {
	v := newVictim(t)
	const huge = 1<<64 - 1
	for _, m := range []wire.Message{
		&wire.Have{Start: huge, Length: huge},
		&wire.Have{Start: 1 << 53, Length: 1 << 62},
		&wire.Unhave{Start: huge, Length: huge},
		&wire.Want{Start: 1 << 62, Length: 1 << 62},
		&wire.Want{Start: 8192 * 3, Length: 5}, // unaligned
		&wire.Request{Index: huge},
		&wire.Request{Index: 1 << 52, Hash: true},
		&wire.Request{Index: 3}, // the replica lacks it (A17)
		&wire.Cancel{Index: 3},
		&wire.Unwant{Start: 0, Length: 8192},
		&wire.Options{Extensions: []string{"x"}, Ack: true},
		&wire.Extension{ID: 1 << 40, Payload: bytes.Repeat([]byte{1}, 1<<16)},
		&wire.Data{Index: 1 << 60, Value: []byte{1}}, // unrequested
	} {
		if err := v.inject(m); err != nil {
			t.Fatalf("%T %+v: %v", m, m, err)
		}
	}
	// A frame on a channel that was never opened.
	if err := v.injectOn(9, &wire.Request{Index: 1}); err != nil {
		t.Fatal(err)
	}
	// An unknown message type (11-14) is ignored.
	if err := v.s.Receive(wire.Frame{Channel: 1, Type: 12, Body: []byte{1, 2, 3}}); err != nil {
		t.Fatal(err)
	}
	for _, fr := range v.output() {
		t.Fatalf("sent %v in answer to ignored input", fr.Type)
	}
	v.unchanged()
	for _, ch := range v.s.local {
		if n := len(ch.remoteHas.spans); n > 3 {
			t.Fatalf("announcements kept as %d spans", n)
		}
	}
}

// A20 and acks: stream-level frames a session without stream
// extensions does not use, extensions on channels never opened, large
// payloads for names not registered, and acks for blocks never sent (to
// a side that asked for acks) are dropped: nothing delivered, sent or
// stored, no error.
func TestIgnoredExtensionsAndAcks(t *testing.T) {
	v := newVictimWith(t, FeedOptions{Ack: true, Extensions: []string{"mine"}})
	v.s.TakeAcks()                                  // the writer sent no Data: nothing to report
	big := bytes.Repeat([]byte{2}, wire.MaxBody-16) // fits a frame with any id
	for _, c := range []struct {
		ch uint64
		m  wire.Message
	}{
		{0, &wire.Options{Extensions: []string{"mine", "other"}, Ack: true}},
		{0, &wire.Extension{ID: 0, Payload: []byte("no stream extensions here")}},
		{0, &wire.Extension{ID: 1 << 62, Payload: big}},
		{0, &wire.Have{Start: 0, Length: 1, Ack: true}},
		{1, &wire.Options{Extensions: []string{"other"}}},
		{1, &wire.Extension{ID: 0, Payload: big}}, // "other": not registered
		{1, &wire.Extension{ID: 1, Payload: big}}, // past the list
		{9, &wire.Options{Extensions: []string{"mine"}}},
		{9, &wire.Extension{ID: 0, Payload: big}},
		{1, &wire.Have{Start: 0, Length: 1, Ack: true}},       // never sent
		{1, &wire.Have{Start: 1 << 62, Length: 1, Ack: true}}, // past any feed
		{9, &wire.Have{Start: 0, Length: 1, Ack: true}},       // channel never opened
	} {
		if err := v.injectOn(c.ch, c.m); err != nil {
			t.Fatalf("channel %d %T: %v", c.ch, c.m, err)
		}
	}
	if msgs := v.s.TakeExtensions(); len(msgs) != 0 {
		t.Errorf("delivered %d extension messages", len(msgs))
	}
	if acks := v.s.TakeAcks(); len(acks) != 0 {
		t.Errorf("reported acks %v", acks)
	}
	for _, fr := range v.output() {
		t.Fatalf("sent %v in answer to ignored input", fr.Type)
	}
	v.unchanged()
}

// A15: a full-mode replica told of 2^53 blocks asks for at most
// maxWantsOut windows and returns at once, instead of walking 2^33 of
// them on every call.
func TestHugeHaveFullMode(t *testing.T) {
	v := newVictimWith(t, FeedOptions{Full: true, Live: true})
	v.output()
	if err := v.inject(&wire.Have{Start: 1<<53 - 1, Length: 1}); err != nil {
		t.Fatal(err)
	}
	wants := 0
	for _, fr := range v.output() {
		if fr.Type == wire.TypeWant {
			wants++
		}
	}
	if wants == 0 || wants > maxWantsOut {
		t.Fatalf("%d Wants after a Have of 2^53 blocks, want 1..%d", wants, maxWantsOut)
	}
}

// A3 and A15: malformed bodies and bitfields that would expand beyond
// the window close the connection.
func TestMalformed(t *testing.T) {
	v := newVictim(t)
	for _, fr := range []wire.Frame{
		{Channel: 1, Type: wire.TypeHave, Body: []byte{0x0b}},                         // group wire type
		{Channel: 1, Type: wire.TypeData, Body: []byte{0x08, 0x01, 0x12, 0x7f, 0x01}}, // length past the end
		{Channel: 1, Type: wire.TypeRequest, Body: []byte{0x10, 0x01}},                // required index missing
		{Channel: 1, Type: wire.TypeOpen, Body: []byte{0x0a, 0x01, 0x00}},             // short discovery key
		// Have{start 0, bitfield: a run of 2^40 0xff bytes}.
		{Channel: 1, Type: wire.TypeHave, Body: append([]byte{0x08, 0x00, 0x1a, 0x06}, appendUvarint(nil, 1<<42|3)...)},
	} {
		if err := v.s.Receive(fr); !errors.Is(err, ErrProtocol) {
			t.Fatalf("%v %x: err = %v, want ErrProtocol", fr.Type, fr.Body, err)
		}
	}
}

func appendUvarint(b []byte, x uint64) []byte {
	for x >= 0x80 {
		b = append(b, byte(x)|0x80)
		x >>= 7
	}
	return append(b, byte(x))
}
