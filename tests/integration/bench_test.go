package integration

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// benchMiB is the size of the feed the read benchmarks read;
// HYPERFS_BENCH_MB changes it (1024 for the 1 GiB figure).
func benchMiB() int {
	if s := os.Getenv("HYPERFS_BENCH_MB"); s != "" {
		if n, err := strconv.Atoi(s); err == nil && n > 0 {
			return n
		}
	}
	return 256
}

// BenchmarkReadData reads a local feed's data whole with dd bs=1M (and
// cat where named): the backing hypercore data file (in the page cache);
// through a fresh mount (the daemon serves every byte and the engine
// hashes each block once after open); through a mount whose first read
// verified every block, so that data passes through to the data file
// (the kernel reads it, the daemon serves no READ; checked); and, with
// --no-passthrough, with O_DIRECT through a mount that verified every
// block already (the daemon's own cost) and through a mount that read it
// before (the kernel's page cache, KEEP_CACHE).
func BenchmarkReadData(b *testing.B) {
	h := newHome(b)
	size := benchMiB() << 20
	src := filepath.Join(b.TempDir(), "src")
	if out, err := exec.Command("dd", "if=/dev/urandom", "of="+src, "bs=1M", "count="+strconv.Itoa(benchMiB()), "status=none").CombinedOutput(); err != nil {
		b.Fatalf("dd: %v %s", err, out)
	}
	h.run(nil, "create", "big")
	h.run(nil, "append", "big", src, "--block-size", "65536")
	os.Remove(src)
	var info struct{ Path string }
	if err := json.Unmarshal([]byte(h.run(nil, "info", "big", "--json")), &info); err != nil {
		b.Fatal(err)
	}
	dd := func(b *testing.B, path string) {
		if out, err := exec.Command("dd", "if="+path, "of=/dev/null", "bs=1M", "status=none").CombinedOutput(); err != nil {
			b.Fatalf("dd: %v %s", err, out)
		}
	}
	cat := func(b *testing.B, path string) {
		if out, err := exec.Command("sh", "-c", `cat "$1" >/dev/null`, "sh", path).CombinedOutput(); err != nil {
			b.Fatalf("cat: %v %s", err, out)
		}
	}
	backing := func(read func(*testing.B, string)) func(*testing.B) {
		return func(b *testing.B) {
			read(b, filepath.Join(info.Path, "data")) // warm the page cache
			b.SetBytes(int64(size))
			b.ResetTimer()
			for range b.N {
				read(b, filepath.Join(info.Path, "data"))
			}
		}
	}
	b.Run("path=backing", backing(dd))
	b.Run("path=backing-cat", backing(cat))
	passthrough := func(read func(*testing.B, string)) func(*testing.B) {
		return func(b *testing.B) {
			m := h.mount()
			defer m.stop()
			dd(b, m.path("big", "data")) // the engine verifies every block once
			waitPassthrough(b, m, "big")
			reads := dataReads(b, m, "big")
			b.SetBytes(int64(size))
			b.ResetTimer()
			for range b.N {
				read(b, m.path("big", "data"))
			}
			b.StopTimer()
			if n := dataReads(b, m, "big"); n != reads {
				b.Fatalf("the daemon served %v READs: not passed through", n-reads)
			}
		}
	}
	b.Run("path=mount-passthrough", passthrough(dd))
	b.Run("path=mount-passthrough-cat", passthrough(cat))
	b.Run("path=mount-daemon", func(b *testing.B) {
		b.SetBytes(int64(size))
		for range b.N {
			b.StopTimer()
			m := h.mount()
			b.StartTimer()
			dd(b, m.path("big", "data"))
			b.StopTimer()
			m.stop()
			b.StartTimer()
		}
	})
	b.Run("path=mount-direct-verified", func(b *testing.B) {
		m := h.mount("--no-passthrough")
		defer m.stop()
		dd(b, m.path("big", "data")) // the engine verifies every block once
		b.SetBytes(int64(size))
		b.ResetTimer()
		for range b.N {
			if out, err := exec.Command("dd", "if="+m.path("big", "data"), "of=/dev/null", "bs=1M", "iflag=direct", "status=none").CombinedOutput(); err != nil {
				b.Fatalf("dd: %v %s", err, out)
			}
		}
	})
	b.Run("path=mount-cached", func(b *testing.B) {
		m := h.mount("--no-passthrough")
		defer m.stop()
		dd(b, m.path("big", "data"))
		b.SetBytes(int64(size))
		b.ResetTimer()
		for range b.N {
			dd(b, m.path("big", "data"))
		}
	})
}

