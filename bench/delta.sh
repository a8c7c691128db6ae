#!/usr/bin/env bash
# Delta transfer beside rsync: a large file of which 1 MiB changed, sent over
# ssh (no daemon) to a destination that holds the old version, pushed and
# pulled. Measures the time and the bytes on the wire (both directions,
# counted by a proxy in front of the sshd, so both tools pay the same ssh
# framing and encryption).
#
#   bench/delta.sh [--mib N] [--runs N] [--dir DIR] [--insert] [--pin] [--cache warm|cold]
#                  [--fs xfs|btrfs|ext4]
#
# --cache warm reads both versions just before each run, so both are cached
# whatever the machine's memory reclaim did since they were written; --cache
# cold drops the page cache before each run instead (root only), so both
# tools read both versions from the disk. Without it, a run finds whatever
# the machine kept.
#
# --fs makes a fresh file system of that type on a loop device backed by a
# file in /dev/shm (root only; installs xfsprogs or btrfs-progs when
# missing), mounts it and works there instead of under DIR: the same memory
# behind each type, so the file system is the only difference. XFS (made
# with reflink=1) and btrfs share extents, so a destination can copy the
# older version by sharing its blocks (copy_file_range) instead of writing
# them; ext4 cannot.
#
# With --pin, the local command runs on CPU 0 and the sshd (so the far side
# of both tools) on CPU 1: two one-core machines, as far as the processors
# go, instead of both ends sharing every core.
#
# The old version is N MiB of random bytes (1024 by default); the new one
# has 1 MiB of new random bytes at an offset that is not block-aligned
# (N/2 MiB + 12345) and a newer mtime. With --insert, the new one instead
# has 1000 random bytes inserted 12345 bytes from the start, so every later
# byte sits 1000 bytes further on (what the rolling search finds). Each run starts from a fresh copy of
# the old version at the destination (a file of its own: the script copies
# with --reflink=never, so no two files share blocks, as after any earlier
# transfer) (page cache warm: both versions were
# just written). Files live under DIR (default /tmp; /dev/shm takes the
# disk out of the measure, which on a VM with a shared disk varies from run
# to run more than the tools differ). Starts its own sshd on loopback;
# builds blit in release mode; prints one line per run and a table of
# medians.
set -euo pipefail
BENCH_NAME=delta
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
. "$here/lib.sh"

mib=1024 runs=3 dir=/tmp insert=0 pin=0 cache="" fs=""
while [ $# -gt 0 ]; do
    case "$1" in
        --mib) mib="$2"; shift 2 ;;
        --runs) runs="$2"; shift 2 ;;
        --dir) dir="$2"; shift 2 ;;
        --insert) insert=1; shift ;;
        --pin) pin=1; shift ;;
        --cache) cache="$2"; shift 2 ;;
        --fs) fs="$2"; shift 2 ;;
        *) echo "delta: unknown argument $1" >&2; exit 64 ;;
    esac
done
need_pkg rsync rsync
[ -x /usr/sbin/sshd ] || need_pkg /usr/sbin/sshd openssh-server

(cd "$root" && cargo build --release -q -p blit-cli)
blit="$root/target/release/blit"
sshd_pid="" proxy_pid="" mnt="" loop="" image="" work=""
cleanup() {
    # Every step runs, whatever the one before it returned.
    set +e
    # Both gone before their files are removed and the file system unmounted.
    [ -n "$sshd_pid" ] && { kill "$sshd_pid" 2>/dev/null; wait "$sshd_pid" 2>/dev/null; }
    [ -n "$proxy_pid" ] && { kill "$proxy_pid" 2>/dev/null; wait "$proxy_pid" 2>/dev/null; }
    [ -n "$work" ] && rm -rf "$work"
    [ -n "$mnt" ] && { umount "$mnt" 2>/dev/null; rmdir "$mnt"; }
    [ -n "$loop" ] && losetup -d "$loop"
    [ -n "$image" ] && rm -f "$image"
    return 0
}
trap cleanup EXIT

if [ -n "$fs" ]; then
    [ "$(id -u)" -eq 0 ] || { echo "delta: --fs needs root (losetup, mount)" >&2; exit 64; }
    case "$fs" in
        xfs) need_pkg mkfs.xfs xfsprogs; mkfs=(mkfs.xfs -q -m reflink=1) ;;
        btrfs) need_pkg mkfs.btrfs btrfs-progs; mkfs=(mkfs.btrfs -q) ;;
        ext4) mkfs=(mkfs.ext4 -q) ;;
        *) echo "delta: --fs takes xfs, btrfs or ext4" >&2; exit 64 ;;
    esac
    # Four versions of the file, the landing's copy, and room to spare.
    image="$(mktemp /dev/shm/blit-delta-fs.XXXXXX)"
    truncate -s "$(((mib * 5 + 1024) << 20))" "$image"
    loop="$(losetup --direct-io=on -f --show "$image")"
    "${mkfs[@]}" "$loop" >/dev/null
    mnt="$(mktemp -d /tmp/blit-delta-mnt.XXXXXX)"
    mount "$loop" "$mnt"
    dir="$mnt"
