#!/usr/bin/env bash
# Distributed copy over simulated machines: 1, 2 and 4 `blit worker`s, each in
# its own network namespace behind its own rate-limited link, push the same
# generated tree to one blitd through a NATS JetStream queue. Reports the
# aggregate MB/s per worker count and the speedup over one worker.
#
#   bench/queue.sh [--size-mib 1536] [--large-mib 64] [--runs 3]
#                  [--workers 1,2,4] [--rate 300mbit] [--plain]
#                  [--dir /dev/shm] [--timeout 600] [--results FILE]
#
# Must run as root (it creates network namespaces, veth pairs and tc
# qdiscs). The "storage" namespace holds `nats-server -js` (its own config
# and store directory) and a blitd serving module `m`, both on 10.201.0.1;
# worker namespace i reaches it over its own veth pair, shaped with tbf to
# --rate in both directions. The source tree is a directory every namespace
# sees (namespaces share the mount namespace), the destination the daemon's
# module, emptied before every run. Each run is the job
#
#   blit copy --queue nats://10.201.0.1:4222 SRC/ blit://10.201.0.1:9031/m/dst/
#
# timed from submission to exit, with N workers started (and connected to
# NATS) beforehand; the destination is compared with the source after
# every run. --plain skips NATS and times N plain pushes instead, worker i
# pushing parts i, i+N, ... of the tree (`blit copy SRC/partXX blit://...`)
# from its namespace: the calibration of the links, and the ceiling a
# perfect split would reach. The default rate, 300 Mbit/s, keeps the links
# the limit on 2 cores: four of them carry 150 MB/s, about a fifth of the
# CPUs, where the same tree unshaped moves at about 1 GB/s (CPU-bound;
# --rate none shows it). Needs about 2 x --size-mib free in --dir (tmpfs by
# default). Builds blit and blitd in release mode unless BLIT_BIN and
# BLITD_BIN are set; everything it creates (namespaces, links, processes,
# files) goes on exit, Ctrl-C and SIGTERM included.
set -euo pipefail
BENCH_NAME=queue
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
# shellcheck source=bench/lib.sh
. "$here/lib.sh"
cmdline="$(quote "$0" "$@")"

size_mib=1536 large_mib=64 runs=3 workers=1,2,4 rate=300mbit plain=0
dir=/dev/shm run_timeout=600 results="$here/results/queue-latest.md"
while [ $# -gt 0 ]; do
    case "$1" in
        --size-mib) size_mib="$2"; shift 2 ;;
        --large-mib) large_mib="$2"; shift 2 ;;
        --runs) runs="$2"; shift 2 ;;
        --workers) workers="$2"; shift 2 ;;
        --rate) rate="$2"; shift 2 ;;
        --plain) plain=1; shift ;;
        --dir) dir="$2"; shift 2 ;;
        --timeout) run_timeout="$2"; shift 2 ;;
        --results) results="$2"; shift 2 ;;
        -h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
        *) echo "queue: unknown argument $1" >&2; exit 64 ;;
    esac
done
if [ "$(id -u)" -ne 0 ]; then
    echo "queue: must run as root: it creates network namespaces, veth pairs and tc qdiscs" >&2
    exit 1
fi
for tool in ip tc python3; do
    command -v "$tool" >/dev/null || { echo "queue: $tool is required" >&2; exit 1; }
done
nats_server="$(command -v nats-server || echo /usr/sbin/nats-server)"
[ "$plain" = 1 ] || [ -x "$nats_server" ] || need_pkg nats-server nats-server
IFS=, read -r -a counts <<< "$workers"
max_workers=0
for n in "${counts[@]}"; do
    [[ "$n" =~ ^[1-9][0-9]?$ ]] || { echo "queue: --workers takes counts from 1 to 99, e.g. 1,2,4" >&2; exit 64; }
    [ "$n" -le "$max_workers" ] || max_workers="$n"
done

