#!/usr/bin/env bash
# bench/replicate.sh: replication throughput, sparse fetch latency and
# seeder memory, Go (hyperfs) beside JS hypercore 9, in one run.
#
#   full clone   a seeder process and CLONES sequential cloner processes over
#                loopback TCP, for two feeds: 100 MiB in 64 KiB blocks, and
#                100 000 x 1 KiB. Go: `hyperfs serve --listen` and
#                `hyperfs clone KEY --peer ADDR`; JS: bench-replicate.js seed
#                and clone. Each clone goes to a fresh directory on disk; the
#                page cache is flushed (`sync`, untimed) before each one.
#                Figures are medians over the clones, from the wall clock of
#                the cloning process (start, handshake, download, verify,
#                store; `hyperfs clone` also fsyncs at the end, JS does not).
#                JS's own clock (connect to last block) and Go's in-process
#                BenchmarkClone (./peer, two Swarms, no fsync) are shown too.
#   seeder RSS   VmHWM (/proc/PID/status) of the seeding process after the
#                CLONES clones: `hyperfs serve` and the node seeder.
#   sparse       p50/p99 of one Get of a random missing block over a warm
#                connection, 10 000 x 4 KiB feed, SPARSE_GETS distinct
#                blocks. Go: BenchmarkSparseGet (in process, two Swarms over
#                TCP); JS: bench-replicate.js sparse against a node seeder.
#
# All feeds are written once by bench-replicate.js make (same bytes for
# both) and imported into the Go seeder's home with `hyperfs import`.
# If the hyperfs CLI lacks serve/clone, the Go clone figures come from the
# in-process benchmark only and the Go seeder RSS is not measured.
#
# Usage: bench/replicate.sh            (from anywhere)
# Env:   CLONES=N          clones per feed and implementation (default 10)
#        SPARSE_GETS=N     timed sparse gets (default 1000)
#        GO_BENCHTIME=...  -benchtime of BenchmarkClone (default 5x)
#        KEEP=1            keep the temporary directory
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
clones=${CLONES:-10}
sparse_gets=${SPARSE_GETS:-1000}
go_benchtime=${GO_BENCHTIME:-5x}
js=tests/interop/js/bench-replicate.js

source bench/lib.sh
need_js replicate.sh

tmp=$(mktemp -d)
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ -n "${KEEP:-}" ]; then echo "kept $tmp" >&2; else rm -rf "$tmp"; fi
}
trap cleanup EXIT

machine

go build -o "$tmp/hyperfs" ./cmd/hyperfs
go test -c -o "$tmp/peer.test" ./peer
hyperfs=$tmp/hyperfs
cli=0
if "$hyperfs" help serve >/dev/null 2>&1 && "$hyperfs" help clone >/dev/null 2>&1; then
  cli=1
else
  echo "replicate.sh: hyperfs has no serve/clone: Go clone figures are in-process only" >&2
fi

now() { date +%s.%N; }
field() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }

# make NAME COUNT SIZE: the source feed $tmp/src-NAME; sets key and len.
make_feed() {
  local out
  out=$(node "$js" make --dir "$tmp/src-$1" --count "$2" --block-size "$3")
  key=$(field "$out" key)
  len=$(field "$out" length)
}

results=$tmp/results.tsv
: >"$results"

