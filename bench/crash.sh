#!/usr/bin/env bash
# The crash-consistency kill matrix at bench size: the real blit binary and a
# real blitd process, one of them SIGKILLed at a random moment of a push or a
# pull, BLIT_CRASH_POINTS times per direction (default 100 here; CI runs 30).
# After each kill every file under its final name must hold its old or new
# version; the rerun must complete, equal the source and leave no temporary
# file. See cli/tests/crash.rs.
#
#   bench/crash.sh [--debug]          # release build unless --debug
#   BLIT_CRASH_POINTS=200 BLIT_CRASH_SEED=42 bench/crash.sh
#
# Appends a report to bench/results/reliability-latest.md (or $RESULTS).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
profile=(--release)
[[ "${1:-}" == "--debug" ]] && profile=()
export BLIT_CRASH_POINTS="${BLIT_CRASH_POINTS:-100}"
export BLIT_CRASH_SEED="${BLIT_CRASH_SEED:-$(date +%s%N)}"
RESULTS="${RESULTS:-$ROOT/bench/results/reliability-latest.md}"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
echo "== kill matrix: $BLIT_CRASH_POINTS points per direction, seed $BLIT_CRASH_SEED" >&2
cargo test "${profile[@]}" -q -p blit-cli --test crash --no-run >&2
start=$(date +%s.%N)
status=0
cargo test "${profile[@]}" -q -p blit-cli --test crash -- --test-threads 1 2>&1 | tee "$log" >&2 || status=$?
secs=$(echo "$(date +%s.%N) - $start" | bc)
{
    echo
    echo "## Kill matrix, $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo
    echo "Commit \`$(git rev-parse --short HEAD 2>/dev/null || echo '?')\`$(git diff --quiet 2>/dev/null || echo ' (with local changes)'),"
    echo "profile ${profile[*]:-debug}, $(nproc) CPUs, load average $(cut -d' ' -f1 /proc/loadavg) at the end,"
    echo "\`BLIT_CRASH_POINTS=$BLIT_CRASH_POINTS BLIT_CRASH_SEED=$BLIT_CRASH_SEED\`, ${secs%.*} s, exit status $status."
    echo
    echo '```text'
    grep -E '^crash::|^test |^test result|rerun with|holds neither|left after|differs|missing|extra' "$log" || true
    echo '```'
} >>"$RESULTS"
echo "== report appended to $RESULTS" >&2
exit "$status"
