"""Server WebSockets over real loopback sockets: the ``websockets`` library and raw frames."""

from __future__ import annotations

import asyncio
import json
import logging
import zlib
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from aioweb import web
from aioweb._websocket import FrameReader, WSCloseCode, WSMessage, WSMsgType, build_frame
from aioweb.abc import AbstractAccessLogger
from aioweb.test_utils import TestServer

MASK = b"\x01\x02\x03\x04"
KEY = "dGhlIHNhbXBsZSBub25jZQ=="
ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="  # RFC 6455 section 1.3
EVENTS = web.AppKey("events", list)
Connect = Callable[[int], Awaitable[Any]]


# -- the application ------------------------------------------------------------


JSON_SAMPLE: dict[str, Any] = {"echo": "é\n", "n": [1, 2.5, None, True], "nested": {"x": []}}


async def echo(request: web.Request) -> web.WebSocketResponse:
    """Echo TEXT and BINARY; record what else arrives and how it ended."""
    ws = web.WebSocketResponse(
        max_msg_size=int(request.query.get("max", 4 * 1024 * 1024)),
        autoping=request.query.get("autoping") != "0",
        heartbeat=float(request.query["heartbeat"]) if "heartbeat" in request.query else None,
        receive_timeout=float(request.query["rt"]) if "rt" in request.query else None,
        protocols=("chat.v2", "chat.v1"),
    )
    await ws.prepare(request)
    events = request.app[EVENTS]
    while True:
        try:
            msg = await ws.receive()
        except asyncio.TimeoutError:
            await ws.send_str("timeout")
            continue
        events.append(msg)
        if msg.type is WSMsgType.TEXT:
            if msg.data.startswith("close "):
                await ws.close(code=int(msg.data.split()[1]), message="server says bye")
            elif msg.data == "ping me":
                await ws.ping(b"server-ping")
            elif msg.data == "json me":
                await ws.send_json(JSON_SAMPLE)
            else:
                await ws.send_str(msg.data)
        elif msg.type is WSMsgType.BINARY:
            await ws.send_bytes(msg.data)
        elif msg.type is WSMsgType.PING:
            await ws.pong(msg.data)
        elif msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR):
            break
    events.append(("end", ws.close_code, ws.exception(), ws.closed))
    return ws


async def unawaited(request: web.Request) -> web.WebSocketResponse:
    """The seed's style: sends that are never awaited, several per message."""
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    async for msg in ws:
        for i in range(3):
            ws.send_str(f"{msg.data}/{i}")
    return ws


