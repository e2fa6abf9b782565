package interop_test

import (
	"log/slog"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hyperfs/hyperfs/internal/jsharness"
	"github.com/hyperfs/hyperfs/peer"
)

// A JS peer whose block reads hang (peer.js --stall: its replicator never
// sends the Data it was asked for, while its stream stays alive) does not
// hold a clone up: hyperfs drops it after the request timeout, and the
// blocks it held go to the JS peer that answers. Dialled first, the
// staller is asked for blocks before the good peer is connected.
func TestStallingJSPeer(t *testing.T) {
	js := newJS(t)
	dir, w, key := jsFeed(t, js, 2000, 0x73)
	stalling := js.Start(t, "peer.js", "--dir", copyDir(t, dir), "--listen", "0", "--live", "--serve", "--stall")
	good := js.Start(t, "peer.js", "--dir", dir, "--listen", "0", "--live", "--serve")
	addrOf := func(p *jsharness.Proc) string {
		port := jsharness.Num(t, p.Next("listening"), "listening")
		return net.JoinHostPort("127.0.0.1", strconv.FormatUint(port, 10))
	}
	stallAddr, goodAddr := addrOf(stalling), addrOf(good)

	var logs jsharness.LogBuffer
	sw, err := peer.New(peer.Config{
		RequestTimeout: 500 * time.Millisecond,
		Logger:         slog.New(slog.NewTextHandler(&logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sw.Close() })
	r := replicaAt(t, t.TempDir(), key)
	if err := sw.Add(r, peer.FeedOptions{Full: true, Live: true}); err != nil {
		t.Fatal(err)
	}
	if err := sw.Dial(stallAddr); err != nil {
		t.Fatal(err)
	}
	// The staller knows the length and holds requests before the good
	// peer comes.
	deadline := time.After(scriptTimeout)
	for {
		changed := r.Changed()
		if r.Length() == w.Length {
			break
		}
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("the stalling peer's length never arrived (have %d)", r.Length())
		}
	}
	if got := r.Downloaded(0, r.Length()); got != 0 {
		t.Fatalf("the stalling peer delivered %d blocks", got)
	}
	start := time.Now()
	if err := sw.Dial(goodAddr); err != nil {
		t.Fatal(err)
	}
	waitBlocks(t, r, w.Length)
	t.Logf("cloned %d blocks in %v with a staller", w.Length, time.Since(start))
	if got := dataSum(t, r); got != w.DataSha256 {
		t.Fatalf("clone: sha %s, JS wrote %s", got, w.DataSha256)
	}
	if !strings.Contains(logs.String(), "peer stopped answering requests") {
		t.Errorf("the staller was not dropped for its requests; log:\n%s", logs.String())
	}
}
