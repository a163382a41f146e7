"""Runners and sites: lifecycle, addresses, and graceful shutdown over real sockets."""

from __future__ import annotations

import asyncio
import os
import socket
import tempfile
from typing import Any

import httpx
import pytest

from aioweb import web


async def hello(request: web.Request) -> web.Response:
    return web.Response(text="hello")


async def start(app: web.Application, **kwargs: Any) -> tuple[web.AppRunner, int]:
    runner = web.AppRunner(app, **kwargs)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, runner.addresses[0][1]


async def test_lifecycle_addresses_and_names() -> None:
    started: list[str] = []

    async def on_startup(app: web.Application) -> None:
        started.append("startup")

    app = web.Application()
    app.router.add_get("/", hello)
    app.on_startup.append(on_startup)
    runner = web.AppRunner(app)
    assert runner.server is None and runner.app is app
    await runner.setup()
    assert started == ["startup"] and app.frozen
    assert isinstance(runner.server, web.Server)
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    assert runner.addresses == [("127.0.0.1", port)]
    assert runner.sites == {site}
    assert site.name == "http://127.0.0.1:0"
    async with httpx.AsyncClient() as client:
        resp = await client.get(f"http://127.0.0.1:{port}/")
        assert resp.text == "hello"
    await runner.cleanup()
    assert runner.server is None and runner.addresses == []
    with pytest.raises(OSError):
        await asyncio.open_connection("127.0.0.1", port)


def test_tcp_site_default_name() -> None:
    async def go() -> None:
        runner = web.AppRunner(web.Application())
        await runner.setup()
        assert web.TCPSite(runner).name == "http://0.0.0.0:8080"
        assert web.TCPSite(runner, "localhost", 9000).name == "http://localhost:9000"
        await runner.cleanup()

    asyncio.run(go())


async def test_site_needs_setup_and_runner_needs_app() -> None:
    runner = web.AppRunner(web.Application())
    with pytest.raises(RuntimeError):
        web.TCPSite(runner)
    with pytest.raises(TypeError):
        web.AppRunner(hello)  # type: ignore[arg-type]


async def test_unix_site() -> None:
    app = web.Application()
    app.router.add_get("/", hello)
    runner = web.AppRunner(app)
    await runner.setup()
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "aioweb.sock")
        site = web.UnixSite(runner, path)
        assert site.name == f"http://unix:{path}:"
        await site.start()
        try:
            transport = httpx.AsyncHTTPTransport(uds=path)
            async with httpx.AsyncClient(transport=transport) as client:
                resp = await client.get("http://localhost/")
                assert resp.text == "hello"
        finally:
            await runner.cleanup()


async def test_sock_site() -> None:
    app = web.Application()
    app.router.add_get("/", hello)
    runner = web.AppRunner(app)
    await runner.setup()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    site = web.SockSite(runner, sock)
    assert site.name == f"http://127.0.0.1:{port}"
    await site.start()
    try:
        async with httpx.AsyncClient() as client:
            assert (await client.get(f"http://127.0.0.1:{port}/")).text == "hello"
    finally:
        await runner.cleanup()
        sock.close()


