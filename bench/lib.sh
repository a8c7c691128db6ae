# Shared helpers of the bench scripts; source it after setting BENCH_NAME
# (the prefix of messages, e.g. "bench" or "scale").

# Shell-quotes arguments only when needed, for a readable command line.
quote() {
    local a out=""
    for a in "$@"; do
        if [[ "$a" =~ ^[A-Za-z0-9_./,=:+@%-]+$ ]]; then out+=" $a"; else out+=" $(printf '%q' "$a")"; fi
    done
    printf '%s' "${out# }"
}

# need_pkg COMMAND PACKAGE: installs the Debian package when COMMAND is missing.
need_pkg() {
    command -v "$1" >/dev/null 2>&1 && return 0
    echo "${BENCH_NAME}: $1 is missing; installing Debian package '$2' (apt-get install -y $2)" >&2
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    if ! $sudo apt-get install -y "$2" >/dev/null; then
        echo "${BENCH_NAME}: apt-get install failed; running apt-get update and retrying" >&2
        $sudo apt-get update >/dev/null
        $sudo apt-get install -y "$2" >/dev/null
    fi
    command -v "$1" >/dev/null 2>&1 || { echo "${BENCH_NAME}: could not install $2" >&2; exit 1; }
}

# wants_blit ARGS...: prints 1 when the script's --tools (last one wins;
# absent means all tools) includes blit, else 0.
wants_blit() {
    local want=1 tools args=("$@") i
    for ((i = 0; i < ${#args[@]}; i++)); do
        case "${args[i]}" in
            --tools) tools="${args[i+1]:-}" ;;
            --tools=*) tools="${args[i]#--tools=}" ;;
            *) continue ;;
        esac
        case ",$tools," in *,blit,*) want=1 ;; *) want=0 ;; esac
    done
    printf '%s' "$want"
}

# help_passthrough SCRIPT ARGS...: hands -h/--help to the Python SCRIPT.
help_passthrough() {
    local script="$1" a
    shift
    for a in "$@"; do
        case "$a" in
            -h|--help) exec python3 "$script" --help ;;
        esac
    done
}

# build_blit_pair DIR [CARGO ARGS...]: unless BLIT_BIN and BLITD_BIN are set,
# builds blit and blitd in release mode in target directory DIR (its own, so
# other builds do not replace the binaries mid-run) and sets both variables.
build_blit_pair() {
    [[ -n "${BLIT_BIN:-}" && -n "${BLITD_BIN:-}" ]] && return 0
    local target="$1"; shift
    echo "building blit and blitd (release) in $target" >&2
    (cd "$root" && CARGO_TARGET_DIR="$target" cargo build --release -q -p blit-cli -p blit-daemon "$@")
    BLIT_BIN="$target/release/blit"
    BLITD_BIN="$target/release/blitd"
}

# with_results FILE ARGS...: prints ARGS one per line, plus `--results FILE`
# when ARGS name no --results (read it with mapfile).
with_results() {
    local file="$1"; shift
    [ "$#" -eq 0 ] || printf '%s\n' "$@"
    if [[ " $* " != *" --results "* ]]; then
        mkdir -p "$(dirname "$file")"
        printf '%s\n' --results "$file"
    fi
}

# start_sshd DIR: starts an sshd of its own on a free port of 127.0.0.1
# (host key, client key, authorized key and config in DIR; stop it with
# `kill "$sshd_pid"`) and sets `port`, `sshd_pid` and `rsh`, the ssh command
# both tools use (no compression; `-p $port` in it names the port).
start_sshd() {
    local dir="$1"
    ssh-keygen -q -t ed25519 -N "" -f "$dir/host_key"
    ssh-keygen -q -t ed25519 -N "" -f "$dir/client_key"
    cp "$dir/client_key.pub" "$dir/authorized_keys"
    [ "$(id -u)" -ne 0 ] || mkdir -p /run/sshd
    port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    cat > "$dir/sshd_config" <<CONFIG
Port $port
ListenAddress 127.0.0.1
HostKey $dir/host_key
AuthorizedKeysFile $dir/authorized_keys
PidFile $dir/sshd.pid
StrictModes no
UsePAM no
PasswordAuthentication no
LogLevel ERROR
CONFIG
    /usr/sbin/sshd -D -f "$dir/sshd_config" & sshd_pid=$!
    local _
    for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.05; done
    rsh="ssh -F none -i $dir/client_key -p $port -o UserKnownHostsFile=$dir/known -o StrictHostKeyChecking=no -o BatchMode=yes -o LogLevel=ERROR -o Compression=no"
}

# stop_pid PID [SECS]: sends SIGTERM to PID, waits up to SECS seconds
# (default 10) for it to end, then sends SIGKILL; reaps it when it is a child.
stop_pid() {
    local pid="$1" secs="${2:-10}" i state
    kill -TERM "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
    for ((i = 0; i < secs * 10; i++)); do
        state="$(awk '/^State:/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)"
        [[ -z "$state" || "$state" == Z ]] && break
        sleep 0.1
    done
    [[ -z "$state" || "$state" == Z ]] || kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null || true
    return 0
}
