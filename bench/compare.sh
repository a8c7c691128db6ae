#!/usr/bin/env bash
# blit beside rsync in every direction (local, push to a daemon, pull back)
# in one run: 100k small files, 1M empty files, each with a no-change re-run,
# and one large file copied 5 times per direction (issue 4/6's table).
#
# usage: bench/compare.sh [--small 100000] [--empty 1000000] [--large-mib 2048]
#                         [--large-runs 5] [--workdir /dev/shm]
#                         [--results bench/results/compare-latest.md]
#
# Installs rsync when missing (apt-get) and builds blit and blitd in release
# mode unless BLIT_BIN and BLITD_BIN name binaries. blitd and an rsync daemon
# listen on free loopback ports for the run and are stopped after it.
set -euo pipefail
BENCH_NAME=compare
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"

need_pkg rsync rsync

if [[ -z "${BLIT_BIN:-}" || -z "${BLITD_BIN:-}" ]]; then
    target="${CARGO_TARGET_DIR:-$root/target/bench-compare}"
    echo "building blit and blitd (release) in $target" >&2
    (cd "$root" && CARGO_TARGET_DIR="$target" cargo build --release -q -p blit-cli -p blit-daemon)
    BLIT_BIN="$target/release/blit"
    BLITD_BIN="$target/release/blitd"
fi

args=("$@")
if [[ " ${args[*]-} " != *" --results "* ]]; then
    mkdir -p "$here/results"
    args+=(--results "$here/results/compare-latest.md")
fi
exec python3 "$here/compare.py" --blit "$BLIT_BIN" --blitd "$BLITD_BIN" "${args[@]}"
