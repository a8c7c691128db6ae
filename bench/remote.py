#!/usr/bin/env python3
"""Remote benchmark: blit push/pull through blitd (TCP data plane and forced
in-stream gRPC) beside an rsync daemon and iperf3, on loopback, in one run.

Normally started through bench/remote.sh, which installs iperf3 and rsync and
builds blit and blitd with the bench-only null sink. Every transfer is timed
wall-clock around the whole client process (connection, handshake, walk,
payload, exit), the same way for blit and rsync. Each figure is the median of
--runs runs. The null sink (BLIT_BENCH_NULL_SINK=1, honoured only by builds
with the internal `_bench-null-sink` feature) discards file data on the
receiving side, so the 4 GiB null-sink runs measure the network path against
iperf3, which also discards what it receives.
"""

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

GIB = 1024**3


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, what):
    deadline = time.time() + 20
    while time.time() < deadline:
        if proc.poll() is not None:
            sys.exit(f"{what} exited early")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    sys.exit(f"{what} did not listen on port {port}")


def run(cmd, env=None, capture=True):
    started = time.perf_counter()
    p = subprocess.run(cmd, env=env, capture_output=capture, text=True)
    wall = time.perf_counter() - started
    if p.returncode != 0:
        sys.exit(f"failed ({p.returncode}): {' '.join(cmd)}\n{p.stdout}\n{p.stderr}")
    return wall, p.stdout


def clean(path):
    if os.path.isdir(path):
        shutil.rmtree(path)
    elif os.path.exists(path):
        os.remove(path)


def make_big(path, size):
    chunk = os.urandom(64 * 1024 * 1024)
    with open(path, "wb") as f:
        left = size
        while left > 0:
            n = min(left, len(chunk))
            f.write(chunk[:n])
            left -= n


def make_small(root, count, size):
    os.makedirs(root, exist_ok=True)
    per_dir = 1000
    payload = os.urandom(size)
    for i in range(count):
        d = os.path.join(root, f"d{i // per_dir:04d}")
        if i % per_dir == 0:
            os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, f"f{i:06d}"), "wb") as f:
            f.write(payload[i % 64:] + payload[: i % 64])


