#!/usr/bin/env bash
# Containment under races at bench size: daemon/tests/race.rs with many more
# attempts (BLIT_RACE_ATTEMPTS, default 500 here; CI runs 10). A second party
# swaps directories inside a module for symlinks to a canary tree outside it
# while pushes, mirrors and pulls run over in-stream gRPC and the TCP data
# plane; the canary must stay identical and no byte or name of it may reach
# a client. Prints each scenario's attempts and swaps.
#
#   bench/race.sh [--debug]            # release build unless --debug
#   BLIT_RACE_ATTEMPTS=2000 bench/race.sh
#
# Appends a report to bench/results/reliability-latest.md (or $RESULTS).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
profile=(--release)
[[ "${1:-}" == "--debug" ]] && profile=()
export BLIT_RACE_ATTEMPTS="${BLIT_RACE_ATTEMPTS:-500}"
RESULTS="${RESULTS:-$ROOT/bench/results/reliability-latest.md}"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
echo "== containment races: $BLIT_RACE_ATTEMPTS attempts per scenario" >&2
cargo test "${profile[@]}" -q -p blit-daemon --test race --no-run >&2
start=$(date +%s.%N)
status=0
cargo test "${profile[@]}" -q -p blit-daemon --test race -- --test-threads 1 --nocapture 2>&1 | tee "$log" >&2 || status=$?
secs=$(echo "$(date +%s.%N) - $start" | bc)
{
    echo
    echo "## Containment races, $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo
    echo "Commit \`$(git rev-parse --short HEAD 2>/dev/null || echo '?')\`$(git diff --quiet 2>/dev/null || echo ' (with local changes)'),"
    echo "profile ${profile[*]:-debug}, $(nproc) CPUs, \`BLIT_RACE_ATTEMPTS=$BLIT_RACE_ATTEMPTS\`, ${secs%.*} s, exit status $status."
    echo
    echo '```text'
    grep -E '^race:|^test result|canary outside|outside the module|panicked' "$log" || true
    echo '```'
} >>"$RESULTS"
exit "$status"
