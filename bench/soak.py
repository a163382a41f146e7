"""Soak: bounded load in consecutive wrk slices; the server's RSS must stay flat.

    python bench/soak.py                  # 10 min: 20 slices of 30 s against aioweb+uvloop
    python bench/soak.py --minutes 1      # smoke: 2 slices
    python bench/soak.py --server aiohttp-asyncio --minutes 10   # the same for a peer

Starts one server from bench/run.py (default ``aioweb-uvloop``, 1,000
filler routes) pinned to CPU 0 in its own process group, checks that it
answers all four endpoints correctly, then runs
``taskset -c 1 wrk -t1 -c64 -d<slice>s`` back to back with a request mix
cycling ``GET /``, ``GET /json``, ``GET /user/123``, ``POST /echo`` (1 KiB),
and reads the server's VmRSS from /proc (summed over its process group)
after every slice. The first ``--warmup-slices`` (1) slices are warm-up:
the growth is measured from the sample after them to the last sample.

Prints one line per slice and the RSS series. Exit status 1 if the RSS grew
by more than ``--max-growth`` percent (5), or wrk saw non-2xx responses or
socket errors, or the server died or stopped answering correctly. Bounded:
``--minutes`` of load (rounded to whole slices, at least warm-up + 1), then
the server's process group is stopped. Traffic goes to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import run as bench  # bench/run.py: the servers and how to start and stop them

MIX_LUA = """\
-- bench/soak.py request mix: GET /, GET /json, GET /user/123, POST /echo 1 KiB, in turn
local reqs = {}
local i = 0
function init(args)
  reqs[1] = wrk.format("GET", "/")
  reqs[2] = wrk.format("GET", "/json")
  reqs[3] = wrk.format("GET", "/user/123")
  reqs[4] = wrk.format("POST", "/echo",
    {["Content-Type"] = "application/octet-stream"}, string.rep("x", 1024))
end
function request()
  i = i % #reqs + 1
  return reqs[i]
end
"""
CHECKS = ("get", "json", "user", "post1k")


@dataclass
class Slice:
    index: int
    rss_kib: int
    wrk: bench.WrkResult

    @property
    def errors(self) -> int:
        return self.wrk.non2xx + self.wrk.sock_total


@dataclass
class Soak:
    start_rss_kib: int = 0
    slices: list[Slice] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def check_all(proc: subprocess.Popen, port: int, timeout: float) -> Optional[str]:
    """Every endpoint of the mix answers correctly (bench/run.py's checks)."""
    for name in CHECKS:
        problem = bench.wait_ready(proc, port, bench.SCENARIOS[name], timeout)
        if problem:
            return f"{bench.SCENARIOS[name].label}: {problem}"
    return None


def run_slices(args: argparse.Namespace, proc: subprocess.Popen, port: int, lua: Path) -> Soak:
    """The load: ``args.slices`` wrk runs, an RSS sample and a liveness check after each."""
    soak = Soak(start_rss_kib=bench.group_rss_kib(proc.pid))
    print(f"RSS after start: {soak.start_rss_kib:,} KiB", flush=True)
    url = f"http://{bench.HOST}:{port}/"
    for k in range(1, args.slices + 1):
        cmd = bench.wrk_cmd(args.wrk_cpu, args.connections, args.slice, url, lua)
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=args.slice + 60)
        w = bench.parse_wrk(out.stdout + out.stderr)
        time.sleep(0.5)  # let the server close wrk's connections
        if proc.poll() is not None:
            soak.problems.append(f"server died in slice {k} (exit code {proc.returncode})")
            break
        s = Slice(k, bench.group_rss_kib(proc.pid), w)
        soak.slices.append(s)
        tag = " (warm-up)" if k <= args.warmup_slices else ""
        rps = f"{w.rps:,.0f} req/s" if w.rps is not None else "no result"
        errs = f", non-2xx {w.non2xx}, socket {w.sock}" if s.errors else ""
        print(f"slice {k}/{args.slices}{tag}: {rps}{errs}, RSS {s.rss_kib:,} KiB", flush=True)
    else:
        problem = check_all(proc, port, timeout=5)
        if problem:
            soak.problems.append(f"after load: {problem}")
    return soak


def verdict(args: argparse.Namespace, soak: Soak) -> int:
    """Print the series and the growth; return the exit status."""
    series = [soak.start_rss_kib] + [s.rss_kib for s in soak.slices]
    print("\nRSS series (KiB; start, then after each slice):")
    print(", ".join(f"{x:,}" for x in series))
    status = 0
    errors = sum(s.errors for s in soak.slices)
    if errors:
        print(f"FAIL: {errors:,} non-2xx responses / socket errors")
        status = 1
    for p in soak.problems:
        print(f"FAIL: {p}")
        status = 1
    if len(soak.slices) <= args.warmup_slices:
        print("FAIL: no sample after warm-up")
        return 1
    base, last = soak.slices[args.warmup_slices - 1].rss_kib, soak.slices[-1].rss_kib
    growth = (last - base) * 100 / base
    ok = growth <= args.max_growth
    print(
        f"RSS after warm-up {base:,} KiB -> last {last:,} KiB: {growth:+.2f}% "
        f"({'OK' if ok else 'FAIL'}: limit +{args.max_growth:g}%)"
    )
    return status if ok else 1


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--minutes", type=float, default=10.0, help="load duration (default 10)")
    p.add_argument("--slice", type=float, default=30.0, help="seconds per wrk run (default 30)")
    p.add_argument("--warmup-slices", type=int, default=1)
    p.add_argument("--max-growth", type=float, default=5.0, help="percent (default 5)")
    p.add_argument("--connections", type=int, default=64)
    p.add_argument("--server", default="aioweb-uvloop", choices=list(bench.SERVERS))
    p.add_argument("--server-cpu", default="0")
    p.add_argument("--wrk-cpu", default="1")
    args = p.parse_args()
    if args.warmup_slices < 1:
        p.error("--warmup-slices must be at least 1 (the baseline is the sample after it)")
    args.slices = max(args.warmup_slices + 1, round(args.minutes * 60 / args.slice))
    return args


def main() -> int:
    args = parse_args()
    server = bench.SERVERS[args.server]
    workdir = Path(tempfile.mkdtemp(prefix="aioweb-soak-"))
    lua = workdir / "mix.lua"
    lua.write_text(MIX_LUA)
    print(
        f"soak: {server.label}, {args.slices} slices of {args.slice:g} s, "
        f"wrk -c{args.connections}; server log in {workdir}",
        flush=True,
    )
    port = bench.free_port()
    with open(workdir / "server.log", "wb") as log:
        proc = bench.start_server(server, port, 1000, args.server_cpu, log)
        try:
            problem = check_all(proc, port, timeout=20)
            if problem:
                print(f"FAIL: server not ready: {problem}")
                return 1
            soak = run_slices(args, proc, port, lua)
        finally:
            bench.stop(proc)
    return verdict(args, soak)


if __name__ == "__main__":
    sys.exit(main())
