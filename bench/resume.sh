#!/usr/bin/env bash
# --resume after a kill: copies one large file (4 GiB by default) with the
# real blit binary, SIGKILLs the client when the destination's partial copy
# (.blit.<hash>.part) holds about half of it, then reruns with --resume and
# reports how many bytes the rerun moved (the --json summary's
# bytes_transferred and bytes_reused). Once locally and once as a push to a
# real blitd on 127.0.0.1 (which outlives its killed client). The target:
# the rerun moves at most 55 % of the file.
#
#   bench/resume.sh                   # 4 GiB, release build
#   SIZE_MIB=1024 RATE=300M bench/resume.sh
#
# RATE is the first run's --bwlimit, so the kill lands near 50 % (default
# 400M). Needs about 2 x SIZE of free space in $TMPDIR (or /tmp). Appends
# a report to bench/results/resume-latest.md (or $RESULTS).
set -euo pipefail
BENCH_NAME=resume
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
SIZE_MIB="${SIZE_MIB:-4096}"
RATE="${RATE:-400M}"
RESULTS="${RESULTS:-$ROOT/bench/results/resume-latest.md}"
target="${CARGO_TARGET_DIR:-$ROOT/target}"
echo "$BENCH_NAME: building blit and blitd (release)" >&2
(cd "$ROOT" && cargo build --release -q -p blit-cli -p blit-daemon)
BLIT="$target/release/blit"
BLITD="$target/release/blitd"
work="$(mktemp -d "${TMPDIR:-/tmp}/blit-resume.XXXXXX")"
daemon=""
cleanup() {
    [ -n "$daemon" ] && kill "$daemon" 2>/dev/null && wait "$daemon" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
size=$((SIZE_MIB * 1024 * 1024))
echo "$BENCH_NAME: writing a ${SIZE_MIB} MiB source file" >&2
head -c "$size" /dev/urandom >"$work/big.bin"

# kill_at_half DST_DIR DST_ARG: runs blit copy into DST_ARG and SIGKILLs it
# once DST_DIR's .part reaches half the file; prints the .part's length.
kill_at_half() {
    local dir="$1" arg="$2" len=0 part
    "$BLIT" copy --bwlimit "$RATE" "$work/big.bin" "$arg" >/dev/null 2>&1 &
    local pid=$!
    while kill -0 "$pid" 2>/dev/null; do
        part="$(find "$dir" -maxdepth 1 -name '.blit.*.part' 2>/dev/null | head -n1)"
        len="$( [ -n "$part" ] && stat -c %s "$part" || echo 0)"
        if [ "$len" -ge $((size / 2)) ]; then
            kill -9 "$pid"
            break
        fi
        sleep 0.02
    done
    wait "$pid" 2>/dev/null || true
    echo "$len"
}

# run MODE DST_DIR DST_ARG: the kill, the resumed rerun, the check; one
# report line.
run() {
    local mode="$1" dir="$2" arg="$3"
    local killed json
    killed="$(kill_at_half "$dir" "$arg")"
    [ "$mode" = push ] && sleep 1 # the daemon notices its vanished client
    local cmd=("$BLIT" copy --resume --json "$work/big.bin" "$arg")
    json="$("${cmd[@]}" | tail -n1)"
    cmp -s "$work/big.bin" "$dir/big.bin" || { echo "$BENCH_NAME: $mode: the resumed file differs" >&2; exit 1; }
    python3 - "$mode" "$size" "$killed" "$json" "$(quote blit copy --resume --json SRC "$arg")" <<'EOF'
import json, sys
mode, size, killed, summary, cmd = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), json.loads(sys.argv[4]), sys.argv[5]
moved, reused = summary["bytes_transferred"], summary["bytes_reused"]
print(f"| {mode} | {size >> 20} MiB | {100 * killed / size:.1f} % | {moved >> 20} MiB ({100 * moved / size:.1f} %) "
      f"| {reused >> 20} MiB | {summary['elapsed_secs']:.1f} s | {summary['transport']} | `{cmd}` |")
EOF
}

lines=()
mkdir "$work/local"
lines+=("$(run local "$work/local" "$work/local/")")
rm -rf "$work/local"

mkdir "$work/module"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
"$BLITD" --listen "127.0.0.1:$port" --module "m=$work/module" 2>/dev/null &
daemon=$!
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.05; done
lines+=("$(run push "$work/module" "127.0.0.1:$port:/m/")")

{
    echo
    echo "## --resume after SIGKILL at ~50 %, $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo
    echo "Commit \`$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')\`$(git -C "$ROOT" diff --quiet 2>/dev/null || echo ' (with local changes)'),"
    echo "release build, $(nproc) CPUs, first run \`--bwlimit $RATE\`; \`bench/resume.sh\` (SIZE_MIB=$SIZE_MIB)."
    echo
    echo "| mode | file | partial at kill | rerun moved | reused | rerun time | transport | rerun command |"
    echo "|---|---|---|---|---|---|---|---|"
    printf '%s\n' "${lines[@]}"
} | tee -a "$RESULTS"
