"""End-to-end behaviour of the framework over real loopback sockets."""

from __future__ import annotations

from aioweb import web


async def test_hello_world(aioweb_client) -> None:
    async def hello(request: web.Request) -> web.Response:
        return web.Response(body=b"Hello, world")

    app = web.Application()
    app.router.add_route("GET", "/", hello)
    client = await aioweb_client(app)
    resp = await client.get("/")
    assert resp.status == 200
    assert await resp.read() == b"Hello, world"
    assert resp.headers["Content-Length"] == "12"
    assert resp.headers["Server"].startswith("aioweb")
    assert "Date" in resp.headers


async def test_pipelined_responses_keep_order(aioweb_server, raw_connect) -> None:
    async def echo_path(request: web.Request) -> web.Response:
        return web.Response(text=request.path)

    app = web.Application()
    app.router.add_get("/{tail:.*}", echo_path)
    server = await aioweb_server(app)
    conn = await raw_connect(server.port)
    await conn.send(b"".join(b"GET /%d HTTP/1.1\r\nHost: x\r\n\r\n" % i for i in range(5)))
    for i in range(5):
        status, _, body = await conn.read_response()
        assert status == b"HTTP/1.1 200 OK"
        assert body == b"/%d" % i
