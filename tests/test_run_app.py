"""web.run_app in a real subprocess: serving, signals, graceful shutdown, loops.

Every child process is started by the test, bounded by timeouts, and killed
by its own PID if it outlives them.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from aioweb.test_utils import unused_port

APP_SCRIPT = textwrap.dedent(
    """
    import asyncio, sys
    from aioweb import web

    LOG = sys.argv[1]
    PORT = int(sys.argv[2])
    MODE = sys.argv[3]

    def log(line):
        with open(LOG, "a") as f:
            f.write(line + "\\n")

    async def hello(request):
        return web.Response(body=b"Hello, world")

    async def slow(request):
        log("slow-start")
        await asyncio.sleep(0.5)
        log("slow-end")
        return web.Response(text="slow done")

    async def on_startup(app):
        log("startup " + type(asyncio.get_running_loop()).__module__)

    async def on_shutdown(app):
        log("shutdown")

    async def on_cleanup(app):
        log("cleanup")

    def make_app():
        app = web.Application()
        app.router.add_route("GET", "/", hello)
        app.router.add_get("/slow", slow)
        app.on_startup.append(on_startup)
        app.on_shutdown.append(on_shutdown)
        app.on_cleanup.append(on_cleanup)
        return app

    async def make_app_async():
        await asyncio.sleep(0)
        return make_app()

    if MODE == "awaitable":
        web.run_app(make_app_async(), host="127.0.0.1", port=PORT)
    elif MODE == "no-uvloop-arg":
        web.run_app(make_app(), host="127.0.0.1", port=PORT, use_uvloop=False)
    elif MODE == "loop-arg":
        web.run_app(make_app(), host="127.0.0.1", port=PORT, loop=asyncio.new_event_loop())
    else:
        web.run_app(make_app(), host="127.0.0.1", port=PORT)
    log("exited")
    """
)


# The shutdown tests run on asyncio's loop; the uvloop default has its own tests.
ASYNCIO = {"AIOWEB_NO_UVLOOP": "1"}


class Child:
    def __init__(self, proc: subprocess.Popen[str], log: Path, port: int) -> None:
        self.proc = proc
        self.log = log
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.out = ""

    def lines(self) -> list[str]:
        return self.log.read_text().splitlines() if self.log.exists() else []

    def wait_serving(self, timeout: float = 10.0) -> None:
        """Wait for the "Running on" banner (the child runs unbuffered)."""
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.proc.stdout], [], [], 0.1)
            if ready:
                line = self.proc.stdout.readline()
                self.out += line
                if "Running on" in line:
                    # Printed in one write with the banner: already buffered.
                    self.out += self.proc.stdout.readline()
                    return
                if not line:
                    break
        self.proc.kill()
        raise AssertionError(f"child did not start serving: {self.proc.communicate(timeout=5)}")

    def stop(self, sig: int) -> tuple[int, str, str]:
        self.proc.send_signal(sig)
        out, err = self.proc.communicate(timeout=15)
        return self.proc.returncode, self.out + out, err


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[object]:
    script = tmp_path / "serve.py"
    script.write_text(APP_SCRIPT)
    children: list[Child] = []

    def run(mode: str = "plain", env: dict[str, str] | None = None) -> Child:
        port = unused_port()
        log = tmp_path / f"log-{len(children)}.txt"
        proc = subprocess.Popen(
            [sys.executable, str(script), str(log), str(port), mode],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env if env is not None else ASYNCIO)},
        )
        child = Child(proc, log, port)
        children.append(child)
        return child

    yield run
    for child in children:
        if child.proc.poll() is None:
            child.proc.kill()
            child.proc.communicate(timeout=5)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_run_app_serves_then_shuts_down_gracefully_on_signal(spawn: object, sig: int) -> None:
    child = spawn()  # type: ignore[operator]
    child.wait_serving()
    resp = httpx.get(child.url + "/", timeout=5)
    assert resp.status_code == 200 and resp.content == b"Hello, world"
    rc, out, err = child.stop(sig)
    assert rc == 0, err
    assert f"======== Running on http://127.0.0.1:{child.port} ========" in out
    assert "(Press CTRL+C to quit)" in out
    assert "Traceback" not in err
    lines = child.lines()
    assert lines[0].startswith("startup")
    assert lines[1:] == ["shutdown", "cleanup", "exited"]


def test_in_flight_request_completes_after_sigterm(spawn: object) -> None:
    child = spawn()  # type: ignore[operator]
    child.wait_serving()
    with httpx.Client(timeout=10) as client:
        import threading

        result: dict[str, httpx.Response] = {}

        def fetch() -> None:
            result["resp"] = client.get(child.url + "/slow")

        thread = threading.Thread(target=fetch)
        thread.start()
        deadline = time.monotonic() + 5
        while "slow-start" not in child.lines() and time.monotonic() < deadline:
            time.sleep(0.01)
        rc, _, err = child.stop(signal.SIGTERM)
        thread.join(10)
    assert rc == 0, err
    assert result["resp"].status_code == 200
    assert result["resp"].text == "slow done"
    lines = child.lines()
    assert lines.index("shutdown") < lines.index("slow-end") < lines.index("cleanup")


def test_run_app_accepts_an_awaitable(spawn: object) -> None:
    child = spawn("awaitable")  # type: ignore[operator]
    child.wait_serving()
    assert httpx.get(child.url + "/", timeout=5).status_code == 200
    rc, _, err = child.stop(signal.SIGINT)
    assert rc == 0, err
    assert child.lines()[-3:] == ["shutdown", "cleanup", "exited"]


def test_uvloop_is_the_default_when_installed(spawn: object) -> None:
    pytest.importorskip("uvloop")
    child = spawn(env={})  # type: ignore[operator]
    child.wait_serving()
    rc, _, err = child.stop(signal.SIGINT)
    assert rc == 0, err
    assert child.lines()[0] == "startup uvloop"


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_default_uvloop_serves_and_stops_on_signal(spawn: object, sig: int) -> None:
    pytest.importorskip("uvloop")
    child = spawn(env={})  # type: ignore[operator]
    child.wait_serving()
    resp = httpx.get(child.url + "/", timeout=5)
    assert resp.status_code == 200 and resp.content == b"Hello, world"
    rc, _, err = child.stop(sig)
    assert rc == 0, err
    assert "Traceback" not in err
    assert child.lines()[1:] == ["shutdown", "cleanup", "exited"]


@pytest.mark.parametrize(
    ("mode", "env"),
    [("plain", ASYNCIO), ("no-uvloop-arg", {}), ("loop-arg", {})],
)
def test_uvloop_opt_outs(spawn: object, mode: str, env: dict[str, str]) -> None:
    child = spawn(mode, env)  # type: ignore[operator]
    child.wait_serving()
    rc, _, err = child.stop(signal.SIGINT)
    assert rc == 0, err
    assert child.lines()[0] == "startup asyncio.unix_events"
