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


class _HeadersSeen(web.AbstractAccessLogger):
    """Records every response's headers as the server saw them after sending."""

    seen: list[dict[str, str]] = []

    def __init__(self, logger: object, log_format: str) -> None:
        pass

    def log(self, request: object, response: web.StreamResponse, time: float) -> None:
        _HeadersSeen.seen.append(dict(response.headers))


async def test_sent_headers_are_visible_on_the_response(aioweb_server, raw_connect) -> None:
    async def text(request: web.Request) -> web.Response:
        return web.Response(text="hi")

    async def octets(request: web.Request) -> web.Response:
        return web.Response(body=b"\x00\x01")

    async def closing(request: web.Request) -> web.Response:
        resp = web.Response(text="bye", content_type="text/html")
        resp.force_close()
        return resp

    app = web.Application()
    app.router.add_get("/text", text)
    app.router.add_get("/octets", octets)
    app.router.add_get("/closing", closing)
    _HeadersSeen.seen = []
    server = await aioweb_server(app, access_log_class=_HeadersSeen)
    conn = await raw_connect(server.port)
    await conn.send(b"GET /text HTTP/1.1\r\nHost: x\r\n\r\n")
    _, head, body = await conn.read_response()
    assert body == b"hi"
    await conn.send(b"GET /octets HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
    status, head10, body = await conn.read_response()
    assert (status, body) == (b"HTTP/1.0 200 OK", b"\x00\x01")
    await conn.send(b"GET /closing HTTP/1.1\r\nHost: x\r\n\r\n")
    _, head_close, _ = await conn.read_response()
    seen = _HeadersSeen.seen
    assert [{k.lower(): v for k, v in h.items()} for h in (head, head10, head_close)] == [
        {k.lower(): v for k, v in s.items()} for s in seen
    ]
    assert seen[0]["Content-Type"] == "text/plain; charset=utf-8"
    assert seen[0]["Content-Length"] == "2" and "Connection" not in seen[0]
    assert seen[1]["Content-Type"] == "application/octet-stream"
    assert seen[1]["Connection"] == "keep-alive"
    assert seen[2]["Connection"] == "close" and seen[2]["Content-Type"] == "text/html; charset=utf-8"
    assert seen[2]["Server"] == "aioweb" and seen[2]["Date"].endswith(" GMT")
