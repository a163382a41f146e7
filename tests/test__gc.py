"""Garbage-collector tuning (aioweb._gc), checked in fresh server processes."""

from __future__ import annotations

import asyncio
import gc
import os
import subprocess
import sys
from collections.abc import Callable, Iterator

import pytest

pytestmark = pytest.mark.skipif(
    gc.get_threshold()[1:] != (10, 10) or sys.version_info >= (3, 13),
    reason="tuned only on interpreters whose defaults are (700, 10, 10)",
)

# A real server whose /gc answers how many young collections it has run.
SERVER = """
import asyncio, gc, sys
from aioweb import web

async def hello(request):
    return web.Response(text="Hello, World")

async def collections(request):
    return web.Response(text=str(gc.get_stats()[0]["collections"]))

async def main():
    app = web.Application()
    app.router.add_get("/", hello)
    app.router.add_get("/gc", collections)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    print(port, *gc.get_threshold(), flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
"""

PROBE = """
import gc
{before}
from aioweb import web
from aioweb._gc import tune_gc
web.Server(lambda request: None)
print(tune_gc(), *gc.get_threshold())
"""


def _clean_env(**env: str) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("AIOWEB_")}
    return {**clean, **env}


def _probe(before: str = "", **env: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", PROBE.format(before=before)],
        env=_clean_env(**env),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_a_server_raises_the_young_threshold() -> None:
    assert _probe() == "True 10000 10 10"


@pytest.mark.parametrize(
    ("before", "env", "expected"),
    [
        ("gc.set_threshold(1000, 10, 10)", {}, "False 1000 10 10"),
        ("gc.set_threshold(700, 20, 10)", {}, "False 700 20 10"),
        ("gc.disable()", {}, "False 700 10 10"),
        ("", {"AIOWEB_NO_GC_TUNING": "1"}, "False 700 10 10"),
    ],
    ids=["threshold-set", "older-threshold-set", "gc-disabled", "opted-out"],
)
def test_the_operator_setting_wins(before: str, env: dict[str, str], expected: str) -> None:
    assert _probe(before, **env) == expected


@pytest.fixture
def server_factory() -> Iterator[Callable[..., tuple[int, str]]]:
    started: list[subprocess.Popen[str]] = []

    def start(**env: str) -> tuple[int, str]:
        proc = subprocess.Popen(
            [sys.executable, "-c", SERVER],
            env=_clean_env(**env),
            stdout=subprocess.PIPE,
            text=True,
        )
        started.append(proc)
        assert proc.stdout is not None
        port, *threshold = proc.stdout.readline().split()
        return int(port), " ".join(threshold)

    yield start
    for proc in started:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()


PIPELINED = 8


async def _young_collections_under_load(port: int, connections: int, rounds: int) -> int:
    """Young collections the server ran in ``rounds`` of ``PIPELINED`` requests per connection."""
    streams = [await asyncio.open_connection("127.0.0.1", port) for _ in range(connections)]
    request = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"

    async def get(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, path: bytes) -> bytes:
        writer.write(b"GET " + path + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
        return await reader.readexactly(length)

    async def one_round() -> None:
        for _, writer in streams:
            writer.write(request * PIPELINED)
        for reader, _ in streams:
            for _ in range(PIPELINED):
                head = await reader.readuntil(b"\r\n\r\n")
                assert head.startswith(b"HTTP/1.1 200 ")
                assert await reader.readexactly(12) == b"Hello, World"

    await one_round()  # every connection set up and warm
    before = int(await get(*streams[0], b"/gc"))
    for _ in range(rounds):
        await one_round()
    after = int(await get(*streams[0], b"/gc"))
    for _, writer in streams:
        writer.close()
    return after - before


async def test_256_busy_connections_run_no_young_collections(
    server_factory: Callable[..., tuple[int, str]],
) -> None:
    port, threshold = server_factory()
    assert threshold == "10000 10 10"
    assert await _young_collections_under_load(port, 256, 30) <= 3


async def test_untuned_the_same_load_runs_young_collections(
    server_factory: Callable[..., tuple[int, str]],
) -> None:
    # Shows the measurement can fail: at CPython's 700 the same load collects
    # about twice per round (58-61 times in 30 rounds here). Two or four
    # requests per connection no longer reach 700 since a request's task is
    # made in the pass that answers it, not the one that reads it.
    port, threshold = server_factory(AIOWEB_NO_GC_TUNING="1")
    assert threshold == "700 10 10"
    assert await _young_collections_under_load(port, 256, 30) >= 10