build_blit_pair "${CARGO_TARGET_DIR:-$root/target/bench-queue}"
# Names: the namespaces carry this shell's pid, so two runs cannot collide.
# Inside them the addresses and ports are fixed: each namespace has its own.
ns_store="blitq$$-store" addr=10.201.0.1 nats_port=4222 nats_http=8222 blitd_port=9031
nats_url="nats://$addr:$nats_port"
namespaces=() daemon_pids=() worker_pids=() run_pids=() work=""
cleanup() {
    set +e
    local pid ns
    for pid in "${run_pids[@]}" "${worker_pids[@]}" "${daemon_pids[@]}"; do stop_pid "$pid" 5; done
    for ns in "${namespaces[@]}"; do
        # Whatever is still inside one of our namespaces was started by us.
        for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
        ip netns del "$ns" 2>/dev/null
    done
    [ -z "$work" ] || rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_mib=$(($(df -Pk "$dir" | awk 'NR == 2 {print $4}') / 1024))
if [ "$free_mib" -lt $((size_mib * 2 + 256)) ]; then
    echo "queue: $dir has $free_mib MiB free; the tree and its copy need about $((size_mib * 2 + 256))" >&2
    exit 1
fi
work="$(mktemp -d "$dir/blit-queue-bench.XXXXXX")"
# Copies, so a build running meanwhile cannot swap the binaries mid-run.
cp "$BLIT_BIN" "$work/blit"; cp "$BLITD_BIN" "$work/blitd"
blit="$work/blit"
if [ "$plain" = 0 ] && ! "$blit" worker --help >/dev/null 2>&1; then
    echo "queue: this blit has no 'worker' command (distributed mode); --plain times plain pushes instead" >&2
    exit 1
fi

# in_ns NS COMMAND...: runs COMMAND in network namespace NS.
in_ns() { local ns="$1"; shift; nsenter --net="/run/netns/$ns" "$@"; }
# spawn NS COMMAND...: starts COMMAND in NS in the background and sets
# `spawned` to its pid: nsenter execs COMMAND in place (ip netns exec forks,
# and so would a backgrounded function), so signals reach COMMAND itself.
spawn() { local ns="$1"; shift; nsenter --net="/run/netns/$ns" "$@" & spawned=$!; }

# wait_tcp NS HOST PORT: waits up to 10 s for HOST:PORT to accept, seen from NS.
wait_tcp() {
    local _
    for _ in $(seq 100); do
        in_ns "$1" bash -c "exec 3<>/dev/tcp/$2/$3" 2>/dev/null && return 0
        sleep 0.1
    done
    echo "queue: nothing listens on $2:$3 after 10 s" >&2
    return 1
}

# shape NS DEV: limits what leaves DEV to --rate (none: no limit). tbf's
# burst must hold one GSO packet (64 KiB) and some slack at this rate.
shape() {
    [ "$rate" = none ] || tc -n "$1" qdisc add dev "$2" root tbf rate "$rate" burst 256kb latency 20ms
}

# Storage side: loopback address the workers route to; one veth per worker.
ip netns add "$ns_store"; namespaces+=("$ns_store")
ip -n "$ns_store" link set lo up
ip -n "$ns_store" addr add "$addr/32" dev lo
for ((i = 1; i <= max_workers; i++)); do
    ns="blitq$$-w$i"
    ip netns add "$ns"; namespaces+=("$ns")
    ip -n "$ns" link set lo up
    ip -n "$ns" link add uplink type veth peer name "w$i" netns "$ns_store"
    ip -n "$ns" addr add "10.201.$i.2/24" dev uplink
    ip -n "$ns_store" addr add "10.201.$i.1/24" dev "w$i"
    ip -n "$ns" link set uplink up
    ip -n "$ns_store" link set "w$i" up
    ip -n "$ns" route add default via "10.201.$i.1"
    shape "$ns" uplink
    shape "$ns_store" "w$i"
done

# The daemon, with a secret as on a real network.
mkdir -p "$work/module" "$work/src"
python3 -c 'import secrets; print(secrets.token_hex(32))' > "$work/secret"
chmod 600 "$work/secret"
cat > "$work/blitd.toml" <<CONFIG
listen = "$addr:$blitd_port"
auth_secret_file = "$work/secret"
[[module]]
name = "m"
path = "$work/module"
CONFIG
spawn "$ns_store" "$work/blitd" --config "$work/blitd.toml" 2> "$work/blitd.log"
daemon_pids+=("$spawned")
wait_tcp "$ns_store" "$addr" "$blitd_port"
if [ "$plain" = 0 ]; then
    mkdir -p "$work/nats"
    cat > "$work/nats.conf" <<CONFIG
listen: "$addr:$nats_port"
http: "$addr:$nats_http"
jetstream {
    store_dir: "$work/nats"
    max_memory_store: 256MB
    max_file_store: 4GB
}
CONFIG
    spawn "$ns_store" "$nats_server" -js -c "$work/nats.conf" > "$work/nats.log" 2>&1
    daemon_pids+=("$spawned")
    wait_tcp "$ns_store" "$addr" "$nats_port"
fi

# The tree: 16 parts (so 1, 2, 4, 8 or 16 plain pushers split it evenly),
# two thirds of the bytes in files of --large-mib MiB, one third in files of
# 1 to 64 KiB, 250 to a directory; random content, so nothing compresses.
echo "queue: generating about $size_mib MiB in $work/src"
python3 - "$work/src" "$size_mib" "$large_mib" <<'EOF'
import os, random, sys
root, size, large = sys.argv[1], int(sys.argv[2]) << 20, int(sys.argv[3]) << 20
parts, rng = 16, random.Random(1)
n_large = max(1, round(size * 2 / 3 / large))
for i in range(n_large):
    d = os.path.join(root, f"part{i % parts:02}")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, f"large{i:03}.bin"), "wb") as f:
        for _ in range(0, large, 1 << 20):
            f.write(os.urandom(1 << 20))
