"""WebSocket echo benchmark: messages/s of aioweb vs aiohttp for 16 B, 1 KiB, 64 KiB.

One command::

    /work/venv/bin/python bench/ws_run.py --rounds 3 --duration 10
    /work/venv/bin/python bench/ws_run.py --quick --no-save    # 1 round, 3 s: smoke run
    /work/venv/bin/python bench/ws_run.py --servers aioweb-uvloop,aiohttp-uvloop --sizes 16

For every round, message size and server (servers interleaved, their order
rotated each round) it starts a fresh bench/ws_app.py pinned to CPU 0, waits
until an independent client (the ``websockets`` library) gets a binary and a
text message echoed exactly, runs bench/ws_load.py pinned to CPU 1 (N
connections, each with a window of W messages in flight, BINARY messages of
the size, every echo checked byte for byte), checks the server still lives
and echoes, and stops it by its PID. Medians of messages/s and of the p50/p99
round trip go to stdout as a markdown table with aioweb/aiohttp ratios per
loop, and are appended to bench/RESULTS.md with the date, commit, machine and
command. Any failed connection, mismatched echo, crash or traceback is listed
in the report and makes the exit status 1. Traffic goes to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from _common import (  # noqa: F401
    check_after_load,
    first_traceback,
    flag_tracebacks,
    fmt_ms,
    free_port,
    indent,
    med,
    ratio,
    sh,
    stop_checked,
    table,
)

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
PY = sys.executable
HOST = "127.0.0.1"  # the only address traffic is ever sent to
RESULTS = BENCH / "RESULTS.md"
CLIENT_BOUND = 0.9  # load client CPU share above which the client may be the limit


# ---------------------------------------------------------------- helpers
# (self-contained on purpose: bench/run.py's internals change independently)


def stop(proc: subprocess.Popen) -> Optional[int]:
    """Stop the server by its PID: SIGTERM, then SIGKILL after 5 s; return its exit code.

    taskset execs the server, so ``proc.pid`` is the server itself; it spawns
    no other process.
    """
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
    return proc.returncode


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


# ---------------------------------------------------------------- servers


@dataclass(frozen=True)
class Server:
    name: str
    label: str
    framework: str
    loop: str

    def argv(self, port: int) -> list[str]:
        app = str(BENCH / "ws_app.py")
        return [PY, app, "--framework", self.framework, "--loop", self.loop, "--port", str(port)]


SERVERS = {
    s.name: s
    for s in (
        Server("aioweb-uvloop", "aioweb+uvloop", "aioweb", "uvloop"),
        Server("aiohttp-uvloop", "aiohttp+uvloop", "aiohttp", "uvloop"),
        Server("aioweb-asyncio", "aioweb (asyncio)", "aioweb", "asyncio"),
        Server("aiohttp-asyncio", "aiohttp (asyncio)", "aiohttp", "asyncio"),
    )
}
RATIOS = [("aioweb-uvloop", "aiohttp-uvloop"), ("aioweb-asyncio", "aiohttp-asyncio")]
SIZES = [16, 1024, 65536]


def size_label(size: int) -> str:
    if size >= 1024 and size % 1024 == 0:
        return f"{size // 1024} KiB"
    return f"{size} B"


# ------------------------------------------------------------- readiness


class CheckError(Exception):
    pass


def check_echo(port: int, size: int) -> None:
    """Echo one BINARY message of ``size`` bytes and one TEXT message; raise if wrong.

    Uses the ``websockets`` library: independent of aioweb, aiohttp and
    bench/ws_load.py. No compression offered, no proxy, 5 s timeouts.
    """
    from websockets.sync.client import connect

    payload = os.urandom(size)
    text = "échø ✓ " * 8
    uri = f"ws://{HOST}:{port}/ws"
    with connect(
        uri,
        compression=None,
        proxy=None,
        open_timeout=5,
        close_timeout=5,
        ping_interval=None,
        max_size=None,
    ) as ws:
        ws.send(payload)
        got = ws.recv(timeout=5)
        if got != payload:
            raise CheckError(
                f"binary echo mismatch: sent {size} bytes, got {len(got)} ({type(got).__name__})"
            )
        ws.send(text)
        got = ws.recv(timeout=5)
        if got != text:
            raise CheckError(f"text echo mismatch: got {got[:60]!r}")


def wait_ready(proc: subprocess.Popen, port: int, size: int, timeout: float) -> Optional[str]:
    """Wait until the server echoes correctly; return a problem or None.

    Connection refused means "not listening yet" and is retried until
    ``timeout``; a server that accepts but answers wrongly gets three tries.
    """
    from websockets.exceptions import WebSocketException

    deadline = time.monotonic() + timeout
    bad_answers = 0
    last = ""
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return f"server exited with code {proc.returncode} before answering"
        try:
            check_echo(port, size)
            return None
        except ConnectionRefusedError:
            time.sleep(0.05)
            continue
        except (OSError, WebSocketException, CheckError) as exc:
            bad_answers += 1
            last = f"{type(exc).__name__}: {exc}"
            if bad_answers >= 3:
                return f"no correct echo: {last}"
            time.sleep(0.2)
    return f"not answering after {timeout:g}s ({last or 'connection refused'})"


# ---------------------------------------------------------------- one run


@dataclass
class Run:
    server: str
    size: int
    round: int
    load: Optional[dict[str, Any]] = None  # bench/ws_load.py's JSON result
    problems: list[str] = field(default_factory=list)  # start/check/crash/client failures
    log: str = ""

    @property
    def clean(self) -> bool:
        """A result, no problem, no load error: the run counts for the medians."""
        return self.load is not None and not self.problems and not self.load["errors"]

    @property
    def flagged(self) -> bool:
        return not self.clean


def load_cmd(args: argparse.Namespace, port: int, size: int) -> list[str]:
    return [
        "taskset", "-c", args.load_cpu, PY, str(BENCH / "ws_load.py"),
        "--port", str(port), "--size", str(size),
        "--connections", str(args.connections), "--window", str(args.window),
        "--duration", f"{args.duration:g}", "--warmup", f"{args.warmup:g}", "--json",
    ]  # fmt: skip


def run_load(args: argparse.Namespace, port: int, size: int, run: Run) -> None:
    """Run bench/ws_load.py; store its result in ``run.load`` or a problem."""
    try:
        p = subprocess.run(
            load_cmd(args, port, size),
            capture_output=True,
            text=True,
            timeout=args.warmup + args.duration + 60,
        )
    except subprocess.TimeoutExpired:
        run.problems.append("load client did not finish (killed after a timeout)")
        return
    lines = p.stdout.strip().splitlines()
    try:
        run.load = json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        tail = (p.stderr or p.stdout).strip().splitlines()[-3:]
        run.problems.append(f"load client failed (exit {p.returncode}): {' | '.join(tail)}")


def one_run(args: argparse.Namespace, logdir: Path, rnd: int, server: Server, size: int) -> Run:
    """Fresh server, readiness check, load, check again, stop by PID."""
    run = Run(server.name, size, rnd)
    port = free_port()
    logpath = logdir / f"r{rnd}-{server.name}-{size}.log"
    with open(logpath, "wb") as log:
        proc = subprocess.Popen(
            ["taskset", "-c", args.server_cpu, *server.argv(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=REPO,
        )
        try:
            problem = wait_ready(proc, port, size, timeout=20)
            if problem:
                run.problems.append(problem)
            if proc.poll() is None:  # a live server is loaded even if its check failed
                run_load(args, port, size, run)
                check_after_load(
                    proc, run.problems, problem, lambda: wait_ready(proc, port, size, timeout=5)
                )
        finally:
            stop_checked(proc, run.problems, stop)
    run.log = logpath.read_text(errors="replace")
    flag_tracebacks(run.log, run.problems)
    return run


def describe(run: Run) -> str:
    """One progress line's result part."""
    ld = run.load
    if ld is None:
        desc = "no result"
    else:
        desc = (
            f"{ld['msgs_per_s']:,.0f} msgs/s p50 {fmt_ms(ld['p50_ms'])} "
            f"p99 {fmt_ms(ld['p99_ms'])} client CPU {ld['client_cpu']:.0%}"
        )
        if ld["errors"]:
            desc += f" ERRORS {ld['errors']}"
    if run.problems:
        desc += " PROBLEM: " + "; ".join(run.problems)
    return desc


