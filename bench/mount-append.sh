#!/usr/bin/env bash
# bench/mount-append.sh: one-block appends through a hyperfs mount (one
# write(2) per block on an O_APPEND descriptor, BenchmarkAppend in
# tests/integration) beside JS hypercore 9's awaited single appends
# (tests/interop/js/bench.js --batch 1) of the same block sizes, in one
# run, alternating the two ROUNDS times; prints appends/s and the ratio.
# Needs FUSE (root or fusermount3) and node.
#
# Usage: bench/mount-append.sh     (from anywhere)
# Env:   ROUNDS=N   rounds (default 3)
#        COUNT=N    appends per measurement (default 30000)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
rounds=${ROUNDS:-3}
count=${COUNT:-30000}

source bench/lib.sh
need_js mount-append.sh
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

machine

go test -c -o "$tmp/integration.test" ./tests/integration

declare -A js go
for ((r = 1; r <= rounds; r++)); do
  for size in 100 4096 65536; do
    out=$(node tests/interop/js/bench.js --workload append --block-size "$size" --batch 1 \
      --count "$count" --dir "$tmp/js-$r-$size")
    js[$size]+=" $(sed -n 's/.*"opsPerSec":\([0-9.]*\).*/\1/p' <<<"$out" | cut -d. -f1)"
    rm -rf "$tmp/js-$r-$size"
  done
  out=$(cd tests/integration && "$tmp/integration.test" -test.run '^$' -test.bench 'BenchmarkAppend$' \
    -test.benchtime "${count}x")
  for size in 100 4096 65536; do
    go[$size]+=" $(awk -v s="block=$size-" 'index($1, s) { for (i = 1; i < NF; i++) if ($(i+1) == "appends/s") print int($i) }' <<<"$out")"
  done
done

median() { tr ' ' '\n' | sed '/^$/d' | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
printf '%-8s %-28s %-28s %s\n' block "JS awaited appends/s" "mount appends/s" "ratio (medians)"
for size in 100 4096 65536; do
  j=$(median <<<"${js[$size]}")
  g=$(median <<<"${go[$size]}")
  printf '%-8s %-28s %-28s %.2f\n' "$size" "${js[$size]# }" "${go[$size]# }" "$(echo "$g / $j" | bc -l)"
done