left, i = size - n_large * large, 0
while left > 0:
    n = min(left, rng.randint(1, 64) << 10)
    d = os.path.join(root, f"part{i % parts:02}", f"d{i // parts // 250:03}")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, f"f{i:06}"), "wb") as f:
        f.write(os.urandom(n))
    left, i = left - n, i + 1
EOF
tree_bytes="$(find "$work/src" -type f -printf '%s\n' | awk '{s += $1} END {print s}')"
tree_files="$(find "$work/src" -type f | wc -l)"
tree_large="$(find "$work/src" -type f -name 'large*' | wc -l)"
echo "queue: $tree_files files, $tree_bytes bytes ($tree_large of $large_mib MiB)"

# cpu_ticks: busy and total jiffies of all CPUs so far (user to steal; guest
# time is already in user; busy excludes idle, iowait and steal).
cpu_ticks() {
    awk '/^cpu / {t = 0; for (i = 2; i <= 9; i++) t += $i; print t - $5 - $6 - $9, t}' /proc/stat
}

# start_workers N: N workers, one per namespace; waits up to 30 s until NATS
# counts N client connections.
start_workers() {
    local i conns _
    worker_pids=()
    for ((i = 1; i <= $1; i++)); do
        spawn "blitq$$-w$i" "$blit" worker "$nats_url" --name "w$i" --secret-file "$work/secret" \
            > "$work/worker$i.log" 2>&1
        worker_pids+=("$spawned")
    done
    for _ in $(seq 300); do
        conns="$(in_ns "$ns_store" python3 -c 'import json, sys, urllib.request
print(json.load(urllib.request.urlopen(sys.argv[1], timeout=2))["num_connections"])' \
            "http://$addr:$nats_http/connz" 2>/dev/null || echo 0)"
        [ "$conns" -ge "$1" ] && return 0
        sleep 0.1
    done
    echo "queue: only $conns of $1 workers connected to NATS after 30 s; see $work/worker*.log" >&2
    return 1
}

stop_workers() {
    local pid
    for pid in "${worker_pids[@]}"; do stop_pid "$pid" 15; done
    worker_pids=()
}

# plain_push N: worker i pushes parts i, i+N, ... one after the other.
plain_push() {
    local i p pid failed=0
    run_pids=()
    for ((i = 1; i <= $1; i++)); do
        (
            for ((p = i - 1; p < 16; p += $1)); do
                in_ns "blitq$$-w$i" timeout -k 5 "$run_timeout" "$blit" copy -q --secret-file "$work/secret" \
                    "$work/src/part$(printf %02d "$p")" "blit://$addr:$blitd_port/m/dst/" || exit 1
            done
        ) >> "$work/push$i.log" 2>&1 &
        run_pids+=($!)
    done
    for pid in "${run_pids[@]}"; do wait "$pid" || failed=1; done
    run_pids=()
    return "$failed"
}

# queue_job: submits the job from the storage namespace and follows it to
# the end. (In the background, so a signal to this script ends it at once.)
queue_job() {
    local rc=0
    spawn "$ns_store" timeout -k 5 "$run_timeout" "$blit" copy --json --queue "$nats_url" \
        --secret-file "$work/secret" "$work/src/" "blit://$addr:$blitd_port/m/dst/" \
        > "$work/summary.json" 2> "$work/job.log"
    run_pids=("$spawned")
    wait "$spawned" || rc=$?
    run_pids=()
    return "$rc"
}

# landed_by_workers N: what the N workers' logs say they landed in this run
# ("item S of job J: F files, B bytes in T s"): bytes, and items per worker.
landed_by_workers() {
    local i bytes=0 items=() b
    for ((i = 1; i <= $1; i++)); do
        b="$(awk '/^blit worker .*: item [0-9]+ of job .* bytes in / {for (f = 1; f < NF; f++) if ($(f + 1) == "bytes") s += $f; n++}
            END {print s + 0, n + 0}' "$work/worker$i.log")"
        bytes=$((bytes + ${b% *})); items+=("${b#* }")
    done
    local IFS=/
    echo "workers landed $bytes bytes, items per worker ${items[*]}"
}

mbps() { python3 -c "import sys; print(f'{int(sys.argv[1]) / 1e6 / float(sys.argv[2]):.1f}')" "$tree_bytes" "$1"; }