# ---------------------------------------------------------------- reports


@dataclass
class Cell:
    runs: list[Run]

    def _med(self, key: str) -> Optional[float]:
        values = [r.load[key] for r in self.runs if r.clean and r.load]
        return med([v for v in values if v is not None])

    @property
    def rate(self) -> Optional[float]:
        return self._med("msgs_per_s")

    @property
    def flagged(self) -> bool:
        return any(r.flagged for r in self.runs)

    @property
    def client_bound(self) -> bool:
        cpu = [r.load["client_cpu"] for r in self.runs if r.load]
        return any(c is not None and c >= CLIENT_BOUND for c in cpu)

    def render(self) -> str:
        if not self.rate:
            s = "FAILED"
        else:
            s = f"{self.rate:,.0f} · {fmt_ms(self._med('p50_ms'))} / {fmt_ms(self._med('p99_ms'))}"
        ok = sum(1 for r in self.runs if r.clean)
        if ok < len(self.runs):
            s += f" ({ok}/{len(self.runs)} rounds ok)"
        return s + (" †" if self.client_bound else "") + (" ⚠" if self.flagged else "")

    def render_cpu(self) -> str:
        cpu = [r.load["client_cpu"] for r in self.runs if r.load and r.load["client_cpu"]]
        return f"{med(cpu):.0%}" if cpu else "?"

    def errors(self) -> str:
        kinds: dict[str, int] = {}
        for r in self.runs:
            for k, n in (r.load["errors"] if r.load else {}).items():
                kinds[k] = kinds.get(k, 0) + n
        parts = [f"{k} ×{n:,}" for k, n in kinds.items()]
        bad = sum(1 for r in self.runs if r.problems)
        if bad:
            parts.append(f"{bad}/{len(self.runs)} runs failed")
        return ", ".join(parts)