async def from_other_task(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse()
    await ws.prepare(request)

    async def ticker() -> None:
        for i in range(5):
            await ws.send_str(f"tick {i}")
            await asyncio.sleep(0)

    task = asyncio.create_task(ticker())
    async for msg in ws:
        await ws.send_str("echo " + msg.data)
    await task
    return ws


async def hello(request: web.Request) -> web.Response:
    return web.Response(text="hello")


async def on_prepare(request: web.Request, response: web.StreamResponse) -> None:
    response.headers["X-Prepared"] = "yes"


def make_app() -> web.Application:
    app = web.Application()
    app[EVENTS] = []
    app.on_response_prepare.append(on_prepare)
    app.router.add_route("*", "/ws", echo)
    app.router.add_get("/unawaited", unawaited)
    app.router.add_get("/tasks", from_other_task)
    app.router.add_get("/", hello)
    return app


@pytest.fixture
async def server(aioweb_server: Any) -> TestServer:
    srv: TestServer = await aioweb_server(make_app())
    return srv


def url(server: TestServer, path: str = "/ws") -> str:
    return f"ws://127.0.0.1:{server.port}{path}"


def events(server: TestServer) -> list[Any]:
    assert server.app is not None
    return server.app[EVENTS]


async def ended(server: TestServer) -> tuple[Any, ...]:
    """The handler's final ``("end", close_code, exception, closed)`` record."""
    for _ in range(200):
        found = [e for e in events(server) if isinstance(e, tuple) and e[0] == "end"]
        if found:
            return tuple(found[-1])
        await asyncio.sleep(0.01)
    raise AssertionError(f"the handler did not end: {events(server)}")


async def closed_by_server(client: ClientConnection) -> tuple[int | None, str | None]:
    with pytest.raises(ConnectionClosed):
        await asyncio.wait_for(client.recv(), 5)
    return client.close_code, client.close_reason


# -- raw sockets ----------------------------------------------------------------------


def upgrade_head(path: str = "/ws", *, method: str = "GET", extra: str = "") -> bytes:
    return (
        f"{method} {path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
    ).encode()


async def raw_upgrade(
    raw_connect: Connect, port: int | None, path: str = "/ws", extra: str = ""
) -> Any:
    assert port is not None
    conn = await raw_connect(port)
    await conn.send(upgrade_head(path, extra=extra))
    status, headers, _ = await conn.read_response()
    assert status == b"HTTP/1.1 101 Switching Protocols"
    assert headers["sec-websocket-accept"] == ACCEPT
    return conn


async def read_frames(
    conn: Any, until: WSMsgType = WSMsgType.CLOSE, *, compress: bool = False
) -> list[WSMessage]:
    """Server messages up to the first of type ``until``, read as a client would."""
    reader = FrameReader(0, compress, is_server=False)
    out: list[WSMessage] = []
    while not any(m.type is until for m in out):
        data = await asyncio.wait_for(conn.reader.read(65536), 5)
        assert data, f"connection closed before {until.name}: {out}"
        out += reader.feed(data)
    return out


async def assert_still_serving(raw_connect: Connect, port: int | None) -> None:
    assert port is not None
    conn = await raw_connect(port)
    await conn.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    status, _, body = await conn.read_response()
    assert (status, body) == (b"HTTP/1.1 200 OK", b"hello")


# -- messages ----------------------------------------------------------------------------


async def test_text_and_binary_echo(server: TestServer) -> None:
    async with connect(url(server), compression=None) as client:
        await client.send("héllo")
        assert await client.recv() == "héllo"
        await client.send(b"\x00\xff" * 1000)
        assert await client.recv() == b"\x00\xff" * 1000
        await client.send("")
        assert await client.recv() == ""


async def test_send_json_sends_what_json_dumps_gives(server: TestServer) -> None:
    async with connect(url(server), compression=None) as client:
        for _ in range(3):  # the pooled encoder, reused
            await client.send("json me")
            assert await client.recv() == json.dumps(JSON_SAMPLE)


async def test_fragmented_message_is_reassembled(server: TestServer) -> None:
    async with connect(url(server), compression=None) as client:
        await client.send(["frag", "men", "ted"])
        assert await client.recv() == "fragmented"
        await client.send([b"a", b"b"])
        assert await client.recv() == b"ab"


async def test_permessage_deflate_both_ways(server: TestServer) -> None:
    async with connect(url(server)) as client:
        assert client.response is not None
        assert "permessage-deflate" in client.response.headers["Sec-WebSocket-Extensions"]
        big = "compressible " * 20000
        await client.send(big)
        assert await client.recv() == big
        await client.send(["a" * 5000, "b" * 5000])
        assert await client.recv() == "a" * 5000 + "b" * 5000


async def test_compress_false_declines_the_offer(aioweb_server: Any) -> None:
    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(compress=False)
        await ws.prepare(request)
        await ws.send_str(f"compress={ws.compress}")
        await ws.close()
        return ws

    app = web.Application()
    app.router.add_get("/", handler)
    srv = await aioweb_server(app)
    async with connect(url(srv, "/")) as client:
        assert client.response is not None
        assert "Sec-WebSocket-Extensions" not in client.response.headers
        assert await client.recv() == "compress=0"


async def test_large_message_both_ways(server: TestServer) -> None:
    async with connect(url(server), compression=None, max_size=None) as client:
        data = bytes(range(256)) * 8192  # 2 MiB: many reads, paused writes
        await client.send(data)
        assert await client.recv() == data


async def test_on_response_prepare_runs_for_the_101(server: TestServer) -> None:
    async with connect(url(server)) as client:
        assert client.response is not None
        assert client.response.status_code == 101
        assert client.response.headers["X-Prepared"] == "yes"
        assert client.response.headers["Connection"].lower() == "upgrade"


# -- subprotocols -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("offered", "chosen"),
    [
        (["chat.v1", "chat.v2"], "chat.v2"),  # the server's preference wins
        (["chat.v1", "other"], "chat.v1"),
        (["other"], None),
    ],
)
async def test_subprotocol_negotiation(
    server: TestServer, offered: list[str], chosen: str | None
) -> None:
    async with connect(url(server), subprotocols=offered) as client:  # type: ignore[arg-type]
        assert client.subprotocol == chosen
        await client.send("x")
        assert await client.recv() == "x"


