#!/usr/bin/env python3
"""blit beside rsync in every direction, in one run (issue 4/6's table).

Workloads, each copied local -> local, pushed to a daemon and pulled back,
by blit (blitd on loopback) and by rsync (an rsync daemon on loopback), then
run again with nothing changed (the no-op re-run):

- small: N files of 4 KiB in N/1000 directories (default 100,000)
- empty: M empty files in M/1000 directories (default 1,000,000; --empty 0 skips)
- large: one file of --large-mib MiB, copied --large-runs times per direction
  (each run into a fresh destination), for the spread of blit's times, beside
  `dd bs=1M` of the same file into the same tmpfs as often (this machine's own
  spread, and the speed a copy into tmpfs can reach); --large-warmup untimed
  copies go first (on this VM the first large write after a big delete is
  several times slower, for dd as for blit)

Also `cp -a` of the small tree, and the peak RSS of blit's first run of each
workload (the client by wait4, blitd by VmHWM reset before each run).

Prints a markdown table (time and blit/rsync per cell) and appends it to
--results. Standard library only; started by bench/compare.sh.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from remote import free_port, wait_port  # bench/remote.py, beside this file


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def make_tree(root, files, size, per_dir=1000):
    block = os.urandom(size) if size else b""
    for i in range(files):
        d = os.path.join(root, f"d{i // per_dir:05}")
        if i % per_dir == 0:
            os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, f"f{i % per_dir:04}"), "wb") as fh:
            if size:
                fh.write(i.to_bytes(8, "little") + block[8:])


def make_large(root, mib):
    os.makedirs(root, exist_ok=True)
    chunk = os.urandom(1 << 20)
    with open(os.path.join(root, "big"), "wb") as fh:
        for i in range(mib):
            fh.write(i.to_bytes(8, "little") + chunk[8:])


PEAKS = {}  # (tool, direction, workload) -> (client KiB, daemon KiB or None)


def timed(cmd, peak_key=None, daemon=None):
    """Runs cmd; returns its wall time. With peak_key, records the client's
    peak RSS (wait4) and the daemon's (VmHWM, reset before the run)."""
    if daemon is not None:
        with open(f"/proc/{daemon.pid}/clear_refs", "w") as fh:
            fh.write("5")
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    took = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}): {err.decode(errors='replace')}")
    if peak_key is not None:
        hwm = None
        if daemon is not None:
            with open(f"/proc/{daemon.pid}/status") as fh:
                hwm = next(int(line.split()[1]) for line in fh if line.startswith("VmHWM:"))
        PEAKS[peak_key] = (usage.ru_maxrss, hwm)
    return took


