#!/usr/bin/env bash
# bench/mount-remote.sh: `cat` of a remote feed through a hyperfs mount
# beside a JS hypercore 9 clone of the same feed, in one run.
#
#   JS clone     a node seeder (tests/interop/js/bench-replicate.js seed) and
#                RUNS sequential `bench-replicate.js clone` processes into
#                fresh directories: process wall clock, and JS's own clock
#                from connect to the last block stored.
#   mount cat    a seeder and RUNS fresh `hyperfs mount MNT --peer ADDR` on
#                new homes; for each, stat MNT/KEY/info until the followed
#                replica knows the whole length (untimed: mount, follow,
#                handshake), then `cat MNT/KEY/data >/dev/null` is timed.
#                Seeders: `hyperfs serve` (Go at both ends) and the node
#                seeder (a JS feed read through the mount). Each run also
#                reports the wall clock from the mount's exec to cat's end
#                ("mount total"), and checks that every block came.
#
# The feed (SIZE_MIB MiB of 64 KiB PRNG blocks) is written once by
# bench-replicate.js make and imported into the Go seeder's home. `sync`
# (untimed) runs before each timed run. Needs FUSE (root or fusermount3),
# node and python3.
#
# Usage: bench/mount-remote.sh     (from anywhere)
# Env:   RUNS=N        runs per row (default 7)
#        SIZE_MIB=N    feed size (default 100)
#        KEEP=1        keep the temporary directory
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
runs=${RUNS:-7}
size_mib=${SIZE_MIB:-100}
js=tests/interop/js/bench-replicate.js
wait_s=30 # bound on every wait for a process to get ready

source bench/lib.sh
need_js mount-remote.sh

tmp=$(mktemp -d)
pids=()
mnts=()
cleanup() {
  local p m
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  for m in "${mnts[@]}"; do
    if mountpoint -q "$m" 2>/dev/null; then umount -l "$m" 2>/dev/null || fusermount3 -u -z "$m" 2>/dev/null || true; fi
  done
  if [ -n "${KEEP:-}" ]; then echo "kept $tmp" >&2; else rm -rf "$tmp"; fi
}
trap cleanup EXIT

machine

go build -o "$tmp/hyperfs" ./cmd/hyperfs
hyperfs=$tmp/hyperfs

now() { date +%s.%N; }
field() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }
fail() { echo "mount-remote.sh: $*" >&2; exit 1; }

# wait_for CMD...: run CMD every 10 ms until it succeeds, for at most
# wait_s. No python here: its start-up would count in "mount total".
wait_for() {
  local deadline=$((SECONDS + wait_s))
  until "$@"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.01
  done
}

count=$((size_mib * 16))
echo "feed: $count blocks of 64 KiB ..." >&2
out=$(node "$js" make --dir "$tmp/src" --count "$count" --block-size 65536)
key=$(field "$out" key)
len=$(field "$out" length)
bytes=$(field "$out" byteLength)
results=$tmp/results.tsv
: >"$results"

# The node seeder of a copy of the feed: js_port, js_fd (closing it stops
# the seeder).
cp -r "$tmp/src" "$tmp/js-seed"
mkfifo "$tmp/js-seed.in"
node "$js" seed --dir "$tmp/js-seed" <"$tmp/js-seed.in" >"$tmp/js-seed.out" &
js_pid=$!
pids+=("$js_pid")
exec {js_fd}>"$tmp/js-seed.in"
wait_for grep -q listening "$tmp/js-seed.out" || fail "the node seeder did not listen"
js_port=$(field "$(grep -m1 listening "$tmp/js-seed.out")" listening)

# The Go seeder: hyperfs serve on a home holding the feed.
"$hyperfs" --home "$tmp/go-seed" import "$tmp/src" >/dev/null 2>"$tmp/import.err" || { cat "$tmp/import.err" >&2; exit 1; }
"$hyperfs" --home "$tmp/go-seed" serve --listen 127.0.0.1:0 2>"$tmp/serve.err" &
serve_pid=$!
pids+=("$serve_pid")
wait_for grep -q '^listening on ' "$tmp/serve.err" || { cat "$tmp/serve.err" >&2; fail "hyperfs serve did not listen"; }
go_addr=$(sed -n 's/^listening on //p' "$tmp/serve.err")

