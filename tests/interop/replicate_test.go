package interop_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hyperfs/hyperfs/internal/jsharness"

	"github.com/hyperfs/hyperfs/feed"
	"github.com/hyperfs/hyperfs/peer"
)

func newSwarm(t *testing.T) *peer.Swarm {
	t.Helper()
	sw, err := peer.New(peer.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sw.Close() })
	return sw
}

// serveFeed replicates f with opts on a new swarm listening on loopback,
// and returns the swarm and its address.
func serveFeed(t *testing.T, f *feed.Feed, opts peer.FeedOptions) (*peer.Swarm, string) {
	t.Helper()
	sw := newSwarm(t)
	if err := sw.Add(f, opts); err != nil {
		t.Fatal(err)
	}
	addr, err := sw.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return sw, addr.String()
}

// waitBlocks waits until f holds blocks [0, n).
func waitBlocks(t *testing.T, f *feed.Feed, n uint64) {
	t.Helper()
	deadline := time.After(scriptTimeout)
	for {
		// Take the channel before looking, or a change between the look
		// and the wait is never seen.
		changed := f.Changed()
		if f.Length() >= n && f.Downloaded(0, n) >= n {
			return
		}
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("have %d of %d blocks (length %d) after %v", f.Downloaded(0, n), n, f.Length(), scriptTimeout)
		}
	}
}