Cells = dict[tuple[str, int], Cell]


def main_table(cells: Cells, servers: list[str], sizes: list[int]) -> str:
    pairs = [(a, b) for a, b in RATIOS if a in servers and b in servers]
    header = ["message", *(SERVERS[s].label for s in servers)]
    header += [f"{SERVERS[a].label} / {SERVERS[b].label}" for a, b in pairs]
    rows = []
    for size in sizes:
        row = [size_label(size)]
        row += [cells[(s, size)].render() for s in servers]
        row += [ratio(cells[(a, size)].rate, cells[(b, size)].rate) for a, b in pairs]
        rows.append(row)
    return table(header, rows)


def cpu_table(cells: Cells, servers: list[str], sizes: list[int]) -> str:
    header = ["message", *(SERVERS[s].label for s in servers)]
    rows = [[size_label(n), *(cells[(s, n)].render_cpu() for s in servers)] for n in sizes]
    return table(header, rows)


def errors_section(cells: Cells) -> str:
    rows = [
        [SERVERS[s].label, size_label(size), cell.errors()]
        for (s, size), cell in cells.items()
        if cell.flagged
    ]
    if not rows:
        return (
            "Errors: none (every connection upgraded, every echo matched, "
            "no crashes, no tracebacks).\n"
        )
    out = ["Errors (⚠ above; summed over rounds):\n", table(["server", "message", "errors"], rows)]
    out.append("")
    groups: dict[tuple[str, str, str], list[Run]] = {}
    for cell in cells.values():
        for r in cell.runs:
            tb = first_traceback(r.log)
            symptoms = r.problems + (r.load["error_samples"] if r.load else [])
            for p in symptoms:
                groups.setdefault((r.server, p, tb), []).append(r)
    for (server, problem, tb), runs in groups.items():
        sizes = sorted({r.size for r in runs})
        where = ", ".join(size_label(n) for n in sizes)
        out.append(f"- **{SERVERS[server].label}** ({len(runs)} run(s): {where}): {problem}")
        if tb:
            out.append("\n  ```\n" + indent(tb, "  ") + "\n  ```")
    return "\n".join(out) + "\n"


