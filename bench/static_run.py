"""Static files and a multipart upload: aioweb vs aiohttp, with nginx as the static ceiling.

One command::

    /work/venv/bin/python bench/static_run.py --rounds 3 --duration 5
    /work/venv/bin/python bench/static_run.py --quick --no-save   # 1 round, 3 s: smoke run
    /work/venv/bin/python bench/static_run.py --servers aioweb-uvloop,nginx --scenarios static10m

Scenarios (files of random bytes written to a fresh temp directory):

- ``static64k``  ``GET /static/64k.bin`` (65,536 bytes), wrk ``-c64``
- ``static10m``  ``GET /static/10m.bin`` (10 MiB), wrk ``-c16``
- ``upload10m``  ``POST /upload``, a prebuilt ``multipart/form-data`` body with
  one 10 MiB file part (bench/upload_multipart.lua), wrk ``-c8``; every answer
  must be the part's byte count (the script counts right and wrong answers)

Servers: bench/static_app.py on aioweb or aiohttp, on uvloop or asyncio
(``add_static("/static", root)`` and the streaming upload handler), and
nginx from Debian (``nginx-light``) with a generated minimal config
(``sendfile on; tcp_nopush on;``, one worker): the ceiling for the static
files, not run for the upload.

For every round, scenario and server (order rotated each round) it starts a
fresh server pinned to CPU 0 in its own process group, waits until an
independent client (``http.client``) gets the exact file bytes (SHA-256 and
Content-Length) or, for the upload, the right count and SHA-256 of the part
(``/upload?hash=1``), runs an unmeasured wrk warm-up, then
``taskset -c 1 wrk -t1 -c<n> -d<duration>s --timeout 10s --latency``, reads
the CPU time the server group and wrk used during the measured run, checks the
server again and stops its process group (SIGTERM, SIGKILL after 5 s). Medians
go to stdout as markdown tables with ratios and are appended to
bench/RESULTS.md with the date, commit, machine and command. Any non-2xx
answer, socket error, wrong upload answer, failed check, crash or traceback
flags the cell and makes the exit status 1. Traffic goes to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import http.client
import json
import os
import platform
import re
import resource
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Optional

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
RESULTS = BENCH / "RESULTS.md"
LUA = BENCH / "upload_multipart.lua"
MIB = 1024 * 1024
WRK_BOUND = 0.9  # wrk CPU share above which wrk may be the limit
CLK_TCK = os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------- helpers
# (self-contained on purpose, like bench/ws_run.py)


def group_cpu_s(pgid: int) -> float:
    """User + system CPU seconds of the live processes in group ``pgid``."""
    total = 0
    for pid in group_pids(pgid):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)
    return total / CLK_TCK


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


# ------------------------------------------------------------ the files


@dataclass
class Files:
    """The served files, the upload body and their expected answers, in one temp dir."""

    workdir: Path
    root: Path  # served at /static
    uploads: Path  # where static_app.py writes uploads
    sha: dict[str, str]  # file name -> sha256 hex
    body_path: Path  # the prebuilt multipart body
    boundary: str
    part_size: int
    part_sha: str

    @classmethod
    def create(cls, workdir: Path) -> Files:
        root = workdir / "root"
        uploads = workdir / "uploads"
        root.mkdir()
        uploads.mkdir()
        sha = {}
        for sc in SCENARIOS.values():
            if sc.file:
                data = os.urandom(sc.size)
                (root / sc.file).write_bytes(data)
                sha[sc.file] = hashlib.sha256(data).hexdigest()
        part = os.urandom(UPLOAD_SIZE)
        while True:  # a boundary that cannot occur in the random part
            boundary = "----aiowebBench" + os.urandom(12).hex()
            if boundary.encode() not in part:
                break
        body = (
            f"--{boundary}\r\n"
            'Content-Disposition: form-data; name="file"; filename="10m.bin"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        body += part + f"\r\n--{boundary}--\r\n".encode()
        body_path = workdir / "upload.body"
        body_path.write_bytes(body)
        # nginx workers may run as another user: let them read the tree
        for p in (workdir, root, *root.iterdir()):
            p.chmod(p.stat().st_mode | 0o755 if p.is_dir() else 0o644)
        return cls(
            workdir, root, uploads, sha, body_path, boundary, UPLOAD_SIZE,
            hashlib.sha256(part).hexdigest(),
        )  # fmt: skip

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
        shutil.rmtree(self.uploads, ignore_errors=True)
        self.body_path.unlink(missing_ok=True)


# ---------------------------------------------------------------- servers


@dataclass(frozen=True)
class Server:
    name: str
    label: str
    framework: Optional[str]  # None: nginx
    loop: Optional[str] = None


SERVERS = {
    s.name: s
    for s in (
        Server("aioweb-uvloop", "aioweb+uvloop", "aioweb", "uvloop"),
        Server("aioweb-asyncio", "aioweb (asyncio)", "aioweb", "asyncio"),
        Server("aiohttp-asyncio", "aiohttp (asyncio)", "aiohttp", "asyncio"),
        Server("aiohttp-uvloop", "aiohttp+uvloop", "aiohttp", "uvloop"),
        Server("nginx", "nginx", None),
    )
}
RATIOS = [
    ("aioweb-uvloop", "aiohttp-uvloop"),
    ("aioweb-asyncio", "aiohttp-asyncio"),
    ("aioweb-uvloop", "nginx"),
    ("aioweb-asyncio", "nginx"),
]

NGINX_CONF = """\
{user}daemon off;
master_process on;
worker_processes 1;
error_log {dir}/error.log;
pid {dir}/nginx.pid;
events {{
    worker_connections 1024;
}}
http {{
    access_log off;
    default_type application/octet-stream;
    sendfile on;
    tcp_nopush on;
    keepalive_timeout 75s;
    keepalive_requests 1000000;
    client_body_temp_path {dir}/body;
    server {{
        listen {host}:{port};
        location /static/ {{
            alias {root}/;
        }}
    }}
}}
"""


def server_argv(server: Server, port: int, files: Files, logdir: Path, tag: str) -> list[str]:
    if server.framework is not None:
        assert server.loop is not None
        return [
            PY, str(BENCH / "static_app.py"),
            "--framework", server.framework, "--loop", server.loop,
            "--port", str(port), "--root", str(files.root), "--tmp-dir", str(files.uploads),
        ]  # fmt: skip
    ngdir = logdir / f"nginx-{tag}"
    ngdir.mkdir()
    ngdir.chmod(0o755)
    conf = ngdir / "nginx.conf"
    # as root the workers would default to "nobody"; keep them as the current user
    user = "user root;\n" if os.geteuid() == 0 else ""
    conf.write_text(NGINX_CONF.format(user=user, dir=ngdir, host=HOST, port=port, root=files.root))
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    return [nginx, "-p", str(ngdir), "-c", str(conf), "-e", str(ngdir / "error.log")]


def start_server(
    server: Server, port: int, files: Files, logdir: Path, tag: str, cpu: str, log: IO[bytes]
) -> subprocess.Popen:
    """Start under ``taskset -c <cpu>`` in a new session (taskset execs: pid == pgid)."""
    return subprocess.Popen(
        ["taskset", "-c", cpu, *server_argv(server, port, files, logdir, tag)],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        cwd=REPO,
        start_new_session=True,
    )


# -------------------------------------------------------------- scenarios

UPLOAD_SIZE = 10 * MIB


@dataclass(frozen=True)
class Scenario:
    name: str
    label: str
    path: str
    size: int  # bytes per request: the file, or the upload's part
    connections: int
    file: Optional[str] = None  # None: the upload

    @property
    def upload(self) -> bool:
        return self.file is None


SCENARIOS = {
    s.name: s
    for s in (
        Scenario("static64k", "GET 64 KiB file", "/static/64k.bin", 64 * 1024, 64, "64k.bin"),
        Scenario("static10m", "GET 10 MiB file", "/static/10m.bin", 10 * MIB, 16, "10m.bin"),
        Scenario("upload10m", "POST 10 MiB multipart", "/upload", UPLOAD_SIZE, 8),
    )
}


class CheckError(Exception):
    pass


def check(sc: Scenario, port: int, files: Files) -> None:
    """One request with ``http.client``; raise unless the answer is exactly right."""
    conn = http.client.HTTPConnection(HOST, port, timeout=10)
    try:
        if sc.upload:
            headers = {"Content-Type": f"multipart/form-data; boundary={files.boundary}"}
            conn.request("POST", sc.path + "?hash=1", files.body_path.read_bytes(), headers)
        else:
            conn.request("GET", sc.path)
        resp = conn.getresponse()
        got = resp.read()
    finally:
        conn.close()
    if resp.status != 200:
        raise CheckError(f"HTTP {resp.status}: {got[:200]!r}")
    if sc.upload:
        want = f"{files.part_size} {files.part_sha}".encode()
        if got != want:
            raise CheckError(f"upload answer {got[:200]!r}, expected {want!r}")
        return
    assert sc.file is not None
    length = resp.getheader("Content-Length")
    if length != str(sc.size):
        raise CheckError(f"Content-Length {length!r}, expected {sc.size}")
    if hashlib.sha256(got).hexdigest() != files.sha[sc.file]:
        raise CheckError(f"body differs from the file ({len(got)} bytes, sha256 mismatch)")


def wait_ready(
    proc: subprocess.Popen, sc: Scenario, port: int, files: Files, timeout: float
) -> str:
    """Wait until ``check`` passes; return a problem ("" when fine)."""
    deadline = time.monotonic() + timeout
    bad = 0
    last = ""
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return f"server exited with code {proc.returncode} before answering"
        try:
            check(sc, port, files)
            return ""
        except ConnectionRefusedError:
            time.sleep(0.05)
        except (OSError, http.client.HTTPException, CheckError) as exc:
            bad += 1
            last = f"{type(exc).__name__}: {exc}"
            if bad >= 3:
                return f"no correct answer: {last}"
            time.sleep(0.2)
    return f"not answering after {timeout:g}s ({last or 'connection refused'})"


# -------------------------------------------------------------------- wrk


@dataclass
class WrkResult:
    rps: Optional[float] = None
    p50_ms: Optional[float] = None
    p99_ms: Optional[float] = None
    requests: int = 0
    non2xx: int = 0
    sock: dict[str, int] = field(default_factory=dict)
    upload_ok: Optional[int] = None
    upload_wrong: Optional[int] = None
    first_wrong: str = ""
    wrk_cpu: Optional[float] = None  # wrk's CPU seconds / wall seconds
    raw: str = ""

    @property
    def sock_total(self) -> int:
        return sum(self.sock.values())


def parse_wrk(out: str) -> WrkResult:
    r = WrkResult(raw=out)
    parse_wrk_into(out, r)
    if m := re.search(r"^upload answers: ok (\d+), wrong (\d+)", out, re.M):
        r.upload_ok, r.upload_wrong = int(m.group(1)), int(m.group(2))
    if m := re.search(r"^first wrong answer: (.*)$", out, re.M):
        r.first_wrong = m.group(1)
    return r


def run_wrk(
    args: argparse.Namespace, sc: Scenario, port: int, files: Files, duration: float
) -> WrkResult:
    cmd = ["taskset", "-c", args.wrk_cpu, "wrk", "-t1", f"-c{sc.connections}"]
    cmd += [f"-d{duration:g}s", "--timeout", "10s", "--latency"]
    env = dict(os.environ)
    if sc.upload:
        cmd += ["-s", str(LUA)]
        env.update(
            BENCH_UPLOAD_BODY=str(files.body_path),
            BENCH_UPLOAD_BOUNDARY=files.boundary,
            BENCH_UPLOAD_EXPECT=str(files.part_size),
        )
    cmd.append(f"http://{HOST}:{port}{sc.path}")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=duration + 60)
    wall = time.monotonic() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    r = parse_wrk(p.stdout + p.stderr)
    used = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    r.wrk_cpu = used / wall if wall > 0 else None
    return r


# ---------------------------------------------------------------- one run


@dataclass
class Run:
    server: str
    scenario: str
    round: int
    wrk: Optional[WrkResult] = None
    server_cpu: Optional[float] = None  # server group CPU seconds / wall seconds
    problems: list[str] = field(default_factory=list)
    lost_tracebacks: int = 0  # "Connection lost" when wrk stopped mid-upload (not an error)
    log: str = ""

    @property
    def flagged(self) -> bool:
        w = self.wrk
        return bool(self.problems) or w is None or w.rps is None or bool(w.non2xx or w.sock_total)


# the traceback aiohttp logs for an upload whose client went away
LOST = "ConnectionResetError: Connection lost"


def check_logs(run: Run, args: argparse.Namespace, sc: Scenario, ngdir: Optional[Path]) -> None:
    """Add nginx's error.log to ``run.log``; flag error lines and tracebacks."""
    if ngdir is not None and (ngdir / "error.log").exists():
        text = (ngdir / "error.log").read_text(errors="replace")
        run.log += text
        if re.search(r"\[(error|crit|alert|emerg)\]", text) and not run.problems:
            run.problems.append("errors in nginx error.log")
    n_tb = run.log.count("Traceback")
    n_lost = run.log.count(LOST)
    wrk_runs = 2 if args.warmup > 0 else 1
    if sc.upload and n_tb and n_lost == n_tb and n_tb <= wrk_runs * sc.connections:
        # wrk closes its connections mid-upload when it stops; aiohttp logs each
        run.lost_tracebacks = n_tb
    elif n_tb and not run.problems:
        run.problems.append("tracebacks in server log")