func dataSum(t *testing.T, f *feed.Feed) string {
	t.Helper()
	h := sha256.New()
	for i := range f.Length() {
		b, err := f.GetLocal(i)
		if err != nil {
			t.Fatalf("block %d: %v", i, err)
		}
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func replicaAt(t *testing.T, dir string, key []byte) *feed.Feed {
	t.Helper()
	r, err := feed.CreateReplica(feed.DirStorage{Dir: dir}, key, feed.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// jsFeed writes a feed of count mixed-size blocks with write.js.
func jsFeed(t *testing.T, js jsEnv, count int, seed byte) (dir string, w summary, key []byte) {
	t.Helper()
	dir = t.TempDir()
	js.Run(t, &w, "write.js", "--dir", dir, "--seed", strings.Repeat(fmt.Sprintf("%02x", seed), 32),
		"--count", strconv.Itoa(count), "--max-size", "65536", "--rand-seed", strconv.Itoa(int(seed)), "--max-batch", "64")
	key, _ = hex.DecodeString(w.Key)
	return dir, w, key
}

// JS seeds over TCP; hyperfs clones every block, then fetches sparsely.
func TestJSSeedsGoClones(t *testing.T) {
	js := newJS(t)
	dir, w, key := jsFeed(t, js, 20000, 0x61)
	seeder := js.Start(t, "peer.js", "--dir", dir, "--listen", "0", "--live", "--serve")
	port := jsharness.Num(t, seeder.Next("listening"), "listening")
	addr := net.JoinHostPort("127.0.0.1", strconv.FormatUint(port, 10))

	t.Run("full", func(t *testing.T) {
		r := replicaAt(t, t.TempDir(), key)
		sw := newSwarm(t)
		if err := sw.Add(r, peer.FeedOptions{Full: true, Live: true}); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if err := sw.Dial(addr); err != nil {
			t.Fatal(err)
		}
		waitBlocks(t, r, w.Length)
		t.Logf("cloned %d blocks, %d bytes in %v", w.Length, w.ByteLength, time.Since(start))
		if got := dataSum(t, r); got != w.DataSha256 || r.ByteLength() != w.ByteLength {
			t.Fatalf("clone: sha %s, %d bytes; JS wrote %s, %d bytes", got, r.ByteLength(), w.DataSha256, w.ByteLength)
		}
		if res, err := r.Audit(t.Context()); err != nil || res.Invalid != 0 {
			t.Fatalf("audit %+v, %v", res, err)
		}
	})
	t.Run("sparse", func(t *testing.T) {
		r := replicaAt(t, t.TempDir(), key)
		sw := newSwarm(t)
		if err := sw.Add(r, peer.FeedOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := sw.Dial(addr); err != nil {
			t.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(1, 2))
		picked := map[uint64]bool{}
		for range 10 {
			i := rng.Uint64N(w.Length)
			picked[i] = true
			ctx, cancel := context.WithTimeout(t.Context(), scriptTimeout)
			b, err := r.Get(ctx, i)
			cancel()
			if err != nil {
				t.Fatalf("get %d: %v", i, err)
			}
			if got := hexSum(b); got != w.Blocks[i] {
				t.Fatalf("block %d: sha %s, want %s", i, got, w.Blocks[i])
			}
		}
		if got := r.Downloaded(0, r.Length()); got != uint64(len(picked)) {
			t.Fatalf("downloaded %d blocks, want only the %d asked for", got, len(picked))
		}
	})
}

// hyperfs seeds over TCP; JS clones fully and sparsely.
func TestGoSeedsJSClones(t *testing.T) {
	js := newJS(t)
	dir := t.TempDir()
	sk, _ := seedKey(0x62)
	f, err := feed.Create(feed.DirStorage{Dir: dir}, feed.Options{SecretKey: sk})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var g goBlocks
	appendRandom(t, f, rand.New(rand.NewPCG(3, 4)), genSpec{count: 20000, maxBatch: 64, maxSize: 65536}, &g)
	_, addr := serveFeed(t, f, peer.FeedOptions{Live: true})
	key := hex.EncodeToString(f.Key())

	t.Run("full", func(t *testing.T) {
		start := time.Now()
		c := js.Start(t, "peer.js", "--dir", t.TempDir(), "--key", key, "--connect", addr, "--wait-length", strconv.Itoa(len(g.hashes)))
		res := c.Next("audit")
		t.Logf("JS cloned %d blocks in %v", len(g.hashes), time.Since(start))
		if res["dataSha256"] != g.dataSha256() || jsharness.Num(t, res, "length") != f.Length() {
			t.Fatalf("JS clone: %v; want sha %s, length %d", res, g.dataSha256(), f.Length())
		}
		audit := res["audit"].(map[string]any)
		if jsharness.Num(t, audit, "invalid") != 0 || jsharness.Num(t, audit, "valid") != f.Length() {
			t.Fatalf("JS audit %v", audit)
		}
	})
	t.Run("sparse", func(t *testing.T) {
		want := []int{0, 4097, 12345, 19999, 777}
		var list []string
		for _, i := range want {
			list = append(list, strconv.Itoa(i))
		}
		c := js.Start(t, "peer.js", "--dir", t.TempDir(), "--key", key, "--connect", addr, "--sparse", "--get", strings.Join(list, ","))
		for _, i := range want {
			m := c.Next("got")
			if int(jsharness.Num(t, m, "got")) != i || m["sha256"] != g.hashes[i] {
				t.Fatalf("JS got %v, want block %d sha %s", m, i, g.hashes[i])
			}
		}
		m := c.Next("downloaded")
		if jsharness.Num(t, m, "downloaded") != uint64(len(want)) {
			t.Fatalf("JS sparse replica downloaded %v, want %d blocks", m, len(want))
		}
		res := c.Next("audit")
		if audit := res["audit"].(map[string]any); jsharness.Num(t, audit, "invalid") != 0 {
			t.Fatalf("JS audit %v", audit)
		}
	})
}

// A JS writer appends while hyperfs follows live; and hyperfs appends
// while a JS live reader receives each block.
func TestLiveBothWays(t *testing.T) {
	js := newJS(t)
	const n = 20
	t.Run("js-writes", func(t *testing.T) {
		dir, w, key := jsFeed(t, js, 5, 0x63)
		writer := js.Start(t, "peer.js", "--dir", dir, "--listen", "0", "--live", "--append", strconv.Itoa(n), "--serve")
		port := jsharness.Num(t, writer.Next("listening"), "listening")
		r := replicaAt(t, t.TempDir(), key)
		sw := newSwarm(t)
		if err := sw.Add(r, peer.FeedOptions{Full: true, Live: true}); err != nil {
			t.Fatal(err)
		}
		if err := sw.Dial(net.JoinHostPort("127.0.0.1", strconv.FormatUint(port, 10))); err != nil {
			t.Fatal(err)
		}
		waitBlocks(t, r, w.Length)
		var lat []time.Duration
		for k := range n {
			start := time.Now()
			fmt.Fprintln(writer.Stdin, "append")
			idx := jsharness.Num(t, writer.Next("appended"), "appended")
			if idx != w.Length+uint64(k) {
				t.Fatalf("JS appended block %d, want %d", idx, w.Length+uint64(k))
			}
			waitBlocks(t, r, idx+1)
			lat = append(lat, time.Since(start))
		}
		slices.Sort(lat)
		t.Logf("JS append to hyperfs replica: p50 %v, max %v", lat[len(lat)/2], lat[len(lat)-1])
	})
	t.Run("go-writes", func(t *testing.T) {
		dir := t.TempDir()
		f, err := feed.Create(feed.DirStorage{Dir: dir}, feed.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		_, addr := serveFeed(t, f, peer.FeedOptions{Live: true})
		reader := js.Start(t, "peer.js", "--dir", t.TempDir(), "--key", hex.EncodeToString(f.Key()), "--connect", addr, "--live", "--follow", strconv.Itoa(n))
		var lat []time.Duration
		for k := range n {
			b := []byte(fmt.Sprintf("live block %d\n", k))
			start := time.Now()
			if err := f.Append(b); err != nil {
				t.Fatal(err)
			}
			m := reader.Next("block")
			if int(jsharness.Num(t, m, "block")) != k || m["sha256"] != hexSum(b) {
				t.Fatalf("JS reader got %v, want block %d", m, k)
			}
			lat = append(lat, time.Since(start))
		}
		slices.Sort(lat)
		t.Logf("hyperfs append to JS live reader: p50 %v, max %v", lat[len(lat)/2], lat[len(lat)-1])
	})
}

var (
	buildOnce sync.Once
	binPath   string
	binErr    error
)

// hyperfsBinary builds cmd/hyperfs once per test binary.
func hyperfsBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "hyperfs-interop-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "hyperfs")
		out, err := exec.Command("go", "build", "-o", binPath, "../../cmd/hyperfs").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// A JS writer appends while `hyperfs cat --peer --follow` prints every
// new block as it arrives.
func TestCatFollowJSWriter(t *testing.T) {
	js := newJS(t)
	bin := hyperfsBinary(t)
	dir, w, _ := jsFeed(t, js, 3, 0x64)
	writer := js.Start(t, "peer.js", "--dir", dir, "--listen", "0", "--live", "--append", "10", "--serve")
	port := jsharness.Num(t, writer.Next("listening"), "listening")
	ctx, cancel := context.WithTimeout(t.Context(), scriptTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--home", t.TempDir(), "cat", w.Key,
		"--peer", net.JoinHostPort("127.0.0.1", strconv.FormatUint(port, 10)), "--follow")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Signal(syscall.SIGINT)
		if err := cmd.Wait(); err != nil {
			t.Errorf("cat --follow: %v\nstderr:\n%s", err, stderr.String())
		}
	}()
	// What is there first, then each appended block as it comes.
	readN := func(n uint64) []byte {
		t.Helper()
		b := make([]byte, n)
		if _, err := io.ReadFull(stdout, b); err != nil {
			t.Fatalf("read %d bytes from cat --follow: %v\nstderr:\n%s", n, err, stderr.String())
		}
		return b
	}
	readN(w.ByteLength)
	var lat []time.Duration
	for range 10 {
		start := time.Now()
		fmt.Fprintln(writer.Stdin, "append")
		m := writer.Next("appended")
		if b := readN(jsharness.Num(t, m, "size")); hexSum(b) != m["sha256"] {
			t.Fatalf("cat --follow printed block %v wrong", m["appended"])
		}
		lat = append(lat, time.Since(start))
	}
	slices.Sort(lat)
	t.Logf("JS append to hyperfs cat --follow output: p50 %v, max %v", lat[len(lat)/2], lat[len(lat)-1])
}

// Feed extensions with a JS peer, both ways (spec 4.9): each side numbers
// its names in its own sorted list ("aa-first" makes JS's id for the
// shared name 1 while ours is 0), and messages go only to a name both
// registered.
func TestExtensionsWithJS(t *testing.T) {
	js := newJS(t)
	f, err := feed.Create(feed.DirStorage{Dir: t.TempDir()}, feed.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got := make(chan string, 16)
	sw, addr := serveFeed(t, f, peer.FeedOptions{
		Live:       true,
		Extensions: []string{"zz-ours-only", "hyperfs-echo"},
		OnExtension: func(name string, payload []byte) {
			got <- name + ":" + string(payload)
		},
	})
	reader := js.Start(t, "peer.js", "--dir", t.TempDir(), "--key", hex.EncodeToString(f.Key()), "--connect", addr,
		"--live", "--serve", "--extensions", "aa-first,hyperfs-echo")
	reader.Next("serving")
	// The name reaches us in the JS channel's Options; until then there
	// is no peer to send to.
	deadline := time.Now().Add(scriptTimeout)
	for sw.SendExtension(f, "hyperfs-echo", []byte("hello from go")) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the JS peer never announced hyperfs-echo")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n := sw.SendExtension(f, "zz-ours-only", []byte("nobody")); n != 0 {
		t.Errorf("sent an extension the JS peer did not register to %d peers", n)
	}
	m := reader.Next("extension")
	if m["extension"] != "hyperfs-echo" || m["message"] != "hello from go" {
		t.Fatalf("JS received %v", m)
	}
	select {
	case s := <-got:
		if s != "hyperfs-echo:echo:hello from go" {
			t.Fatalf("Go received %q", s)
		}
	case <-time.After(scriptTimeout):
		t.Fatal("no echo from the JS peer")
	}
}
