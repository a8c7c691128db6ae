#!/usr/bin/env bash
# blit benchmark harness: blit beside rsync, cp -a and tar, same data, same run.
#
#   bench/run.sh [--quick] [--workload NAME[,NAME]] [--size 4G] [--reps N]
#                [--tools blit,rsync,cp,tar] [--tmpdir DIR] [--results FILE]
#
# Builds blit (cargo build --release -p blit-cli) unless BLIT_BIN is set or blit is
# not among --tools, installs rsync and GNU time if missing, then hands over to
# bench/bench.py. See bench/README.md.
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BENCH_NAME=bench
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ROOT="$(cd "$BENCH_DIR/.." && pwd)"
CMDLINE="$(quote "$0" "$@")"

help_passthrough "$BENCH_DIR/bench.py" "$@"
want_blit="$(wants_blit "$@")"

command -v python3 >/dev/null || { echo "bench: python3 is required" >&2; exit 1; }
need_pkg rsync rsync
[ -x /usr/bin/time ] || need_pkg /usr/bin/time time

if [ "$want_blit" -eq 1 ]; then
    if [ -n "${BLIT_BIN:-}" ]; then
        echo "bench: using BLIT_BIN=$BLIT_BIN (not building)"
    else
        echo "bench: building blit: (cd $ROOT && cargo build --release -p blit-cli)"
        (cd "$ROOT" && cargo build --release -p blit-cli)
        BLIT_BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/blit"
    fi
    [ -x "$BLIT_BIN" ] || { echo "bench: blit binary $BLIT_BIN not found or not executable" >&2; exit 1; }
    export BLIT_BIN
fi

# bench.py cleans up its own work dir; this trap is the safety net if it is killed
# hard. It only ever removes the directory bench.py reported, and only if that is a
# blit-bench.* temp dir.
STATE="$(mktemp "${TMPDIR:-/tmp}/blit-bench-state.XXXXXX")"
PY_PID=""
cleanup() {
    local d=""
    [ -s "$STATE" ] && d="$(head -n1 "$STATE")"
    case "$d" in
        */blit-bench.*) [ -d "$d" ] && rm -rf --one-file-system "$d" ;;
    esac
    rm -f "$STATE"
}
forward() { [ -n "$PY_PID" ] && kill -TERM "$PY_PID" 2>/dev/null || true; }
trap cleanup EXIT
trap forward INT TERM HUP

set +e
python3 "$BENCH_DIR/bench.py" --cmdline "$CMDLINE" --state-file "$STATE" "$@" &
PY_PID=$!
while :; do
    wait "$PY_PID"
    rc=$?
    # wait returns >128 when interrupted by a trapped signal; keep waiting
    kill -0 "$PY_PID" 2>/dev/null || break
done
exit "$rc"