# start_js_seed DIR: a node seeder of DIR; sets seed_pid, seed_fd (its
# stdin: closing it stops the seeder) and port. stop_js_seed prints the
# seeder's last line, {served, vmHWMKiB}, into seed_result (not in a
# subshell: it waits for the seeder).
seeds=0
start_js_seed() {
  local i line=""
  seeds=$((seeds + 1))
  seed_log=$tmp/js-seed$seeds.out
  mkfifo "$tmp/js-seed$seeds.in"
  node "$js" seed --dir "$1" <"$tmp/js-seed$seeds.in" >"$seed_log" &
  seed_pid=$!
  pids+=("$seed_pid")
  exec {seed_fd}>"$tmp/js-seed$seeds.in"
  for ((i = 0; i < 100 && ${#line} == 0; i++)); do
    sleep 0.1
    line=$(grep -m1 listening "$seed_log" || true)
  done
  [ -n "$line" ] || { echo "replicate.sh: the node seeder did not listen" >&2; exit 1; }
  port=$(field "$line" listening)
}
stop_js_seed() {
  exec {seed_fd}>&-
  wait "$seed_pid" || { echo "replicate.sh: the node seeder failed" >&2; exit 1; }
  seed_result=$(tail -1 "$seed_log")
}

# js_clones NAME: CLONES JS clones of feed NAME from a node seeder.
js_clones() {
  local name=$1 i t0 t1 out
  cp -r "$tmp/src-$name" "$tmp/js-seed-$name"
  start_js_seed "$tmp/js-seed-$name"
  for ((i = 1; i <= clones; i++)); do
    sync
    t0=$(now)
    out=$(node "$js" clone --dir "$tmp/js-clone" --key "$key" --length "$len" --connect "127.0.0.1:$port")
    t1=$(now)
    rm -rf "$tmp/js-clone"
    printf 'clone\tjs\t%s\t%s\t%s\t%s\n' "$name" "$len" "$(python3 -c "print($t1-$t0)")" "$(field "$out" seconds)" >>"$results"
    echo "  js clone $name $i/$clones: $(python3 -c "print(f'{$t1-$t0:.2f}')") s" >&2
  done
  stop_js_seed
  printf 'rss\tjs\t%s\t%s\n' "$name" "$(field "$seed_result" vmHWMKiB)" >>"$results"
  rm -rf "$tmp/js-seed-$name"
}

# go_clones NAME: CLONES `hyperfs clone` of feed NAME from `hyperfs serve`.
go_clones() {
  local name=$1
  local home=$tmp/go-seed-$name addr="" i t0 t1 hwm
  "$hyperfs" --home "$home" import "$tmp/src-$name" >/dev/null 2>"$tmp/import.err" ||
    { cat "$tmp/import.err" >&2; exit 1; }
  "$hyperfs" --home "$home" serve --listen 127.0.0.1:0 2>"$tmp/serve-$name.err" &
  local serve_pid=$!
  pids+=("$serve_pid")
  for ((i = 0; i < 100 && ${#addr} == 0; i++)); do
    sleep 0.1
    addr=$(sed -n 's/^listening on //p' "$tmp/serve-$name.err")
  done
  [ -n "$addr" ] || { echo "replicate.sh: hyperfs serve did not listen:" >&2; cat "$tmp/serve-$name.err" >&2; exit 1; }
  for ((i = 1; i <= clones; i++)); do
    sync
    t0=$(now)
    "$hyperfs" --home "$tmp/go-clone" clone "$key" --peer "$addr" >/dev/null 2>"$tmp/clone.err" ||
      { cat "$tmp/clone.err" >&2; exit 1; }
    t1=$(now)
    rm -rf "$tmp/go-clone"
    printf 'clone\tgo\t%s\t%s\t%s\t-\n' "$name" "$len" "$(python3 -c "print($t1-$t0)")" >>"$results"
    echo "  go clone $name $i/$clones: $(python3 -c "print(f'{$t1-$t0:.2f}')") s" >&2
  done
  hwm=$(awk '/^VmHWM:/ {print $2}' "/proc/$serve_pid/status")
  kill -INT "$serve_pid"
  wait "$serve_pid" || true
  printf 'rss\tgo\t%s\t%s\n' "$name" "$hwm" >>"$results"
  rm -rf "$home"
}

for spec in "64KiB 1600 65536" "1KiB 100000 1024"; do
  read -r name count size <<<"$spec"
  echo "feed $name: $count blocks of $size bytes ..." >&2
  make_feed "$name" "$count" "$size"
  printf 'feed\t%s\t%s\t%s\n' "$name" "$count" "$size" >>"$results"
  js_clones "$name"
  if [ "$cli" = 1 ]; then go_clones "$name"; fi
  rm -rf "$tmp/src-$name"
done

echo "sparse: JS ..." >&2
make_feed sparse 10000 4096
start_js_seed "$tmp/src-sparse"
sync
out=$(node "$js" sparse --dir "$tmp/js-sparse" --key "$key" --length "$len" --gets "$sparse_gets" --connect "127.0.0.1:$port")
printf 'sparse\tjs\t%s\t%s\n' "$(field "$out" p50Ms)" "$(field "$out" p99Ms)" >>"$results"
stop_js_seed
rm -rf "$tmp/src-sparse" "$tmp/js-sparse"

echo "Go in process: BenchmarkClone -benchtime $go_benchtime, BenchmarkSparseGet -benchtime ${sparse_gets}x ..." >&2
(cd "$tmp" && ./peer.test -test.run '^$' -test.bench '^BenchmarkClone$' -test.benchtime "$go_benchtime") >"$tmp/goclone.txt"
(cd "$tmp" && ./peer.test -test.run '^$' -test.bench '^BenchmarkSparseGet$' -test.benchtime "${sparse_gets}x") >"$tmp/gosparse.txt"
grep -h '^Benchmark' "$tmp/goclone.txt" "$tmp/gosparse.txt" >"$tmp/gobench.txt" ||
  { cat "$tmp/goclone.txt" "$tmp/gosparse.txt" >&2; exit 1; }
echo "load:    $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min, at end)"
echo

python3 - "$results" "$tmp/gobench.txt" "$cli" "$clones" <<'PY'
import statistics, sys

results, gobench, cli, clones = sys.argv[1], sys.argv[2], sys.argv[3] == "1", int(sys.argv[4])

def metrics(line):
    f = line.split()
    m = {}
    for i in range(2, len(f) - 1, 2):
        try:
            m[f[i + 1]] = float(f[i])
        except ValueError:
            pass
    return f[0], m

gob = {}
for line in open(gobench):
    name, m = metrics(line)
    gob[name] = m

feeds, wall, inner, rss, sparse = {}, {}, {}, {}, {}
for line in open(results):
    r = line.rstrip("\n").split("\t")
    if r[0] == "feed":
        feeds[r[1]] = (int(r[2]), int(r[3]))
    elif r[0] == "clone":
        wall.setdefault((r[1], r[2]), []).append(float(r[4]))
        if r[5] != "-":
            inner.setdefault((r[1], r[2]), []).append(float(r[5]))
    elif r[0] == "rss":
        rss[(r[1], r[2])] = int(r[3])
    elif r[0] == "sparse":
        sparse[r[1]] = (float(r[2]), float(r[3]))

def gobench_for(name):
    want = {"64KiB": "BenchmarkClone/100MiB/block=64KiB", "1KiB": "BenchmarkClone/100000/block=1KiB"}[name]
    for k, m in gob.items():
        if k.startswith(want + "-") or k == want:
            return m
    return {}

rows = []
hdr = ("feed", "measure", "JS", "Go", "Go/JS", "target", "met")
for name, (count, size) in feeds.items():
    nbytes = count * size
    js_w = statistics.median(wall[("js", name)])
    js_mb = nbytes / js_w / 1e6
    js_in = nbytes / statistics.median(inner[("js", name)]) / 1e6
    gb = gobench_for(name)
    go_in = gb.get("MB/s", 0.0)
    if cli:
        go_w = statistics.median(wall[("go", name)])
        go_mb = nbytes / go_w / 1e6
        rows.append((name, f"clone MB/s, process wall (median of {clones})", f"{js_mb:.1f}", f"{go_mb:.1f}",
                     f"{go_mb / js_mb:.2f}", ">=4x", "yes" if go_mb >= 4 * js_mb else "NO"))
        rows.append((name, "clone blocks/s, process wall", f"{count / js_w:,.0f}", f"{count / go_w:,.0f}",
                     f"{js_w / go_w:.2f}", "", ""))
    rows.append((name, "clone MB/s, transfer (JS clock / Go bench)", f"{js_in:.1f}", f"{go_in:.1f}",
                 f"{go_in / js_in:.2f}", ">=4x", "yes" if go_in >= 4 * js_in else "NO"))
    js_r = rss[("js", name)] / 1024
    if cli:
        go_r = rss[("go", name)] / 1024
        rows.append((name, f"seeder VmHWM MiB after {clones} clones", f"{js_r:.0f}", f"{go_r:.0f}",
                     f"{go_r / js_r:.2f}", "<=64", "yes" if go_r <= 64 else "NO"))
    else:
        rows.append((name, f"seeder VmHWM MiB after {clones} clones", f"{js_r:.0f}", "n/a", "-", "<=64", "-"))

sp = None
for k, m in gob.items():
    if k.startswith("BenchmarkSparseGet"):
        sp = m
if "js" in sparse and sp:
    rows.append(("4KiB x 10k", "sparse get p50 ms", f"{sparse['js'][0]:.3f}", f"{sp['p50-ms']:.3f}",
                 f"{sp['p50-ms'] / sparse['js'][0]:.2f}", "<=0.5", "yes" if sp["p50-ms"] <= 0.5 else "NO"))
    rows.append(("4KiB x 10k", "sparse get p99 ms", f"{sparse['js'][1]:.3f}", f"{sp['p99-ms']:.3f}",
                 f"{sp['p99-ms'] / sparse['js'][1]:.2f}", "", ""))

w = [max(len(r[i]) for r in rows + [hdr]) for i in range(len(hdr))]
def out(r):
    print("| " + " | ".join(c.ljust(w[i]) for i, c in enumerate(r)) + " |")
out(hdr)
print("|" + "|".join("-" * (x + 2) for x in w) + "|")
for r in rows:
    out(r)
print()
print("MB = 10^6 bytes. Processes: wall clock of the cloning process (hyperfs clone also fsyncs; JS does not).")
print("Transfer: JS's clock from connect to the last block (seeder and cloner processes);")
print("          Go BenchmarkClone, seeder and cloner Swarms in one process over loopback TCP, no fsync.")
print("Go seeder RSS: VmHWM of `hyperfs serve`; JS: VmHWM of the node seeder.")
for k, m in sorted(gob.items()):
    print(f"go bench: {k} " + "  ".join(f"{v:g} {u}" for u, v in m.items()))
for (impl, name), v in sorted(wall.items()):
    print(f"{impl} {name} clone seconds: " + " ".join(f"{x:.2f}" for x in v))
PY