def one_run(
    args: argparse.Namespace, files: Files, logdir: Path, rnd: int, server: Server, sc: Scenario
) -> Run:
    run = Run(server.name, sc.name, rnd)
    port = free_port()
    tag = f"r{rnd}-{server.name}-{sc.name}"
    logpath = logdir / f"{tag}.log"
    with open(logpath, "wb") as log:
        proc = start_server(server, port, files, logdir, tag, args.server_cpu, log)
        try:
            problem = wait_ready(proc, sc, port, files, timeout=20)
            if problem:
                run.problems.append(problem)
            if proc.poll() is None:  # a live server is loaded even if its check failed
                if args.warmup > 0:
                    run_wrk(args, sc, port, files, args.warmup)
                cpu0, t0 = group_cpu_s(proc.pid), time.monotonic()
                run.wrk = w = run_wrk(args, sc, port, files, args.duration)
                run.server_cpu = (group_cpu_s(proc.pid) - cpu0) / (time.monotonic() - t0)
                if sc.upload:
                    if w.upload_ok is None:
                        run.problems.append("wrk script printed no answer count")
                    elif w.upload_wrong or w.upload_ok != w.requests:
                        run.problems.append(
                            f"upload answers: {w.upload_ok} right, {w.upload_wrong} wrong "
                            f"of {w.requests} requests (first wrong: {w.first_wrong or '-'})"
                        )
                check_after_load(
                    proc, run.problems, problem,
                    lambda: wait_ready(proc, sc, port, files, timeout=10),
                )
        finally:
            stop_checked(proc, run.problems)
    run.log = logpath.read_text(errors="replace")
    check_logs(run, args, sc, logdir / f"nginx-{tag}" if server.framework is None else None)
    return run