def machine_info() -> str:
    cpu = "?"
    try:
        for ln in Path("/proc/cpuinfo").read_text().splitlines():
            if ln.startswith("model name"):
                cpu = ln.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = []
    for mod in ("aiohttp", "uvloop", "websockets"):
        try:
            versions.append(f"{mod} {__import__(mod).__version__}")
        except ImportError:
            versions.append(f"{mod} missing")
    commit = sh(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"])
    return (
        f"- commit: `{commit}`\n"
        f"- machine: {os.cpu_count()} CPUs (`nproc` {sh(['nproc'])}), {cpu}, "
        f"{platform.system()} {platform.release()}\n"
        f"- Python {platform.python_version()}, {', '.join(versions)} "
        "(websockets only for the readiness check)\n"
    )


def build_report(args: argparse.Namespace, cells: Cells, started: dt.datetime, load0: str) -> str:
    minutes = (dt.datetime.now().astimezone() - started).total_seconds() / 60
    title = "WebSocket echo" + (" (--quick smoke run)" if args.quick else "")
    mode = (
        "send, wait for the echo, send the next"
        if args.window == 1
        else f"{args.window} messages in flight, one more sent per echo"
    )
    return (
        f"## {started:%Y-%m-%d %H:%M %Z}: {title}\n\n"
        f"`{args.command}`\n\n"
        + machine_info()
        + f"- {args.rounds} round(s) × {args.duration:g} s per cell (+{args.warmup:g} s warm-up); "
        f"bench/ws_load.py (asyncio+uvloop, hand-built frames) on CPU {args.load_cpu}: "
        f"{args.connections} connections × window {args.window} ({mode}), BINARY messages, "
        f"every echo checked byte for byte; server on CPU {args.server_cpu}, compress=False; "
        f"load average {load0} before, {loadavg()} after; took {minutes:.1f} min\n\n"
        "Cells: median messages/s · median p50 / p99 round trip over the rounds that ran "
        f"cleanly; ⚠ = a round had errors; † = the load client used ≥ {CLIENT_BOUND:.0%} of its "
        "CPU in a round (the client may be the limit: the server is at least this fast).\n\n"
        + main_table(cells, args.server_names, args.sizes)
        + "\n\nLoad client CPU (median share of its core during the measured interval):\n\n"
        + cpu_table(cells, args.server_names, args.sizes)
        + "\n\n"
        + errors_section(cells)
    )


def save(report: str) -> None:
    new = not RESULTS.exists()
    with open(RESULTS, "a") as f:
        if new:
            f.write(
                "# Benchmark results\n\nAppended by `bench/run.py` and `bench/ws_run.py`; see bench/README.md.\n\n"
            )
        f.write(report + "\n")
    print(f"appended to {RESULTS}")


# ------------------------------------------------------------------- main


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--rounds", type=int, help="default 3 (1 with --quick)")
    p.add_argument("--duration", type=float, help="measured seconds per cell: 10 (3 with --quick)")
    p.add_argument("--warmup", type=float, help="unmeasured seconds first: 1 (0 with --quick)")
    p.add_argument(
        "--quick", action="store_true", help="smoke run defaults: 1 round, 3 s, no warm-up"
    )
    p.add_argument("--servers", help=f"comma list of {', '.join(SERVERS)}")
    p.add_argument("--sizes", help="comma list of message sizes in bytes (default 16,1024,65536)")
    p.add_argument("--connections", type=int, default=32)
    p.add_argument("--window", type=int, default=1, help="messages in flight per connection")
    p.add_argument("--server-cpu", default="0")
    p.add_argument("--load-cpu", default="1")
    p.add_argument("--no-save", action="store_true", help="do not append to bench/RESULTS.md")
    args = p.parse_args()
    defaults = (1, 3.0, 0.0) if args.quick else (3, 10.0, 1.0)
    for name, value in zip(("rounds", "duration", "warmup"), defaults, strict=True):
        if getattr(args, name) is None:
            setattr(args, name, value)
    if args.rounds < 1 or args.duration <= 0 or args.warmup < 0:
        p.error("--rounds must be >= 1, --duration > 0, --warmup >= 0")
    names = args.servers.split(",") if args.servers else list(SERVERS)
    unknown = [n for n in names if n not in SERVERS]
    if unknown:
        p.error(f"unknown {unknown}; choose from {', '.join(SERVERS)}")
    args.server_names = names
    try:
        args.sizes = [int(n) for n in args.sizes.split(",")] if args.sizes else SIZES
    except ValueError:
        p.error("--sizes takes integers, e.g. 16,1024,65536")
    args.command = " ".join(shlex.quote(a) for a in [PY, *sys.argv])
    return args


def run_all(args: argparse.Namespace, logdir: Path) -> Cells:
    """Every round × size × server, server order rotated each round."""
    cells: Cells = {(s, n): Cell([]) for s in args.server_names for n in args.sizes}
    servers = args.server_names
    total = args.rounds * len(args.sizes) * len(servers)
    done = 0
    for rnd in range(1, args.rounds + 1):
        shift = (rnd - 1) % len(servers)  # rotate so no server always goes first
        order = servers[shift:] + servers[:shift]
        for size in args.sizes:
            for s in order:
                done += 1
                run = one_run(args, logdir, rnd, SERVERS[s], size)
                cells[(s, size)].runs.append(run)
                label = SERVERS[s].label
                print(
                    f"[{done}/{total}] round {rnd} {size_label(size):<7} {label:<18} "
                    f"{describe(run)}",
                    flush=True,
                )
    return cells


def write_raw(cells: Cells, logdir: Path) -> None:
    raw = [
        {
            "server": r.server,
            "size": r.size,
            "round": r.round,
            "problems": r.problems,
            **(r.load or {}),
        }
        for c in cells.values()
        for r in c.runs
    ]
    (logdir / "runs.json").write_text(json.dumps(raw, indent=1))


def main() -> int:
    args = parse_args()
    if not sh(["which", "taskset"]):
        sys.exit("taskset not found (apt-get install -y util-linux)")
    # SIGTERM unwinds like Ctrl+C, so every `finally` stops its server by PID
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    logdir = Path(tempfile.mkdtemp(prefix="aioweb-wsbench-"))
    started = dt.datetime.now().astimezone()
    load0 = loadavg()
    n = args.rounds * len(args.sizes) * len(args.server_names)
    print(f"{n} runs of {args.duration:g}s; server logs and runs.json in {logdir}", flush=True)
    try:
        cells = run_all(args, logdir)
    except KeyboardInterrupt:
        print("interrupted: servers stopped, nothing saved", file=sys.stderr)
        return 130
    write_raw(cells, logdir)
    report = build_report(args, cells, started, load0)
    print("\n" + report)
    if not args.no_save:
        save(report)
    return 1 if any(c.flagged for c in cells.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
