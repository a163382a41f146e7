"""Benchmark aioweb against aiohttp, peers (granian, uvicorn) and a raw ceiling with wrk.

One command::

    /work/venv/bin/python bench/run.py --rounds 3 --duration 10
    /work/venv/bin/python bench/run.py --quick                # 1 round, 3 s: smoke run
    /work/venv/bin/python bench/run.py --connections 64,256   # both, interleaved
    /work/venv/bin/python bench/run.py --routes-scaling       # /user/123 with 10 vs 1,000 routes
    /work/venv/bin/python bench/run.py --servers aioweb-uvloop,granian-rsgi --scenarios get,json

For every round, scenario, connection count and server (interleaved, their
order rotated each round) it starts a fresh server pinned to CPU 0 in its own
process group, waits until it answers the scenario's request correctly, runs a
short unmeasured wrk warm-up and then
``taskset -c 1 wrk -t1 -c<connections> -d<duration>s --latency``, parses
requests/s, p99 latency, non-2xx responses and socket errors, checks the
server still lives and answers, and stops its whole process group (granian's
supervisor has a worker child). Medians and ratios go to stdout and are
appended to bench/RESULTS.md with the date, commit, machine and command.
Traffic goes to 127.0.0.1 only.

Also a library for bench/idle_memory.py and bench/soak.py: ``SERVERS``,
``start_server``, ``stop``, ``group_rss_kib``, ``parse_wrk``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import importlib.metadata
import importlib.util
import json
import os
import platform
import re
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from _common import (  # noqa: F401
    check_after_load,
    first_traceback,
    flag_tracebacks,
    fmt_ms,
    free_port,
    group_pids,
    indent,
    med,
    parse_wrk_into,
    ratio,
    sh,
    stop,
    stop_checked,
    table,
)

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
PY = sys.executable
HOST = "127.0.0.1"  # the only address traffic is ever sent to
LUA = BENCH / "post_echo.lua"
RESULTS = BENCH / "RESULTS.md"


# ---------------------------------------------------------------- servers


@dataclass(frozen=True)
class Server:
    name: str
    label: str
    argv: Callable[[int, int], list[str]]  # (port, filler routes) -> command
    needs: tuple[str, ...] = ()  # importable modules beyond aioweb/aiohttp/uvloop/httptools

    @property
    def available(self) -> bool:
        return all(importlib.util.find_spec(m) is not None for m in self.needs)


def _app(framework: str, loop: str) -> Callable[[int, int], list[str]]:
    def argv(port: int, routes: int) -> list[str]:
        return [
            PY,
            str(BENCH / "app.py"),
            "--framework",
            framework,
            "--loop",
            loop,
            "--port",
            str(port),
            "--routes",
            str(routes),
        ]

    return argv


def _granian(interface: str) -> Callable[[int, int], list[str]]:
    def argv(port: int, routes: int) -> list[str]:
        opts = ["--interface", interface, "--loop", "uvloop", "--port", str(port)]
        return [PY, str(BENCH / "peer_granian.py"), *opts, "--routes", str(routes)]

    return argv


def _starlette(port: int, routes: int) -> list[str]:
    return [PY, str(BENCH / "peer_starlette.py"), "--port", str(port), "--routes", str(routes)]


SERVERS = {
    s.name: s
    for s in (
        Server("aioweb-uvloop", "aioweb+uvloop", _app("aioweb", "uvloop")),
        Server("aioweb-asyncio", "aioweb (asyncio)", _app("aioweb", "asyncio")),
        Server("aiohttp-asyncio", "aiohttp (asyncio)", _app("aiohttp", "asyncio")),
        Server("aiohttp-uvloop", "aiohttp+uvloop", _app("aiohttp", "uvloop")),
        Server("granian-rsgi", "granian RSGI", _granian("rsgi"), ("granian",)),
        Server("granian-asgi", "granian ASGI", _granian("asgi"), ("granian",)),
        Server("starlette-uvicorn", "starlette+uvicorn", _starlette, ("starlette", "uvicorn")),
        Server(
            "ceiling",
            "ceiling",
            lambda port, routes: [PY, str(BENCH / "ceiling.py"), "--port", str(port)],
        ),
    )
}
# Every server whose packages are installed: 8 servers x 5 scenarios x 3 rounds
# at --duration 5 is ~13 min (6.6 s per run measured with 5 servers).
DEFAULT_SERVERS = list(SERVERS)
SCALING_SERVERS = ["aioweb-uvloop", "aioweb-asyncio", "aiohttp-uvloop"]
# (numerator, denominator) pairs shown as ratio columns when both were run
RATIOS = [
    ("aioweb-uvloop", "aiohttp-uvloop"),
    ("aioweb-uvloop", "aiohttp-asyncio"),
    ("aioweb-asyncio", "aiohttp-asyncio"),
    ("aioweb-uvloop", "granian-rsgi"),
    ("aioweb-uvloop", "ceiling"),
    ("aioweb-asyncio", "ceiling"),
]
# the same for median p99 latency (lower is better: <= 1.00 means no worse)
P99_RATIOS = [("aioweb-uvloop", "aiohttp-asyncio"), ("aioweb-uvloop", "aiohttp-uvloop")]


# -------------------------------------------------------------- scenarios


@dataclass(frozen=True)
class Scenario:
    name: str
    label: str
    path: str
    body_size: Optional[int] = None  # POST /echo body size; None for GET

    def check(self, port: int) -> None:
        """One request with an independent client; raise if the answer is wrong."""
        conn = http.client.HTTPConnection(HOST, port, timeout=5)
        try:
            if self.body_size is None:
                conn.request("GET", self.path)
            else:
                body = bytes(i % 251 for i in range(self.body_size))
                conn.request("POST", self.path, body, {"Content-Type": "application/octet-stream"})
            resp = conn.getresponse()
            got = resp.read()
        finally:
            conn.close()
        if resp.status != 200:
            raise CheckError(f"HTTP {resp.status}: {got[:200]!r}")
        if self.name == "get" and got != b"Hello, world":
            raise CheckError(f"unexpected body {got[:200]!r}")
        if self.name == "json" and json.loads(got) != {"message": "Hello, world"}:
            raise CheckError(f"unexpected body {got[:200]!r}")
        if self.name == "user" and b"123" not in got:
            raise CheckError(f"unexpected body {got[:200]!r}")
        if self.body_size is not None and got != body:
            raise CheckError(f"echo mismatch: sent {len(body)} bytes, got {len(got)}")


class CheckError(Exception):
    pass


SCENARIOS = {
    s.name: s
    for s in (
        Scenario("get", "GET /", "/"),
        Scenario("json", "GET /json", "/json"),
        Scenario("user", "GET /user/123", "/user/123"),
        Scenario("post1k", "POST /echo 1 KiB", "/echo", 1024),
        Scenario("post64k", "POST /echo 64 KiB", "/echo", 65536),
    )
}


# -------------------------------------------------------------------- wrk


@dataclass
class WrkResult:
    rps: Optional[float] = None
    p50_ms: Optional[float] = None
    p99_ms: Optional[float] = None
    requests: int = 0
    non2xx: int = 0
    sock: dict[str, int] = field(default_factory=dict)  # connect/read/write/timeout
    raw: str = ""

    @property
    def sock_total(self) -> int:
        return sum(self.sock.values())


def parse_wrk(out: str) -> WrkResult:
    r = WrkResult(raw=out)
    parse_wrk_into(out, r)
    return r


def wrk_cmd(
    cpu: str, conns: int, duration: float, url: str, script: Optional[Path] = None
) -> list[str]:
    """``taskset -c <cpu> wrk -t1 -c<conns> -d<duration>s --latency [-s script] url``."""
    cmd = ["taskset", "-c", cpu, "wrk", "-t1", f"-c{conns}", f"-d{duration:g}s", "--latency"]
    if script is not None:
        cmd += ["-s", str(script)]
    return cmd + [url]


def run_wrk(
    args: argparse.Namespace, sc: Scenario, port: int, duration: float, conns: int
) -> WrkResult:
    env = dict(os.environ, BENCH_BODY_SIZE=str(sc.body_size or 0))
    script = LUA if sc.body_size is not None else None
    url = f"http://{HOST}:{port}{sc.path}"
    p = subprocess.run(
        wrk_cmd(args.wrk_cpu, conns, duration, url, script),
        env=env,
        capture_output=True,
        text=True,
        timeout=duration + 60,
    )
    return parse_wrk(p.stdout + p.stderr)


# ---------------------------------------------------------------- one run


@dataclass
class Run:
    server: str
    scenario: str
    routes: int
    connections: int
    round: int
    wrk: Optional[WrkResult] = None
    problems: list[str] = field(default_factory=list)  # start/check/crash failures
    log: str = ""

    @property
    def flagged(self) -> bool:
        w = self.wrk
        return bool(self.problems) or w is None or w.rps is None or bool(w.non2xx or w.sock_total)


def wait_ready(proc: subprocess.Popen, port: int, sc: Scenario, timeout: float) -> Optional[str]:
    """Wait until the server answers ``sc`` correctly; return a problem or None.

    Connection refused means "not listening yet" and is retried until
    ``timeout``; a server that accepts but answers wrongly (or drops the
    connection) gets three tries.
    """
    deadline = time.monotonic() + timeout
    bad_answers = 0
    last = ""
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return f"server exited with code {proc.returncode} before answering"
        try:
            sc.check(port)
            return None
        except ConnectionRefusedError:
            time.sleep(0.05)
            continue
        except (OSError, http.client.HTTPException, CheckError, ValueError) as exc:
            bad_answers += 1
            last = f"{type(exc).__name__}: {exc}"
            if bad_answers >= 3:
                return f"no correct answer: {last}"
            time.sleep(0.2)
    return f"not answering after {timeout:g}s ({last or 'connection refused'})"


def start_server(
    server: Server, port: int, routes: int, cpu: str, log: Any, extra: Sequence[str] = ()
) -> subprocess.Popen:
    """Start ``server`` (``extra``: more arguments) under ``taskset -c <cpu>`` in a new session.

    taskset execs the server, so ``proc.pid`` is the server's own PID and the
    ID of a process group holding the server and every process it spawns
    (granian's worker); all of them inherit the CPU affinity.
    """
    return subprocess.Popen(
        ["taskset", "-c", cpu, *server.argv(port, routes), *extra],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        cwd=REPO,
        start_new_session=True,
    )


def rss_kib(pid: int) -> int:
    """VmRSS of ``pid`` in KiB (0 if it has exited)."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def group_rss_kib(pgid: int) -> int:
    """Summed VmRSS of the live processes in group ``pgid`` (granian: supervisor + worker)."""
    return sum(rss_kib(pid) for pid in group_pids(pgid))


def one_run(
    args: argparse.Namespace,
    logdir: Path,
    rnd: int,
    server: Server,
    sc: Scenario,
    routes: int,
    conns: int,
) -> Run:
    run = Run(server.name, sc.name, routes, conns, rnd)
    port = free_port()
    logpath = logdir / f"r{rnd}-{server.name}-{sc.name}-{routes}-c{conns}.log"
    with open(logpath, "wb") as log:
        proc = start_server(server, port, routes, args.server_cpu, log)
        try:
            problem = wait_ready(proc, port, sc, timeout=20)
            if problem:
                run.problems.append(problem)
            if proc.poll() is None:  # a live server is loaded even if its check failed
                if args.warmup > 0:
                    run_wrk(args, sc, port, args.warmup, conns)
                run.wrk = run_wrk(args, sc, port, args.duration, conns)
                check_after_load(
                    proc, run.problems, problem, lambda: wait_ready(proc, port, sc, timeout=5)
                )
        finally:
            stop_checked(proc, run.problems)
    run.log = logpath.read_text(errors="replace")
    flag_tracebacks(run.log, run.problems)
    return run


# ---------------------------------------------------------------- reports


@dataclass
class Cell:
    runs: list[Run]

    @property
    def ok_runs(self) -> list[Run]:
        """Runs that count for the medians: a result and no start/check/crash problem.

        A round where the server never answered correctly (its 0 req/s) would
        otherwise drag the median down; it is reported in the errors table.
        """
        return [r for r in self.runs if r.wrk and r.wrk.rps is not None and not r.problems]

    @property
    def rps(self) -> Optional[float]:
        return med([r.wrk.rps for r in self.ok_runs if r.wrk and r.wrk.rps is not None])

    @property
    def p99(self) -> Optional[float]:
        return med([r.wrk.p99_ms for r in self.ok_runs if r.wrk and r.wrk.p99_ms is not None])

    @property
    def flagged(self) -> bool:
        return any(r.flagged for r in self.runs)

    def errors(self) -> str:
        non2xx = sum(r.wrk.non2xx for r in self.runs if r.wrk)
        sock: dict[str, int] = {}
        for r in self.runs:
            for k, v in (r.wrk.sock if r.wrk else {}).items():
                sock[k] = sock.get(k, 0) + v
        parts = []
        if non2xx:
            parts.append(f"non-2xx {non2xx:,}")
        parts += [f"{k} {v:,}" for k, v in sock.items() if v]
        bad = sum(1 for r in self.runs if r.problems)
        if bad:
            parts.append(f"{bad}/{len(self.runs)} runs failed")
        return ", ".join(parts)

    def render(self) -> str:
        if not self.rps:
            s = "FAILED"
        else:
            s = f"{self.rps:,.0f} · p99 {fmt_ms(self.p99)}"
        ok = len(self.ok_runs)
        if ok < len(self.runs):
            s += f" ({ok}/{len(self.runs)} rounds ok)"
        return s + (" ⚠" if self.flagged else "")


Key = tuple[str, str, int, int]  # server, scenario, filler routes, connections


def main_table(
    cells: dict[Key, Cell], servers: list[str], scenarios: list[str], routes: int, conns: int
) -> str:
    """Median req/s and p99 per scenario (rows) and server (columns)."""
    header = ["scenario", *(SERVERS[s].label for s in servers)]
    rows = []
    for sc in scenarios:
        rows.append(
            [SCENARIOS[sc].label, *(cells[(s, sc, routes, conns)].render() for s in servers)]
        )
    return table(header, rows)


def ratios_table(
    cells: dict[Key, Cell], servers: list[str], scenarios: list[str], routes: int, conns: int
) -> str:
    """RATIOS of median req/s, then P99_RATIOS of median p99, for the pairs that ran."""
    pairs = [(a, b) for a, b in RATIOS if a in servers and b in servers]
    p99_pairs = [(a, b) for a, b in P99_RATIOS if a in servers and b in servers]
    header = ["scenario", *(f"{SERVERS[a].label} / {SERVERS[b].label}" for a, b in pairs)]
    header += [f"p99: {SERVERS[a].label} / {SERVERS[b].label}" for a, b in p99_pairs]
    rows = []
    for sc in scenarios:
        cell = {s: cells[(s, sc, routes, conns)] for s in servers}
        row = [SCENARIOS[sc].label]
        row += [ratio(cell[a].rps, cell[b].rps) for a, b in pairs]
        row += [ratio(cell[a].p99, cell[b].p99) for a, b in p99_pairs]
        rows.append(row)
    return table(header, rows)


def connections_table(
    cells: dict[Key, Cell],
    servers: list[str],
    scenarios: list[str],
    routes: int,
    conns: list[int],
) -> str:
    """Median req/s at each further connection count divided by that at the first."""
    base = conns[0]
    header = ["scenario", "connections", *(SERVERS[s].label for s in servers)]
    rows = []
    for sc in scenarios:
        for c in conns[1:]:
            row = [SCENARIOS[sc].label, f"{c} / {base}"]
            row += [
                ratio(cells[(s, sc, routes, c)].rps, cells[(s, sc, routes, base)].rps)
                for s in servers
            ]
            rows.append(row)
    return table(header, rows)


def scaling_table(cells: dict[Key, Cell], servers: list[str], conns: int) -> str:
    header = ["server", "GET /user/123, 10 routes", "GET /user/123, 1,000 routes", "1,000 / 10"]
    rows = []
    for s in servers:
        few, many = cells[(s, "user", 10, conns)], cells[(s, "user", 1000, conns)]
        rows.append([SERVERS[s].label, few.render(), many.render(), ratio(many.rps, few.rps)])
    return table(header, rows)


def report_body(args: argparse.Namespace, cells: dict[Key, Cell]) -> str:
    """The tables: one section per connection count, plus connection scaling."""
    servers, scenarios, conns = args.server_names, args.scenario_names, args.connections
    out = []
    for c in conns:
        if len(conns) > 1:
            out.append(f"### {c} connections\n")
        if args.routes_scaling:
            out.append(scaling_table(cells, servers, c) + "\n")
            continue
        out.append(main_table(cells, servers, scenarios, 1000, c) + "\n")
        if not any(a in servers and b in servers for a, b in RATIOS + P99_RATIOS):
            continue
        out.append(
            "Ratios of median req/s (higher is better for the first server); "
            "p99 columns: ratio of median p99 latency (lower is better):\n"
        )
        out.append(ratios_table(cells, servers, scenarios, 1000, c) + "\n")
    if len(conns) > 1:
        routes = [10, 1000] if args.routes_scaling else [1000]
        for n in routes:
            out.append(
                f"### Connection scaling: median req/s at N connections / at {conns[0]}"
                + (f" ({n} routes)" if args.routes_scaling else "")
                + "\n"
            )
            out.append(connections_table(cells, servers, scenarios, n, conns) + "\n")
    return "\n".join(out)


def errors_section(cells: dict[Key, Cell]) -> str:
    rows = []
    for (s, sc, routes, conns), cell in cells.items():
        if cell.flagged:
            row = [SERVERS[s].label, SCENARIOS[sc].label, str(routes), str(conns), cell.errors()]
            rows.append(row)
    if not rows:
        return "Errors: none (no non-2xx responses, no socket errors, no crashes).\n"
    out = [
        "Errors (⚠ above; summed over rounds):\n",
        table(
            [
                "server",
                "scenario",
                "routes",
                "connections",
                "non-2xx / socket errors / failed runs",
            ],
            rows,
        ),
        "",
    ]
    # each distinct symptom once, with the first traceback from the server log
    groups: dict[tuple[str, str, str], list[Run]] = {}
    for cell in cells.values():
        for r in cell.runs:
            tb = first_traceback(r.log)
            for p in r.problems:
                groups.setdefault((r.server, p, tb), []).append(r)
    for (server, problem, tb), runs in groups.items():
        where = [sc.label for sc in SCENARIOS.values() if any(r.scenario == sc.name for r in runs)]
        n_tb = sum(r.log.count("Traceback") for r in runs)
        out.append(
            f"- **{SERVERS[server].label}** ({len(runs)} run(s): {', '.join(where)}): {problem}"
        )
        if tb:
            note = f"\n  ({n_tb:,} tracebacks in these runs' server logs)" if n_tb > 1 else ""
            out.append("\n  ```\n" + indent(tb, "  ") + "\n  ```" + note)
    return "\n".join(out) + "\n"


def machine_info(servers: list[str]) -> str:
    cpu = "?"
    try:
        for ln in Path("/proc/cpuinfo").read_text().splitlines():
            if ln.startswith("model name"):
                cpu = ln.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    dists = ["aiohttp", "uvloop", "httptools"]
    dists += sorted({m for s in servers for m in SERVERS[s].needs})
    versions = []
    for dist in dists:
        try:
            versions.append(f"{dist} {importlib.metadata.version(dist)}")
        except importlib.metadata.PackageNotFoundError:
            versions.append(f"{dist} missing")
    commit = sh(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"])
    dirty = sh(["git", "--no-optional-locks", "-C", str(REPO), "status", "--porcelain"])
    changed = [ln for ln in dirty.splitlines() if not ln[3:].startswith("bench/")]
    return (
        f"- commit: `{commit}`"
        + (f" (+ {len(changed)} uncommitted changes outside bench/)" if changed else "")
        + f"\n- machine: {os.cpu_count()} CPUs (`nproc` {sh(['nproc'])}), {cpu}, "
        f"{platform.system()} {platform.release()}\n"
        f"- Python {platform.python_version()}, {', '.join(versions)}, "
        f"{wrk_version()}\n"
    )


def wrk_version() -> str:
    m = re.search(r"wrk \S+", sh(["wrk", "--version"]))
    return m.group(0) if m else "wrk ?"


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


# ------------------------------------------------------------------- main


def parse_connections(value: str) -> list[int]:
    """``64`` or ``64,256``: distinct positive counts, in the order given."""
    try:
        counts = [int(v) for v in value.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a comma list of integers: {value!r}")
    if any(c < 1 for c in counts) or len(set(counts)) != len(counts):
        raise argparse.ArgumentTypeError(f"need distinct positive counts: {value!r}")
    return counts


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--duration", type=float, default=10.0, help="seconds per wrk run")
    p.add_argument("--warmup", type=float, default=1.0, help="unmeasured wrk seconds first")
    p.add_argument("--quick", action="store_true", help="smoke run: 1 round, 3 s, no warm-up")
    p.add_argument(
        "--servers",
        help=f"comma list of {', '.join(SERVERS)} (default: all whose packages are installed)",
    )
    p.add_argument("--scenarios", help=f"comma list of {', '.join(SCENARIOS)}")
    p.add_argument(
        "--routes-scaling", action="store_true", help="GET /user/123, 10 vs 1,000 routes"
    )
    p.add_argument(
        "--connections",
        type=parse_connections,
        default=[64],
        help="wrk connections, one count or a comma list measured in the same run (64,256)",
    )
    p.add_argument("--server-cpu", default="0")
    p.add_argument("--wrk-cpu", default="1")
    p.add_argument("--no-save", action="store_true", help="do not append to bench/RESULTS.md")
    args = p.parse_args()
    if args.quick:
        args.rounds, args.duration, args.warmup = 1, 3.0, 0.0

    def pick(value: Optional[str], known: dict, default: list[str]) -> list[str]:
        names = value.split(",") if value else default
        unknown = [n for n in names if n not in known]
        if unknown:
            p.error(f"unknown {unknown}; choose from {', '.join(known)}")
        return names

    args.server_names = pick(
        args.servers, SERVERS, SCALING_SERVERS if args.routes_scaling else DEFAULT_SERVERS
    )
    missing = [s for s in args.server_names if not SERVERS[s].available]
    if args.servers and missing:
        p.error(f"{missing} need {', '.join(n for s in missing for n in SERVERS[s].needs)}")
    if missing:
        print(f"skipping {', '.join(missing)}: packages not installed", file=sys.stderr)
        args.server_names = [s for s in args.server_names if s not in missing]
    args.scenario_names = (
        ["user"] if args.routes_scaling else pick(args.scenarios, SCENARIOS, list(SCENARIOS))
    )
    return args


def progress(run: Run, args: argparse.Namespace, done: int, total: int) -> str:
    """One line per finished run: req/s, p99, errors, problems."""
    w = run.wrk
    desc = f"{w.rps:,.0f} req/s p99 {fmt_ms(w.p99_ms)}" if w and w.rps is not None else "no result"
    if w and (w.non2xx or w.sock_total):
        desc += f" non-2xx {w.non2xx} socket {w.sock}"
    if run.problems:
        desc += " PROBLEM: " + "; ".join(run.problems)
    label = SERVERS[run.server].label
    if args.routes_scaling:
        label += f" [{run.routes} routes]"
    if len(args.connections) > 1:
        label += f" -c{run.connections}"
    sc = SCENARIOS[run.scenario].label
    return f"[{done}/{total}] round {run.round} {sc:<18} {label:<28} {desc}"


def run_all(args: argparse.Namespace, logdir: Path) -> dict[Key, Cell]:
    """Every round x scenario x (server, routes, connections), the combos rotated per round."""
    routes_list = [10, 1000] if args.routes_scaling else [1000]
    combos = [(s, n, c) for c in args.connections for s in args.server_names for n in routes_list]
    cells = {(s, sc, n, c): Cell([]) for sc in args.scenario_names for s, n, c in combos}
    total = args.rounds * len(args.scenario_names) * len(combos)
    print(f"{total} runs of {args.duration:g}s; server logs and runs.json in {logdir}", flush=True)
    done = 0
    for rnd in range(1, args.rounds + 1):
        shift = (rnd - 1) % len(combos)  # rotate so no server always goes first
        order = combos[shift:] + combos[:shift]
        for sc in args.scenario_names:
            for s, n, c in order:
                done += 1
                run = one_run(args, logdir, rnd, SERVERS[s], SCENARIOS[sc], n, c)
                cells[(s, sc, n, c)].runs.append(run)
                print(progress(run, args, done, total), flush=True)
    return cells


def save_raw(cells: dict[Key, Cell], logdir: Path) -> None:
    raw = [
        {
            "server": r.server,
            "scenario": r.scenario,
            "routes": r.routes,
            "connections": r.connections,
            "round": r.round,
            "problems": r.problems,
            **({k: v for k, v in vars(r.wrk).items() if k != "raw"} if r.wrk else {}),
        }
        for c in cells.values()
        for r in c.runs
    ]
    (logdir / "runs.json").write_text(json.dumps(raw, indent=1))


def main() -> int:
    args = parse_args()
    for tool in ("wrk", "taskset"):
        if not sh(["which", tool]):
            sys.exit(f"{tool} not found (apt-get install -y wrk util-linux)")
    command = " ".join(shlex.quote(a) for a in [PY, *sys.argv])
    logdir = Path(tempfile.mkdtemp(prefix="aioweb-bench-"))
    started = dt.datetime.now().astimezone()
    load_before = loadavg()
    cells = run_all(args, logdir)
    finished = dt.datetime.now().astimezone()
    save_raw(cells, logdir)
    if args.routes_scaling:
        title = "Routes scaling: GET /user/123 behind 10 vs 1,000 other routes"
    else:
        title = "Throughput and latency" + (" (--quick smoke run)" if args.quick else "")
    conns = ",".join(map(str, args.connections))
    report = (
        f"## {started:%Y-%m-%d %H:%M %Z}: {title}\n\n"
        f"`{command}`\n\n"
        + machine_info(args.server_names)
        + f"- {args.rounds} round(s) × {args.duration:g} s per cell (+{args.warmup:g} s warm-up), "
        f"wrk -t1 -c{conns} on CPU {args.wrk_cpu}, server on CPU {args.server_cpu}; "
        f"load average {load_before} before, {loadavg()} after; "
        f"took {(finished - started).total_seconds() / 60:.1f} min\n\n"
        f"Cells: median req/s · median p99 latency over the rounds that ran cleanly; ⚠ = a round had errors.\n\n"
        + report_body(args, cells)
        + "\n"
        + errors_section(cells)
    )
    print("\n" + report)
    if not args.no_save:
        new = not RESULTS.exists()
        with open(RESULTS, "a") as f:
            if new:
                f.write(
                    "# Benchmark results\n\nAppended by `bench/run.py`; see bench/README.md.\n\n"
                )
            f.write(report + "\n")
        print(f"appended to {RESULTS}")
    return 1 if any(c.flagged for c in cells.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