# ---------------------------------------------------------------- reports


@dataclass
class Cell:
    runs: list[Run]

    @property
    def ok_runs(self) -> list[Run]:
        return [r for r in self.runs if r.wrk and r.wrk.rps is not None and not r.problems]

    def median(self, attr: str) -> Optional[float]:
        return med([v for r in self.ok_runs if (v := getattr(r.wrk, attr)) is not None])

    @property
    def rps(self) -> Optional[float]:
        return self.median("rps")

    @property
    def server_cpu(self) -> Optional[float]:
        return med([r.server_cpu for r in self.ok_runs if r.server_cpu is not None])

    @property
    def wrk_bound(self) -> bool:
        return any(r.wrk and (r.wrk.wrk_cpu or 0) >= WRK_BOUND for r in self.ok_runs)

    @property
    def flagged(self) -> bool:
        return any(r.flagged for r in self.runs)

    def render(self, size: int) -> str:
        if not self.rps:
            s = "FAILED"
        else:
            s = f"{self.rps:,.0f} req/s · {self.rps * size / MIB:,.0f} MiB/s"
            s += f" · p99 {fmt_ms(self.median('p99_ms'))}"
            if self.wrk_bound:
                s += " †"
        ok = len(self.ok_runs)
        if ok < len(self.runs):
            s += f" ({ok}/{len(self.runs)} rounds ok)"
        return s + (" ⚠" if self.flagged else "")

    def render_cpu(self) -> str:
        wrk = med([r.wrk.wrk_cpu for r in self.ok_runs if r.wrk and r.wrk.wrk_cpu is not None])
        if self.server_cpu is None or wrk is None:
            return "?"
        return f"{self.server_cpu:.0%} / {wrk:.0%}"

    def errors(self) -> str:
        parts = []
        non2xx = sum(r.wrk.non2xx for r in self.runs if r.wrk)
        if non2xx:
            parts.append(f"non-2xx {non2xx:,}")
        sock: dict[str, int] = {}
        for r in self.runs:
            for k, v in (r.wrk.sock if r.wrk else {}).items():
                sock[k] = sock.get(k, 0) + v
        parts += [f"{k} {v:,}" for k, v in sock.items() if v]
        bad = sum(1 for r in self.runs if r.problems)
        if bad:
            parts.append(f"{bad}/{len(self.runs)} runs failed")
        return ", ".join(parts) or "no result"