# -- ping / pong ----------------------------------------------------------------------


async def test_client_ping_is_answered_and_not_returned(server: TestServer) -> None:
    async with connect(url(server)) as client:
        pong = await client.ping(b"hi")
        await asyncio.wait_for(pong, 5)
        await client.send("after")
        assert await client.recv() == "after"
    await ended(server)
    assert not [e for e in events(server) if isinstance(e, WSMessage) and e.type is WSMsgType.PING]


async def test_autoping_off_returns_ping_and_pong(server: TestServer) -> None:
    async with connect(url(server) + "?autoping=0") as client:
        pong = await client.ping(b"manual")
        await asyncio.wait_for(pong, 5)  # the handler answered by hand
        await client.send("ping me")  # the server pings; the library answers
        for _ in range(100):
            if any(isinstance(e, WSMessage) and e.type is WSMsgType.PONG for e in events(server)):
                break
            await asyncio.sleep(0.01)
    kinds = [(e.type, e.data) for e in events(server) if isinstance(e, WSMessage)]
    assert (WSMsgType.PING, b"manual") in kinds
    assert (WSMsgType.PONG, b"server-ping") in kinds


# -- closing --------------------------------------------------------------------------


async def test_client_close_code_and_reason_reach_the_handler(server: TestServer) -> None:
    async with connect(url(server)) as client:
        await client.close(code=4001, reason="client bye")
        assert client.close_code == 4001  # echoed back
    _, code, exc, closed = await ended(server)
    close = [e for e in events(server) if isinstance(e, WSMessage) and e.type is WSMsgType.CLOSE]
    assert [(m.data, m.extra) for m in close] == [(4001, "client bye")]
    assert (code, exc, closed) == (4001, None, True)


@pytest.mark.parametrize(("asked", "wire"), [(1000, 1000), (4000, 4000), (999, 1001)])
async def test_server_close_code(server: TestServer, asked: int, wire: int) -> None:
    async with connect(url(server)) as client:
        await client.send(f"close {asked}")
        assert await closed_by_server(client) == (wire, "server says bye")
    _, code, exc, closed = await ended(server)
    assert (code, exc, closed) == (asked, None, True)


async def test_connection_loss_wakes_the_reader(server: TestServer, raw_connect: Connect) -> None:
    conn = await raw_upgrade(raw_connect, server.port)
    await conn.send(build_frame(WSMsgType.TEXT, b"hi", mask=MASK))
    assert [m.data for m in await read_frames(conn, WSMsgType.TEXT)] == ["hi"]
    conn.writer.transport.abort()
    _, code, exc, closed = await ended(server)
    assert (code, closed) == (WSCloseCode.ABNORMAL_CLOSURE, True)
    assert isinstance(exc, ConnectionError)
    assert events(server)[-2] == WSMessage(WSMsgType.CLOSED, None, None)


async def test_client_eof_without_close_frame(server: TestServer, raw_connect: Connect) -> None:
    conn = await raw_upgrade(raw_connect, server.port)
    conn.writer.write_eof()
    assert await conn.read_until_closed() == b""  # the server closes its side too
    _, code, _, closed = await ended(server)
    assert (code, closed) == (WSCloseCode.ABNORMAL_CLOSURE, True)


