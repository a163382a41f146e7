"""The HTTP/1.x connection over real loopback sockets, driven byte by byte."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import gc
import logging
import os
import random
import socket
import ssl
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from aioweb import web
from aioweb._deadlines import Deadlines
from aioweb._protocol import RequestHandler
from aioweb.test_utils import TestServer, unused_port

Connect = Callable[[int], Awaitable[Any]]
GET = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"


async def ok(request: web.Request) -> web.Response:
    return web.Response(text="ok")


async def echo(request: web.Request) -> web.Response:
    body = await request.read()
    return web.Response(body=body, headers={"X-Len": str(len(body))})


async def stream_no_length(request: web.Request) -> web.StreamResponse:
    resp = web.StreamResponse()
    await resp.prepare(request)
    for part in (b"abc", b"def"):
        await resp.write(part)
    return resp


async def boom(request: web.Request) -> web.Response:
    raise RuntimeError("secret detail")


def make_app(**app_kwargs: Any) -> web.Application:
    app = web.Application(**app_kwargs)
    app.router.add_route("*", "/", ok)
    app.router.add_route("*", "/echo", echo)
    app.router.add_get("/stream", stream_no_length)
    app.router.add_get("/boom", boom)
    return app


@pytest.fixture
async def server(aioweb_server: Any) -> TestServer:
    srv: TestServer = await aioweb_server(make_app())
    return srv


async def assert_serves_fresh_connection(raw_connect: Connect, port: int) -> None:
    conn = await raw_connect(port)
    await conn.send(GET)
    status, _, body = await conn.read_response()
    assert status == b"HTTP/1.1 200 OK" and body == b"ok"


async def assert_closed(conn: Any) -> bytes:
    """Read to EOF: the server must close; return whatever was left."""
    return bytes(await conn.read_until_closed(timeout=5.0))


# -- keep-alive, versions, framing ------------------------------------------


async def test_keep_alive_serves_many_requests_on_one_connection(server, raw_connect) -> None:
    conn = await raw_connect(server.port)
    for _ in range(3):
        await conn.send(GET)
        status, headers, body = await conn.read_response()
        assert status == b"HTTP/1.1 200 OK" and body == b"ok"
        assert headers.get("connection") is None


REQUEST_VAR: contextvars.ContextVar[str] = contextvars.ContextVar("REQUEST_VAR", default="")


async def own_task_and_context(request: web.Request) -> web.Response:
    before = request.task is asyncio.current_task()
    REQUEST_VAR.set(request.query["id"])
    if request.query.get("await"):
        await asyncio.sleep(0)
    after = request.task is asyncio.current_task()
    return web.Response(text=f"{REQUEST_VAR.get()} {before} {after}")


async def test_requests_of_many_connections_read_together_keep_their_own_task_and_context(
    aioweb_server, raw_connect
) -> None:
    # Requests read in one loop pass start together in the next; each still
    # runs as its own task, in its own context, suspending or not.
    app = web.Application()
    app.router.add_get("/", own_task_and_context)
    srv = await aioweb_server(app)
    conns = [await raw_connect(srv.port) for _ in range(40)]
    for _ in range(3):
        for i, conn in enumerate(conns):
            wait = "&await=1" if i % 2 else ""
            await conn.send(f"GET /?id={i}{wait} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        for i, conn in enumerate(conns):
            status, _, body = await conn.read_response()
            assert (status, body) == (b"HTTP/1.1 200 OK", f"{i} True True".encode())


BODY_SIZES = [0, 1, 16383, 16384, 65536, 1 << 20]


def _sized_body(size: int) -> bytes:
    return bytes(range(256)) * (size // 256) + b"x" * (size % 256)


async def test_bodies_of_every_size_arrive_whole_in_order(aioweb_server, raw_connect) -> None:
    """Small bodies leave copied behind their head, large ones beside it: same bytes."""

    async def sized(request: web.Request) -> web.Response:
        size = int(request.match_info["size"])
        body = _sized_body(size)
        if request.query.get("header"):  # a head built in full, not the quick one
            return web.Response(body=body, headers={"X-Size": str(size)})
        return web.Response(body=body)

    app = web.Application()
    app.router.add_get("/sized/{size}", sized)
    server = await aioweb_server(app)
    conn = await raw_connect(server.port)
    targets = [f"/sized/{n}{q}" for n in BODY_SIZES for q in ("", "?header=1")]
    await conn.send(b"".join(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % t.encode() for t in targets))
    for target in targets:
        size = int(target.split("/")[2].partition("?")[0])
        status, headers, body = await conn.read_response()
        assert status == b"HTTP/1.1 200 OK", target
        assert headers["content-length"] == str(size), target
        assert body == _sized_body(size), target
        assert headers.get("x-size") == (str(size) if "header" in target else None), target
    # HEAD: the head of the large response and no body; the next response follows at once.
    await conn.send(b"HEAD /sized/65536 HTTP/1.1\r\n\r\nGET /sized/1 HTTP/1.1\r\n\r\n")
    head = await asyncio.wait_for(conn.reader.readuntil(b"\r\n\r\n"), 5)
    assert head.startswith(b"HTTP/1.1 200 OK\r\n") and b"Content-Length: 65536\r\n" in head
    status, _, body = await conn.read_response()
    assert (status, body) == (b"HTTP/1.1 200 OK", b"x")


async def test_pipelined_flood_keeps_order_across_read_pauses(server, raw_connect) -> None:
    """More pipelined requests than the queue limit: reading pauses, all are answered."""
    conn = await raw_connect(server.port)
    n = 100
    await conn.send(
        b"".join(
            b"POST /echo HTTP/1.1\r\nContent-Length: %d\r\n\r\n%d" % (len(b"%d" % i), i)
            for i in range(n)
        )
    )
    for i in range(n):
        status, _, body = await conn.read_response()
        assert status == b"HTTP/1.1 200 OK" and body == b"%d" % i


async def test_http10_closes_by_default(server, raw_connect) -> None:
    conn = await raw_connect(server.port)
    await conn.send(b"GET / HTTP/1.0\r\n\r\n")
    status, headers, body = await conn.read_response()
    assert status == b"HTTP/1.0 200 OK" and body == b"ok"
    assert headers["connection"] == "close"
    assert await assert_closed(conn) == b""


async def test_http10_keep_alive_when_asked(server, raw_connect) -> None:
    conn = await raw_connect(server.port)
    for _ in range(2):
        await conn.send(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        status, headers, body = await conn.read_response()
        assert status == b"HTTP/1.0 200 OK" and body == b"ok"
        assert headers["connection"].lower() == "keep-alive"


@pytest.mark.parametrize("value", [b"close", b"Close", b"keep-alive, close"])
async def test_connection_close_is_honoured(server, raw_connect, value: bytes) -> None:
    conn = await raw_connect(server.port)
    await conn.send(b"GET / HTTP/1.1\r\nConnection: " + value + b"\r\n\r\n" + GET)
    status, headers, body = await conn.read_response()
    assert status == b"HTTP/1.1 200 OK" and headers["connection"] == "close"
    assert await assert_closed(conn) == b""  # the pipelined GET is not answered


async def test_head_has_length_but_no_body(server, raw_connect) -> None:
    conn = await raw_connect(server.port)
    await conn.send(b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n")
    head = await asyncio.wait_for(conn.reader.readuntil(b"\r\n\r\n"), 5)
    assert head.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"\r\nContent-Length: 2\r\n" in head
    # No body bytes follow: the next response starts right away.
    await conn.send(GET)
    status, _, body = await conn.read_response()
    assert status == b"HTTP/1.1 200 OK" and body == b"ok"


async def test_date_and_server_headers(server, raw_connect) -> None:
    conn = await raw_connect(server.port)
    await conn.send(GET)
    _, headers, _ = await conn.read_response()
    assert headers["server"].startswith("aioweb")
    assert headers["date"].endswith(" GMT") and len(headers["date"]) == 29


async def test_stream_without_length_is_chunked_on_http11(server, raw_connect) -> None:
    conn = await raw_connect(server.port)
    await conn.send(b"GET /stream HTTP/1.1\r\n\r\n")
    _, headers, body = await conn.read_response()
    assert headers["transfer-encoding"] == "chunked" and "content-length" not in headers
    assert body == b"abcdef"
    await conn.send(GET)  # still kept alive
    assert (await conn.read_response())[2] == b"ok"


async def test_stream_without_length_is_close_delimited_on_http10(server, raw_connect) -> None:
    conn = await raw_connect(server.port)
    await conn.send(b"GET /stream HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
    raw = await assert_closed(conn)
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.0 200 OK")
    assert b"Transfer-Encoding" not in head and b"Connection: close" in head
    assert body == b"abcdef"


@pytest.mark.parametrize(
    "chunks",
    [
        [b"5\r\nhello\r\n0\r\n\r\n"],
        [b'2;name=value\r\nhe\r\n3;a;b="c"\r\nllo\r\n0\r\n\r\n'],
        [b"5\r\nhello\r\n0\r\nX-Trailer: 1\r\nX-Other: two\r\n\r\n"],
        [b"5\r", b"\nhel", b"lo\r\n", b"0\r\n", b"\r\n"],
    ],
)
async def test_chunked_request_body(server, raw_connect, chunks: list[bytes]) -> None:
    conn = await raw_connect(server.port)
    await conn.send(b"POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n")
    for chunk in chunks:
        await conn.send(chunk)
        await asyncio.sleep(0.01)
    status, _, body = await conn.read_response()
    assert status == b"HTTP/1.1 200 OK" and body == b"hello"
    await conn.send(GET)  # framing stayed in sync
    assert (await conn.read_response())[2] == b"ok"


async def test_half_closed_client_still_gets_response(server, raw_connect) -> None:
    conn = await raw_connect(server.port)
    await conn.send(b"POST /echo HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc")
    conn.writer.write_eof()
    status, _, body = await conn.read_response()
    assert status == b"HTTP/1.1 200 OK" and body == b"abc"
    assert await assert_closed(conn) == b""


# -- Expect -------------------------------------------------------------------


async def test_expect_100_continue_before_body(server, raw_connect) -> None:
    conn = await raw_connect(server.port)
    await conn.send(b"POST /echo HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n")
    interim = await asyncio.wait_for(conn.reader.readuntil(b"\r\n\r\n"), 5)
    assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
    await conn.send(b"hello")
    status, _, body = await conn.read_response()
    assert status == b"HTTP/1.1 200 OK" and body == b"hello"


async def test_unknown_expectation_is_417(server, raw_connect) -> None:
    conn = await raw_connect(server.port)
    await conn.send(b"POST /echo HTTP/1.1\r\nExpect: something-else\r\nContent-Length: 5\r\n\r\n")
    status, _, _ = await conn.read_response()
    assert status == b"HTTP/1.1 417 Expectation Failed"
    await assert_serves_fresh_connection(raw_connect, server.port)


# -- bad requests and limits ---------------------------------------------------

BAD = [
    ("malformed", b"GET / HTTP/1.1\r\nbad header\r\n\r\n", 400),
    ("bare-lf", b"GET / HTTP/1.1\nHost: x\n\n", 400),
    ("unknown-method", b"FOO / HTTP/1.1\r\n\r\n", 400),
    ("target-too-long", b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\n\r\n", 414),
    ("header-too-long", b"GET / HTTP/1.1\r\nX: " + b"a" * 9000 + b"\r\n\r\n", 431),
    ("too-many-headers", b"GET / HTTP/1.1\r\n" + b"X-A: b\r\n" * 200 + b"\r\n", 431),
    (
        "block-too-large",
        b"GET / HTTP/1.1\r\n"
        + b"X-A: "
        + b"b" * 8000
        + b"\r\n" * 1
        + (b"X-B: " + b"c" * 8000 + b"\r\n") * 9
        + b"\r\n",
        431,
    ),
    ("http09", b"GET /\r\n\r\n", 505),
    ("http2-line", b"GET / HTTP/2.0\r\n\r\n", 505),
    ("http12", b"GET / HTTP/1.2\r\n\r\n", 505),
    ("h2-preface", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 400),
    (
        "cl-and-te",
        b"POST /echo HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        400,
    ),
    (
        "duplicate-cl",
        b"POST /echo HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nab",
        400,
    ),
    ("cl-sign", b"POST /echo HTTP/1.1\r\nContent-Length: +1\r\n\r\na", 400),
    ("cl-junk", b"POST /echo HTTP/1.1\r\nContent-Length: 1a\r\n\r\na", 400),
    (
        "te-chunked-identity",
        b"POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n",
        400,
    ),
    (
        "te-identity-chunked",
        b"POST /echo HTTP/1.1\r\nTransfer-Encoding: identity, chunked\r\n\r\n0\r\n\r\n",
        400,
    ),
    ("te-xchunked", b"POST /echo HTTP/1.1\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n", 400),
    (
        "te-duplicated",
        b"POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        400,
    ),
    ("te-http10", b"POST /echo HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
    ("bad-chunk", b"POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400),
]


@pytest.mark.parametrize(("data", "status"), [pytest.param(d, s, id=i) for i, d, s in BAD])
async def test_bad_request_is_answered_and_closed(
    server, raw_connect, data: bytes, status: int
) -> None:
    conn = await raw_connect(server.port)
    await conn.send(data)
    line, headers, _ = await conn.read_response()
    assert line.startswith(b"HTTP/1.1 %d " % status)
    assert headers["connection"] == "close"
    assert await assert_closed(conn) == b""
    await assert_serves_fresh_connection(raw_connect, server.port)


async def test_bad_request_after_good_pipelined_ones(server, raw_connect) -> None:
    conn = await raw_connect(server.port)
    await conn.send(GET + GET + b"GET / HTTP/1.1\r\nbad\r\n\r\n" + GET)
    assert (await conn.read_response())[0] == b"HTTP/1.1 200 OK"
    assert (await conn.read_response())[0] == b"HTTP/1.1 200 OK"
    assert (await conn.read_response())[0].startswith(b"HTTP/1.1 400 ")
    assert await assert_closed(conn) == b""


async def test_endless_header_line_gets_431_not_reset(server, raw_connect) -> None:
    conn = await raw_connect(server.port)
    await conn.send(b"GET / HTTP/1.1\r\nX-Endless: ")

    async def flood() -> None:
        with contextlib.suppress(ConnectionError):
            for _ in range(128):  # 8 MiB: far past the head limit, under the linger cap
                await conn.send(b"a" * 65536)

    sender = asyncio.ensure_future(flood())
    status, headers, _ = await conn.read_response()
    assert status.startswith(b"HTTP/1.1 431 ")
    assert headers["connection"] == "close"
    await sender
    await assert_serves_fresh_connection(raw_connect, server.port)


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
async def test_body_over_client_max_size_gets_413_not_reset(
    server, raw_connect, framing: str
) -> None:
    conn = await raw_connect(server.port)
    size = 3 * 1024 * 1024
    if framing == "content-length":
        head = b"POST /echo HTTP/1.1\r\nContent-Length: %d\r\n\r\n" % size
        body = b"x" * size
    else:
        head = b"POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
        body = b"".join(b"10000\r\n" + b"x" * 65536 + b"\r\n" for _ in range(size // 65536))
        body += b"0\r\n\r\n"

    async def upload() -> None:
        with contextlib.suppress(ConnectionError):
            await conn.send(head + body)

    sender = asyncio.ensure_future(upload())
    status, _, _ = await conn.read_response()
    assert status == b"HTTP/1.1 413 Request Entity Too Large"
    await sender
    assert await assert_closed(conn) == b""
    await assert_serves_fresh_connection(raw_connect, server.port)


async def test_unread_body_after_read_pause_lingers_cleanly(aioweb_server, raw_connect) -> None:
    """A handler ignores a big body until reading paused: the client still gets
    the response, can finish its upload, and sees a clean close."""

    async def ignore(request: web.Request) -> web.Response:
        await asyncio.sleep(0.2)  # let the body pass the high-water mark
        transport = request.transport
        assert transport is not None and not transport.is_reading()
        return web.Response(status=403, text="no")

    app = web.Application()
    app.router.add_post("/", ignore)
    srv = await aioweb_server(app)
    conn = await raw_connect(srv.port)
    size = 12 * 1024 * 1024
    sender = asyncio.ensure_future(
        conn.send(b"POST / HTTP/1.1\r\nContent-Length: %d\r\n\r\n" % size + b"x" * size)
    )
    status, _, body = await conn.read_response()
    assert status == b"HTTP/1.1 403 Forbidden" and body == b"no"
    await asyncio.wait_for(sender, 3)  # the server kept reading: the upload completed
    assert await conn.read_until_closed(timeout=3) == b""


async def test_handler_error_is_500_without_traceback_and_connection_survives(
    server, raw_connect, caplog
) -> None:
    conn = await raw_connect(server.port)
    with caplog.at_level(logging.ERROR):
        await conn.send(b"GET /boom HTTP/1.1\r\n\r\n")
        status, _, body = await conn.read_response()
    assert status == b"HTTP/1.1 500 Internal Server Error"
    assert b"secret detail" not in body and b"Traceback" not in body
    assert any("secret detail" in str(r.exc_info) for r in caplog.records if r.exc_info)
    await conn.send(GET)
    assert (await conn.read_response())[2] == b"ok"


async def test_handler_error_shows_traceback_in_debug(aioweb_server, raw_connect) -> None:
    srv = await aioweb_server(make_app(debug=True))
    conn = await raw_connect(srv.port)
    await conn.send(b"GET /boom HTTP/1.1\r\n\r\n")
    status, _, body = await conn.read_response()
    assert status == b"HTTP/1.1 500 Internal Server Error"
    assert b"secret detail" in body


# -- garbage never crashes the server -----------------------------------------

_rng = random.Random(1234)
GARBAGE = [
    ("random-bytes", bytes(_rng.randrange(256) for _ in range(2000))),
    ("nuls", b"\x00" * 1000),
    ("crlf-only", b"\r\n" * 10),
    ("huge-method", b"A" * 100_000 + b" / HTTP/1.1\r\n\r\n"),
    ("options-star", b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n"),
    ("absolute-form", b"GET http://host/x?y=1 HTTP/1.1\r\nHost: x\r\n\r\n"),
    ("connect", b"CONNECT host:443 HTTP/1.1\r\nHost: host:443\r\n\r\n\x16\x03\x01"),
    ("tls-hello", b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + os.urandom(64)),
    ("weird-target", b"GET //..%2f..%2f/%00?\xff HTTP/1.1\r\n\r\n"),
    ("no-target", b"GET  HTTP/1.1\r\n\r\n"),
    ("only-method", b"GET\r\n\r\n"),
    ("high-bytes-header", b"GET / HTTP/1.1\r\nX: \xff\xfe\x80\r\n\r\n"),
    ("utf8-target", "GET /ünï HTTP/1.1\r\n\r\n".encode()),
    ("negative-chunk", b"POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\n\r\n"),
    (
        "huge-chunk",
        b"POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n",
    ),
    ("incomplete-then-close", b"POST /echo HTTP/1.1\r\nContent-Length: 100\r\n\r\nabc"),
    (
        "upgrade-garbage",
        b"GET / HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: x\r\n\r\n" + os.urandom(100),
    ),
]


@pytest.mark.parametrize("data", [pytest.param(d, id=i) for i, d in GARBAGE])
async def test_garbage_never_breaks_the_server(server, raw_connect, data: bytes) -> None:
    conn = await raw_connect(server.port)
    with contextlib.suppress(ConnectionError):
        await conn.send(data)
        conn.writer.write_eof()
        reply = await assert_closed(conn)
        if reply:
            assert reply.startswith((b"HTTP/1.1 ", b"HTTP/1.0 "))
    await assert_serves_fresh_connection(raw_connect, server.port)


# -- upgrade answered without switching ----------------------------------------


async def test_upgrade_answered_with_ordinary_response_closes(server, raw_connect) -> None:
    conn = await raw_connect(server.port)
    await conn.send(
        b"GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n" + GET
    )
    status, _, body = await conn.read_response()
    assert status == b"HTTP/1.1 200 OK" and body == b"ok"
    assert await assert_closed(conn) == b""
    await assert_serves_fresh_connection(raw_connect, server.port)


async def test_upgrade_tail_flood_is_bounded(aioweb_server, raw_connect) -> None:
    """Bytes after an upgrade head are not buffered without bound."""
    release = asyncio.Event()
    seen: list[RequestHandler] = []

    async def slow(request: web.Request) -> web.Response:
        seen.append(request.protocol)
        await release.wait()
        return web.Response(text="no")

    app = web.Application()
    app.router.add_get("/", slow)
    srv = await aioweb_server(app)
    conn = await raw_connect(srv.port)
    await conn.send(b"GET / HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: x\r\n\r\n")

    async def flood() -> None:
        with contextlib.suppress(ConnectionError):
            for _ in range(200):
                await conn.send(b"z" * 65536)

    sender = asyncio.ensure_future(flood())
    await asyncio.sleep(0.3)
    assert len(seen[0]._upgrade_tail) <= 64 * 1024 + 256 * 1024
    release.set()
    status, _, _ = await conn.read_response()
    assert status == b"HTTP/1.1 200 OK"
    sender.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await sender


async def test_an_idle_connection_keeps_nothing_of_its_last_head(
    aioweb_server, raw_connect
) -> None:
    """A browser's head (a kilobyte or so) is freed with its request, not with the next one."""
    srv = await aioweb_server(make_app())
    conn = await raw_connect(srv.port)
    fields = b"".join(b"X-Field-%d: value %d\r\n" % (i, i) for i in range(20))
    await conn.send(b"GET /?target-to-forget HTTP/1.1\r\nHost: x\r\n" + fields + b"\r\n")
    assert (await conn.read_response())[2] == b"ok"
    (proto,) = srv.server.connections
    parser = proto._parser
    held = gc.get_referents(parser)
    held += [item for obj in held if isinstance(obj, (list, tuple)) for item in obj]
    assert not any(isinstance(obj, tuple) and obj[:1] == (b"X-Field-0",) for obj in held)
    assert not any(isinstance(obj, bytes) and b"target-to-forget" in obj for obj in held)
    await conn.send(GET)  # and the connection still serves
    assert (await conn.read_response())[2] == b"ok"


