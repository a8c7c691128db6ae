#!/usr/bin/env bash
# Strangers against a real blitd at bench size: STRANGERS connections that
# trickle the HTTP/2 preface, as many that stay silent, and as many that
# send wrong secrets, while REAL authenticated pushes run one after the
# other. Reports how many real pushes succeeded and the daemon's peak memory
# (VmHWM). See daemon/tests/starve.rs for the CI version.
#
#   bench/starve.sh [--debug]                  # release build unless --debug
#   STRANGERS=300 REAL=20 bench/starve.sh
#
# Appends a report to bench/results/reliability-latest.md (or $RESULTS).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
BENCH_NAME=starve
source bench/lib.sh
profile=(--release) dir=release
[[ "${1:-}" == "--debug" ]] && profile=() dir=debug
STRANGERS="${STRANGERS:-300}" REAL="${REAL:-20}"
RESULTS="${RESULTS:-$ROOT/bench/results/reliability-latest.md}"
cargo build "${profile[@]}" -q -p blit-cli -p blit-daemon >&2
bin="${CARGO_TARGET_DIR:-$ROOT/target}/$dir"
work="$(mktemp -d)"
trap 'kill "${daemon:-0}" 2>/dev/null || true; rm -rf "$work"' EXIT
mkdir -p "$work/module" "$work/src"
for i in $(seq 1 200); do head -c 16384 /dev/urandom > "$work/src/f$i"; done
printf 'a-bench-secret-0123456789\n' > "$work/secret"; chmod 600 "$work/secret"
printf 'auth_secret_file = "%s"\n[[module]]\nname = "m"\npath = "%s"\n' "$work/secret" "$work/module" > "$work/blitd.toml"
"$bin/blitd" --config "$work/blitd.toml" --listen 127.0.0.1:0 2> "$work/log" &
daemon=$!
for _ in $(seq 1 100); do grep -q "listening on" "$work/log" && break; sleep 0.1; done
port="$(sed -n 's/.*listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$work/log" | head -1)"
python3 - "$port" "$STRANGERS" <<'PY' &
import socket, sys, threading, time
port, n = int(sys.argv[1]), int(sys.argv[2])
preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
def trickle():
    while True:
        try:
            s = socket.create_connection(("127.0.0.1", port))
            for b in preface * 20:
                s.send(bytes([b])); time.sleep(0.05)
        except OSError:
            time.sleep(0.05)
def silent():
    while True:
        try:
            s = socket.create_connection(("127.0.0.1", port)); s.recv(1)
        except OSError:
            time.sleep(0.05)
for i in range(n):
    threading.Thread(target=trickle, daemon=True).start()
    threading.Thread(target=silent, daemon=True).start()
time.sleep(3600)
PY
strangers=$!
( while true; do BLIT_SECRET=wrong-wrong-wrong-wrong "$bin/blit" ls "127.0.0.1:$port:/m" >/dev/null 2>&1; done ) &
guesser=$!
sleep 3
ok=0 start=$(date +%s.%N)
for i in $(seq 1 "$REAL"); do
    if BLIT_SECRET=a-bench-secret-0123456789 "$bin/blit" copy -q "$work/src/" "127.0.0.1:$port:/m/r$i/" 2>> "$work/client.log"; then
        ok=$((ok + 1))
    fi
done
secs=$(printf '%.1f' "$(echo "$(date +%s.%N) - $start" | bc)")
hwm="$(awk '/VmHWM/ {print $2}' "/proc/$daemon/status")"
kill "$strangers" "$guesser" 2>/dev/null || true
refused="$(grep -c 'refused .* request(s) with a wrong or missing secret' "$work/log" || true)"
{
    echo
    echo "## Strangers against blitd, $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo
    echo "Commit \`$(git rev-parse --short HEAD 2>/dev/null || echo '?')\`, profile ${profile[*]:-debug}, $(nproc) CPUs:"
    echo "$STRANGERS trickling + $STRANGERS silent connections (reconnecting when cut) and a wrong-secret loop;"
    echo "$ok of $REAL real authenticated pushes (200 x 16 KiB) succeeded in $secs s;"
    echo "daemon peak memory (VmHWM) $((hwm / 1024)) MiB; $refused wrong-secret summary lines in the log."
    if [ -s "$work/client.log" ]; then echo; echo '```text'; head -5 "$work/client.log"; echo '```'; fi
} | tee -a "$RESULTS"
