"""Helpers shared by the benchmark drivers (run.py, ws_run.py, static_run.py).

Process handling (free ports, stopping a server's process group by its ID,
never by name) and report formatting (medians, ratios, markdown tables,
tracebacks from server logs). Nothing here sends traffic.
"""

from __future__ import annotations

import os
import signal
import socket
import statistics
import subprocess
import time
from pathlib import Path
from typing import Optional

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