fi
work="$(mktemp -d "$dir/blit-delta-bench.XXXXXX")"

start_sshd "$work"
local_cpu=()
if [ "$pin" = 1 ]; then
    taskset -pc 1 "$sshd_pid" >/dev/null
    local_cpu=(taskset -c 0)
fi
coproc PROXY { exec python3 "$here/count_proxy.py" "$port" "$work/count"; }
proxy_pid=$PROXY_PID
read -r proxy_port <&"${PROXY[0]}"
rsh="${rsh/-p $port /-p $proxy_port }"

mkdir -p "$work/old" "$work/new"
head -c "$((mib << 20))" /dev/urandom > "$work/old/big.bin"
if [ "$insert" = 1 ]; then
    { head -c 12345 "$work/old/big.bin"; head -c 1000 /dev/urandom; tail -c +12346 "$work/old/big.bin"; } \
        > "$work/new/big.bin"
else
    cp --reflink=never "$work/old/big.bin" "$work/new/big.bin"
    head -c $((1 << 20)) /dev/urandom |
        dd of="$work/new/big.bin" bs=1 seek=$(((mib << 19) + 12345)) conv=notrunc status=none 2>/dev/null ||
        python3 - "$work/new/big.bin" $(((mib << 19) + 12345)) <<'PY'
import os, sys
with open(sys.argv[1], "r+b") as f:
    f.seek(int(sys.argv[2]))
    f.write(os.urandom(1 << 20))
PY
fi
touch -d '2026-01-01 00:00:00' "$work/old/big.bin"
touch -d '2026-02-01 00:00:00' "$work/new/big.bin"

counted() { cat "$work/count" 2>/dev/null || echo 0; }

declare -A secs bytes
for run in $(seq "$runs"); do
    for tool in blit rsync; do
        for dir in push pull; do
            rm -rf "$work/dst"; mkdir -p "$work/dst"
            if [ "$dir" = push ]; then
                cp --reflink=never -p "$work/old/big.bin" "$work/dst/big.bin"
                src="$work/new/" dst="127.0.0.1:$work/dst/"
            else
                # The far side holds the new version; the local side the old.
                mkdir -p "$work/far"; cp --reflink=never -p "$work/new/big.bin" "$work/far/big.bin"
                cp --reflink=never -p "$work/old/big.bin" "$work/dst/big.bin"
                src="127.0.0.1:$work/far/" dst="$work/dst/"
            fi
            sync
            case "$cache" in
                warm) [ "$dir" = push ] && from="$work/new" || from="$work/far"
                      cat "$work/dst/big.bin" "$from/big.bin" > /dev/null ;;
                cold) echo 3 > /proc/sys/vm/drop_caches ;;
                "") ;;
                *) echo "delta: --cache takes warm or cold" >&2; exit 64 ;;
            esac
            before=$(counted)
            start=$(date +%s.%N)
            if [ "$tool" = blit ]; then
                "${local_cpu[@]}" "$blit" copy -e "$rsh" --blit-path "$blit" "$src" "$dst" >/dev/null
            else
                "${local_cpu[@]}" rsync -a -e "$rsh" "$src" "$dst"
            fi
            end=$(date +%s.%N)
            cmp -s "$work/new/big.bin" "$work/dst/big.bin" || { echo "delta: $tool $dir landed a wrong file" >&2; exit 1; }
            # The proxy writes its count once the connection closed.
            for _ in $(seq 50); do [ "$(counted)" != "$before" ] && break; sleep 0.1; done
            t=$(python3 -c "print(f'{$end - $start:.2f}')")
            b=$(( $(counted) - before ))
            echo "$dir $tool run $run: ${t} s, $b bytes on the wire"
            secs["$dir $tool"]+="$t "
            bytes["$dir $tool"]+="$b "
        done
    done
done
med() { python3 -c "import statistics,sys; print(statistics.median(map(float, sys.argv[1:])))" $1; }
best() { python3 -c "import sys; print(min(map(float, sys.argv[1:])))" $1; }
ratio() { python3 -c "print(f'{$1 / $2:.2f}')"; }
# The median, and the best run: on a machine whose neighbours come and go,
# what a run costs beyond the tool's own work only ever adds time.
echo
echo "| direction | blit median (s) | rsync median (s) | time blit / rsync | blit best (s) | rsync best (s) | best blit / rsync | blit (bytes) | rsync (bytes) | bytes blit / rsync |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for dir in push pull; do
    bt=$(med "${secs["$dir blit"]}") rt=$(med "${secs["$dir rsync"]}")
    bb=$(best "${secs["$dir blit"]}") rb=$(best "${secs["$dir rsync"]}")
    nb=$(med "${bytes["$dir blit"]}") nr=$(med "${bytes["$dir rsync"]}")
    echo "| $dir | $bt | $rt | $(ratio "$bt" "$rt") | $bb | $rb | $(ratio "$bb" "$rb") | ${nb%.0} | ${nr%.0} | $(ratio "$nb" "$nr") |"
done
