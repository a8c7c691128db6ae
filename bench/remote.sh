#!/usr/bin/env bash
# Remote benchmark, one command: blit push/pull through blitd over the TCP
# data plane and over forced in-stream gRPC, beside an rsync daemon and
# iperf3 (single stream), all on loopback in the same run.
#
# usage: bench/remote.sh [--size-mib 4096] [--small-count 100000]
#                        [--small-size 4096] [--runs 3]
#                        [--workdir /dev/shm/blit-remote-bench]
#                        [--results bench/results/remote-latest.md]
#
# Installs iperf3 and rsync when missing (apt-get), builds blit and blitd in
# release mode with the bench-only null sink (internal feature
# `_bench-null-sink`, in a separate target directory so other builds do not
# replace the binaries mid-run), unless BLIT_BIN and BLITD_BIN name binaries
# built that way. Needs about 2 x --size-mib plus 1 GiB free in --workdir
# (tmpfs by default).
set -euo pipefail
BENCH_NAME=remote
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"

need_pkg iperf3 iperf3
need_pkg rsync rsync

build_blit_pair "${CARGO_TARGET_DIR:-$root/target/bench-remote}" \
    --features blit-cli/_bench-null-sink,blit-daemon/_bench-null-sink
mapfile -t args < <(with_results "$here/results/remote-latest.md" "$@")
exec python3 "$here/remote.py" --blit "$BLIT_BIN" --blitd "$BLITD_BIN" "${args[@]}"
