#!/usr/bin/env bash
# bench/seek-index.sh: seeks to random byte offsets of a 1 000 000-block
# feed, JS hypercore 9's feed.seek against hyperfs's index (BenchmarkSeek/
# index, package index), in one run, and prints the ratio (issue 3's target
# is 100x). JS writes its feed first (1M blocks of 64 bytes; the seek walks
# the same tree depth whatever the sizes) and times 1M awaited seeks:
# about 4 minutes. Env: JS_BLOCKS (default 1000000).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
blocks=${JS_BLOCKS:-1000000}
source bench/lib.sh
need_js seek-index.sh
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "date:   $(date -u +%Y-%m-%dT%H:%M:%SZ)  commit: $(git rev-parse --short HEAD)  cores: $(nproc)"
js=$(node tests/interop/js/bench.js --workload seek --dir "$tmp/js" --block-size 64 --count "$blocks")
js_rate=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["opsPerSec"])' "$js")
go=$(go test -run XXX -bench 'BenchmarkSeek/index$' -benchtime 2s ./index | grep 'seeks/s')
go_rate=$(echo "$go" | awk '{for (i=1;i<=NF;i++) if ($(i+1)=="seeks/s") print $i}')
printf 'JS hypercore 9 seek (%d blocks): %.0f seeks/s\n' "$blocks" "$js_rate"
printf 'hyperfs index seek (1000000 blocks): %.0f seeks/s\n' "$go_rate"
python3 -c 'import sys; print("ratio: %.0fx (target 100x)" % (float(sys.argv[2]) / float(sys.argv[1])))' "$js_rate" "$go_rate"