async def test_close_waits_for_the_peer_then_times_out(aioweb_server: Any, raw_connect: Connect) -> None:
    result: list[Any] = []

    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(timeout=0.1)
        await ws.prepare(request)
        result.append(await ws.close())
        result.append((ws.close_code, type(ws.exception())))
        return ws

    app = web.Application()
    app.router.add_get("/ws", handler)
    srv = await aioweb_server(app)
    conn = await raw_upgrade(raw_connect, srv.port)
    msgs = await read_frames(conn)
    assert msgs[-1].data == 1000
    # This client never answers the close frame: the server gives up after ``timeout``.
    assert await conn.read_until_closed() == b""
    assert result == [True, (1006, asyncio.TimeoutError)]


# -- senders ---------------------------------------------------------------------------


async def test_unawaited_sends_arrive_in_order(server: TestServer) -> None:
    async with connect(url(server, "/unawaited")) as client:
        for word in ("a", "b"):
            await client.send(word)
        assert [await client.recv() for _ in range(6)] == ["a/0", "a/1", "a/2", "b/0", "b/1", "b/2"]


async def test_send_from_another_task(server: TestServer) -> None:
    async with connect(url(server, "/tasks")) as client:
        await client.send("x")
        got = [await client.recv() for _ in range(6)]
    assert sorted(got) == sorted([f"tick {i}" for i in range(5)] + ["echo x"])
    ticks = [g for g in got if str(g).startswith("tick")]
    assert ticks == [f"tick {i}" for i in range(5)]


async def test_awaited_send_waits_while_the_client_reads_nothing(
    aioweb_server: Any, raw_connect: Connect
) -> None:
    count, size = 64, 1 << 20  # 64 MiB: far more than loopback's socket buffers hold
    sent: list[int] = []

    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(timeout=0.1)
        await ws.prepare(request)
        chunk = b"x" * size
        for i in range(count):
            await ws.send_bytes(chunk)
            sent.append(i)
        await ws.close()
        return ws

    app = web.Application()
    app.router.add_get("/ws", handler)
    srv = await aioweb_server(app)
    conn = await raw_upgrade(raw_connect, srv.port)
    before = -1
    while len(sent) != before:  # until the sender stops making progress
        before = len(sent)
        await asyncio.sleep(0.2)
    assert 0 < len(sent) < count // 2
    reader = FrameReader(0, False, is_server=False)
    received = 0
    while received < count:
        data = await asyncio.wait_for(conn.reader.read(1 << 20), 5)
        assert data
        received += sum(m.type is WSMsgType.BINARY for m in reader.feed(data))
    assert received == count
    for _ in range(100):
        if len(sent) == count:
            break
        await asyncio.sleep(0.01)
    assert len(sent) == count


async def test_receive_timeout(server: TestServer) -> None:
    async with connect(url(server) + "?rt=0.05") as client:
        assert await asyncio.wait_for(client.recv(), 5) == "timeout"
        await client.send("still usable")
        while (answer := await client.recv()) == "timeout":
            pass
        assert answer == "still usable"


# -- heartbeat ---------------------------------------------------------------------------


async def test_heartbeat_closes_a_peer_that_never_pongs(server: TestServer, raw_connect: Connect) -> None:
    conn = await raw_upgrade(raw_connect, server.port, "/ws?heartbeat=0.1")
    loop = asyncio.get_running_loop()
    started = loop.time()
    msgs = await read_frames(conn, WSMsgType.PING)
    assert msgs[-1].type is WSMsgType.PING
    assert await conn.read_until_closed() == b""  # no pong: the server hangs up
    assert loop.time() - started < 2
    _, code, exc, closed = await ended(server)
    assert (code, closed) == (WSCloseCode.ABNORMAL_CLOSURE, True)
    assert isinstance(exc, asyncio.TimeoutError)
    assert events(server)[0].type is WSMsgType.ERROR
    await assert_still_serving(raw_connect, server.port)


async def test_heartbeat_keeps_a_live_peer(server: TestServer) -> None:
    async with connect(url(server) + "?heartbeat=0.05", ping_interval=None) as client:
        await asyncio.sleep(0.3)  # several heartbeats, each answered by the library
        await client.send("alive")
        assert await client.recv() == "alive"


# -- protocol violations ------------------------------------------------------------------


def deflate_bomb(size: int) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    data = compressor.compress(b"\0" * size) + compressor.flush(zlib.Z_SYNC_FLUSH)
    return build_frame(WSMsgType.BINARY, data[:-4], rsv1=True, mask=MASK)


