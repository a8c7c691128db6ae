#!/usr/bin/env bash
# blit and rsync over ssh with no daemon, on loopback: one large file and many
# small ones, pushed and pulled, each run against a fresh destination.
#
#   bench/ssh.sh [--large-mib N] [--small N] [--runs N]
#
# Starts its own sshd (its own host key, config and authorized key, a free
# port on 127.0.0.1; openssh-server is installed when missing) and stops it
# at the end. Both tools use the same ssh command (no compression). Prints
# one line per run and a table of medians; builds blit in release mode.
set -euo pipefail
BENCH_NAME=ssh
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
. "$here/lib.sh"

large_mib=1024 small=20000 runs=3
while [ $# -gt 0 ]; do
    case "$1" in
        --large-mib) large_mib="$2"; shift 2 ;;
        --small) small="$2"; shift 2 ;;
        --runs) runs="$2"; shift 2 ;;
        *) echo "ssh: unknown argument $1" >&2; exit 64 ;;
    esac
done
need_pkg rsync rsync
[ -x /usr/sbin/sshd ] || need_pkg /usr/sbin/sshd openssh-server

(cd "$root" && cargo build --release -q -p blit-cli)
blit="$root/target/release/blit"
work="$(mktemp -d /tmp/blit-ssh-bench.XXXXXX)"
sshd_pid=""
cleanup() { [ -n "$sshd_pid" ] && kill "$sshd_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

start_sshd "$work"

mkdir -p "$work/large" "$work/small"
head -c "$((large_mib << 20))" /dev/urandom > "$work/large/big.bin"
python3 - "$work/small" "$small" <<'EOF'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    d = os.path.join(root, f"d{i // 1000:03}")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, f"f{i:06}"), "wb") as f:
        f.write(os.urandom(4096))
EOF

# time_it NAME COMMAND...: seconds of one run.
time_it() {
    local start end
    start=$(date +%s.%N); "$@" >/dev/null 2>&1; end=$(date +%s.%N)
    python3 -c "print(f'{$end - $start:.2f}')"
}

declare -A all
for set in large small; do
    for run in $(seq "$runs"); do
        for tool in blit rsync; do
            for dir in push pull; do
                rm -rf "$work/dst" "$work/back"; mkdir -p "$work/dst" "$work/back"
                if [ "$dir" = push ]; then
                    src="$work/$set/" dst="127.0.0.1:$work/dst/"
                else
                    cp -a "$work/$set/." "$work/dst/"; sync
                    src="127.0.0.1:$work/dst/" dst="$work/back/"
                fi
                if [ "$tool" = blit ]; then
                    t=$(time_it "$blit" copy -e "$rsh" --blit-path "$blit" "$src" "$dst")
                else
                    t=$(time_it rsync -a -e "$rsh" "$src" "$dst")
                fi
                echo "$set $dir $tool run $run: ${t} s"
                all["$set $dir $tool"]+="$t "
            done
        done
    done
done
echo
echo "| set | direction | blit (s, median) | rsync (s, median) |"
echo "|---|---|---|---|"
for set in large small; do
    for dir in push pull; do
        med() { python3 -c "import statistics,sys; print(statistics.median(map(float, sys.argv[1:])))" $1; }
        echo "| $set | $dir | $(med "${all["$set $dir blit"]}") | $(med "${all["$set $dir rsync"]}") |"
    done
done