Cells = dict[tuple[str, str], Cell]


def servers_for(sc: Scenario, names: list[str]) -> list[str]:
    """nginx is the ceiling for static files only."""
    return [s for s in names if not (sc.upload and SERVERS[s].framework is None)]


def main_table(cells: Cells, servers: list[str], scenarios: list[str]) -> str:
    header = ["scenario", *(SERVERS[s].label for s in servers)]
    rows = []
    for name in scenarios:
        sc = SCENARIOS[name]
        row = [f"{sc.label} (-c{sc.connections})"]
        row += [cells[(s, name)].render(sc.size) if (s, name) in cells else "n/a" for s in servers]
        rows.append(row)
    return table(header, rows)


def ratios_table(cells: Cells, servers: list[str], scenarios: list[str]) -> str:
    pairs = [(a, b) for a, b in RATIOS if a in servers and b in servers]
    header = ["scenario", *(f"{SERVERS[a].label} / {SERVERS[b].label}" for a, b in pairs)]
    rows = []
    for name in scenarios:
        row = [SCENARIOS[name].label]
        for a, b in pairs:
            ca, cb = cells.get((a, name)), cells.get((b, name))
            row.append(ratio(ca.rps, cb.rps) if ca and cb else "n/a")
        rows.append(row)
    return table(header, rows)


