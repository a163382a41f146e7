"""The low-level Server: plain handlers, counters, the seed's make_handler path."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import httpx

from aioweb import web


async def start_raw(handler: Any, **kwargs: Any) -> tuple[web.ServerRunner, int]:
    server = web.Server(handler, **kwargs)
    runner = web.ServerRunner(server, shutdown_timeout=2.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    return runner, port


async def test_plain_handler_without_application(raw_connect: Any) -> None:
    async def handler(request: web.BaseRequest) -> web.Response:
        return web.Response(text=f"{request.method} {request.path}")

    runner, port = await start_raw(handler)
    server = runner.server
    assert server is not None
    try:
        conn = await raw_connect(port)
        await conn.send(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nPOST /b HTTP/1.1\r\nHost: x\r\n\r\n")
        assert (await conn.read_response())[2] == b"GET /a"
        assert (await conn.read_response())[2] == b"POST /b"
        assert server.requests_count == 2
        assert len(server.connections) == 1
        conn.close()
        for _ in range(100):
            if not server.connections:
                break
            await asyncio.sleep(0.01)
        assert server.connections == []
    finally:
        conn.close()
        await runner.cleanup()


async def test_handler_errors_become_500_without_traceback(raw_connect: Any) -> None:
    async def handler(request: web.BaseRequest) -> web.Response:
        raise RuntimeError("hidden detail")

    runner, port = await start_raw(handler)
    conn = await raw_connect(port)
    try:
        await conn.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        status, _, body = await conn.read_response()
        assert status.startswith(b"HTTP/1.1 500")
        assert b"hidden detail" not in body
    finally:
        conn.close()
        await runner.cleanup()


async def test_debug_server_shows_traceback(raw_connect: Any) -> None:
    async def handler(request: web.BaseRequest) -> web.Response:
        raise RuntimeError("visible detail")

    runner, port = await start_raw(handler, debug=True)
    conn = await raw_connect(port)
    try:
        await conn.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        status, _, body = await conn.read_response()
        assert status.startswith(b"HTTP/1.1 500")
        assert b"visible detail" in body and b"Traceback" in body
    finally:
        conn.close()
        await runner.cleanup()


async def test_handler_returning_non_response_is_500(raw_connect: Any) -> None:
    async def handler(request: web.BaseRequest) -> Any:
        return "not a response"

    runner, port = await start_raw(handler)
    conn = await raw_connect(port)
    try:
        await conn.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        status, _, _ = await conn.read_response()
        assert status.startswith(b"HTTP/1.1 500")
    finally:
        conn.close()
        await runner.cleanup()


async def test_http_exception_from_plain_handler(raw_connect: Any) -> None:
    async def handler(request: web.BaseRequest) -> web.Response:
        raise web.HTTPTeapot() if hasattr(web, "HTTPTeapot") else web.HTTPForbidden()

    runner, port = await start_raw(handler)
    conn = await raw_connect(port)
    try:
        await conn.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        status, _, _ = await conn.read_response()
        assert status.split()[1] in (b"418", b"403")
    finally:
        conn.close()
        await runner.cleanup()


def _free_listening_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_seed_manual_path_with_make_handler() -> None:
    """The seed's Graceful shutdown snippet, step by step."""
    calls: list[str] = []

    async def hello(request: web.Request) -> web.Response:
        return web.Response(body=b"Hello, world")

    async def on_shutdown(app: web.Application) -> None:
        calls.append("shutdown")

    async def on_cleanup(app: web.Application) -> None:
        calls.append("cleanup")

    app = web.Application()
    app.router.add_route("GET", "/", hello)
    app.on_shutdown.append(on_shutdown)
    app.on_cleanup.append(on_cleanup)
    loop = asyncio.get_running_loop()
    handler = app.make_handler()
    srv = await loop.create_server(handler, "127.0.0.1", 0)
    port = srv.sockets[0].getsockname()[1]
    async with httpx.AsyncClient() as client:
        resp = await client.get(f"http://127.0.0.1:{port}/")
        assert resp.status_code == 200 and resp.content == b"Hello, world"
        assert handler.requests_count == 1
        srv.close()
        # Python 3.12+ makes wait_closed() wait for open connections; close
        # them first there, as the runners do.
        await handler.shutdown(1.0)
        await srv.wait_closed()
        await app.shutdown()
        await handler.finish_connections(60.0)
        await app.cleanup()
    assert handler.connections == []
    assert calls == ["shutdown", "cleanup"]


async def test_make_handler_accepts_loop_and_access_log_class() -> None:
    app = web.Application()
    loop = asyncio.get_running_loop()
    handler = app.make_handler(loop=loop, access_log_class=web.AccessLogger)
    assert isinstance(handler, web.Server)
    assert app.frozen


async def test_a_body_left_unfinished_closes_the_connection_and_a_read_one_keeps_it(
    raw_connect: Any,
) -> None:
    # The server settles keep-alive from whether the body reached its end:
    # read to the end (or arrived whole), the connection serves the next
    # request; still arriving and unread, the response says close.
    async def handler(request: web.BaseRequest) -> web.Response:
        if request.path == "/read":
            return web.Response(body=await request.read())
        return web.Response(text="ignored")

    runner, port = await start_raw(handler)
    try:
        conn = await raw_connect(port)
        await conn.send(
            b"POST /read HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nabcd"
            b"POST /skip HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nefgh"
        )
        status, headers, body = await conn.read_response()
        assert (status, body) == (b"HTTP/1.1 200 OK", b"abcd")
        assert "connection" not in headers
        status, headers, body = await conn.read_response()
        assert (status, body) == (b"HTTP/1.1 200 OK", b"ignored")
        assert "connection" not in headers  # arrived whole: nothing left unread

        await conn.send(b"POST /skip HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nijkl")
        status, headers, body = await conn.read_response()
        assert (status, body) == (b"HTTP/1.1 200 OK", b"ignored")
        assert headers["connection"] == "close"
        await conn.send(b"mnopqr")  # the rest of the body, then the server closes
        assert await conn.read_until_closed(timeout=3) == b""
    finally:
        conn.close()
        await runner.cleanup()
