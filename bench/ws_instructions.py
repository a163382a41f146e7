"""CPU instructions per WebSocket echo, counted by callgrind on the real server.

Throughput on this VM moves by ±25 % between runs; instruction counts do
not. For each framework and loop this starts ``bench/ws_app.py`` under
``valgrind --tool=callgrind`` (``PYTHONHASHSEED=0``, pinned to CPU 0),
loads it with ``bench/ws_load.py`` (CPU 1, 8 connections, window 1) for a
short and for a long run, and reports

    (instructions of the long run - of the short run) / (echoes - echoes)

so start-up, imports, the handshakes and shutdown cancel out. Usage::

    python bench/ws_instructions.py                               # both, uvloop, 16 B
    python bench/ws_instructions.py --frameworks aioweb --loops uvloop,asyncio --sizes 16,1024

Takes about a minute per cell. Traffic goes to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from _common import free_port, stop

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
PY = sys.executable


def wait_ready(port: int, proc: subprocess.Popen, timeout: float = 120.0) -> None:
    """Until the server answers HTTP at all (callgrind makes start-up slow)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2)
        except urllib.error.HTTPError:
            return  # any HTTP answer means it serves
        except OSError:
            time.sleep(0.3)
        else:
            return
    raise RuntimeError("server did not start")


def instructions(out: Path) -> int:
    """The ``totals:`` (or ``summary:``) line of a callgrind output file."""
    for line in out.read_text().splitlines():
        if line.startswith(("totals:", "summary:")):
            return int(line.split()[1])
    raise RuntimeError(f"no totals in {out}")


def one_run(framework: str, loop: str, size: int, duration: float, tmp: Path) -> tuple[int, int]:
    """(echoes, instructions) of one server life loaded for ``duration`` seconds."""
    port = free_port()
    out = tmp / f"cg.{framework}.{loop}.{size}.{duration}"
    argv = ["taskset", "-c", "0", "valgrind", "--tool=callgrind", f"--callgrind-out-file={out}"]
    argv += [PY, str(BENCH / "ws_app.py"), "--framework", framework, "--loop", loop]
    argv += ["--port", str(port)]
    proc = subprocess.Popen(
        argv,
        cwd=REPO,
        # No .pyc written: the first run would otherwise pay for compiling alone.
        env={"PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1", "PATH": "/usr/bin:/bin"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_ready(port, proc)
        load = [PY, str(BENCH / "ws_load.py"), "--port", str(port), "--size", str(size)]
        load += ["--connections", "8", "--duration", str(duration), "--json"]
        done = subprocess.run(
            ["taskset", "-c", "1", *load], capture_output=True, text=True, check=True
        )
        echoes = int(json.loads(done.stdout)["messages"])
    finally:
        stop(proc, grace=30.0)
    return echoes, instructions(out)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--frameworks", default="aioweb,aiohttp")
    p.add_argument("--loops", default="uvloop")
    p.add_argument("--sizes", default="16")
    p.add_argument("--short", type=float, default=3.0, help="seconds of the short run")
    p.add_argument("--long", type=float, default=9.0, help="seconds of the long run")
    args = p.parse_args()
    print("| framework | loop | message | instructions per echo |")
    print("|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        for framework in args.frameworks.split(","):
            for loop in args.loops.split(","):
                for size in (int(s) for s in args.sizes.split(",")):
                    short = one_run(framework, loop, size, args.short, tmp)
                    long = one_run(framework, loop, size, args.long, tmp)
                    per = (long[1] - short[1]) / (long[0] - short[0])
                    print(f"| {framework} | {loop} | {size} B | {per:,.0f} |", flush=True)


if __name__ == "__main__":
    main()
