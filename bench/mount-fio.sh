#!/usr/bin/env bash
# bench/mount-fio.sh: fio 4 KiB random reads (--readonly, psync, one job)
# of a local feed's data through a hyperfs mount, beside the same reads of
# the backing hypercore data file, in one run.
#
#   backing            the feed directory's data file (page cache)
#   mount passthrough  MNT/FEED/data after a first full read has verified
#                      every block, so opens pass through to the data file
#   mount cached       the same with --no-passthrough: the kernel page
#                      cache in front of the daemon (KEEP_CACHE)
#   mount direct       --no-passthrough and O_DIRECT: every 4 KiB read is
#                      a READ the daemon answers
#
# Usage: bench/mount-fio.sh     (from anywhere; needs fio and FUSE)
# Env:   SIZE_MIB=N   feed size (default 256, in 64 KiB blocks)
#        RUNTIME=S    seconds per fio run (default 10)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
size_mib=${SIZE_MIB:-256}
runtime=${RUNTIME:-10}
source bench/lib.sh
need mount-fio.sh fio python3 bc # apt-get install fio

tmp=$(mktemp -d)
pid=
cleanup() {
  if [ -n "$pid" ]; then kill -INT "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

machine fio "$(fio --version)"

go build -o "$tmp/hyperfs" ./cmd/hyperfs
home=$tmp/home mnt=$tmp/mnt
mkdir -p "$mnt"
key=$("$tmp/hyperfs" --home "$home" create f)
head -c "$((size_mib << 20))" /dev/urandom | "$tmp/hyperfs" --home "$home" append f --block-size 65536

# iops FILE [fio options]: random 4 KiB read IOPS of FILE.
iops() {
  local file=$1
  shift
  fio --name=rand --readonly --filename="$file" --rw=randread --bs=4k --ioengine=psync \
    --size="${size_mib}M" --runtime="$runtime" --time_based --numjobs=1 --invalidate=0 --output-format=json "$@" |
    python3 -c 'import json,sys; print(int(json.load(sys.stdin)["jobs"][0]["read"]["iops"]))'
}

# mount_home [flags]: mounts the home in the background and waits for it.
mount_home() {
  "$tmp/hyperfs" --home "$home" mount "$mnt" "$@" >"$tmp/mount.out" 2>"$tmp/mount.err" &
  pid=$!
  for _ in $(seq 100); do
    grep -q "mounted at" "$tmp/mount.out" && return 0
    sleep 0.1
  done
  cat "$tmp/mount.err" >&2
  exit 1
}
unmount_home() { kill -INT "$pid"; wait "$pid"; pid=; }

backing=$home/feeds/$key/data
cat "$backing" >/dev/null
b=$(iops "$backing")

mount_home
cat "$mnt/f/data" >/dev/null # verifies every block: later opens pass through
# "busy" for a moment after cat's release (see fusefs/passthrough.go).
for _ in $(seq 50); do
  grep -Eq '"passthrough": *"ready"' "$mnt/f/info" && break
  sleep 0.1
done
grep -Eq '"passthrough": *"ready"' "$mnt/f/info" || { echo "passthrough not ready:" >&2; cat "$mnt/f/info" >&2; exit 1; }
reads() { grep -Eo '"data_reads": *[0-9]+' "$mnt/f/info" | grep -Eo '[0-9]+$'; }
before=$(reads)
p=$(iops "$mnt/f/data")
served=$(($(reads) - before)) # READs the daemon answered during the passthrough run: 0
unmount_home

mount_home --no-passthrough
cat "$mnt/f/data" >/dev/null
c=$(iops "$mnt/f/data")
d=$(iops "$mnt/f/data" --direct=1)
unmount_home

printf '%-20s %10s %8s\n' "fio randread 4k" "IOPS" "ratio"
printf '%-20s %10d %8.2f\n' backing "$b" 1
printf '%-20s %10d %8.2f   (%d READs reached the daemon)\n' "mount passthrough" "$p" "$(echo "$p / $b" | bc -l)" "$served"
printf '%-20s %10d %8.2f\n' "mount cached" "$c" "$(echo "$c / $b" | bc -l)"
printf '%-20s %10d %8.2f\n' "mount direct" "$d" "$(echo "$d / $b" | bc -l)"