VIOLATIONS = [
    ("unmasked client frame", build_frame(WSMsgType.TEXT, b"hi"), 1002, "", ""),
    ("RSV1 without extension", build_frame(WSMsgType.TEXT, b"hi", rsv1=True, mask=MASK), 1002, "", ""),
    ("RSV2 set", bytes([0xA1, 0x80]) + MASK, 1002, "", ""),
    ("control frame over 125", bytes([0x89, 0xFE, 0, 126]) + MASK + bytes(126), 1002, "", ""),
    ("fragmented control frame", bytes([0x09, 0x80]) + MASK, 1002, "", ""),
    ("continuation without start", build_frame(0x0, b"x", mask=MASK), 1002, "", ""),
    ("unknown opcode", bytes([0x83, 0x80]) + MASK, 1002, "", ""),
    ("invalid UTF-8", build_frame(WSMsgType.TEXT, b"ok \xff\xfe", mask=MASK), 1007, "", ""),
    ("invalid close code", build_frame(WSMsgType.CLOSE, (999).to_bytes(2, "big"), mask=MASK), 1002, "", ""),
    ("message over max_msg_size", build_frame(WSMsgType.BINARY, bytes(2000), mask=MASK), 1009, "?max=1024", ""),
    (
        "deflate bomb",
        deflate_bomb(50 * 1024 * 1024),
        1009,
        "?max=65536",
        "Sec-WebSocket-Extensions: permessage-deflate\r\n",
    ),
]


@pytest.mark.parametrize(
    ("frame", "code", "query", "extra"),
    [v[1:] for v in VIOLATIONS],
    ids=[v[0] for v in VIOLATIONS],
)
async def test_protocol_violation_fails_the_connection(
    server: TestServer, raw_connect: Connect, frame: bytes, code: int, query: str, extra: str
) -> None:
    conn = await raw_upgrade(raw_connect, server.port, "/ws" + query, extra)
    good = build_frame(WSMsgType.TEXT, b"before", mask=MASK)
    await conn.send(good + frame + good)  # nothing after the violation is processed
    msgs = await read_frames(conn, compress=bool(extra))
    assert [m.data for m in msgs[:-1]] == ["before"]
    assert msgs[-1].type is WSMsgType.CLOSE and msgs[-1].data == code
    assert await conn.read_until_closed() == b""
    _, close_code, exc, closed = await ended(server)
    assert (close_code, closed) == (code, True)
    assert getattr(exc, "code", None) == code
    types = [e.type for e in events(server) if isinstance(e, WSMessage)]
    assert types == [WSMsgType.TEXT, WSMsgType.ERROR]
    await assert_still_serving(raw_connect, server.port)


async def test_violation_split_across_reads(server: TestServer, raw_connect: Connect) -> None:
    conn = await raw_upgrade(raw_connect, server.port)
    frame = build_frame(WSMsgType.TEXT, b"\xc3", mask=MASK)  # truncated UTF-8
    for byte in frame:
        await conn.send(bytes([byte]))
    msgs = await read_frames(conn)
    assert msgs[-1].data == 1007


async def test_frames_sent_with_the_handshake_are_kept(server: TestServer, raw_connect: Connect) -> None:
    conn = await raw_connect(server.port or 0)
    await conn.send(upgrade_head() + build_frame(WSMsgType.TEXT, b"eager", mask=MASK))
    status, _, _ = await conn.read_response()
    assert status == b"HTTP/1.1 101 Switching Protocols"
    assert [m.data for m in await read_frames(conn, WSMsgType.TEXT)] == ["eager"]


# -- bad handshakes -------------------------------------------------------------------------


BAD_HANDSHAKES = [
    ("missing key", upgrade_head().replace(f"Sec-WebSocket-Key: {KEY}\r\n".encode(), b""), 400),
    ("short key", upgrade_head().replace(KEY.encode(), b"c2hvcnQ="), 400),
    ("wrong version", upgrade_head().replace(b"Version: 13", b"Version: 8"), 426),
    ("not GET", upgrade_head(method="POST").replace(b"\r\n\r\n", b"\r\nContent-Length: 0\r\n\r\n"), 405),
    ("no upgrade token", upgrade_head().replace(b"Upgrade: websocket", b"Upgrade: h2c"), 400),
]


