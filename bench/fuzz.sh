#!/usr/bin/env bash
# The property-based fuzz targets for every decoder of peer input, run with
# many more cases than CI's 256 (PROPTEST_CASES, default 1000000 per
# property; the targets that land every case on disk get a tenth of
# that). About 10 minutes on 2 cores. Prints
# and appends, per target: properties, cases tried, wall time, failures.
#
#   bench/fuzz.sh                      # release build
#   PROPTEST_CASES=1000000 bench/fuzz.sh
#
# Targets: path validation (blit-api/tests/fuzz_paths.rs); message
# conversion (headers with owner, xattrs, hard links and block maps; events;
# Open), frames from arbitrary bytes and PAX times, the options and the
# filter a daemon compiles from them, payload record streams (file ranges
# of resumed files), the tar shard reader with PAX owner/xattr records
# (session/src/fuzz/*.rs); the TCP record prefix, file header and
# range header decoders (transports/tcp/src/frame/tests.rs). Appends to
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
run "session messages and frames" "$CASES" blit-session --lib \
    fuzz::messages::paths_decode fuzz::messages::headers_decode fuzz::messages::generated \
    fuzz::messages::mutated fuzz::messages::arbitrary fuzz::shards::pax_times
run "options and filter compilation" "$CASES" blit-session --lib \
    fuzz::options::options_compile_or_are_refused
run "payload record streams" "$((CASES / 10))" blit-session --lib \
    fuzz::records::well_formed fuzz::records::mutated
run "tar shard reader" "$((CASES / 10))" blit-session --lib fuzz::shards::shards_never
run "TCP record decoder" "$CASES" blit-transport-tcp --lib \
    frame::tests::decoder_never_panics frame::tests::header_decoders_never_panic \
    frame::tests::file_headers_round_trip frame::tests::range_headers_decode frame::tests::prefixes_of_every_tag
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
