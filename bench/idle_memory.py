"""Server memory per idle keep-alive connection.

For each server it opens N connections on 127.0.0.1 (default 5,000), sends
one ``GET /`` on each and reads the whole answer, keeps them all open and
idle, and reports the growth of the server's resident memory (VmRSS from
/proc, summed over the server's process group, so granian's worker counts)
divided by N::

    # start each server itself (pinned to CPU 0, own process group), one after another
    python bench/idle_memory.py                                   # every server of bench/run.py
    python bench/idle_memory.py --servers aioweb-uvloop,aiohttp-asyncio,ceiling -n 5000
    python bench/idle_memory.py --head browser   # each GET / as a browser sends it

    # or measure a server you started
    python bench/app.py --framework aioweb --port 8080 &
    python bench/idle_memory.py --port 8080 --pid $! -n 5000

Guarantees:

- The open-file soft limit is raised to N + 256 where it is lower, in this
  process and in every server process (servers started here inherit it;
  ``--pid`` gets it through prlimit). If the hard limit is too low, it stops
  and says so rather than measure fewer connections.
- Granian is started with ``--backpressure N+256``: its default (1,024)
  is a per-connection permit, so it would leave the rest unserved.
- The baseline is taken after the server answered its readiness check and
  20 warm-up connections (one request each, then closed), so one-off
  allocations of the first requests are not charged to idle connections.
- Every connection must still be open when the RSS is read (1 s after the
  last one opened); a server that closed any is reported as FAILED.
- Bounded: N connections, one request each, then every socket is closed
  and every server started here is stopped (its process group, by ID).
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import run as bench  # bench/run.py: the servers and how to start and stop them

HOST = bench.HOST
WARMUP_CONNECTIONS = 20
FD_HEADROOM = 256

# The request each connection sends before going idle (--head).
HEADS = {
    "minimal": b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
    # What a desktop browser sends for a page: 14 fields, 622 bytes.
    "browser": (
        b"GET / HTTP/1.1\r\n"
        b"Host: 127.0.0.1\r\n"
        b"Connection: keep-alive\r\n"
        b'sec-ch-ua: "Chromium";v="131", "Not_A Brand";v="24"\r\n'
        b"sec-ch-ua-mobile: ?0\r\n"
        b'sec-ch-ua-platform: "Linux"\r\n'
        b"Upgrade-Insecure-Requests: 1\r\n"
        b"User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 "
        b"(KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36\r\n"
        b"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,"
        b"image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7\r\n"
        b"Sec-Fetch-Site: none\r\n"
        b"Sec-Fetch-Mode: navigate\r\n"
        b"Sec-Fetch-User: ?1\r\n"
        b"Sec-Fetch-Dest: document\r\n"
        b"Accept-Encoding: gzip, deflate, br, zstd\r\n"
        b"Accept-Language: en-US,en;q=0.9\r\n"
        b"\r\n"
    ),
}


@dataclass
class Result:
    server: str
    n: int
    before_kib: int = 0
    after_kib: int = 0
    problem: Optional[str] = None

    @property
    def per_connection(self) -> float:
        return (self.after_kib - self.before_kib) * 1024 / self.n


# ------------------------------------------------------------- file limits


def raise_nofile(need: int, pid: int = 0) -> None:
    """Raise ``pid``'s (0: this process's) RLIMIT_NOFILE soft limit to ``need``.

    Raises SystemExit if the hard limit is below ``need``.
    """
    soft, hard = resource.prlimit(pid, resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft >= need:
        return
    if hard != resource.RLIM_INFINITY and hard < need:
        who = f"pid {pid}" if pid else "this process"
        sys.exit(f"open-file hard limit of {who} is {hard} < {need}; raise it or lower -n")
    resource.prlimit(pid, resource.RLIMIT_NOFILE, (need, hard))


# ------------------------------------------------------------------ client


async def open_idle(port: int, request: bytes) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """One connection that sent ``request`` (a GET /) and read the whole answer."""
    reader, writer = await asyncio.open_connection(HOST, port)
    writer.write(request)
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200"):
        raise RuntimeError(f"unexpected answer {head[:80]!r}")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    await reader.readexactly(length)
    return reader, writer


async def hold(
    port: int, n: int, rss: Callable[[], int], head: bytes
) -> tuple[int, int, Optional[str]]:
    """Warm up, then hold ``n`` idle connections; return RSS (KiB) before, after, problem."""
    for _ in range(WARMUP_CONNECTIONS):
        _, writer = await open_idle(port, head)
        writer.close()
    await asyncio.sleep(0.5)
    before = rss()
    conns = []
    try:
        for _ in range(n):
            conns.append(await open_idle(port, head))
        await asyncio.sleep(1.0)
        after = rss()
        closed = sum(1 for reader, writer in conns if reader.at_eof() or writer.is_closing())
    finally:
        for _, writer in conns:
            writer.close()
    problem = f"server closed {closed} of {n} idle connections" if closed else None
    return before, after, problem


# ----------------------------------------------------------------- servers


def measure_started(name: str, n: int, cpu: str, logdir: Path, head: bytes) -> Result:
    """Start ``name`` from bench/run.py, hold ``n`` connections, stop it."""
    result = Result(name, n)
    port = bench.free_port()
    with open(logdir / f"{name}.log", "wb") as log:
        extra = ["--backpressure", str(n + FD_HEADROOM)] if name.startswith("granian") else []
        proc = bench.start_server(bench.SERVERS[name], port, 1000, cpu, log, extra)
        try:
            problem = bench.wait_ready(proc, port, bench.SCENARIOS["get"], timeout=20)
            if problem:
                result.problem = problem
                return result
            for pid in bench.group_pids(proc.pid):
                raise_nofile(n + FD_HEADROOM, pid)
            before, after, problem = asyncio.run(
                hold(port, n, lambda: bench.group_rss_kib(proc.pid), head)
            )
            result.before_kib, result.after_kib, result.problem = before, after, problem
        except (OSError, RuntimeError, asyncio.IncompleteReadError) as exc:
            result.problem = f"{type(exc).__name__}: {exc}"
        finally:
            bench.stop(proc)
    return result


def measure_pid(port: int, pid: int, n: int, head: bytes) -> Result:
    """Hold ``n`` connections to a server started elsewhere (RSS of ``pid`` only)."""
    raise_nofile(n + FD_HEADROOM, pid)
    before, after, problem = asyncio.run(hold(port, n, lambda: bench.rss_kib(pid), head))
    return Result(f"pid {pid}", n, before, after, problem)


def render(results: list[Result]) -> str:
    header = ["server", "idle connections", "RSS before", "RSS holding them", "B / connection"]
    rows = []
    for r in results:
        label = bench.SERVERS[r.server].label if r.server in bench.SERVERS else r.server
        if r.problem:
            rows.append([label, f"{r.n:,}", "", "", f"FAILED: {r.problem}"])
            continue
        rows.append(
            [
                label,
                f"{r.n:,}",
                f"{r.before_kib / 1024:.1f} MiB",
                f"{r.after_kib / 1024:.1f} MiB",
                f"{r.per_connection:,.0f}",
            ]
        )
    return bench.table(header, rows)


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("-n", type=int, default=5000, help="idle connections to hold (default 5000)")
    p.add_argument(
        "--servers",
        help=f"comma list of {', '.join(bench.SERVERS)} (default: all whose packages are installed)",
    )
    p.add_argument("--server-cpu", default="0")
    p.add_argument(
        "--head",
        choices=sorted(HEADS),
        default="minimal",
        help="the request each connection sends first: minimal (Host only, the default) "
        "or browser (14 fields, 622 bytes)",
    )
    p.add_argument("--port", type=int, help="with --pid: measure a server started elsewhere")
    p.add_argument("--pid", type=int, help="that server's process id")
    args = p.parse_args()
    if (args.port is None) != (args.pid is None):
        p.error("--port and --pid go together")
    names = args.servers.split(",") if args.servers else bench.DEFAULT_SERVERS
    unknown = [s for s in names if s not in bench.SERVERS]
    if unknown:
        p.error(f"unknown {unknown}; choose from {', '.join(bench.SERVERS)}")
    args.server_names = [s for s in names if args.servers or bench.SERVERS[s].available]
    return args


def main() -> int:
    args = parse_args()
    raise_nofile(args.n + FD_HEADROOM)
    if args.pid is not None:
        results = [measure_pid(args.port, args.pid, args.n, HEADS[args.head])]
    else:
        logdir = Path(tempfile.mkdtemp(prefix="aioweb-idle-"))
        print(f"server logs in {logdir}", flush=True)
        results = []
        for name in args.server_names:
            results.append(measure_started(name, args.n, args.server_cpu, logdir, HEADS[args.head]))
            print(render(results[-1:]).splitlines()[-1], flush=True)
    print()
    print(f"request head: {args.head} ({len(HEADS[args.head])} bytes)")
    print(render(results))
    return 1 if any(r.problem for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
