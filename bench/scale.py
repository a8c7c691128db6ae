#!/usr/bin/env python3
"""blit remote scale bench: push and pull of 100k / 1M entries over gRPC to blitd,
beside rsync to an rsync daemon, both on loopback. Measures wall time, the
client's peak RSS and the daemon's peak RSS, checks every destination.

Normally started through bench/scale.sh (builds blit and blitd, installs rsync and
GNU time). Standard library only; the workload generation, verification, timed
runner and machine description come from bench/bench.py.

Per (entries, layout): the source tree is generated once inside the daemons'
module root (TREE/src). Then for each direction and each tool, a fresh daemon
(blitd, or rsync --daemon) is started on 127.0.0.1 with a free port and one module
`m` = TREE, the client runs under /usr/bin/time into a fresh destination
(push: TREE/push/ through the daemon; pull: a local directory beside TREE), the
daemon's peak RSS is read, the daemon is stopped, and the destination is checked
(file, directory and byte counts plus a sample compared for size, mode, mtime).
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True  # no bench/__pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (shared harness pieces)
from bench import MiB, Run, log  # noqa: E402

TIME_BIN = bench.TIME_BIN
LAYOUTS_ALL = ["nested", "flat"]
DIRECTIONS_ALL = ["push", "pull"]
TOOLS_ALL = ["blit", "rsync"]
NESTED_DIRS = 1000
RSS_LIMIT_BYTES = 48 * 1000 * 1000  # "48 MB"; MB = 10^6 bytes, as in bench.py
RSS_LIMIT_KIB = RSS_LIMIT_BYTES / 1024
GROWTH_LIMIT = 1.25
CLIENT_TIMEOUT = 3600.0


def fmt_n(n: int) -> str:
    if n % 1_000_000 == 0:
        return f"{n // 1_000_000}M"
    if n % 1000 == 0:
        return f"{n // 1000}k"
    return f"{n:,}"


def mib(kib: float) -> str:
    return f"{kib / 1024:.1f}" if kib >= 0 else "?"


# --------------------------------------------------------------------------
# Process-tree memory sampling
# --------------------------------------------------------------------------

def proc_status(pid: int) -> dict[str, str]:
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                k, _, v = line.partition(":")
                out[k] = v.strip()
    except OSError:
        pass
    return out


def kib_field(st: dict[str, str], key: str) -> int:
    try:
        return int(st[key].split()[0])
    except (KeyError, ValueError, IndexError):
        return -1


def parent_pid(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/stat") as f:
            data = f.read()
        return int(data[data.rfind(")") + 2:].split()[1])
    except (OSError, IndexError, ValueError):
        return -1


def descendants(root: int) -> list[int]:
    """root and all its descendants (scan of /proc/*/stat)."""
    parent: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                data = f.read()
        except OSError:
            continue
        # "pid (comm) state ppid ..."; comm may contain spaces and parentheses
        rest = data[data.rfind(")") + 2:].split()
        try:
            parent.setdefault(int(rest[1]), []).append(int(name))
        except (IndexError, ValueError):
            continue
    out, stack = [], [root]
    while stack:
        p = stack.pop()
        out.append(p)
        stack.extend(parent.get(p, []))
    return out


class TreeSampler:
    """Polls the VmHWM of every process under `root` (every `interval` s) and keeps
    the largest, with the process's name. VmHWM only grows while a process lives, so
    a process's last sample is its peak except for growth in its last interval."""

    def __init__(self, root: int, skip_comm: tuple[str, ...] = ("time",), interval: float = 0.1):
        self.root, self.skip, self.interval = root, skip_comm, interval
        self.max_kib, self.max_who, self.samples, self.procs_seen = -1, "", 0, set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def sample(self) -> None:
        for pid in descendants(self.root):
            st = proc_status(pid)
            if st.get("Name") in self.skip:
                continue
            hwm = kib_field(st, "VmHWM")
            if hwm >= 0:
                self.procs_seen.add(pid)
            if hwm > self.max_kib:
                self.max_kib, self.max_who = hwm, f"{st.get('Name', '?')}[{pid}]"
        self.samples += 1

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def start(self) -> "TreeSampler":
        self.sample()
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()


# --------------------------------------------------------------------------
# Daemons
# --------------------------------------------------------------------------

LIVE: list[subprocess.Popen] = []  # daemons to kill on the way out


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(port: int, proc: subprocess.Popen, logfile: str, timeout: float = 20.0) -> None:
    t_end = time.monotonic() + timeout
    while time.monotonic() < t_end:
        if proc.poll() is not None:
            raise RuntimeError(f"daemon exited with status {proc.returncode} before listening; "
                               f"log {logfile}:\n{tail(logfile)}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"daemon not listening on 127.0.0.1:{port} after {timeout:.0f} s; log {logfile}")


def tail(path: str, n: int = 2000) -> str:
    try:
        with open(path, "rb") as f:
            return f.read()[-n:].decode(errors="replace").strip()
    except OSError:
        return ""


def start_daemon(cmd: list[str], port: int, logfile: str) -> subprocess.Popen:
    lf = open(logfile, "ab")
    try:
        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=lf, stderr=lf,
                             start_new_session=True)
    finally:
        lf.close()
    LIVE.append(p)
    wait_listening(port, p, logfile)
    return p


def stop_daemon(p: subprocess.Popen, grace: float = 20.0) -> int | None:
    """SIGTERM to the daemon (a graceful stop), SIGKILL to its group if it lingers.
    When p is /usr/bin/time, the signal goes to the daemon under it (time would die
    of it without writing its report). Returns p's exit status (None if killed)."""
    status = None
    if p.poll() is None:
        target = p.pid
        st = proc_status(p.pid)
        if st.get("Name") == "time":
            kids = [q for q in descendants(p.pid) if parent_pid(q) == p.pid]
            if kids:
                target = kids[0]
        try:
            os.kill(target, signal.SIGTERM)
            status = p.wait(timeout=grace)
        except (subprocess.TimeoutExpired, ProcessLookupError):
            pass
    else:
        status = p.returncode
    try:
        os.killpg(p.pid, signal.SIGKILL)  # anything left in its group
    except (ProcessLookupError, PermissionError):
        pass
    if p.poll() is None:
        p.wait()
    if p in LIVE:
        LIVE.remove(p)
    return status


def kill_all_daemons() -> None:
    for p in list(LIVE):
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        LIVE.remove(p)


def last_int(path: str) -> int:
    """The last integer in a /usr/bin/time -f %M output file (which may be preceded by
    'Command terminated by signal 15' when the daemon was stopped)."""
    try:
        with open(path) as f:
            toks = f.read().split()
        for t in reversed(toks):
            if t.isdigit():
                return int(t)
    except OSError:
        pass
    return -1


# --------------------------------------------------------------------------
# One measured run
# --------------------------------------------------------------------------

class Measure:
    def __init__(self, tool: str, direction: str, n: int, layout: str):
        self.tool, self.direction, self.n, self.layout = tool, direction, n, layout
        self.wall = 0.0
        self.client_kib = -1
        self.daemon_kib = -1
        self.daemon_detail = ""
        self.ok = True
        self.problems: list[str] = []
        self.load = (0.0, 0.0, 0.0)


def run_one(tool: str, direction: str, n: int, layout: str, bins: dict[str, str],
            tree: str, src: str, sstats: bench.TreeStats, work: str, scratch: str,
            rsync_conf: str) -> Measure:
    m = Measure(tool, direction, n, layout)
    push_dst = os.path.join(tree, "push")
    pull_dst = os.path.join(work, "pull-dst")
    dst = push_dst if direction == "push" else pull_dst
    bench.rm_rf(push_dst)
    bench.rm_rf(pull_dst)
    if direction == "pull":
        os.mkdir(pull_dst)
    port = free_port()
    logfile = os.path.join(scratch, f"{tool}-daemon.log")
    dtime = os.path.join(scratch, "daemon.time")
    if os.path.exists(dtime):
        os.unlink(dtime)

    if tool == "blit":
        dcmd = [bins["blitd"], "--listen", f"127.0.0.1:{port}", "--module", f"m={tree}"]
        remote = f"127.0.0.1:{port}:/m/"
        ccmd = ([bins["blit"], "copy", src + "/", remote + "push/"] if direction == "push"
                else [bins["blit"], "copy", remote + "src/", pull_dst + "/"])
    else:
        # under /usr/bin/time as well: %M of the daemon is the largest process among
        # it and the (reaped) children it forks per connection -- a cross-check of
        # the sampler, which can miss growth in a child's last 100 ms
        dcmd = [TIME_BIN, "-f", "%M", "-o", dtime, "rsync", "--daemon", "--no-detach",
                f"--config={rsync_conf}", "--address=127.0.0.1", f"--port={port}"]
        remote = f"rsync://127.0.0.1:{port}/m/"
        ccmd = (["rsync", "-a", src + "/", remote + "push/"] if direction == "push"
                else ["rsync", "-a", remote + "src/", pull_dst + "/"])

    d = start_daemon(dcmd, port, logfile)
    try:
        sampler = TreeSampler(d.pid).start()
        m.load = os.getloadavg()
        r: Run = bench.run_cmds(tool, [ccmd], scratch, timeout=CLIENT_TIMEOUT)
        if tool == "rsync":
            # let the daemon's per-connection children finish and be reaped, so
            # time's %M of the daemon covers them
            t_end = time.monotonic() + 10
            while time.monotonic() < t_end and len(descendants(d.pid)) > 2:  # time + rsync
                time.sleep(0.05)
        sampler.stop()
        m.wall, m.client_kib = r.wall, r.rss_kib
        if not r.ok:
            m.ok = False
            m.problems.append(r.note)
        if tool == "blit":
            st = proc_status(d.pid)
            hwm, rss_now = kib_field(st, "VmHWM"), kib_field(st, "VmRSS")
            m.daemon_kib = max(hwm, sampler.max_kib)
            m.daemon_detail = f"blitd VmHWM {mib(hwm)} MiB, VmRSS after the transfer {mib(rss_now)} MiB"
            if d.poll() is not None:
                m.ok = False
                m.problems.append(f"blitd died during the run (status {d.returncode}): {tail(logfile)}")
    finally:
        status = stop_daemon(d)
    if tool == "rsync":
        by_time = last_int(dtime)
        m.daemon_kib = max(by_time, sampler.max_kib)
        m.daemon_detail = (f"rsyncd tree: sampled max VmHWM {mib(sampler.max_kib)} MiB ({sampler.max_who}, "
                           f"{len(sampler.procs_seen)} processes seen, {sampler.samples} samples); "
                           f"time %M of the daemon {mib(by_time)} MiB")
    elif status not in (0, None):
        m.daemon_detail += f"; blitd exit status {status} after SIGTERM"

    problems = bench.verify(src, sstats, dst, tool)
    if problems:
        m.ok = False
        m.problems.extend(problems)
    bench.rm_rf(push_dst)
    bench.rm_rf(pull_dst)
    return m


# --------------------------------------------------------------------------
# Reporting
# --------------------------------------------------------------------------

def median_or_none(xs):
    xs = list(xs)
    return statistics.median(xs) if xs else None


def agg(runs: list[Measure]) -> tuple[float | None, int, int, bool]:
    """(median wall, max client KiB, max daemon KiB, all ok) over repetitions."""
    if not runs:
        return None, -1, -1, True
    return (median_or_none(r.wall for r in runs), max(r.client_kib for r in runs),
            max(r.daemon_kib for r in runs), all(r.ok for r in runs))


def layout_table(layout: str, entries: list[int], directions: list[str], tools: list[str],
                 results: dict) -> str:
    out = [
        "| direction | N | blit time s | blit client RSS MiB | blitd RSS MiB "
        "| rsync time s | rsync client RSS MiB | rsyncd RSS MiB | blit/rsync time |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for direction in directions:
        for n in entries:
            cells = [direction, f"{n:,}"]
            walls = {}
            for tool in TOOLS_ALL:
                runs = results.get((tool, layout, direction, n), [])
                if tool not in tools or not runs:
                    cells += ["-", "-", "-"]
                    continue
                w, c, dk, ok = agg(runs)
                walls[tool] = w
                cells += [f"{w:.2f}" + ("" if ok else " **FAIL**"), mib(c), mib(dk)]
            if "blit" in walls and "rsync" in walls:
                cells.append(f"{walls['blit'] / walls['rsync']:.2f}x")
            else:
                cells.append("-")
            out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


def target_table(entries: list[int], layouts: list[str], directions: list[str],
                 results: dict) -> tuple[str, list[str]]:
    """Targets for blit: every process's peak RSS <= 48 MB, and RSS(largest N) <=
    1.25x RSS(smallest N). Returns (table, list of misses)."""
    lo, hi = min(entries), max(entries)
    misses: list[str] = []
    out = [
        f"| layout | direction | process | RSS at {fmt_n(lo)} MiB | RSS at {fmt_n(hi)} MiB "
        f"| peak <= 48 MB | {fmt_n(hi)}/{fmt_n(lo)} | ratio <= {GROWTH_LIMIT}x |",
        "|---|---|---|---:|---:|---|---:|---|",
    ]
    for layout in layouts:
        for direction in directions:
            for proc, idx in (("blit client", 1), ("blitd", 2)):
                vals = {}
                for n in entries:
                    runs = results.get(("blit", layout, direction, n), [])
                    if runs:
                        vals[n] = agg(runs)[idx]
                if not vals:
                    continue
                peak = max(vals.values())
                v_rss = "PASS" if 0 <= peak <= RSS_LIMIT_KIB else "**MISS**"
                if v_rss != "PASS":
                    misses.append(f"{layout} {direction} {proc}: peak {mib(peak)} MiB"
                                  f" ({peak * 1024 / 1e6:.1f} MB) > 48 MB")
                if lo in vals and hi in vals and lo != hi and vals[lo] > 0:
                    ratio = vals[hi] / vals[lo]
                    v_ratio = "PASS" if ratio <= GROWTH_LIMIT else "**MISS**"
                    if v_ratio != "PASS":
                        misses.append(f"{layout} {direction} {proc}: RSS {fmt_n(hi)}/{fmt_n(lo)} = {ratio:.2f}x")
                    ratio_s = f"{ratio:.2f}x"
                else:
                    ratio_s, v_ratio = "-", "n/a"
                out.append(f"| {layout} | {direction} | {proc} | {mib(vals.get(lo, -1))} | "
                           f"{mib(vals.get(hi, -1))} | {v_rss} | {ratio_s} | {v_ratio} |")
    return "\n".join(out), misses


def git_state(root: str) -> str:
    try:
        head = subprocess.run(["git", "-C", root, "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", root, "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10).stdout.splitlines()
    except (OSError, subprocess.SubprocessError):
        return "?"
    if not head:
        return "?"
    if dirty:
        return f"commit `{head}` plus uncommitted changes in {len(dirty)} tracked file(s)"
    return f"commit `{head}` (clean)"


# --------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------

def csv_list(text: str, allowed: list[str] | None, what: str, ap) -> list[str]:
    items = [x.strip() for x in text.split(",") if x.strip()]
    if allowed is not None:
        bad = [x for x in items if x not in allowed]
        if bad:
            ap.error(f"unknown {what} {bad}; choose from {allowed}")
    return items


def parse_count(t: str) -> int:
    t = t.strip().lower().replace("_", "")
    mult = {"k": 1000, "m": 1_000_000}
    return int(float(t[:-1]) * mult[t[-1]]) if t and t[-1] in mult else int(t)


def write_rsync_conf(path: str, tree: str, logfile: str) -> None:
    lines = [
        "use chroot = no",
        "munge symlinks = no",
        f"log file = {logfile}",
        "max connections = 0",
    ]
    if os.geteuid() == 0:
        lines += ["uid = root", "gid = root"]  # default would be nobody: write as we do
    lines += ["", "[m]", f"    path = {tree}", "    read only = no", "    list = yes", ""]
    with open(path, "w") as f:
        f.write("\n".join(lines))


def main() -> int:
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description="blit remote scale bench (use bench/scale.sh)")
    ap.add_argument("--blit", default=os.environ.get("BLIT_BIN"), help="blit binary")
    ap.add_argument("--blitd", default=os.environ.get("BLITD_BIN"), help="blitd binary")
    ap.add_argument("--quick", action="store_true",
                    help="entries 10,000 and 100,000 instead of 100,000 and 1,000,000")
    ap.add_argument("--entries", default=None,
                    help="comma-separated file counts (default 100000,1000000; 10000,100000 with --quick)")
    ap.add_argument("--layout", default=",".join(LAYOUTS_ALL), help="nested,flat (default both)")
    ap.add_argument("--direction", default=",".join(DIRECTIONS_ALL), help="push,pull (default both)")
    ap.add_argument("--tools", default=",".join(TOOLS_ALL), help="blit,rsync (default both)")
    ap.add_argument("--file-size", default="0",
                    help="bytes per file (default 0: empty files); e.g. 1K for the 1 KiB variant")
    ap.add_argument("--reps", type=int, default=1, help="repetitions per run (default 1)")
    ap.add_argument("--no-warmup", dest="warmup", action="store_false",
                    help="skip the untimed tar | tar warm-up copy after generating each source")
    ap.add_argument("--tmpdir", default=None, help="put the data here instead of /dev/shm")
    ap.add_argument("--results", default=os.path.join(here, "results", "scale-latest.md"))
    ap.add_argument("--cmdline", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--state-file", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()

    layouts = csv_list(args.layout, LAYOUTS_ALL, "layout(s)", ap)
    directions = csv_list(args.direction, DIRECTIONS_ALL, "direction(s)", ap)
    tools = csv_list(args.tools, TOOLS_ALL, "tool(s)", ap)
    try:
        entries = sorted({parse_count(x) for x in csv_list(
            args.entries or ("10000,100000" if args.quick else "100000,1000000"), None, "", ap)})
    except (ValueError, KeyError):
        ap.error(f"bad --entries {args.entries!r}")
    if not entries or min(entries) < 1:
        ap.error("--entries must be positive")
    if args.reps < 1:
        ap.error("--reps must be >= 1")
    file_size = bench.parse_size(args.file_size)
    bins = {}
    if "blit" in tools:
        for k in ("blit", "blitd"):
            b = getattr(args, k)
            if not b:
                ap.error(f"no {k} binary: pass --{k} or set {k.upper()}_BIN (bench/scale.sh does this)")
            if not os.access(b, os.X_OK):
                ap.error(f"{k} binary {b} is not executable")
            bins[k] = os.path.abspath(b)
    if "rsync" in tools and not shutil.which("rsync"):
        ap.error("rsync not found")
    if not os.access(TIME_BIN, os.X_OK):
        ap.error(f"{TIME_BIN} not found (apt-get install -y time)")

    def workload(n: int, layout: str) -> bench.Workload:
        dirs = NESTED_DIRS if layout == "nested" else 0
        w = bench.Workload(f"{layout}-{fmt_n(n)}", n, dirs, file_size, args.reps)
        what = f"{n:,} " + (f"files of {bench.human_bytes(file_size)}" if file_size else "empty files")
        w.description = what + (f" in {dirs:,} directories" if dirs else " in one directory")
        return w

    plan = [workload(n, layout) for layout in layouts for n in entries]
    need_b = max(w.space_needed()[0] for w in plan) + 256 * MiB  # + binaries, logs
    need_i = max(w.space_needed()[1] for w in plan)

    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, bench.on_signal)

    work, fs_note = bench.pick_workdir(args, need_b, need_i, prefix="blit-bench.scale.")
    if args.state_file:
        with open(args.state_file, "w") as f:
            f.write(work + "\n")
    cmdline = args.cmdline or " ".join(shlex.quote(a) for a in sys.argv)
    started = datetime.datetime.now().astimezone()
    root = os.path.dirname(here)
    load0 = os.getloadavg()

    results: dict[tuple, list[Measure]] = {}
    logs: list[str] = []
    any_fail = False
    sections: list[str] = []
    try:
        # private copies of the binaries: a concurrent `cargo build` in the same
        # target directory must not swap them in the middle of the run
        given = dict(bins)
        if bins:
            bdir = os.path.join(work, "bin")
            os.mkdir(bdir)
            for k in list(bins):
                dst = os.path.join(bdir, k)
                shutil.copy2(bins[k], dst)
                bins[k] = dst
        header = [
            f"## blit remote scale bench, {started:%Y-%m-%d %H:%M:%S %z}",
            "",
            f"- command: `{cmdline}`",
            f"- date: {started.isoformat(timespec='seconds')}",
            f"- kernel: {platform.release()}",
            f"- CPU: {bench.cpu_model()}, {os.cpu_count()} cores (online);"
            f" load average at start {' '.join(f'{x:.2f}' for x in load0)}",
            f"- filesystem (source, destinations, module): {bench.fs_type(work)}; {fs_note}",
            ("- blit and blitd: built by scale.sh from the working tree, " + git_state(root)
             if os.environ.get("BLIT_BUILT_BY_SCALE") == "1" else
             f"- blit and blitd: {given.get('blit', '-')}, {given.get('blitd', '-')} as given"
             f" (not built here; the repository is at {git_state(root)})")
            + (f" ({bench.first_line([bins['blit'], '--version'])}; {bench.first_line([bins['blitd'], '--version'])})"
               if bins else " (not run)"),
            f"- rsync: {bench.first_line(['rsync', '--version'])}",
            "- method: per (entries, layout) the source is generated once in the module root;"
            " per (direction, tool) a fresh daemon on 127.0.0.1 (free port, module `m`),"
            " the client under /usr/bin/time into a fresh destination"
            " (push: `blit copy SRC/ 127.0.0.1:P:/m/push/`, `rsync -a SRC/ rsync://127.0.0.1:P/m/push/`;"
            " pull: `blit copy 127.0.0.1:P:/m/src/ DST/`, `rsync -a rsync://127.0.0.1:P/m/src/ DST/`);"
            " time = the client's wall time; client RSS = /usr/bin/time %M (for rsync, the largest"
            " process of the client's tree, not the sum); blitd RSS = VmHWM of blitd read after the"
            " transfer, before it is stopped; rsyncd RSS = the larger of the max VmHWM sampled every"
            " 100 ms over the daemon's process tree and /usr/bin/time %M of the daemon (largest single"
            " process, not the sum); every destination checked (counts, bytes, ~200 sampled files for"
            " size, mode, mtime, content)"
            + ("; one untimed tar | tar warm-up copy per source." if args.warmup else "; no warm-up."),
            f"- targets (blit): peak RSS of each process at most 48 MB (= {RSS_LIMIT_BYTES / MiB:.1f} MiB;"
            f" MB = 10^6 bytes); RSS at the largest N at most {GROWTH_LIMIT}x RSS at the smallest.",
            "",
        ]
        for line in header:
            log(line)

        for layout in layouts:
            for n in entries:
                w = workload(n, layout)
                tree = os.path.join(work, "tree")
                src = os.path.join(tree, "src")
                scratch = os.path.join(work, "scratch")
                os.makedirs(tree, exist_ok=True)
                os.makedirs(scratch, exist_ok=True)
                rsync_conf = os.path.join(scratch, "rsyncd.conf")
                write_rsync_conf(rsync_conf, tree, os.path.join(scratch, "rsyncd.log"))
                log(f"### {layout}, {w.description}")
                t0 = time.perf_counter()
                bench.generate(w, src)
                gen_s = time.perf_counter() - t0
                sample_every = max(1, w.files // 200)
                sstats = bench.walk(src, sample_every)
                assert sstats.files == w.files and sstats.bytes == w.total_bytes
                log(f"generated in {gen_s:.1f} s: {sstats.files:,} files, {sstats.dirs:,} dirs")
                if args.warmup:
                    wdst = os.path.join(work, "warmup")
                    os.mkdir(wdst)
                    r = bench.run_tool("tar", "", src, wdst, scratch)
                    bench.rm_rf(wdst)
                    log(f"  warm-up: tar | tar, {r.wall:.2f} s (not counted)")
                for direction in directions:
                    for rep in range(args.reps):
                        order = tools if rep % 2 == 0 else list(reversed(tools))
                        for tool in order:
                            m = run_one(tool, direction, n, layout, bins, tree, src, sstats,
                                        work, scratch, rsync_conf)
                            results.setdefault((tool, layout, direction, n), []).append(m)
                            line = (f"  [{layout} {fmt_n(n)} {direction}] {tool:<5} rep {rep + 1}: "
                                    f"{m.wall:8.2f} s  client {mib(m.client_kib):>6} MiB  "
                                    f"daemon {mib(m.daemon_kib):>6} MiB  "
                                    f"load {m.load[0]:.2f}  {'ok' if m.ok else 'FAILED'}"
                                    f"  ({m.daemon_detail})")
                            log(line)
                            logs.append(line.strip())
                            if not m.ok:
                                any_fail = True
                                log(f"!!!!! FAIL: {tool} {direction} {layout} {n:,} !!!!!")
                                for p in m.problems:
                                    log(f"!!!!!   {p}")
                bench.rm_rf(src)
                shutil.rmtree(scratch, ignore_errors=True)

        load1 = os.getloadavg()
        for layout in layouts:
            tbl = layout_table(layout, entries, directions, tools, results)
            desc = (f"{bench.human_bytes(file_size)} files" if file_size else "empty files")
            title = (f"### {layout}: {desc} "
                     + (f"in {NESTED_DIRS:,} directories" if layout == "nested" else "in one directory"))
            log("")
            log(title)
            log("")
            log(tbl)
            sections.append(f"{title}\n\n{tbl}\n")
        if "blit" in tools:
            ttbl, misses = target_table(entries, layouts, directions, results)
            verdict = ("all targets met" if not misses else
                       "MISSED: " + "; ".join(misses))
            tsec = f"### Targets (blit)\n\n{ttbl}\n\nVerdict: {verdict}\n"
            log("")
            log(tsec)
            sections.append(tsec)
        sections.append(f"- load average at the end: {' '.join(f'{x:.2f}' for x in load1)}\n")
        sections.append("<details><summary>every run</summary>\n\n```\n" + "\n".join(logs)
                        + "\n```\n\n</details>\n")
    except (KeyboardInterrupt, bench.Terminated) as e:
        log(f"scale: interrupted ({e or 'SIGINT'}); cleaning up")
        return 130
    finally:
        kill_all_daemons()
        subprocess.run(["rm", "-rf", "--one-file-system", work])

    os.makedirs(os.path.dirname(os.path.abspath(args.results)), exist_ok=True)
    with open(args.results, "a") as f:
        f.write("\n".join(header) + "\n" + "\n".join(sections))
        if any_fail:
            f.write("\n**Some runs FAILED verification; see the console output.**\n")
        f.write("\n")
    log(f"results appended to {args.results}")
    if any_fail:
        log("!!!!! FAIL: at least one run failed (see above) !!!!!")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