def load():
    return os.getloadavg()[0]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--blit", required=True)
    ap.add_argument("--blitd", required=True)
    ap.add_argument("--size-mib", type=int, default=4096)
    ap.add_argument("--small-count", type=int, default=100_000)
    ap.add_argument("--small-size", type=int, default=4096)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--workdir", default="/dev/shm/blit-remote-bench")
    ap.add_argument("--results", default=None)
    args = ap.parse_args()

    work = args.workdir
    clean(work)
    src, dst = os.path.join(work, "src"), os.path.join(work, "dst")
    out = os.path.join(work, "out")
    for d in (src, dst, out):
        os.makedirs(d)
    big_size = args.size_mib * 1024 * 1024
    print(f"creating {args.size_mib} MiB file and {args.small_count} x {args.small_size} B files in {work}", flush=True)
    make_big(os.path.join(src, "big"), big_size)
    make_small(os.path.join(src, "small"), args.small_count, args.small_size)
    with open(os.path.join(src, "one"), "wb") as f:
        f.write(os.urandom(4096))

    procs = []
    env_null = dict(os.environ, BLIT_BENCH_NULL_SINK="1")
    env = {k: v for k, v in os.environ.items() if k != "BLIT_BENCH_NULL_SINK"}
    port, port_null, port_rsync, port_iperf = free_port(), free_port(), free_port(), free_port()
    modules = ["--module", f"src={src}", "--module", f"dst={dst}"]
    for p, e in ((port, env), (port_null, env_null)):
        d = subprocess.Popen([args.blitd, "--listen", f"127.0.0.1:{p}", *modules], env=dict(e, RUST_LOG="warn"),
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(d)
        wait_port(p, d, "blitd")
    conf = os.path.join(work, "rsyncd.conf")
    with open(conf, "w") as f:
        f.write(f"use chroot = no\nuid = {os.getuid()}\ngid = {os.getgid()}\npid file = {work}/rsyncd.pid\n"
                f"[src]\npath = {src}\nread only = yes\n[dst]\npath = {dst}\nread only = no\n")
    r = subprocess.Popen(["rsync", "--daemon", "--no-detach", f"--config={conf}", f"--port={port_rsync}",
                          "--address=127.0.0.1"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    procs.append(r)
    wait_port(port_rsync, r, "rsync --daemon")

    try:
        results, commands, iperf, loads = measure_all(args, src, dst, out, env, env_null,
                                                      (port, port_null, port_rsync, port_iperf))
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait()
        clean(work)

    report = render(results, commands, args, iperf, loads)
    print(report)
    if args.results:
        with open(args.results, "w") as f:
            f.write(report)
        with open(os.path.splitext(args.results)[0] + ".json", "w") as f:
            json.dump({"results": results, "commands": commands, "loads": loads}, f, indent=1)


def measure_all(args, src, dst, out, env, env_null, ports):
    port, port_null, port_rsync, port_iperf = ports
    results = {}
    commands = {}
    loads = [load()]

    def measure(name, cmd, cleanup, env=env, runs=args.runs, parse=False):
        walls, extra = [], []
        for _ in range(runs):
            cleanup()
            wall, stdout = run(cmd, env=env)
            walls.append(wall)
            if parse:
                extra.append(json.loads(stdout.strip().splitlines()[-1]))
        cleanup()
        results[name] = {"wall": statistics.median(walls), "walls": walls}
        if extra:
            results[name]["summary"] = extra[len(extra) // 2]
        commands[name] = " ".join(("BLIT_BENCH_NULL_SINK=1 " if env is env_null else "") + c for c in [" ".join(cmd)])
        print(f"{name:32s} {results[name]['wall']:8.3f} s  {walls}", flush=True)

    # iperf3, single stream, loopback.
    # iperf3 -s -1 serves exactly one connection: no readiness probe, a pause.
    srv = subprocess.Popen(["iperf3", "-s", "-1", "-p", str(port_iperf)], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    time.sleep(1)
    _, js = run(["iperf3", "-c", "127.0.0.1", "-p", str(port_iperf), "-t", "5", "-P", "1", "-J"])
    srv.wait()
    iperf = json.loads(js)["end"]["sum_received"]["bits_per_second"] / 8
    results["iperf3"] = {"bytes_per_sec": iperf}
    commands["iperf3"] = f"iperf3 -s -1 -p PORT & iperf3 -c 127.0.0.1 -p PORT -t 5 -P 1 -J"
    print(f"iperf3 single stream: {iperf / GIB:.2f} GiB/s", flush=True)

    blit, big = args.blit, os.path.join(src, "big")
    R = f"127.0.0.1:{port}"
    RN = f"127.0.0.1:{port_null}"
    rs = f"rsync://127.0.0.1:{port_rsync}"
    nothing = lambda: None
    # blitd holds each module's directory open (and Landlock confines it to
    # that directory), so the module is emptied, never replaced.
    clean_dst = lambda: [clean(os.path.join(dst, name)) for name in os.listdir(dst)]
    clean_out = lambda: (clean(out), os.makedirs(out))

    for t in ("auto", "grpc"):
        measure(f"big push null {t}", [blit, "copy", "--json", "--transport", t, big, f"{RN}:/dst/"], clean_dst, parse=True)
        measure(f"big pull null {t}", [blit, "copy", "--json", "--transport", t, f"{R}:/src/big", out + "/"], clean_out,
                env=env_null, parse=True)
        measure(f"big push tmpfs {t}", [blit, "copy", "--json", "--transport", t, big, f"{R}:/dst/"], clean_dst, parse=True)
        measure(f"big pull tmpfs {t}", [blit, "copy", "--json", "--transport", t, f"{R}:/src/big", out + "/"], clean_out,
                parse=True)
    # The ceiling for any tool: a local copy into the same tmpfs (copy_file_range).
    measure("big local tmpfs blit", [blit, "copy", "--json", big, out + "/"], clean_out, parse=True)
    measure("big push tmpfs rsync", ["rsync", "-a", big, f"{rs}/dst/"], clean_dst)
    measure("big pull tmpfs rsync", ["rsync", "-a", f"{rs}/src/big", out + "/"], clean_out)

    small = os.path.join(src, "small")
    measure("small push blit", [blit, "copy", "--json", small, f"{R}:/dst/"], clean_dst, parse=True)
    measure("small pull blit", [blit, "copy", "--json", f"{R}:/src/small", out + "/"], clean_out, parse=True)
    measure("small push rsync", ["rsync", "-a", small, f"{rs}/dst/"], clean_dst)
    measure("small pull rsync", ["rsync", "-a", f"{rs}/src/small", out + "/"], clean_out)

    one = os.path.join(src, "one")
    measure("one 4 KiB push blit", [blit, "copy", "--json", one, f"{R}:/dst/"], clean_dst, runs=11, parse=True)
    measure("one 4 KiB pull blit", [blit, "copy", "--json", f"{R}:/src/one", out + "/"], clean_out, runs=11, parse=True)
    measure("one 4 KiB push rsync", ["rsync", "-a", one, f"{rs}/dst/"], clean_dst, runs=11)
    loads.append(load())
    return results, commands, iperf, loads


def render(res, commands, args, iperf, loads):
    size = args.size_mib * 1024 * 1024
    rate = lambda name: size / res[name]["wall"]
    lines = []
    w = lines.append
    w(f"Machine: {os.cpu_count()} cores, loopback; load average {loads[0]:.2f} before, {loads[1]:.2f} after.")
    w(f"Data in tmpfs ({args.workdir}); {args.size_mib} MiB file, {args.small_count} x {args.small_size} B files; "
      f"median of {args.runs} runs (11 for the 4 KiB file); wall time of the whole client process.")
    w("")
    w(f"iperf3 single stream, loopback: **{iperf / GIB:.2f} GiB/s**")
    w("")
    w("| transfer | blit TCP (auto) | blit gRPC (forced) | rsync daemon | streams / chunk / tuning |")
    w("| --- | --- | --- | --- | --- |")
    for what in ("push null", "pull null", "push tmpfs", "pull tmpfs"):
        a, g = res[f"big {what} auto"], res[f"big {what} grpc"]
        rs = res.get(f"big {what} rsync")
        s = a["summary"]
        how = f"{s['streams']} / {s['chunk_size'] // 1024} KiB / {s['tuning']}"
        rtext = f"{rs['wall']:.2f} s ({size / rs['wall'] / GIB:.2f} GiB/s)" if rs else "n/a"
        w(f"| {args.size_mib} MiB {what} | {a['wall']:.2f} s ({size / a['wall'] / GIB:.2f} GiB/s) "
          f"| {g['wall']:.2f} s ({size / g['wall'] / GIB:.2f} GiB/s) | {rtext} | {how} |")
    local = res["big local tmpfs blit"]
    w(f"| {args.size_mib} MiB local copy into tmpfs (ceiling) | {local['wall']:.2f} s "
      f"({size / local['wall'] / GIB:.2f} GiB/s) | | | local |")
    for d in ("push", "pull"):
        b, r = res[f"small {d} blit"], res[f"small {d} rsync"]
        w(f"| {args.small_count} x {args.small_size} B {d} | {b['wall']:.2f} s | | {r['wall']:.2f} s | "
          f"{b['summary']['streams']} / {b['summary']['tuning']} |")
    one_p, one_l, one_r = res["one 4 KiB push blit"], res["one 4 KiB pull blit"], res["one 4 KiB push rsync"]
    fb = lambda r: r["summary"]["first_byte_secs"] * 1000
    w(f"| one 4 KiB file push | {one_p['wall'] * 1000:.1f} ms (first byte {fb(one_p):.1f} ms) | | "
      f"{one_r['wall'] * 1000:.1f} ms | |")
    w(f"| one 4 KiB file pull | {one_l['wall'] * 1000:.1f} ms (first byte {fb(one_l):.1f} ms) | | | |")
    w("")
    w("Targets:")
    w("")
    big = f"{args.size_mib} MiB"
    checks = [
        (f"{big} push, null sink >= 85% of iperf3", rate("big push null auto") / iperf, 0.85, "ge"),
        (f"{big} pull, null sink >= 85% of iperf3", rate("big pull null auto") / iperf, 0.85, "ge"),
        (f"{big} push into tmpfs >= 2.5x rsync", res["big push tmpfs rsync"]["wall"] / res["big push tmpfs auto"]["wall"], 2.5, "ge"),
        (f"{big} pull into tmpfs >= 2.5x rsync", res["big pull tmpfs rsync"]["wall"] / res["big pull tmpfs auto"]["wall"], 2.5, "ge"),
        ("small files push <= 0.5x rsync time", res["small push blit"]["wall"] / res["small push rsync"]["wall"], 0.5, "le"),
        ("small files pull <= 0.5x rsync time", res["small pull blit"]["wall"] / res["small pull rsync"]["wall"], 0.5, "le"),
        (f"pull within 5% of push ({big}, null sink)", res["big pull null auto"]["wall"] / res["big push null auto"]["wall"], 1.05, "le"),
        (f"pull within 5% of push ({big}, tmpfs)", res["big pull tmpfs auto"]["wall"] / res["big push tmpfs auto"]["wall"], 1.05, "le"),
        (f"forced gRPC >= 60% of TCP ({big} push, tmpfs)", res["big push tmpfs auto"]["wall"] / res["big push tmpfs grpc"]["wall"], 0.60, "ge"),
        (f"forced gRPC >= 60% of TCP ({big} pull, tmpfs)", res["big pull tmpfs auto"]["wall"] / res["big pull tmpfs grpc"]["wall"], 0.60, "ge"),
        (f"forced gRPC >= 60% of TCP ({big} push, null sink)", res["big push null auto"]["wall"] / res["big push null grpc"]["wall"], 0.60, "ge"),
        ("one 4 KiB file end to end <= 40 ms (push)", one_p["wall"] * 1000, 40, "le"),
        ("first payload byte <= 15 ms (push)", fb(one_p), 15, "le"),
    ]
    w("| target | measured | met |")
    w("| --- | --- | --- |")
    for name, value, bound, op in checks:
        ok = value >= bound if op == "ge" else value <= bound
        w(f"| {name} | {value:.2f} | {'yes' if ok else 'no'} |")
    w("")
    w("Commands (PORT, paths as in the run):")
    w("")
    w("```")
    for name, cmd in commands.items():
        w(f"# {name}\n{cmd}")
    w("```")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
