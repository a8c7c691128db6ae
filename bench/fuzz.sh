#!/usr/bin/env bash
# The property-based fuzz targets for every decoder of peer input, run with
# many more cases than CI's 256 (PROPTEST_CASES, default 1000000 per
# property; the tar shard target lands every case on disk, so it gets a
# fiftieth of that). About 5 minutes on 2 cores. Prints and appends, per target: properties, cases tried,
# wall time, failures.
#
#   bench/fuzz.sh                      # release build
#   PROPTEST_CASES=1000000 bench/fuzz.sh
#
# Targets: path validation (blit-api/tests/fuzz_paths.rs); message
# conversion, frames from arbitrary bytes, the tar shard reader and PAX
# times (transports/grpc/src/fuzz.rs); the TCP record and header decoders
# (transports/tcp/src/frame/tests.rs). Appends to
# bench/results/reliability-latest.md (or $RESULTS).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
CASES="${PROPTEST_CASES:-1000000}"
RESULTS="${RESULTS:-$ROOT/bench/results/reliability-latest.md}"
rows=()
total_status=0
# name | cases | package | target | filters...
run() {
    local name="$1" cases="$2" package="$3" target="$4"
    shift 4
    local log start secs status=0 passed failed
    log="$(mktemp)"
    # Build first (with exactly these arguments), so the time is the run's.
    cargo test --release -q -p "$package" $target --no-run >&2
    start=$(date +%s.%N)
    PROPTEST_CASES="$cases" cargo test --release -q -p "$package" $target -- "$@" 2>&1 | tee "$log" >&2 || status=$?
    secs=$(echo "$(date +%s.%N) - $start" | bc)
    passed=$(grep -Eo '[0-9]+ passed' "$log" | awk '{s+=$1} END {print s+0}')
    failed=$(grep -Eo '[0-9]+ failed' "$log" | awk '{s+=$1} END {print s+0}')
    rm -f "$log"
    rows+=("| $name | $passed | $cases | $((passed * cases)) | $(printf '%.1f' "$secs") s | $failed |")
    [[ $status -ne 0 ]] && total_status=$status
    return 0
}
run "path validation" "$CASES" blit-api "--test fuzz_paths"
run "gRPC messages and frames" "$CASES" blit-transport-grpc --lib \
    fuzz::paths fuzz::generated fuzz::mutated fuzz::arbitrary fuzz::pax
run "tar shard reader" "$((CASES / 50))" blit-transport-grpc --lib fuzz::shards
run "TCP record decoder" "$CASES" blit-transport-tcp --lib \
    frame::tests::decoder_never_panics frame::tests::header_decoders_never_panic
{
    echo
    echo "## Fuzz targets, $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo
    echo "Commit \`$(git rev-parse --short HEAD 2>/dev/null || echo '?')\`$(git diff --quiet 2>/dev/null || echo ' (with local changes)'), release build, $(nproc) CPUs."
    echo
    echo "| target | properties | cases each | inputs tried | time | failures |"
    echo "| --- | --- | --- | --- | --- | --- |"
    printf '%s\n' "${rows[@]}"
} | tee -a "$RESULTS"
exit "$total_status"
