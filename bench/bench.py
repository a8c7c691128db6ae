#!/usr/bin/env python3
"""blit benchmark harness: workload generation, timed runs, verification, tables.

Normally started through bench/run.sh, which installs rsync/time, builds blit and
passes --blit. Standard library only (Python >= 3.8).

Every run copies one generated source tree into a fresh, empty destination with
one tool, under /usr/bin/time (for peak RSS). Wall time is taken by this script
with a monotonic clock around the whole process (or pipeline).
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import random
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field

KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB

TOOLS_ALL = ["blit", "rsync", "cp", "tar"]
WORKLOADS_ALL = ["small", "large", "empty-nested", "empty-flat"]
TIME_BIN = "/usr/bin/time"


def log(msg: str = "") -> None:
    print(msg, flush=True)


def parse_size(text: str) -> int:
    t = text.strip().upper().rstrip("B").rstrip("I")
    mult = {"K": KiB, "M": MiB, "G": GiB, "T": 1024 * GiB}
    if t and t[-1] in mult:
        return int(float(t[:-1]) * mult[t[-1]])
    return int(t)


def human_bytes(n: float) -> str:
    for unit, div in (("GiB", GiB), ("MiB", MiB), ("KiB", KiB)):
        if n >= div:
            return f"{n / div:.1f} {unit}"
    return f"{int(n)} B"


# --------------------------------------------------------------------------
# Workloads
# --------------------------------------------------------------------------

@dataclass
class Workload:
    name: str
    files: int          # regular files
    dirs: int           # sub-directories (not counting the root)
    file_size: int      # bytes per file
    reps: int           # default repetitions
    description: str = ""

    @property
    def total_bytes(self) -> int:
        return self.files * self.file_size

    def space_needed(self) -> tuple[int, int]:
        """(bytes, inodes) for source + one destination, with slack."""
        per_file = -(-self.file_size // 4096) * 4096  # page-rounded on tmpfs
        data = 2 * self.files * per_file
        inodes = 2 * (self.files + self.dirs + 1)
        return int(data * 1.05) + 256 * MiB, int(inodes * 1.05) + 1000


def make_workloads(quick: bool, large_size: int, reps: int | None) -> dict[str, Workload]:
    s = 10 if quick else 1
    many = reps if reps else 1
    few = reps if reps else 3
    w = {
        "small": Workload("small", 100_000 // s, 100 // s, 4 * KiB, few),
        "large": Workload("large", 1, 0, large_size, few),
        "empty-nested": Workload("empty-nested", 1_000_000 // s, 1000 // s, 0, many),
        "empty-flat": Workload("empty-flat", 1_000_000 // s, 0, 0, many),
    }
    for x in w.values():
        if x.name == "large":
            x.description = f"1 file of {human_bytes(x.file_size)}"
        elif x.file_size:
            x.description = f"{x.files:,} files x {human_bytes(x.file_size)} in {x.dirs:,} directories"
        elif x.dirs:
            x.description = f"{x.files:,} empty files in {x.dirs:,} directories"
        else:
            x.description = f"{x.files:,} empty files in one directory"
    return w


def generate(w: Workload, root: str) -> None:
    os.mkdir(root)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    if w.name == "large":
        block = bytearray(os.urandom(64 * MiB))
        fd = os.open(os.path.join(root, "large.bin"), flags, 0o644)
        try:
            left, n = w.file_size, 0
            while left > 0:
                # stamp a block counter so no two 64 MiB blocks are identical
                block[0:8] = n.to_bytes(8, "little")
                chunk = memoryview(block)[: min(left, len(block))]
                while chunk:
                    k = os.write(fd, chunk)
                    chunk = chunk[k:]
                left -= min(left, len(block))
                n += 1
        finally:
            os.close(fd)
        return

    pool = os.urandom(MiB + w.file_size) if w.file_size else b""
    dirs = [os.path.join(root, f"d{d:04d}") for d in range(w.dirs)] or [root]
    per_dir, extra = divmod(w.files, len(dirs))
    idx = 0
    for di, dpath in enumerate(dirs):
        if dpath != root:
            os.mkdir(dpath)
        dfd = os.open(dpath, os.O_RDONLY | os.O_DIRECTORY)
        try:
            for _ in range(per_dir + (1 if di < extra else 0)):
                fd = os.open(f"f{idx:07d}", flags, 0o644, dir_fd=dfd)
                if w.file_size:
                    off = (idx * 4099) % MiB  # distinct, random-looking content
                    os.write(fd, pool[off: off + w.file_size])
                os.close(fd)
                idx += 1
        finally:
            os.close(dfd)


# --------------------------------------------------------------------------
# Verification
# --------------------------------------------------------------------------

@dataclass
class TreeStats:
    files: int = 0
    dirs: int = 0
    other: int = 0
    bytes: int = 0
    sample: list = field(default_factory=list)  # relative paths of sampled files


def walk(root: str, sample_every: int = 0) -> TreeStats:
    st = TreeStats()
    stack = [""]
    while stack:
        rel = stack.pop()
        with os.scandir(os.path.join(root, rel) if rel else root) as it:
            for e in it:
                r = os.path.join(rel, e.name) if rel else e.name
                if e.is_dir(follow_symlinks=False):
                    st.dirs += 1
                    stack.append(r)
                elif e.is_file(follow_symlinks=False):
                    st.files += 1
                    st.bytes += e.stat(follow_symlinks=False).st_size
                    if sample_every and (st.files - 1) % sample_every == 0:
                        st.sample.append(r)
                else:
                    st.other += 1
    return st


def same_content(a: str, b: str, size: int, rng: random.Random) -> bool:
    with open(a, "rb") as fa, open(b, "rb") as fb:
        if size <= 4 * MiB:
            return fa.read() == fb.read()
        # large file: compare 16 random 1 MiB windows plus the head and the tail
        offs = {0, max(0, size - MiB)} | {rng.randrange(0, size - MiB) for _ in range(16)}
        for off in sorted(offs):
            fa.seek(off)
            fb.seek(off)
            if fa.read(MiB) != fb.read(MiB):
                return False
    return True


def verify(src: str, src_stats: TreeStats, dst: str, tool: str) -> list[str]:
    """Cheap check: counts and total bytes, plus a sample of files compared for
    size, mode, mtime and content. Returns a list of problems (empty = ok)."""
    problems = []
    d = walk(dst)
    for what in ("files", "dirs", "other", "bytes"):
        a, b = getattr(src_stats, what), getattr(d, what)
        if a != b:
            problems.append(f"{what}: source {a:,} != destination {b:,}")
    # GNU tar's default archive format stores whole-second mtimes
    mtime_tol = 1_000_000_000 if tool == "tar" else 0
    rng = random.Random(42)
    for rel in src_stats.sample:
        a, b = os.path.join(src, rel), os.path.join(dst, rel)
        try:
            sa, sb = os.lstat(a), os.lstat(b)
        except FileNotFoundError:
            problems.append(f"missing in destination: {rel}")
            continue
        if sa.st_size != sb.st_size:
            problems.append(f"size differs: {rel} ({sa.st_size} != {sb.st_size})")
        elif sa.st_mode != sb.st_mode:
            problems.append(f"mode differs: {rel} ({oct(sa.st_mode)} != {oct(sb.st_mode)})")
        elif abs(sa.st_mtime_ns - sb.st_mtime_ns) > mtime_tol:
            problems.append(f"mtime differs: {rel} ({sa.st_mtime_ns} != {sb.st_mtime_ns})")
        elif not same_content(a, b, sa.st_size, rng):
            problems.append(f"content differs: {rel}")
        if len(problems) >= 10:
            problems.append("(stopped after 10 problems)")
            break
    return problems


# --------------------------------------------------------------------------
# Running tools
# --------------------------------------------------------------------------

@dataclass
class Run:
    tool: str
    wall: float
    rss_kib: int
    ok: bool
    note: str = ""


def read_time_file(path: str) -> int:
    """Peak RSS (KiB) from a /usr/bin/time -f '%e %M' output file."""
    try:
        with open(path) as f:
            lines = [ln.split() for ln in f.read().splitlines() if ln.strip()]
        return int(lines[-1][1])
    except (OSError, IndexError, ValueError):
        return -1


def tool_commands(tool: str, blit: str, src: str, dst: str) -> list[list[str]]:
    if tool == "blit":
        return [[blit, "copy", src + "/", dst + "/"]]
    if tool == "rsync":
        return [["rsync", "-a", src + "/", dst + "/"]]
    if tool == "cp":
        return [["cp", "-a", src + "/.", dst + "/"]]
    if tool == "tar":
        return [["tar", "-C", src, "-cf", "-", "."], ["tar", "-C", dst, "-xf", "-"]]
    raise ValueError(tool)


def run_tool(tool: str, blit: str, src: str, dst: str, scratch: str) -> Run:
    return run_cmds(tool, tool_commands(tool, blit, src, dst), scratch)


def run_cmds(tool: str, cmds: list[list[str]], scratch: str, timeout: float | None = None) -> Run:
    """Run a command, or a pipeline of commands, each under /usr/bin/time in its own
    process group; wall time around the whole. Peak RSS = the largest side's %M.
    With a timeout (seconds), a run still going is killed and reported as failed.
    Shared with bench/scale.py."""
    tfiles = [os.path.join(scratch, f"time.{i}") for i in range(len(cmds))]
    efiles = [os.path.join(scratch, f"stderr.{i}") for i in range(len(cmds))]
    for p in tfiles:
        if os.path.exists(p):
            os.unlink(p)
    errs = [open(p, "wb") for p in efiles]
    procs = []
    try:
        t0 = time.perf_counter()
        prev_out = None
        for i, cmd in enumerate(cmds):
            last = i == len(cmds) - 1
            p = subprocess.Popen(
                [TIME_BIN, "-f", "%e %M", "-o", tfiles[i]] + cmd,
                stdin=prev_out if prev_out is not None else subprocess.DEVNULL,
                stdout=subprocess.DEVNULL if last else subprocess.PIPE,
                stderr=errs[i],
                start_new_session=True,  # own process group: killable as a whole
            )
            if prev_out is not None:
                prev_out.close()  # so the writer sees EPIPE if the reader dies
            prev_out = p.stdout
            procs.append(p)
        deadline = None if timeout is None else t0 + timeout
        codes = []
        for p in procs:
            try:
                left = None if deadline is None else max(0.0, deadline - time.perf_counter())
                codes.append(p.wait(timeout=left))
            except subprocess.TimeoutExpired:
                codes.append(f"killed after the {timeout:.0f} s timeout")
        wall = time.perf_counter() - t0
    finally:
        for p in procs:
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGKILL)  # time(1) and the tool under it
                except ProcessLookupError:
                    pass
                p.wait()
        for f in errs:
            f.close()
    rss = max(read_time_file(p) for p in tfiles)
    ok = all(c == 0 for c in codes)
    note = ""
    if not ok:
        tail = b""
        for p in efiles:
            with open(p, "rb") as f:
                tail += f.read()[-2000:]
        note = f"exit status {codes}: {tail.decode(errors='replace').strip()}"
    return Run(tool, wall, rss, ok, note)


def rm_rf(path: str) -> None:
    if os.path.lexists(path):
        subprocess.run(["rm", "-rf", "--one-file-system", path], check=True)


# --------------------------------------------------------------------------
# Reporting
# --------------------------------------------------------------------------

def fmt_rate(x: float) -> str:
    if x >= 100:
        return f"{x:,.0f}"
    return f"{x:.1f}"


def table(w: Workload, runs: dict[str, list[Run]], tools: list[str]) -> str:
    med = {t: statistics.median(r.wall for r in runs[t]) for t in tools if runs.get(t)}
    base = med.get("rsync")
    out = [
        "| tool | median wall s | MB/s | files/s | peak RSS MiB | time vs rsync |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for t in tools:
        rs = runs.get(t)
        if not rs:
            continue
        m = med[t]
        mbs = fmt_rate(w.total_bytes / m / 1e6) if w.total_bytes else "-"
        fps = fmt_rate(w.files / m)
        rss = max(r.rss_kib for r in rs)
        rss_s = f"{rss / 1024:.1f}" if rss >= 0 else "?"
        ratio = f"{m / base:.2f}x" if base else "n/a"
        failed = sum(not r.ok for r in rs)
        name = t if not failed else f"{t} (**FAIL {failed}/{len(rs)}**)"
        out.append(f"| {name} | {m:.3f} | {mbs} | {fps} | {rss_s} | {ratio} |")
    raw = "; ".join(f"{t} " + " / ".join(f"{r.wall:.3f}" for r in runs[t]) for t in tools if runs.get(t))
    out.append("")
    out.append(f"All runs, wall s: {raw}")
    return "\n".join(out)


def first_line(cmd: list[str]) -> str:
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
        txt = (r.stdout or r.stderr).strip().splitlines()
        return txt[0] if txt else "?"
    except (OSError, subprocess.SubprocessError):
        return "?"


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def fs_type(path: str) -> str:
    best, fstype, dev = "", "?", "?"
    try:
        with open("/proc/self/mounts") as f:
            for line in f:
                parts = line.split()
                mnt = parts[1].replace("\\040", " ")
                if (path == mnt or path.startswith(mnt.rstrip("/") + "/")) and len(mnt) >= len(best):
                    best, fstype, dev = mnt, parts[2], parts[0]
    except OSError:
        pass
    return f"{fstype} (mounted at {best}, device {dev})"


# --------------------------------------------------------------------------
# Work directory
# --------------------------------------------------------------------------

def mem_available() -> int:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * KiB
    except OSError:
        pass
    return 1 << 62


def has_room(path: str, need_bytes: int, need_inodes: int, tmpfs: bool) -> tuple[bool, str]:
    try:
        sv = os.statvfs(path)
    except OSError as e:
        return False, str(e)
    free = sv.f_bavail * sv.f_frsize
    inodes = sv.f_favail if sv.f_files else 1 << 62  # f_files == 0: no inode limit
    if tmpfs:
        free = min(free, mem_available())  # tmpfs pages are RAM
    why = f"{human_bytes(free)} free, {inodes:,} inodes free; need {human_bytes(need_bytes)}, {need_inodes:,} inodes"
    return free >= need_bytes and inodes >= need_inodes, why


def pick_workdir(args, need_bytes: int, need_inodes: int,
                 prefix: str = "blit-bench.") -> tuple[str, str]:
    """Returns (workdir, note)."""
    if args.tmpdir:
        ok, why = has_room(args.tmpdir, need_bytes, need_inodes, False)
        if not ok:
            sys.exit(f"bench: not enough room in --tmpdir {args.tmpdir}: {why}")
        return tempfile.mkdtemp(prefix=prefix, dir=args.tmpdir), f"--tmpdir {args.tmpdir} ({why})"
    if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK):
        ok, why = has_room("/dev/shm", need_bytes, need_inodes, True)
        if ok:
            return tempfile.mkdtemp(prefix=prefix, dir="/dev/shm"), f"tmpfs /dev/shm ({why})"
        log(f"bench: NOTE: /dev/shm has not enough room ({why}); falling back to disk")
    else:
        log("bench: NOTE: /dev/shm is not available; falling back to disk")
    base = os.environ.get("TMPDIR") or "/var/tmp"
    ok, why = has_room(base, need_bytes, need_inodes, False)
    if not ok:
        sys.exit(f"bench: not enough room in {base} either: {why}")
    d = tempfile.mkdtemp(prefix=prefix, dir=base)
    log(f"bench: NOTE: using a temp dir ON DISK: {d} -- caches cannot be dropped and no tool "
        "fsyncs, so numbers depend on page cache and write-back; not comparable with tmpfs runs")
    return d, f"DISK {base} ({why}) -- fallback, not tmpfs"


# --------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------

class Terminated(Exception):
    pass


def on_signal(signum, _frame):
    # first signal wins; ignore the rest (run.sh forwards a TERM after a Ctrl-C
    # that already reached us) so the clean-up is not interrupted
    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, lambda *_: None)
    raise Terminated(f"signal {signum}")


def main() -> int:
    ap = argparse.ArgumentParser(description="blit benchmark harness (use bench/run.sh)")
    ap.add_argument("--blit", default=os.environ.get("BLIT_BIN"), help="blit binary")
    ap.add_argument("--quick", action="store_true", help="10x smaller workloads, large = 256M")
    ap.add_argument("--workload", action="append", default=[],
                    help=f"one of {', '.join(WORKLOADS_ALL)} (repeatable or comma-separated; default all)")
    ap.add_argument("--tools", default=",".join(TOOLS_ALL),
                    help="comma-separated subset of blit,rsync,cp,tar (default all)")
    ap.add_argument("--size", default=None, help="size of the large file (default 4G, 256M with --quick)")
    ap.add_argument("--reps", type=int, default=None,
                    help="repetitions per tool (default 3; 1 for the 1M-file workloads)")
    ap.add_argument("--no-warmup", dest="warmup", action="store_false",
                    help="skip the untimed warm-up copy (tar | tar) before each workload")
    ap.add_argument("--tmpdir", default=None, help="put generated data here instead of /dev/shm")
    ap.add_argument("--results", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                      "results", "latest.md"))
    ap.add_argument("--cmdline", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--state-file", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()

    tools = [t.strip() for t in args.tools.split(",") if t.strip()]
    bad = [t for t in tools if t not in TOOLS_ALL]
    if bad:
        ap.error(f"unknown tool(s) {bad}; choose from {TOOLS_ALL}")
    names = [n.strip() for x in args.workload for n in x.split(",") if n.strip()] or WORKLOADS_ALL
    bad = [n for n in names if n not in WORKLOADS_ALL]
    if bad:
        ap.error(f"unknown workload(s) {bad}; choose from {WORKLOADS_ALL}")
    if args.reps is not None and args.reps < 1:
        ap.error("--reps must be >= 1")
    if "blit" in tools:
        if not args.blit:
            ap.error("no blit binary: pass --blit or set BLIT_BIN (bench/run.sh does this)")
        args.blit = os.path.abspath(args.blit)
        if not os.access(args.blit, os.X_OK):
            ap.error(f"blit binary {args.blit} is not executable")
    for t in tools:
        exe = {"blit": args.blit, "rsync": "rsync", "cp": "cp", "tar": "tar"}[t]
        if not shutil.which(exe):
            ap.error(f"{exe} not found")
    if not os.access(TIME_BIN, os.X_OK):
        ap.error(f"{TIME_BIN} not found (apt-get install -y time)")

    size = parse_size(args.size) if args.size else (256 * MiB if args.quick else 4 * GiB)
    allw = make_workloads(args.quick, size, args.reps)
    workloads = [allw[n] for n in names]
    need_b = max(w.space_needed()[0] for w in workloads)
    need_i = max(w.space_needed()[1] for w in workloads)

    # SIGINT too: run.sh starts us in the background, where it may arrive ignored
    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, on_signal)

    workdir, fs_note = pick_workdir(args, need_b, need_i)
    if args.state_file:
        with open(args.state_file, "w") as f:
            f.write(workdir + "\n")
    cmdline = args.cmdline or " ".join(shlex.quote(a) for a in sys.argv)
    started = datetime.datetime.now().astimezone()

    header = [
        f"## blit bench, {started:%Y-%m-%d %H:%M:%S %z}",
        "",
        f"- command: `{cmdline}`",
        f"- date: {started.isoformat(timespec='seconds')}",
        f"- kernel: {platform.release()}",
        f"- CPU: {cpu_model()}, {os.cpu_count()} cores (online);"
        f" load average at start {' '.join(f'{x:.2f}' for x in os.getloadavg())}",
        f"- filesystem (source and destination): {fs_type(workdir)}; {fs_note}",
        f"- blit: {args.blit or 'not run'}" + (f" ({first_line([args.blit, '--version'])})" if args.blit else ""),
        f"- rsync: {first_line(['rsync', '--version'])}; cp: {first_line(['cp', '--version'])};"
        f" tar: {first_line(['tar', '--version'])}",
        "- method: each tool copies the same source into a fresh empty destination"
        " (destination removed between runs, not timed);"
        + (" one untimed warm-up copy (tar | tar) per workload;" if args.warmup else " no warm-up;")
        + " tool order rotates between repetitions; median of the repetitions;"
        " MB = 10^6 bytes; peak RSS = max over repetitions of /usr/bin/time %M"
        " (tar: max of both sides of the pipe); caches are not dropped (not possible here"
        + ("; on tmpfs there is no disk behind the page cache, so it is moot)."
           if not fs_note.startswith("DISK") else
           "; ON DISK: results include page-cache and write-back effects)."),
        "",
    ]
    for line in header:
        log(line)

    sections: list[str] = []
    any_fail = False
    try:
        for w in workloads:
            src = os.path.join(workdir, "src")
            dst = os.path.join(workdir, "dst")
            scratch = os.path.join(workdir, "scratch")
            os.makedirs(scratch, exist_ok=True)
            log(f"### {w.name}: {w.description}")
            t0 = time.perf_counter()
            generate(w, src)
            gen_s = time.perf_counter() - t0
            # compare every file when that is cheap, else a sample of about 200
            full = w.files <= 200_000 and w.total_bytes <= 2 * GiB
            sample_every = 1 if full else max(1, w.files // 200)
            sstats = walk(src, sample_every)
            log(f"generated in {gen_s:.1f} s: {sstats.files:,} files, {sstats.dirs:,} dirs, "
                f"{human_bytes(sstats.bytes)}; {w.reps} repetition(s) per tool")
            assert sstats.files == w.files and sstats.bytes == w.total_bytes
            if args.warmup:
                # one untimed copy first: the first write into fresh memory (tmpfs
                # pages, and in a VM the host's pages) is slower than the rest, and
                # would otherwise count against whichever tool happens to run first
                os.mkdir(dst)
                r = run_tool("tar", args.blit, src, dst, scratch)
                rm_rf(dst)
                log(f"  [{w.name}] warm-up: tar | tar, {r.wall:.3f} s (not counted)")
            runs: dict[str, list[Run]] = {t: [] for t in tools}
            for rep in range(w.reps):
                order = tools[rep % len(tools):] + tools[: rep % len(tools)]  # rotate
                for t in order:
                    rm_rf(dst)
                    os.mkdir(dst)
                    r = run_tool(t, args.blit, src, dst, scratch)
                    problems = verify(src, sstats, dst, t)
                    if not r.ok or problems:
                        r.ok = False
                        any_fail = True
                    runs[t].append(r)
                    rss = f"{r.rss_kib / 1024:.1f} MiB" if r.rss_kib >= 0 else "?"
                    log(f"  [{w.name}] rep {rep + 1}/{w.reps} {t:<5} {r.wall:8.3f} s  "
                        f"peak RSS {rss:>10}  {'ok' if r.ok else 'FAILED'}")
                    if not r.ok:
                        log(f"!!!!! FAIL: {t} on {w.name} (rep {rep + 1}) !!!!!")
                        if r.note:
                            log(f"!!!!!   {r.note}")
                        for p in problems:
                            log(f"!!!!!   {p}")
                rm_rf(dst)
            rm_rf(src)
            tbl = table(w, runs, tools)
            log("")
            log(tbl)
            log("")
            sections.append(f"### {w.name}: {w.description}\n\n{tbl}\n")
    except (KeyboardInterrupt, Terminated) as e:
        log(f"bench: interrupted ({e or 'SIGINT'}); cleaning up")
        return 130
    finally:
        subprocess.run(["rm", "-rf", "--one-file-system", workdir])

    os.makedirs(os.path.dirname(os.path.abspath(args.results)), exist_ok=True)
    with open(args.results, "a") as f:
        f.write("\n".join(header) + "\n" + "\n".join(sections))
        if any_fail:
            f.write("\n**Some runs FAILED verification; see the console output.**\n")
        f.write("\n")
    log(f"results appended to {args.results}")
    if any_fail:
        log("!!!!! FAIL: at least one run failed verification (see above) !!!!!")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