# -- timeouts -----------------------------------------------------------------


async def test_idle_keep_alive_connection_closes(aioweb_server, raw_connect) -> None:
    srv = await aioweb_server(make_app(), keepalive_timeout=0.2)
    conn = await raw_connect(srv.port)
    await conn.send(GET)
    assert (await conn.read_response())[2] == b"ok"
    assert await assert_closed(conn) == b""


async def test_keep_alive_timer_moves_with_each_request(aioweb_server, raw_connect) -> None:
    srv = await aioweb_server(make_app(), keepalive_timeout=0.4)
    conn = await raw_connect(srv.port)
    for _ in range(6):  # 6 x 0.1 s > keepalive_timeout: each request re-arms it
        await conn.send(GET)
        assert (await conn.read_response())[2] == b"ok"
        await asyncio.sleep(0.1)
    assert await assert_closed(conn) == b""


async def test_keep_alive_does_not_create_a_timer_per_request(aioweb_server, raw_connect) -> None:
    srv = await aioweb_server(make_app(), keepalive_timeout=30, head_timeout=20)
    loop = asyncio.get_running_loop()
    armed: list[Any] = []
    real_call_at = loop.call_at

    def counting_call_at(
        when: float, callback: Any, *args: Any, **kwargs: Any
    ) -> asyncio.TimerHandle:
        armed.append(callback)
        return real_call_at(when, callback, *args, **kwargs)

    loop.call_at = counting_call_at  # type: ignore[method-assign]
    try:
        conns = [await raw_connect(srv.port) for _ in range(5)]
        for _ in range(10):
            for conn in conns:
                await conn.send(GET)
                assert (await conn.read_response())[2] == b"ok"
    finally:
        loop.call_at = real_call_at  # type: ignore[method-assign]
    # The server's one timer, armed when the first connection opened: none
    # per connection or per request (the client's read timeouts are the rest).
    timers = [cb.__func__ for cb in armed if isinstance(getattr(cb, "__self__", None), Deadlines)]
    assert timers == [Deadlines._fire]
    assert len(srv.server.deadlines(loop)) == 5  # every connection is filed