async def test_cleanup_lets_in_flight_request_finish(raw_connect: Any) -> None:
    calls: list[str] = []
    entered = asyncio.Event()

    async def slow(request: web.Request) -> web.Response:
        entered.set()
        await asyncio.sleep(0.5)
        calls.append("handler done")
        return web.Response(text="slow but complete")

    async def on_shutdown(app: web.Application) -> None:
        calls.append("on_shutdown")

    async def on_cleanup(app: web.Application) -> None:
        calls.append("on_cleanup")

    app = web.Application()
    app.router.add_get("/slow", slow)
    app.on_shutdown.append(on_shutdown)
    app.on_cleanup.append(on_cleanup)
    runner, port = await start(app, shutdown_timeout=5.0)
    conn = await raw_connect(port)
    idle = await raw_connect(port)
    await conn.send(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
    await asyncio.wait_for(entered.wait(), 5)
    cleanup = asyncio.create_task(runner.cleanup())
    status, headers, body = await conn.read_response()
    assert status == b"HTTP/1.1 200 OK"
    assert body == b"slow but complete"
    assert headers.get("connection") == "close"
    assert await idle.read_until_closed() == b""
    await asyncio.wait_for(cleanup, 5)
    assert calls == ["on_shutdown", "handler done", "on_cleanup"]
    conn.close()
    idle.close()


async def test_pipelined_requests_received_before_shutdown_are_answered(raw_connect: Any) -> None:
    entered = asyncio.Event()

    async def slow(request: web.Request) -> web.Response:
        entered.set()
        await asyncio.sleep(0.3)
        return web.Response(text="slow")

    app = web.Application()
    app.router.add_get("/slow", slow)
    app.router.add_get("/fast", hello)
    runner, port = await start(app, shutdown_timeout=5.0)
    conn = await raw_connect(port)
    await conn.send(
        b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\nGET /fast HTTP/1.1\r\nHost: x\r\n\r\n"
    )
    await asyncio.wait_for(entered.wait(), 5)
    cleanup = asyncio.create_task(runner.cleanup())
    first = await conn.read_response()
    second = await conn.read_response()
    assert first[2] == b"slow" and first[1].get("connection") != "close"
    assert second[2] == b"hello" and second[1].get("connection") == "close"
    assert await conn.read_until_closed() == b""
    await asyncio.wait_for(cleanup, 5)
    conn.close()


async def test_handler_exceeding_timeout_gets_connection_closed(raw_connect: Any) -> None:
    entered = asyncio.Event()
    cleaned: list[str] = []

    async def stuck(request: web.Request) -> web.Response:
        entered.set()
        await asyncio.sleep(30)
        return web.Response(text="too late")

    async def on_cleanup(app: web.Application) -> None:
        cleaned.append("cleanup")

    app = web.Application()
    app.router.add_get("/stuck", stuck)
    app.on_cleanup.append(on_cleanup)
    runner, port = await start(app, shutdown_timeout=0.2)
    conn = await raw_connect(port)
    await conn.send(b"GET /stuck HTTP/1.1\r\nHost: x\r\n\r\n")
    await asyncio.wait_for(entered.wait(), 5)
    await asyncio.wait_for(runner.cleanup(), 5)
    data = await conn.read_until_closed()
    assert b"too late" not in data
    assert cleaned == ["cleanup"]
    conn.close()


async def test_requests_pipelined_before_shutdown_on_an_idle_connection_are_closed_cleanly(
    raw_connect: Any,
) -> None:
    app = web.Application()
    app.router.add_get("/", hello)
    runner, port = await start(app, shutdown_timeout=2.0)
    conn = await raw_connect(port)
    await conn.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    status, headers, _ = await conn.read_response()
    assert status == b"HTTP/1.1 200 OK" and headers.get("connection") != "close"
    await asyncio.wait_for(runner.cleanup(), 5)
    assert await conn.read_until_closed() == b""
    conn.close()


async def test_runner_can_run_twice_with_a_fresh_app() -> None:
    for _ in range(2):
        app = web.Application()
        app.router.add_get("/", hello)
        runner, port = await start(app)
        async with httpx.AsyncClient() as client:
            assert (await client.get(f"http://127.0.0.1:{port}/")).status_code == 200
        await runner.cleanup()


async def test_server_runner_for_low_level_server() -> None:
    async def handler(request: web.BaseRequest) -> web.Response:
        return web.Response(text="raw")

    server = web.Server(handler)
    runner = web.ServerRunner(server)
    await runner.setup()
    assert runner.server is server
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    async with httpx.AsyncClient() as client:
        assert (await client.get(f"http://127.0.0.1:{port}/any")).text == "raw"
    await runner.cleanup()
    assert server.requests_count == 1


async def test_site_stop_and_double_start_are_checked() -> None:
    runner = web.AppRunner(web.Application())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    with pytest.raises(RuntimeError):
        await site.start()
    await site.stop()
    assert runner.sites == set()
    with pytest.raises(RuntimeError):
        await site.stop()
    await runner.cleanup()


async def test_tcp_site_listens_with_a_queue_for_256_clients_at_once() -> None:
    # With aiohttp's 128, 256 simultaneous connects overflowed the listen
    # queue: SYNs retried after 1 s. The kernel reports the queue length of a
    # listening socket in ss's Send-Q column.
    ss = __import__("shutil").which("ss")
    if ss is None:
        pytest.skip("ss (iproute2) not installed")
    app = web.Application()
    app.router.add_get("/", hello)
    runner, port = await start(app)
    try:
        proc = await asyncio.create_subprocess_exec(
            ss, "-Hltn", f"sport = :{port}", stdout=asyncio.subprocess.PIPE
        )
        out, _ = await proc.communicate()
        queues = [int(line.split()[2]) for line in out.decode().splitlines() if line.strip()]
        with open("/proc/sys/net/core/somaxconn") as f:
            somaxconn = int(f.read())
        assert queues == [min(web.DEFAULT_BACKLOG, somaxconn)]
        assert web.DEFAULT_BACKLOG >= 1024
    finally:
        await runner.cleanup()