mode="queue"; [ "$plain" = 0 ] || mode="plain pushes"
link_mbs="$(python3 -c "
import re, sys
m = re.fullmatch(r'([0-9.]+)([kmg]?)bit', sys.argv[1].lower())
print(f'{float(m[1]) * {\"\": 1, \"k\": 1e3, \"m\": 1e6, \"g\": 1e9}[m[2]] / 8e6:.1f}' if m else '-')" "$rate")"
echo "queue: $mode, workers $workers, link $rate each ($link_mbs MB/s), $runs runs, $(nproc) CPUs"
load_start="$(cut -d' ' -f1-3 /proc/loadavg)"
declare -A secs cpu
lines=()
for ((run = 1; run <= runs; run++)); do
    # Rotate the order of worker counts from run to run.
    order=("${counts[@]:$(((run - 1) % ${#counts[@]}))}" "${counts[@]:0:$(((run - 1) % ${#counts[@]}))}")
    for n in "${order[@]}"; do
        rm -rf "$work/module/dst"
        [ "$plain" = 1 ] || start_workers "$n"
        read -r busy0 total0 < <(cpu_ticks)
        start=$(date +%s.%N)
        ok=1
        if [ "$plain" = 1 ]; then plain_push "$n" || ok=0; else queue_job || ok=0; fi
        end=$(date +%s.%N)
        read -r busy1 total1 < <(cpu_ticks)
        [ "$plain" = 1 ] || stop_workers
        if [ "$ok" = 0 ]; then
            echo "queue: !!!!! FAIL: $n worker(s), run $run did not finish; logs:" >&2
            tail -n 5 "$work"/*.log >&2
            exit 1
        fi
        if ! diff -r -q "$work/src" "$work/module/dst" > "$work/diff" 2>&1; then
            echo "queue: !!!!! FAIL: $n worker(s), run $run: destination differs from source:" >&2
            head -n 10 "$work/diff" >&2
            exit 1
        fi
        t=$(python3 -c "print(f'{$end - $start:.2f}')")
        c=$(( (busy1 - busy0) * 100 / (total1 - total0) ))
        secs[$n]+="$t " cpu[$n]+="$c "
        detail=""
        if [ "$plain" = 0 ]; then
            detail="; $(landed_by_workers "$n"); the job's summary: $(python3 -c 'import json, sys
s = json.load(open(sys.argv[1]))
print(s.get("files_transferred"), "files,", s.get("bytes_transferred"), "bytes")' "$work/summary.json")"
        fi
        lines+=("$n worker(s), run $run: $t s, $(mbps "$t") MB/s, CPUs $c% busy$detail")
        echo "${lines[-1]}"
    done
done

median() { python3 -c "import statistics, sys; print(f'{statistics.median(map(float, sys.argv[1:])):.2f}')" "$@"; }
# shellcheck disable=SC2086 # the lists are space-separated numbers
{
    echo
    echo "## Distributed copy, $mode ($(date -u '+%Y-%m-%d %H:%M UTC'))"
    echo
    echo "\`$cmdline\`; commit \`$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')\`," \
        "$(nproc) CPUs ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)), kernel $(uname -r)," \
        "load $load_start at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end."
    echo "Tree: $tree_files files, $tree_bytes bytes ($tree_large files of $large_mib MiB, the rest 1-64 KiB) in $dir;" \
        "each worker's link $rate both ways ($link_mbs MB/s). Medians of $runs runs."
    echo
    echo "| workers | median s | MB/s | MB/s per worker | of the link | CPUs busy | speedup vs 1 | all runs (s) |"
    echo "|---:|---:|---:|---:|---:|---:|---:|---|"
    base=""
    [ -z "${secs[1]:-}" ] || base=$(mbps "$(median ${secs[1]})")
    for n in "${counts[@]}"; do
        t=$(median ${secs[$n]}); m=$(mbps "$t")
        per=$(python3 -c "print(f'{$m / $n:.1f}')")
        of=- speedup=-
        [ "$link_mbs" = - ] || of=$(python3 -c "print(f'{100 * $m / $n / $link_mbs:.0f}%')")
        [ -z "$base" ] || speedup=$(python3 -c "print(f'{$m / $base:.2f}x')")
        echo "| $n | $t | $m | $per | $of | $(median ${cpu[$n]} | cut -d. -f1)% | $speedup | ${secs[$n]% } |"
    done
    if [[ -n "$base" && -n "${secs[4]:-}" ]]; then
        s=$(python3 -c "print(f'{$(mbps "$(median ${secs[4]})") / $base:.2f}')")
        met=$(python3 -c "print('met' if $s >= 3.2 else 'NOT met')")
        echo
        echo "Target: 4 workers at least 3.2x one worker: ${s}x, $met."
    fi
    echo
    echo "Every run, in order:"
    echo
    echo '```text'
    printf '%s\n' "${lines[@]}"
    echo '```'
} | tee -a "$results"
