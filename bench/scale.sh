#!/usr/bin/env bash
# blit remote scale bench: push and pull of 100k and 1M entries over gRPC to blitd,
# beside rsync to an rsync daemon, on loopback; time, client and daemon peak RSS.
#
#   bench/scale.sh [--quick] [--entries 100000,1000000] [--layout nested,flat]
#                  [--direction push,pull] [--tools blit,rsync] [--file-size 0]
#                  [--reps 1] [--no-warmup] [--tmpdir DIR] [--results FILE]
#
# Builds blit and blitd (cargo build --release -p blit-cli -p blit-daemon) unless
# BLIT_BIN and BLITD_BIN are both set or blit is not among --tools, installs rsync
# and GNU time if missing, then hands over to bench/scale.py. See bench/README.md.
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BENCH_NAME=scale
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ROOT="$(cd "$BENCH_DIR/.." && pwd)"
CMDLINE="$(quote "$0" "$@")"

help_passthrough "$BENCH_DIR/scale.py" "$@"
want_blit="$(wants_blit "$@")"

command -v python3 >/dev/null || { echo "scale: python3 is required" >&2; exit 1; }
need_pkg rsync rsync
[ -x /usr/bin/time ] || need_pkg /usr/bin/time time

if [ "$want_blit" -eq 1 ]; then
    if [ -n "${BLIT_BIN:-}" ] && [ -n "${BLITD_BIN:-}" ]; then
        echo "scale: using BLIT_BIN=$BLIT_BIN and BLITD_BIN=$BLITD_BIN (not building)"
    else
        echo "scale: building: (cd $ROOT && cargo build --release -p blit-cli -p blit-daemon)"
        (cd "$ROOT" && cargo build --release -p blit-cli -p blit-daemon)
        BLIT_BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/blit"
        BLITD_BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/blitd"
        export BLIT_BUILT_BY_SCALE=1
    fi
    for b in "$BLIT_BIN" "$BLITD_BIN"; do
        [ -x "$b" ] || { echo "scale: binary $b not found or not executable" >&2; exit 1; }
    done
    export BLIT_BIN BLITD_BIN
fi

# scale.py cleans up its own work dir and daemons; this trap is the safety net if it
# is killed hard. It only ever removes the directory scale.py reported, and only if
# that is a blit-bench.scale.* temp dir.
STATE="$(mktemp "${TMPDIR:-/tmp}/blit-scale-state.XXXXXX")"
PY_PID=""
cleanup() {
    local d=""
    [ -s "$STATE" ] && d="$(head -n1 "$STATE")"
    case "$d" in
        */blit-bench.scale.*) [ -d "$d" ] && rm -rf --one-file-system "$d" ;;
    esac
    rm -f "$STATE"
}
forward() { [ -n "$PY_PID" ] && kill -TERM "$PY_PID" 2>/dev/null || true; }
trap cleanup EXIT
trap forward INT TERM HUP

set +e
python3 "$BENCH_DIR/scale.py" --cmdline "$CMDLINE" --state-file "$STATE" "$@" &
PY_PID=$!
while :; do
    wait "$PY_PID"
    rc=$?
    kill -0 "$PY_PID" 2>/dev/null || break
done
exit "$rc"
