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

build_blit_pair "${CARGO_TARGET_DIR:-$root/target/bench-compare}"
mapfile -t args < <(with_results "$here/results/compare-latest.md" "$@")
exec python3 "$here/compare.py" --blit "$BLIT_BIN" --blitd "$BLITD_BIN" "${args[@]}"