@pytest.mark.parametrize(("head", "status"), [b[1:] for b in BAD_HANDSHAKES], ids=[b[0] for b in BAD_HANDSHAKES])
async def test_bad_handshake_is_refused_and_not_upgraded(
    server: TestServer, raw_connect: Connect, head: bytes, status: int
) -> None:
    conn = await raw_connect(server.port or 0)
    await conn.send(head)
    line, headers, body = await conn.read_response()
    assert line.startswith(f"HTTP/1.1 {status} ".encode()), line
    assert "sec-websocket-accept" not in headers
    assert body.startswith(f"{status}: ".encode())
    if status == 426:
        assert headers["sec-websocket-version"] == "13"
    # Not switched: a frame now is not read as WebSocket data, nothing answers it.
    await conn.send(build_frame(WSMsgType.TEXT, b"hi", mask=MASK))
    assert await conn.read_until_closed() == b""
    assert not [e for e in events(server) if isinstance(e, WSMessage)]
    await assert_still_serving(raw_connect, server.port)


async def test_websockets_client_sees_refusal(server: TestServer) -> None:
    with pytest.raises(InvalidStatus) as info:
        async with connect(url(server, "/")):
            pass
    assert info.value.response.status_code == 200  # a plain route does not switch


# -- server side lifecycle ---------------------------------------------------------------------


class Recorder(AbstractAccessLogger):
    lines: list[tuple[int, int, bool]] = []

    @property
    def enabled(self) -> bool:
        return True

    def log(self, request: Any, response: Any, time: float) -> None:
        Recorder.lines.append((response.status, response.body_length, response.keep_alive))


async def test_access_log_and_no_keep_alive(aioweb_server: Any) -> None:
    Recorder.lines = []
    srv = await aioweb_server(
        make_app(), access_log_class=Recorder, access_log=logging.getLogger("test.ws")
    )
    async with connect(url(srv), compression=None) as client:
        await client.send("x" * 100)
        await client.recv()
    for _ in range(100):
        if Recorder.lines:
            break
        await asyncio.sleep(0.01)
    [(status, length, keep_alive)] = Recorder.lines
    assert (status, keep_alive) == (101, False)
    assert length > 100  # head plus frames


async def test_server_shutdown_closes_open_websockets(aioweb_server: Any) -> None:
    srv = await aioweb_server(make_app(), shutdown_timeout=30)
    async with connect(url(srv)) as client:
        await client.send("x")
        await client.recv()
        loop = asyncio.get_running_loop()
        started = loop.time()
        closing = asyncio.create_task(srv.close())
        assert await closed_by_server(client) == (1001, "Server shutdown")
        await asyncio.wait_for(closing, 5)
        assert loop.time() - started < 2  # far from the 30 s shutdown timeout
    _, code, _, closed = await ended(srv)
    assert (code, closed) == (1001, True)
    assert events(srv)[-2] == WSMessage(WSMsgType.CLOSING, None, None)


async def test_seed_shutdown_pattern_with_code_999(aioweb_server: Any) -> None:
    app = make_app()
    app["websockets"] = []
    sockets: list[web.WebSocketResponse] = app["websockets"]

    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        sockets.append(ws)
        async for msg in ws:
            ws.send_str(msg.data)
        request.app[EVENTS].append(("end", ws.close_code, ws.exception(), ws.closed))
        return ws

    async def on_shutdown(app: web.Application) -> None:
        for ws in app["websockets"]:
            assert await ws.close(code=999, message="Server shutdown") is True

    app.router.add_get("/seed", handler)
    app.on_shutdown.append(on_shutdown)
    srv = await aioweb_server(app, shutdown_timeout=30)
    async with connect(url(srv, "/seed")) as client:
        await client.send("x")
        await client.recv()
        closing = asyncio.create_task(srv.close())
        assert await closed_by_server(client) == (1001, "Server shutdown")
        await asyncio.wait_for(closing, 5)
    assert await ended(srv) == ("end", 999, None, True)