async def test_silent_connection_closes_after_head_timeout(aioweb_server, raw_connect) -> None:
    srv = await aioweb_server(make_app(), head_timeout=0.2)
    conn = await raw_connect(srv.port)
    assert await assert_closed(conn) == b""
    await assert_serves_fresh_connection(raw_connect, srv.port)


async def test_partial_head_gets_408(aioweb_server, raw_connect) -> None:
    srv = await aioweb_server(make_app(), head_timeout=0.2)
    conn = await raw_connect(srv.port)
    await conn.send(b"GET / HTTP/1.1\r\nHost: x\r\n")
    status, headers, _ = await conn.read_response()
    assert status == b"HTTP/1.1 408 Request Timeout" and headers["connection"] == "close"
    assert await assert_closed(conn) == b""


async def test_slowloris_is_cut_off(aioweb_server, raw_connect) -> None:
    srv = await aioweb_server(make_app(), head_timeout=0.3, keepalive_timeout=30)
    conn = await raw_connect(srv.port)
    await conn.send(GET)  # first request on time, then the next head trickles in
    assert (await conn.read_response())[2] == b"ok"

    async def trickle() -> None:
        with contextlib.suppress(ConnectionError):
            await conn.send(b"GET / HTTP/1.1\r\n")
            for _ in range(200):
                await conn.send(b"X-A: b\r\n")
                await asyncio.sleep(0.02)

    sender = asyncio.ensure_future(trickle())
    status, _, _ = await conn.read_response()
    assert status == b"HTTP/1.1 408 Request Timeout"
    assert not sender.done()  # cut off long before the client would have finished
    sender.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await sender