def cpu_table(cells: Cells, servers: list[str], scenarios: list[str]) -> str:
    header = ["scenario", *(SERVERS[s].label for s in servers)]
    rows = []
    for name in scenarios:
        row = [SCENARIOS[name].label]
        row += [cells[(s, name)].render_cpu() if (s, name) in cells else "n/a" for s in servers]
        rows.append(row)
    return table(header, rows)


def lost_note(cells: Cells) -> str:
    """Servers that logged a traceback for each upload wrk abandoned when it stopped."""
    lost = {}
    for (s, _), cell in cells.items():
        n = sum(r.lost_tracebacks for r in cell.runs)
        if n:
            lost[SERVERS[s].label] = (n, len(cell.runs))
    if not lost:
        return ""
    parts = [f"{label}: {n} in {runs} runs" for label, (n, runs) in lost.items()]
    return (
        "Not counted as errors: when wrk stops it closes its connections in the middle of "
        f"uploads, and some servers log a `{LOST}` traceback for each "
        f"(at most one per connection per wrk run): {'; '.join(parts)}.\n"
    )


def errors_section(cells: Cells) -> str:
    rows = [
        [SERVERS[s].label, SCENARIOS[sc].label, cell.errors()]
        for (s, sc), cell in cells.items()
        if cell.flagged
    ]
    if not rows:
        return (
            "Errors: none (every check passed, every upload answer right, no non-2xx "
            "responses, no socket errors, no crashes).\n"
        )
    out = ["Errors (⚠ above; summed over rounds):\n", table(["server", "scenario", "errors"], rows)]
    out.append("")
    groups: dict[tuple[str, str, str], list[Run]] = {}
    for cell in cells.values():
        for r in cell.runs:
            for p in r.problems:
                groups.setdefault((r.server, p, first_traceback(r.log)), []).append(r)
    for (server, problem, tb), runs in groups.items():
        where = sorted({SCENARIOS[r.scenario].label for r in runs})
        out.append(
            f"- **{SERVERS[server].label}** ({len(runs)} run(s): {', '.join(where)}): {problem}"
        )
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
    for mod in ("aiohttp", "uvloop"):
        try:
            versions.append(f"{mod} {__import__(mod).__version__}")
        except ImportError:
            versions.append(f"{mod} missing")
    nginx = sh(["nginx", "-v"], stderr=True).replace("nginx version: ", "") or "nginx ?"
    wrk = re.search(r"wrk \S+", sh(["wrk", "--version"]))
    commit = sh(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"])
    status = sh(["git", "--no-optional-locks", "-C", str(REPO), "status", "--short"])
    changed = [ln for ln in status.splitlines() if ln.strip()]
    outside = [ln for ln in changed if not ln[3:].startswith("bench/")]
    dirty = (
        f" (dirty: {len(outside)} uncommitted changes outside bench/, "
        f"{len(changed) - len(outside)} in bench/)"
        if changed
        else " (clean)"
    )
    return (
        f"- commit: `{commit}`{dirty}\n"
        f"- machine: {os.cpu_count()} CPUs (`nproc` {sh(['nproc'])}), {cpu}, "
        f"{platform.system()} {platform.release()}\n"
        f"- Python {platform.python_version()}, {', '.join(versions)}, {nginx}, "
        f"{wrk.group(0) if wrk else 'wrk ?'}\n"
    )


def build_report(
    args: argparse.Namespace, cells: Cells, command: str, started: dt.datetime, load0: str
) -> str:
    minutes = (dt.datetime.now().astimezone() - started).total_seconds() / 60
    title = "Static files and multipart upload" + (" (--quick smoke run)" if args.quick else "")
    servers, scenarios = args.server_names, args.scenario_names
    out = [
        f"## {started:%Y-%m-%d %H:%M %Z}: {title}\n",
        f"`{command}`\n",
        machine_info()
        + f"- {args.rounds} round(s) × {args.duration:g} s per cell (+{args.warmup:g} s warm-up), "
        f"wrk -t1 --timeout 10s on CPU {args.wrk_cpu}, server on CPU {args.server_cpu}; "
        f"load average {load0} before, {loadavg()} after; took {minutes:.1f} min\n",
        "Files of random bytes; each server's answer was checked (status, Content-Length, "
        "SHA-256 of the body; for the upload the part's byte count and SHA-256) before and "
        "after the load. Upload: one 10 MiB file part in a prebuilt multipart/form-data "
        "body, streamed by the handler with `read_chunk(65536)` to a temporary file; "
        "every answer under load was compared with the byte count. nginx (`sendfile on; "
        "tcp_nopush on;`, 1 worker) is the static-file ceiling and has no upload handler.\n",
        "Cells: median req/s · MiB/s (req/s × file or part size) · median p99 over the rounds "
        f"that ran cleanly; † = wrk used ≥ {WRK_BOUND:.0%} of its CPU in some round (the load "
        "generator may be the limit); ⚠ = a round had errors.\n",
        main_table(cells, servers, scenarios) + "\n",
        lost_note(cells),
        "Ratios of median req/s:\n",
        ratios_table(cells, servers, scenarios) + "\n",
        "CPU used during the measured run, median: server (whole process group) / wrk, "
        "as a share of one core:\n",
        cpu_table(cells, servers, scenarios) + "\n",
        errors_section(cells),
    ]
    return "\n".join(out)


# ------------------------------------------------------------------- main


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--duration", type=float, default=5.0, help="seconds per wrk run")
    p.add_argument("--warmup", type=float, default=1.0, help="unmeasured wrk seconds first")
    p.add_argument("--quick", action="store_true", help="smoke run: 1 round, 3 s, no warm-up")
    p.add_argument("--servers", help=f"comma list of {', '.join(SERVERS)} (default: all)")
    p.add_argument("--scenarios", help=f"comma list of {', '.join(SCENARIOS)} (default: all)")
    p.add_argument("--server-cpu", default="0")
    p.add_argument("--wrk-cpu", default="1")
    p.add_argument("--no-save", action="store_true", help="do not append to bench/RESULTS.md")
    args = p.parse_args()
    if args.quick:
        args.rounds, args.duration, args.warmup = 1, 3.0, 0.0

    def pick(value: Optional[str], known: dict[str, Any]) -> list[str]:
        names = value.split(",") if value else list(known)
        unknown = [n for n in names if n not in known]
        if unknown:
            p.error(f"unknown {unknown}; choose from {', '.join(known)}")
        return names

    args.server_names = pick(args.servers, SERVERS)
    args.scenario_names = pick(args.scenarios, SCENARIOS)
    if "nginx" in args.server_names and not shutil.which("nginx"):
        if args.servers:
            p.error("nginx not found (apt-get install -y nginx-light)")
        print("skipping nginx: not installed (apt-get install -y nginx-light)", file=sys.stderr)
        args.server_names.remove("nginx")
    return args


def run_all(args: argparse.Namespace, files: Files, logdir: Path) -> Cells:
    plan = {sc: servers_for(SCENARIOS[sc], args.server_names) for sc in args.scenario_names}
    cells: Cells = {(s, sc): Cell([]) for sc, servers in plan.items() for s in servers}
    total = args.rounds * len(cells)
    print(f"{total} runs of {args.duration:g}s; server logs and runs.json in {logdir}", flush=True)
    done = 0
    for rnd in range(1, args.rounds + 1):
        for sc_name, servers in plan.items():
            sc = SCENARIOS[sc_name]
            shift = (rnd - 1) % len(servers)  # rotate so no server always goes first
            for s in servers[shift:] + servers[:shift]:
                done += 1
                run = one_run(args, files, logdir, rnd, SERVERS[s], sc)
                cells[(s, sc_name)].runs.append(run)
                w = run.wrk
                if w and w.rps is not None:
                    desc = f"{w.rps:,.1f} req/s {w.rps * sc.size / MIB:,.0f} MiB/s "
                    desc += f"p99 {fmt_ms(w.p99_ms)} cpu server {run.server_cpu or 0:.0%} "
                    desc += f"wrk {w.wrk_cpu or 0:.0%}"
                else:
                    desc = "no result"
                if w and (w.non2xx or w.sock_total):
                    desc += f" non-2xx {w.non2xx} socket {w.sock}"
                if run.problems:
                    desc += " PROBLEM: " + "; ".join(run.problems)
                label = SERVERS[s].label
                print(f"[{done}/{total}] round {rnd} {sc.label:<22} {label:<18} {desc}", flush=True)
    return cells


def save_raw(cells: Cells, logdir: Path) -> None:
    raw = [
        {
            "server": r.server,
            "scenario": r.scenario,
            "round": r.round,
            "server_cpu": r.server_cpu,
            "problems": r.problems,
            "lost_tracebacks": r.lost_tracebacks,
            **({k: v for k, v in vars(r.wrk).items() if k != "raw"} if r.wrk else {}),
        }
        for c in cells.values()
        for r in c.runs
    ]
    (logdir / "runs.json").write_text(json.dumps(raw, indent=1))


def main() -> int:
    args = parse_args()
    for tool in ("wrk", "taskset"):
        if not shutil.which(tool):
            sys.exit(f"{tool} not found (apt-get install -y wrk util-linux)")
    # SIGTERM unwinds like Ctrl+C, so every `finally` stops its server
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    command = " ".join(shlex.quote(a) for a in [PY, *sys.argv])
    workdir = Path(tempfile.mkdtemp(prefix="aioweb-staticbench-"))
    logdir = workdir / "logs"
    logdir.mkdir()
    started = dt.datetime.now().astimezone()
    load0 = loadavg()
    files = Files.create(workdir)
    try:
        cells = run_all(args, files, logdir)
    except KeyboardInterrupt:
        print("interrupted: servers stopped, nothing saved", file=sys.stderr)
        return 130
    finally:
        files.remove()  # ~30 MiB of test data; logs stay
    save_raw(cells, logdir)
    report = build_report(args, cells, command, started, load0)
    print("\n" + report)
    if not args.no_save:
        new = not RESULTS.exists()
        text = report + "\n"
        if new:
            text = "# Benchmark results\n\nAppended by the bench/ drivers; see bench/README.md.\n\n"
            text += report + "\n"
        with open(RESULTS, "a") as f:  # one write: other drivers may append too
            f.write(text)
        print(f"appended to {RESULTS}")
    return 1 if any(c.flagged for c in cells.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