class Sides:
    """Where each tool reads and writes for each direction."""

    def __init__(self, blit, work, blit_port, rsync_port):
        self.blit, self.work = blit, work
        self.blit_port, self.rsync_port = blit_port, rsync_port

    def commands(self, tool, direction, src, name):
        """The command copying `src` (a local dir) for `direction`, into
        destination `name`; pull reads what the push of `src` left."""
        local_dst = os.path.join(self.work, "dst", tool, direction, name)
        os.makedirs(os.path.dirname(local_dst), exist_ok=True)
        if tool == "blit":
            remote = f"127.0.0.1:{self.blit_port}:/m/{name}/"
            if direction == "local":
                return [self.blit, "copy", src + "/", local_dst + "/"]
            if direction == "push":
                return [self.blit, "copy", src + "/", remote]
            return [self.blit, "copy", remote, local_dst + "/"]
        remote = f"rsync://127.0.0.1:{self.rsync_port}/m/{name}/"
        if direction == "local":
            return ["rsync", "-a", src + "/", local_dst + "/"]
        if direction == "push":
            return ["rsync", "-a", src + "/", remote]
        return ["rsync", "-a", remote, local_dst + "/"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--blit", required=True)
    ap.add_argument("--blitd", required=True)
    ap.add_argument("--small", type=int, default=100_000)
    ap.add_argument("--empty", type=int, default=1_000_000)
    ap.add_argument("--large-mib", type=int, default=2048)
    ap.add_argument("--large-runs", type=int, default=5)
    ap.add_argument("--large-warmup", type=int, default=1,
                    help="untimed copies of the large file before the timed ones, per tool and direction")
    ap.add_argument("--workdir", default="/dev/shm")
    ap.add_argument("--results", default=None)
    args = ap.parse_args()

    work = tempfile.mkdtemp(prefix="blit-compare-", dir=args.workdir)
    blit_mod, rsync_mod = os.path.join(work, "blit-mod"), os.path.join(work, "rsync-mod")
    os.makedirs(blit_mod)
    os.makedirs(rsync_mod)
    blit_port, rsync_port = free_port(), free_port()
    conf = os.path.join(work, "rsyncd.conf")
    with open(conf, "w") as fh:
        fh.write(f"port = {rsync_port}\nuse chroot = no\npid file = {work}/rsyncd.pid\n"
                 f"[m]\npath = {rsync_mod}\nread only = no\nuid = {os.getuid()}\ngid = {os.getgid()}\n")
    daemons = [
        subprocess.Popen([args.blitd, "--listen", f"127.0.0.1:{blit_port}", "--module", f"m={blit_mod}"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
        subprocess.Popen(["rsync", "--daemon", "--no-detach", f"--config={conf}", "--address=127.0.0.1"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
    ]
    try:
        wait_port(blit_port, daemons[0], "blitd")
        wait_port(rsync_port, daemons[1], "the rsync daemon")
        sides = Sides(args.blit, work, blit_port, rsync_port)
        rows = []
        cp_times = {}
        workloads = []
        if args.small:
            workloads.append(("100k x 4 KiB" if args.small == 100_000 else f"{args.small} x 4 KiB", "small",
                              args.small, 4096))
        if args.empty:
            workloads.append((f"{args.empty} empty files", "empty", args.empty, 0))
        for title, name, count, size in workloads:
            src = os.path.join(work, "src", name)
            log(f"generating {title}")
            make_tree(src, count, size)
            first, again = {}, {}
            # One tool at a time, each copy removed once its re-run is timed
            # (the pull reads what the push left): at most three copies of
            # the tree exist at once.
            for tool in ["blit", "rsync"]:
                for direction in ["local", "push", "pull"]:
                    cmd = sides.commands(tool, direction, src, name)
                    watched = daemons[0] if tool == "blit" and direction != "local" else None
                    first[(tool, direction)] = timed(cmd, (tool, direction, title), watched)
                    again[(tool, direction)] = timed(cmd)
                    log(f"{title} {direction} {tool}: {first[(tool, direction)]:.2f} s, "
                        f"no-op {again[(tool, direction)]:.2f} s")
                    shutil.rmtree(os.path.join(work, "dst"), ignore_errors=True)
                shutil.rmtree(os.path.join(blit_mod if tool == "blit" else rsync_mod, name), ignore_errors=True)
            if size:
                os.makedirs(os.path.join(work, "dst"), exist_ok=True)
                cp_times[title] = timed(["cp", "-a", src, os.path.join(work, "dst", "cp")])
                log(f"{title} local cp -a: {cp_times[title]:.2f} s")
                shutil.rmtree(os.path.join(work, "dst"), ignore_errors=True)
            rows.append((title, first))
            rows.append((f"same, no-change re-run", again))
            shutil.rmtree(os.path.join(work, "dst"), ignore_errors=True)
            for mod in (blit_mod, rsync_mod):
                shutil.rmtree(os.path.join(mod, name), ignore_errors=True)
            shutil.rmtree(src, ignore_errors=True)
        large = {}
        spread = {}
        if args.large_mib:
            src = os.path.join(work, "src", "large")
            log(f"generating one {args.large_mib} MiB file")
            make_large(src, args.large_mib)
            for direction in ["local", "push", "pull"]:
                for tool in ["blit", "rsync"]:
                    runs = []
                    n = args.large_runs if tool == "blit" else 1
                    if direction == "pull":
                        timed(sides.commands(tool, "push", src, "large"))
                    for i in range(args.large_warmup + n):
                        shutil.rmtree(os.path.join(work, "dst"), ignore_errors=True)
                        if direction == "push":
                            shutil.rmtree(os.path.join(blit_mod if tool == "blit" else rsync_mod, "large"),
                                          ignore_errors=True)
                        took = timed(sides.commands(tool, direction, src, "large"))
                        if i >= args.large_warmup:
                            runs.append(took)
                    large[(tool, direction)] = statistics.median(runs)
                    if tool == "blit" and direction == "local":
                        dd = []
                        for i in range(args.large_warmup + n):
                            shutil.rmtree(os.path.join(work, "dst"), ignore_errors=True)
                            os.makedirs(os.path.join(work, "dst"))
                            dd.append(timed(["dd", f"if={os.path.join(src, 'big')}",
                                             f"of={os.path.join(work, 'dst', 'big')}", "bs=1M"]))
                        spread[("dd", direction)] = dd = dd[args.large_warmup:]
                        log(f"large dd: {', '.join(f'{r:.2f}' for r in dd)} s")
                    spread[(tool, direction)] = runs
                    log(f"large {direction} {tool}: {', '.join(f'{r:.2f}' for r in runs)} s")
            rows.append((f"one {args.large_mib} MiB file (blit: median of {args.large_runs})", large))
    finally:
        for d in daemons:
            d.terminate()
            d.wait()
        shutil.rmtree(work, ignore_errors=True)

    out = [f"### blit beside rsync, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}", "",
           f"`bench/compare.sh` (blit: {args.blit}; small {args.small}, empty {args.empty}, "
           f"large {args.large_mib} MiB x {args.large_runs} after {args.large_warmup} untimed; "
           f"workdir {args.workdir}); "
           "cells: blit s / rsync s = ratio (below 1: blit faster)", "",
           "| workload | local | push | pull |", "|---|---|---|---|"]
    for title, cells in rows:
        line = [title]
        for direction in ["local", "push", "pull"]:
            b, r = cells[("blit", direction)], cells[("rsync", direction)]
            line.append(f"{b:.2f} / {r:.2f} = **{b / r:.2f}**")
        out.append("| " + " | ".join(line) + " |")
    if spread:
        out += ["", "blit's large-file runs (s): " + "; ".join(
            f"{d} {', '.join(f'{r:.2f}' for r in spread[('blit', d)])} "
            f"(slowest/fastest {max(spread[('blit', d)]) / min(spread[('blit', d)]):.2f})"
            for d in ["local", "push", "pull"])]
        dd = spread[("dd", "local")]
        out += ["", f"`dd bs=1M` of the same file into the same tmpfs (s): {', '.join(f'{r:.2f}' for r in dd)} "
                f"(slowest/fastest {max(dd) / min(dd):.2f}; median {statistics.median(dd):.2f}); "
                "blit's median speed as a share of dd's: " + ", ".join(
                    f"{d} {statistics.median(dd) / large[('blit', d)]:.0%}" for d in ["local", "push", "pull"])]
    for title, t in cp_times.items():
        b = [c for n, c in rows if n == title][0][("blit", "local")]
        out += ["", f"{title}, `cp -a` locally: {t:.2f} s; blit {b:.2f} s = **{b / t:.2f}x** cp -a"]
    if PEAKS:
        out += ["", "Peak RSS of blit's first run (MiB; push and pull: client / blitd):", ""]
        for (tool, direction, title), (client, daemon) in PEAKS.items():
            if tool == "blit":
                side = f"{client / 1024:.1f}" + (f" / {daemon / 1024:.1f}" if daemon else "")
                out.append(f"- {title} {direction}: {side}")
    text = "\n".join(out) + "\n"
    print(text)
    if args.results:
        with open(args.results, "a") as fh:
            fh.write(text + "\n")


if __name__ == "__main__":
    main()
