"""Helpers shared by the benchmark drivers (run.py, ws_run.py, static_run.py).

Process handling (free ports, stopping a server's process group by its ID,
never by name, the checks around one loaded server), wrk's report, and report
formatting (medians, ratios, markdown tables, tracebacks from server logs).
Nothing here sends traffic.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import statistics
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Optional

HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def group_pids(pgid: int) -> list[int]:
    """Live (non-zombie) processes in process group ``pgid``, from /proc."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # exited meanwhile
        fields = stat.rsplit(")", 1)[1].split()  # state, ppid, pgrp, ...
        if int(fields[2]) == pgid and fields[0] not in "ZX":
            pids.append(int(entry.name))
    return pids


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        pass


def stop(proc: subprocess.Popen, grace: float = 5.0) -> Optional[int]:
    """Stop the process group ``start_server`` made: SIGTERM, SIGKILL after ``grace`` s.

    Signals go to that group only (its ID is the leader's PID, which cannot be
    reused while the leader is unreaped or the group has members). Returns the
    leader's exit code; on return no live process of the group is left.
    """
    pgid = proc.pid
    deadline = time.monotonic() + grace
    if proc.poll() is None or group_pids(pgid):
        _signal_group(pgid, signal.SIGTERM)
    while time.monotonic() < deadline and (proc.poll() is None or group_pids(pgid)):
        time.sleep(0.05)
    if proc.poll() is None or group_pids(pgid):
        _signal_group(pgid, signal.SIGKILL)
        proc.wait(5)
    return proc.returncode


def check_after_load(
    proc: subprocess.Popen, problems: list[str], ready_problem: Optional[str],
    recheck: Callable[[], Optional[str]],
) -> None:
    """Flag a server that died under load, or (if it answered before) no longer answers right."""
    if proc.poll() is not None:
        problems.append(f"server died under load (exit code {proc.returncode})")
    elif not ready_problem:
        after = recheck()
        if after:
            problems.append(f"after load: {after}")


def stop_checked(
    proc: subprocess.Popen,
    problems: list[str],
    stopper: Callable[[subprocess.Popen], Optional[int]] = stop,
) -> None:
    """Stop the server (``stop`` by default); flag any exit but a clean one on SIGTERM."""
    code = stopper(proc)
    if code not in (0, None, -signal.SIGTERM) and not problems:
        problems.append(f"server exit code {code} on SIGTERM")


def flag_tracebacks(log: str, problems: list[str]) -> None:
    if "Traceback" in log and not problems:
        problems.append("tracebacks in server log")


_UNIT_MS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def parse_wrk_into(out: str, r: Any) -> None:
    """Set ``rps``, ``p50_ms``, ``p99_ms``, ``requests``, ``non2xx`` and ``sock`` of ``r``
    from wrk's report (``--latency``); fields wrk did not print stay as they were."""
    if m := re.search(r"^Requests/sec:\s+([\d.]+)", out, re.M):
        r.rps = float(m.group(1))
    for pct, attr in (("50", "p50_ms"), ("99", "p99_ms")):
        if m := re.search(rf"^\s*{pct}(?:\.0+)?%\s+([\d.]+)(us|ms|s|m)\s*$", out, re.M):
            setattr(r, attr, float(m.group(1)) * _UNIT_MS[m.group(2)])
    if m := re.search(r"^\s*(\d+) requests in", out, re.M):
        r.requests = int(m.group(1))
    if m := re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out):
        r.non2xx = int(m.group(1))
    if m := re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out):
        keys = ("connect", "read", "write", "timeout")
        r.sock = dict(zip(keys, map(int, m.groups()), strict=True))


def med(xs: list[float]) -> Optional[float]:
    return statistics.median(xs) if xs else None


def fmt_ms(ms: Optional[float]) -> str:
    if ms is None:
        return "?"
    return f"{ms:.2f} ms" if ms < 10 else f"{ms:.1f} ms"


def ratio(a: Optional[float], b: Optional[float]) -> str:
    return f"{a / b:.2f}" if a and b else "n/a"


def table(header: list[str], rows: list[list[str]]) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(out)


def first_traceback(log: str, max_lines: int = 14) -> str:
    i = log.find("Traceback")
    if i < 0:
        return ""
    lines = log[i:].splitlines()
    end = next(
        (n + 1 for n, ln in enumerate(lines[1:], 1) if ln and not ln.startswith((" ", "\t"))),
        len(lines),
    )
    tb = lines[:end]
    if len(tb) > max_lines:
        tb = tb[:3] + ["  ..."] + tb[-(max_lines - 4) :]
    return "\n".join(tb)


def indent(s: str, pre: str) -> str:
    return "\n".join(pre + ln for ln in s.splitlines())


def sh(cmd: list[str], stderr: bool = False) -> str:
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return "?"
    return (p.stderr if stderr else p.stdout).strip()
