package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
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

// BenchmarkReadData reads a local feed's data whole with dd bs=1M: the
// backing hypercore data file (in the page cache); through a fresh mount
// (the daemon serves every byte and the engine hashes each block once
// after open); with O_DIRECT through a mount whose engine verified every
// block already (the daemon's own cost); and through a mount that read it
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
	b.Run("path=backing", func(b *testing.B) {
		dd(b, filepath.Join(info.Path, "data")) // warm the page cache
		b.SetBytes(int64(size))
		b.ResetTimer()
		for range b.N {
			dd(b, filepath.Join(info.Path, "data"))
		}
	})
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
		m := h.mount()
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
		m := h.mount()
		defer m.stop()
		dd(b, m.path("big", "data"))
		b.SetBytes(int64(size))
		b.ResetTimer()
		for range b.N {
			dd(b, m.path("big", "data"))
		}
	})
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
