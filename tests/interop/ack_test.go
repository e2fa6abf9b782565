package interop_test

import (
	"encoding/hex"
	"math/rand/v2"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/hyperfs/hyperfs/feed"
	"github.com/hyperfs/hyperfs/internal/jsharness"
	"github.com/hyperfs/hyperfs/peer"
)

// Stream extensions with a JS peer, both ways (spec 4.9): channel 0
// carries each side's sorted names and its messages. JS numbers
// "hyperfs-stream" 1 (after "aa-js-only"), hyperfs 0 (before
// "zz-go-only"), so each side must map ids through the other's list. JS
// sends first (its Options go out just before), then hyperfs, whose
// message JS echoes.
func TestStreamExtensionsWithJS(t *testing.T) {
	js := newJS(t)
	type msg struct {
		from peer.Remote
		text string
	}
	got := make(chan msg, 16)
	sw, err := peer.New(peer.Config{
		StreamExtensions: []string{"zz-go-only", "hyperfs-stream"},
		OnStreamExtension: func(from peer.Remote, name string, payload []byte) {
			got <- msg{from, name + ":" + string(payload)}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sw.Close() })
	addr, err := sw.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	next := func() msg {
		t.Helper()
		select {
		case m := <-got:
			return m
		case <-time.After(scriptTimeout):
			t.Fatal("no stream extension message from the JS peer")
			return msg{}
		}
	}
	// The feed is only there because peer.js needs one; no hyperfs feed
	// matches it, so no channel opens: stream messages need none.
	key := make([]byte, 32)
	key[0] = 1
	c := js.Start(t, "peer.js", "--dir", t.TempDir(), "--key", hex.EncodeToString(key), "--connect", addr.String(),
		"--live", "--serve", "--stream-extensions", "aa-js-only,hyperfs-stream", "--stream-hello", "hyperfs-stream:hello from js")
	c.Next("serving")
	m := next()
	if m.text != "hyperfs-stream:hello from js" || m.from.Addr == "" || m.from.PublicKey == ([32]byte{}) {
		t.Fatalf("hyperfs received %+v, want hello from js with the sender", m)
	}
	// Sent, as JS may have registered it, and dropped there.
	if n := sw.SendStreamExtension("zz-go-only", []byte("nobody")); n != 1 {
		t.Fatalf("zz-go-only went to %d peers, want 1", n)
	}
	if n := sw.SendStreamExtension("hyperfs-stream", []byte("hello from go")); n != 1 {
		t.Fatalf("hyperfs-stream went to %d peers, want 1", n)
	}
	if e := c.Next("streamExtension"); e["streamExtension"] != "hyperfs-stream" || e["message"] != "hello from go" {
		t.Fatalf("JS received %v, want hello from go (and not zz-go-only)", e)
	}
	if m := next(); m.text != "hyperfs-stream:echo:hello from go" {
		t.Fatalf("hyperfs received %q, want the echo", m.text)
	}
}

// Acks with a JS peer (spec 4.8.8), both ways: a hyperfs writer that
// asks for them hears from a JS clone of each block it stored, once; a
// JS writer replicating with ack: true hears the same from a hyperfs
// clone.
func TestAcksWithJS(t *testing.T) {
	js := newJS(t)
	t.Run("js-acks", func(t *testing.T) {
		f, err := feed.Create(feed.DirStorage{Dir: t.TempDir()}, feed.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		var g goBlocks
		appendRandom(t, f, rand.New(rand.NewPCG(5, 6)), genSpec{count: 300, maxBatch: 16, maxSize: 8192}, &g)
		n := int(f.Length())
		acks := make(chan uint64, n+16)
		var from peer.Remote
		_, addr := serveFeed(t, f, peer.FeedOptions{Live: true, Ack: true, OnAck: func(r peer.Remote, i uint64) {
			from = r // one connection: one goroutine calls this
			acks <- i
		}})
		c := js.Start(t, "peer.js", "--dir", t.TempDir(), "--key", hex.EncodeToString(f.Key()), "--connect", addr,
			"--wait-length", strconv.Itoa(n), "--serve")
		c.Next("serving")
		seen := make([]bool, n)
		for range n {
			select {
			case i := <-acks:
				if i >= uint64(n) || seen[i] {
					t.Fatalf("ack for block %d (twice or out of range)", i)
				}
				seen[i] = true
			case <-time.After(scriptTimeout):
				t.Fatalf("acks stopped; missing %v", missing(seen))
			}
		}
		if from.PublicKey == ([32]byte{}) {
			t.Error("acks without the peer's key")
		}
		select {
		case i := <-acks:
			t.Fatalf("an ack too many: block %d", i)
		default:
		}
	})
	t.Run("go-acks", func(t *testing.T) {
		dir, w, key := jsFeed(t, js, 200, 0x64)
		writer := js.Start(t, "peer.js", "--dir", dir, "--listen", "0", "--live", "--serve", "--ack")
		port := jsharness.Num(t, writer.Next("listening"), "listening")
		r := replicaAt(t, t.TempDir(), key)
		sw := newSwarm(t)
		if err := sw.Add(r, peer.FeedOptions{Full: true, Live: true}); err != nil {
			t.Fatal(err)
		}
		if err := sw.Dial(net.JoinHostPort("127.0.0.1", strconv.FormatUint(port, 10))); err != nil {
			t.Fatal(err)
		}
		// Every Data stored is acknowledged, as JS does, the hash-only
		// answer that told the live replica the length included: JS
		// reports the last block twice.
		seen := make([]bool, w.Length)
		for left := w.Length; left > 0; {
			i := jsharness.Num(t, writer.Next("ack"), "ack")
			if i >= w.Length {
				t.Fatalf("JS heard an ack for block %d of %d", i, w.Length)
			}
			if !seen[i] {
				seen[i] = true
				left--
			}
		}
		waitBlocks(t, r, w.Length)
	})
}

func missing(seen []bool) []int {
	var m []int
	for i, ok := range seen {
		if !ok {
			m = append(m, i)
		}
	}
	return m
}
