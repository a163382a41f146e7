"""``python -m aioweb.web``: both CLI forms, the demo app, and one-line errors.

Each server runs as a child process started here, bounded by timeouts and
killed by its own PID if it outlives them.
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
from typing import Any

import httpx
import pytest

from aioweb.test_utils import unused_port

ENTRY_MODULE = textwrap.dedent(
    """
    import asyncio
    from aioweb import web

    async def show_argv(request):
        return web.json_response(request.app["argv"])

    def init_func(argv):
        app = web.Application()
        app["argv"] = argv
        app.router.add_route("GET", "/", show_argv)
        return app

    async def init_async(argv):
        await asyncio.sleep(0)
        return init_func(argv)

    def returns_none(argv):
        return None

    async def async_returns_none(argv):
        return "not an app"

    not_callable = 42
    """
)


@pytest.fixture
def cli(tmp_path: Path) -> Iterator[Any]:
    pkg = tmp_path / "cliapp"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "entry.py").write_text(ENTRY_MODULE)
    (pkg / "broken.py").write_text("import no_such_module_anywhere\n")
    procs: list[subprocess.Popen[str]] = []
    env = {
        **os.environ,
        "PYTHONPATH": f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
        "PYTHONUNBUFFERED": "1",
    }

    def start(*args: str) -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            [sys.executable, "-m", "aioweb.web", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=tmp_path,
        )
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=5)


def wait_banner(proc: subprocess.Popen[str], timeout: float = 10.0) -> str:
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 0.1)
        if ready:
            line = proc.stdout.readline()
            if "Running on" in line:
                return line
            if not line:
                break
    proc.kill()
    raise AssertionError(f"server did not start: {proc.communicate(timeout=5)}")


def stop(proc: subprocess.Popen[str], sig: int = signal.SIGINT) -> tuple[int, str]:
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=15)
    return proc.returncode, err


def test_readme_command_serves_the_demo_app(cli: Any) -> None:
    port = unused_port()
    proc = cli("-H", "127.0.0.1", "-P", str(port), "aioweb.demo:init_app")
    banner = wait_banner(proc)
    assert f"http://127.0.0.1:{port}" in banner
    base = f"http://127.0.0.1:{port}"
    assert httpx.get(base + "/", timeout=5).text == "Hello from aioweb\n"
    assert httpx.get(base + "/greet/bob", timeout=5).text == "Hello, bob\n"
    info = httpx.get(base + "/info?a=1", timeout=5).json()
    assert info == {"method": "GET", "path": "/info", "query": {"a": "1"}}
    rc, err = stop(proc)
    assert rc == 0, err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    "form",
    [
        ["-n", "127.0.0.1", "-p", "{port}", "cliapp.entry.init_func"],
        ["-H", "127.0.0.1", "-P", "{port}", "cliapp.entry:init_func"],
        ["--hostname", "127.0.0.1", "--port", "{port}", "cliapp.entry:init_async"],
    ],
)
def test_both_cli_forms_pass_unparsed_arguments(cli: Any, form: list[str]) -> None:
    port = unused_port()
    args = [a.format(port=port) for a in form]
    proc = cli("--no-uvloop", *args, "extra", "--flag", "value")
    wait_banner(proc)
    resp = httpx.get(f"http://127.0.0.1:{port}/", timeout=5)
    assert resp.json() == ["extra", "--flag", "value"]
    rc, err = stop(proc, signal.SIGTERM)
    assert rc == 0, err


def test_unix_path_only(cli: Any, tmp_path: Path) -> None:
    path = str(tmp_path / "cli.sock")
    proc = cli("--no-uvloop", "-U", path, "cliapp.entry:init_func")
    banner = wait_banner(proc)
    assert f"unix:{path}" in banner
    transport = httpx.HTTPTransport(uds=path)
    with httpx.Client(transport=transport, timeout=5) as client:
        assert client.get("http://localhost/").json() == []
    rc, err = stop(proc)
    assert rc == 0, err


BAD_ENTRIES = [
    ("no_such_pkg.mod:init", "unable to import no_such_pkg.mod"),
    ("cliapp.broken:init", "unable to import cliapp.broken"),
    ("cliapp.entry:missing", "has no attribute 'missing'"),
    ("cliapp.entry.missing", "has no attribute 'missing'"),
    ("cliapp.entry:not_callable", "not callable"),
    ("cliapp.entry:returns_none", "returned NoneType, not an Application"),
    ("cliapp.entry:async_returns_none", "returned str, not an Application"),
    ("cliapp", "not in 'module:function'"),
    (":init", "not in 'module:function'"),
    (".entry:init", "relative module names"),
]


def test_bad_entry_points_give_one_line_and_status_2(cli: Any) -> None:
    # All cases run side by side: each is a fresh interpreter.
    procs = [
        (cli("--no-uvloop", "-P", str(unused_port()), entry), entry, message)
        for entry, message in BAD_ENTRIES
    ]
    for proc, entry, message in procs:
        _, err = proc.communicate(timeout=15)
        assert proc.returncode == 2, (entry, err)
        assert "Traceback" not in err, entry
        lines = err.strip().splitlines()
        assert len(lines) == 1, (entry, err)
        assert message in lines[0], (entry, err)
        assert lines[0].startswith("python -m aioweb.web: error:")