# -- handler cancellation -------------------------------------------------------


@pytest.mark.parametrize("cancellation", [True, False])
async def test_handler_cancellation_on_disconnect(
    aioweb_server, raw_connect, cancellation: bool
) -> None:
    started = asyncio.Event()
    outcome: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    async def waits(request: web.Request) -> web.Response:
        started.set()
        try:
            await asyncio.sleep(0.3)
        except asyncio.CancelledError:
            outcome.set_result("cancelled")
            raise
        outcome.set_result("completed")
        return web.Response(text="late")

    app = make_app()
    app.router.add_get("/wait", waits)
    srv = await aioweb_server(app, handler_cancellation=cancellation)
    conn = await raw_connect(srv.port)
    await conn.send(b"GET /wait HTTP/1.1\r\n\r\n")
    await asyncio.wait_for(started.wait(), 5)
    conn.close()
    result = await asyncio.wait_for(outcome, 5)
    assert result == ("cancelled" if cancellation else "completed")
    await assert_serves_fresh_connection(raw_connect, srv.port)


# -- flow control ---------------------------------------------------------------


async def test_slow_reader_bounds_write_buffer(aioweb_server, raw_connect) -> None:
    total = 32 * 1024 * 1024
    piece = bytes(range(256)) * 256  # 64 KiB
    max_buffered = 0
    done = asyncio.Event()

    async def big(request: web.Request) -> web.StreamResponse:
        nonlocal max_buffered
        resp = web.StreamResponse()
        resp.content_length = total
        await resp.prepare(request)
        transport = request.transport
        assert transport is not None
        for _ in range(total // len(piece)):
            await resp.write(piece)
            max_buffered = max(max_buffered, transport.get_write_buffer_size())
        done.set()
        return resp

    app = web.Application()
    app.router.add_get("/big", big)
    srv = await aioweb_server(app)
    conn = await raw_connect(srv.port)
    await conn.send(b"GET /big HTTP/1.1\r\n\r\n")
    await asyncio.sleep(0.3)  # not reading: the handler must be held back
    assert not done.is_set()
    status, _, body = await conn.read_response(timeout=30)
    assert status == b"HTTP/1.1 200 OK"
    assert len(body) == total and body == piece * (total // len(piece))
    assert max_buffered < 4 * 1024 * 1024


async def test_large_upload_read_slowly_completes(aioweb_server, raw_connect) -> None:
    total = 8 * 1024 * 1024
    max_buffered = 0

    async def slow_sink(request: web.Request) -> web.Response:
        nonlocal max_buffered
        digest = 0
        count = 0
        while chunk := await request.content.read(16384):
            max_buffered = max(max_buffered, request.content._size)
            count += len(chunk)
            digest = (digest * 31 + sum(chunk[::4096])) % 1_000_003
            await asyncio.sleep(0)
        return web.Response(text=f"{count}:{digest}")

    app = web.Application()
    app.router.add_post("/up", slow_sink)
    srv = await aioweb_server(app)
    data = os.urandom(total)
    expected = 0
    for i in range(0, total, 16384):
        expected = (expected * 31 + sum(data[i : i + 16384 : 4096])) % 1_000_003
    conn = await raw_connect(srv.port)
    sender = asyncio.ensure_future(
        conn.send(b"POST /up HTTP/1.1\r\nContent-Length: %d\r\n\r\n" % total + data)
    )
    status, _, body = await conn.read_response(timeout=30)
    await sender
    assert status == b"HTTP/1.1 200 OK" and body == f"{total}:{expected}".encode()
    # high water (256 KiB) plus at most one socket read before the pause lands
    assert max_buffered <= 256 * 1024 + 512 * 1024


async def test_reading_pauses_while_body_is_not_consumed(aioweb_server, raw_connect) -> None:
    release = asyncio.Event()
    states: list[bool] = []

    async def lazy(request: web.Request) -> web.Response:
        await asyncio.sleep(0.2)
        transport = request.transport
        assert transport is not None
        states.append(transport.is_reading())
        await release.wait()
        return web.Response(text=str(len(await request.read())))

    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_post("/", lazy)
    srv = await aioweb_server(app)
    conn = await raw_connect(srv.port)
    total = 4 * 1024 * 1024
    sender = asyncio.ensure_future(
        conn.send(b"POST / HTTP/1.1\r\nContent-Length: %d\r\n\r\n" % total + b"q" * total)
    )
    await asyncio.sleep(0.3)
    release.set()
    status, _, body = await conn.read_response(timeout=30)
    await sender
    assert states == [False]
    assert status == b"HTTP/1.1 200 OK" and body == str(total).encode()


@pytest.mark.parametrize("site", ["tcp", "tls", "own-socket"])
@pytest.mark.parametrize("loop_name", ["asyncio", "uvloop"])
def test_every_connection_has_nodelay_on(
    loop_name: str, site: str, tls: tuple[ssl.SSLContext, ssl.SSLContext]
) -> None:
    """Small responses leave at once: Nagle is off on the server's side of each connection.

    "own-socket" listens on a socket made with ``socket.socket()``, whose
    protocol number is 0: asyncio's transports leave NODELAY off for those.
    """
    factory = None if loop_name == "asyncio" else pytest.importorskip("uvloop").new_event_loop
    server_ctx, client_ctx = tls if site == "tls" else (None, None)

    async def nodelay(request: web.Request) -> web.Response:
        assert request.transport is not None
        sock = request.transport.get_extra_info("socket")
        return web.Response(text=str(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)))

    async def main() -> list[bytes]:
        app = web.Application()
        app.router.add_get("/", nodelay)
        runner = web.AppRunner(app)
        await runner.setup()
        if site == "own-socket":
            listener = socket.socket()
            listener.bind(("127.0.0.1", 0))
            port = listener.getsockname()[1]
            await web.SockSite(runner, listener).start()
        else:
            port = unused_port()
            await web.TCPSite(runner, "127.0.0.1", port, ssl_context=server_ctx).start()
        try:
            bodies = []
            for _ in range(2):  # each connection, not just the first
                reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=client_ctx)
                writer.write(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                answer = await asyncio.wait_for(reader.read(), 10)
                writer.close()
                bodies.append(answer.partition(b"\r\n\r\n")[2])
            return bodies
        finally:
            await runner.cleanup()

    with asyncio.Runner(loop_factory=factory) as runner:
        assert runner.run(main()) == [b"1", b"1"]


# -- the same behaviour under uvloop ---------------------------------------------

UVLOOP_CASES: dict[str, Callable[[Any, Connect], Awaitable[None]]] = {
    "keep-alive": lambda start, connect: _with_server(
        start, connect, test_keep_alive_serves_many_requests_on_one_connection
    ),
    "pipelined-flood": lambda start, connect: _with_server(
        start, connect, test_pipelined_flood_keeps_order_across_read_pauses
    ),
    "chunked-upload": lambda start, connect: _with_server(
        start, connect, test_chunked_request_body, [b"5\r", b"\nhel", b"lo\r\n0\r\n\r\n"]
    ),
    "expect-100": lambda start, connect: _with_server(
        start, connect, test_expect_100_continue_before_body
    ),
    "bad-request": lambda start, connect: _with_server(
        start, connect, test_bad_request_is_answered_and_closed, BAD[-3][1], 400
    ),
    "endless-header": lambda start, connect: _with_server(
        start, connect, test_endless_header_line_gets_431_not_reset
    ),
    "413": lambda start, connect: _with_server(
        start, connect, test_body_over_client_max_size_gets_413_not_reset, "content-length"
    ),
    "upgrade-not-switched": lambda start, connect: _with_server(
        start, connect, test_upgrade_answered_with_ordinary_response_closes
    ),
    "linger": lambda start, connect: test_unread_body_after_read_pause_lingers_cleanly(
        start, connect
    ),
    "408": lambda start, connect: test_partial_head_gets_408(start, connect),
    "cancellation": lambda start, connect: test_handler_cancellation_on_disconnect(
        start, connect, True
    ),
    "slow-reader": lambda start, connect: test_slow_reader_bounds_write_buffer(start, connect),
    "body-sizes": lambda start, connect: test_bodies_of_every_size_arrive_whole_in_order(
        start, connect
    ),
}


async def _with_server(start: Any, connect: Connect, test: Any, *args: Any) -> None:
    await test(await start(make_app()), connect, *args)


@pytest.mark.parametrize("case", list(UVLOOP_CASES))
def test_under_uvloop(case: str) -> None:
    uvloop = pytest.importorskip("uvloop")
    from conftest import RawConnection

    async def main() -> None:
        servers: list[TestServer] = []
        conns: list[RawConnection] = []

        async def start(app: web.Application, **kwargs: Any) -> TestServer:
            srv = TestServer(app, **kwargs)
            await srv.start_server()
            servers.append(srv)
            return srv

        async def connect(port: int) -> RawConnection:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            conns.append(RawConnection(reader, writer))
            return conns[-1]

        try:
            await UVLOOP_CASES[case](start, connect)
        finally:
            for conn in conns:
                conn.close()
            for srv in servers:
                await srv.close()

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(main())