for ((i = 1; i <= runs; i++)); do
  sync
  t0=$(now)
  out=$(node "$js" clone --dir "$tmp/js-clone" --key "$key" --length "$len" --connect "127.0.0.1:$js_port")
  t1=$(now)
  rm -rf "$tmp/js-clone"
  printf 'js-clone\t%s\t%s\n' "$(python3 -c "print($t1-$t0)")" "$(field "$out" seconds)" >>"$results"
  echo "  js clone $i/$runs: $(python3 -c "print(f'{$t1-$t0:.2f}')") s" >&2
done

# mount_cat NAME ADDR: one fresh mount following the feed from ADDR.
mount_cat() {
  local name=$1 addr=$2 home=$tmp/home-$1 mnt=$tmp/mnt-$1 t0 t1 t2 mp got
  rm -rf "$home"
  mkdir -p "$mnt"
  mnts+=("$mnt")
  sync
  t0=$(now)
  "$hyperfs" --home "$home" mount "$mnt" --peer "$addr" >"$tmp/mount.out" 2>"$tmp/mount.err" &
  mp=$!
  pids+=("$mp")
  wait_for grep -q "^mounted at $mnt\$" "$tmp/mount.out" || { cat "$tmp/mount.err" >&2; fail "no 'mounted at'"; }
  wait_for grep -Eq "\"length\": *$len," "$mnt/$key/info" || { cat "$tmp/mount.err" >&2; fail "the replica never learnt the length"; }
  t1=$(now)
  cat "$mnt/$key/data" >/dev/null
  t2=$(now)
  got=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["downloaded"])' "$mnt/$key/info")
  [ "$got" = "$len" ] || fail "$name: $got of $len blocks downloaded after cat"
  kill -INT "$mp"
  wait "$mp" || { cat "$tmp/mount.err" >&2; fail "hyperfs mount failed"; }
  printf 'mount\t%s\t%s\t%s\n' "$name" "$(python3 -c "print($t2-$t1)")" "$(python3 -c "print($t2-$t0)")" >>"$results"
  echo "  mount cat from $name $i/$runs: $(python3 -c "print(f'{$t2-$t1:.2f}')") s" >&2
  rm -rf "$home"
}

for ((i = 1; i <= runs; i++)); do
  mount_cat go "$go_addr"
  mount_cat js "127.0.0.1:$js_port"
done

kill -INT "$serve_pid"
wait "$serve_pid" || true
exec {js_fd}>&-
wait "$js_pid" || true
echo "load:    $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min, at end)"
echo

python3 - "$results" "$bytes" "$runs" <<'PY'
import statistics, sys

results, nbytes, runs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
js_wall, js_clock, cat, total = [], [], {}, {}
for line in open(results):
    r = line.rstrip("\n").split("\t")
    if r[0] == "js-clone":
        js_wall.append(float(r[1]))
        js_clock.append(float(r[2]))
    else:
        cat.setdefault(r[1], []).append(float(r[2]))
        total.setdefault(r[1], []).append(float(r[3]))

mb = lambda s: nbytes / s / 1e6
base = mb(statistics.median(js_wall))
rows = [("JS clone, process wall", js_wall), ("JS clone, JS clock (connect to last block)", js_clock)]
for seeder in ("go", "js"):
    name = {"go": "hyperfs serve", "js": "node seeder"}[seeder]
    rows.append((f"mount cat, seeder {name}", cat.get(seeder, [])))
    rows.append((f"mount total (exec to cat's end), seeder {name}", total.get(seeder, [])))
hdr = ("measure", f"MB/s (median of {runs})", "range MB/s", "vs JS clone wall")
table = [hdr]
for name, xs in rows:
    if not xs:
        continue
    m = mb(statistics.median(xs))
    table.append((name, f"{m:.1f}", f"{mb(max(xs)):.0f}-{mb(min(xs)):.0f}", f"{m / base:.2f}"))
w = [max(len(r[i]) for r in table) for i in range(len(hdr))]
for k, r in enumerate(table):
    print("| " + " | ".join(c.ljust(w[i]) for i, c in enumerate(r)) + " |")
    if k == 0:
        print("|" + "|".join("-" * (x + 2) for x in w) + "|")
print()
print(f"MB = 10^6 bytes; feed {nbytes} bytes in 64 KiB blocks. Target: mount cat >= 3x the JS clone.")
for name, xs in rows:
    print(f"{name} seconds: " + " ".join(f"{x:.2f}" for x in xs))
PY