// BenchmarkReadRemote is cat of a remote feed of 100 MiB in 64 KiB blocks
// through a mount that follows it: each round mounts a fresh home with
// --peer (untimed, until the replica knows the length), then times cat of
// its data while the blocks stream from a mount of the writer over
// loopback TCP (the mount's readahead keeps a window of them asked for).
// bench/mount-remote.sh sets this beside a JS hypercore 9 clone.
func BenchmarkReadRemote(b *testing.B) {
	const mib, block = 100, 65536
	a := newHome(b)
	src := filepath.Join(b.TempDir(), "src")
	if out, err := exec.Command("dd", "if=/dev/urandom", "of="+src, "bs=1M", "count="+strconv.Itoa(mib), "status=none").CombinedOutput(); err != nil {
		b.Fatalf("dd: %v %s", err, out)
	}
	key := strings.TrimSpace(a.run(nil, "create", "big"))
	a.run(nil, "append", "big", src, "--block-size", strconv.Itoa(block))
	os.Remove(src)
	ma := a.mount("--listen", "127.0.0.1:0")
	addr := ma.addr()
	length := float64(mib << 20 / block)
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer null.Close()
	b.SetBytes(mib << 20)
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		mb := newHome(b).mount("--peer", addr)
		infoOf(b, mb, key, func(i map[string]any) bool { return i["length"] == length })
		var errb strings.Builder
		cat := exec.Command("cat", mb.path(key, "data"))
		cat.Stdout, cat.Stderr = null, &errb // the bytes are checked by TestTwoMounts
		b.StartTimer()
		if err := cat.Run(); err != nil {
			b.Fatalf("cat: %v %s; mount stderr:\n%s", err, errb.String(), mb.stderrText())
		}
		b.StopTimer()
		if info := infoOf(b, mb, key, func(map[string]any) bool { return true }); info["downloaded"] != length {
			b.Fatalf("after cat: %v", info)
		}
		mb.stop()
		b.StartTimer()
	}
}

// BenchmarkTailRemote times an append on one mount until its bytes are in
// the output of tail -f on another mount that follows the feed over
// loopback TCP, one append at a time, and reports the p50 and p90. poll
// is tail's --sleep-interval: GNU tail polls files on FUSE, so with its
// default of 1 s the figure is mostly the wait for tail's next poll (the
// appends come at random phases of it, else each would wait a whole
// second); with 10 ms it is mostly the way through hyperfs: A announces
// the block, B's replica learns the new length, the mount tells the
// kernel, and tail's READ fetches the block. Run with -benchtime Nx.
func BenchmarkTailRemote(b *testing.B) {
	for _, poll := range []time.Duration{10 * time.Millisecond, time.Second} {
		b.Run(fmt.Sprintf("poll=%v", poll), func(b *testing.B) {
			ha, hb := newHome(b), newHome(b)
			key := strings.TrimSpace(ha.run(nil, "create", "log"))
			ha.run([]byte("first\n"), "append", "log", "--lines")
			ma := ha.mount("--listen", "127.0.0.1:0")
			mb := hb.mount("--peer", ma.addr())
			infoOf(b, mb, key, func(i map[string]any) bool { return i["length"] == float64(1) })
			out := &output{more: make(chan struct{}, 1)}
			tail := exec.Command("tail", "-c", "+1", "-s", strconv.FormatFloat(poll.Seconds(), 'f', -1, 64), "-f", mb.path(key, "data"))
			tail.Stdout = out
			if err := tail.Start(); err != nil {
				b.Fatal(err)
			}
			defer func() { tail.Process.Kill(); tail.Wait() }()
			out.waitFor(b, "first\n", remoteFollowWait)
			w, err := os.OpenFile(ma.path("log", "data"), os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				b.Fatal(err)
			}
			defer w.Close()
			lat := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for k := range b.N {
				b.StopTimer()
				<-time.After(rand.N(poll)) // a random phase of tail's poll
				b.StartTimer()
				line := fmt.Sprintf("append %d\n", k)
				start := time.Now()
				if _, err := w.WriteString(line); err != nil {
					b.Fatal(err)
				}
				out.waitFor(b, line, remoteFollowWait)
				lat = append(lat, time.Since(start))
			}
			b.StopTimer()
			slices.Sort(lat)
			ms := func(q float64) float64 { return float64(lat[int(q*float64(len(lat)-1))]) / 1e6 }
			b.ReportMetric(ms(0.5), "p50-ms")
			b.ReportMetric(ms(0.9), "p90-ms")
		})
	}
}

// BenchmarkAppend appends through one O_APPEND descriptor, one write per
// block, and reports appends/s.
func BenchmarkAppend(b *testing.B) {
	for _, size := range []int{100, 4096, 65536} {
		b.Run(fmt.Sprintf("block=%d", size), func(b *testing.B) {
			h := newHome(b)
			h.run(nil, "create", "f")
			m := h.mount()
			defer m.stop()
			f, err := os.OpenFile(m.path("f", "data"), os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			buf := make([]byte, size)
			b.SetBytes(int64(size))
			b.ResetTimer()
			for range b.N {
				if _, err := f.Write(buf); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "appends/s")
		})
	}
}
