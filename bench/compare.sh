#!/usr/bin/env bash
# bench/compare.sh: run the JS hypercore 9 bench.js workloads and the
# matching Go benchmarks of package feed, and print a comparison table
# against the performance targets.
#
# Usage: bench/compare.sh            (from anywhere)
# Env:   JS_SCALE=N  multiply the JS/Go op counts (default 1)
#        SEEK_BENCHTIME=d  Go benchtime for BenchmarkSeek (default 1s;
#                          50 000 seeks take only a few ms in Go)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
scale=${JS_SCALE:-1}
seek_benchtime=${SEEK_BENCHTIME:-1s}

source bench/lib.sh
need_js compare.sh

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

machine

go test -c -o "$tmp/feed.test" ./feed

# name | js args | go bench regexp | go blocks per op | js count
workloads=(
  "append 1KiB b128|--workload append --block-size 1024 --batch 128|BenchmarkAppend/block=1KiB/batch=128\$|128|100000"
  "append 64KiB b128|--workload append --block-size 65536 --batch 128|BenchmarkAppend/block=64KiB/batch=128\$|128|4096"
  "append 1KiB b1|--workload append --block-size 1024 --batch 1|BenchmarkAppend/block=1KiB/batch=1\$|1|5000"
  "append 64KiB b1|--workload append --block-size 65536 --batch 1|BenchmarkAppend/block=64KiB/batch=1\$|1|2000"
  "get-seq 4KiB|--workload get-seq --block-size 4096|BenchmarkGet/seq\$|1|50000"
  "get-random 4KiB|--workload get-random --block-size 4096|BenchmarkGet/random\$|1|50000"
  "seek|--workload seek --block-size 4096|BenchmarkSeek\$|1|50000"
)

results="$tmp/results.tsv"
: >"$results"
n=0
for w in "${workloads[@]}"; do
  IFS='|' read -r name jsargs gore per count <<<"$w"
  count=$((count * scale))
  n=$((n + 1))
  echo "running $name ..." >&2
  jsdir="$tmp/js$n"
  # Each side starts with no dirty pages of the run before it to write
  # back: the appends write 100 MB, which the kernel flushes meanwhile.
  sync
  # shellcheck disable=SC2086
  js=$(node tests/interop/js/bench.js $jsargs --count "$count" --rand-seed 1 --dir "$jsdir")
  rm -rf "$jsdir"
  # Go: the same number of blocks for appends and gets; seeks by time.
  case $name in
    seek) bt=$seek_benchtime ;;
    *) bt="$(( (count + per - 1) / per ))x" ;;
  esac
  sync
  gout=$(cd "$tmp" && ./feed.test -test.run '^$' -test.bench "^$gore" -test.benchtime "$bt" -test.benchmem)
  gline=$(grep -E '^Benchmark' <<<"$gout" | tail -1)
  [ -n "$gline" ] || { echo "compare.sh: no Go result for $name:" >&2; echo "$gout" >&2; exit 1; }
  printf '%s\t%s\t%s\t%s\n' "$name" "$per" "$js" "$gline" >>"$results"
done

blk=$(cd "$tmp" && ./feed.test -test.run '^$' -test.bench '^BenchmarkBlake2b/64KiB$' -test.benchtime 1s | grep -E '^Benchmark' | tail -1)

python3 - "$results" "$blk" <<'PY'
import json, re, sys

def metrics(line):
    # "BenchmarkX-2  N  123 ns/op  45.6 MB/s  789 blocks/s ..."
    f = line.split()
    m = {}
    for i in range(2, len(f) - 1, 2):
        try:
            m[f[i + 1]] = float(f[i])
        except ValueError:
            pass
    return m

blake = metrics(sys.argv[2]).get("MB/s", 0.0)
targets = {
    "append 1KiB b128": 4.0,
    "append 64KiB b128": 1.5,
    "get-seq 4KiB": 20.0,
    "get-random 4KiB": 20.0,
    "seek": 20.0,
}
rows = []
extra = {}
for line in open(sys.argv[1]):
    name, per, js, gline = line.rstrip("\n").split("\t", 3)
    js = json.loads(js)
    g = metrics(gline)
    go_ops = g.get("blocks/s") or g.get("seeks/s") or (1e9 / g["ns/op"] * int(per))
    js_ops = js["opsPerSec"]
    ratio = go_ops / js_ops
    t = targets.get(name)
    target, met = "-", "-"
    if t is not None:
        target = f">={t:g}x"
        ok = ratio >= t
        if name == "append 64KiB b128":
            pct = g.get("MB/s", 0) / blake * 100 if blake else 0
            extra["pct"] = pct
            extra["go64"] = g.get("MB/s", 0)
            target += ", >=85% B2b"
            ok = ok and pct >= 85
        met = "yes" if ok else "NO"
    js_mb = js["bytesPerSec"] / 1e6
    go_mb = g.get("MB/s", 0.0)
    rows.append((name, f"{js_ops:,.0f}", f"{go_ops:,.0f}", f"{ratio:.2f}",
                 f"{js_mb:.1f}" if js_mb else "-", f"{go_mb:.1f}" if go_mb else "-", target, met))

hdr = ("workload", "JS ops/s", "Go ops/s", "Go/JS", "JS MB/s", "Go MB/s", "target", "met")
w = [max(len(r[i]) for r in rows + [hdr]) for i in range(len(hdr))]
def out(r):
    print("| " + " | ".join(c.ljust(w[i]) for i, c in enumerate(r)) + " |")
out(hdr)
print("|" + "|".join("-" * (x + 2) for x in w) + "|")
for r in rows:
    out(r)
print()
print("ops = blocks appended, blocks read, or seeks; MB = 10^6 bytes.")
print(f"BLAKE2b-256 of 64 KiB (x/crypto, one core): {blake:.1f} MB/s")
if "pct" in extra:
    print(f"Go 64 KiB batched append: {extra['go64']:.1f} MB/s = {extra['pct']:.1f}% of BLAKE2b")
PY
