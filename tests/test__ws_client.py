"""aioweb._ws_client against independent peers: the websockets library and raw sockets."""

from __future__ import annotations

import asyncio
import base64
import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable
from http import HTTPStatus
from typing import Any

import pytest
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from aioweb._websocket import WSCloseCode, WSMsgType, build_close, build_frame
from aioweb._ws_client import (
    ClientWebSocketResponse,
    WSMessageTypeError,
    WSServerHandshakeError,
    ws_connect,
)

Handler = Callable[[ServerConnection], Awaitable[None]]


async def echo(ws: ServerConnection) -> None:
    async for message in ws:
        await ws.send(message)


def url_of(server: Server) -> str:
    port = server.sockets[0].getsockname()[1]
    return f"ws://127.0.0.1:{port}/path?q=1"


@pytest.fixture
async def peer() -> AsyncIterator[Callable[..., Awaitable[str]]]:
    """Factory: ``url = await peer(handler, **serve_kwargs)``; servers closed at teardown."""
    servers: list[Server] = []

    async def start(handler: Handler = echo, **kwargs: Any) -> str:
        kwargs.setdefault("compression", None)
        kwargs.setdefault("ping_interval", None)
        server = await serve(handler, "127.0.0.1", 0, **kwargs)
        servers.append(server)
        return url_of(server)

    yield start
    for server in servers:
        server.close()
        await server.wait_closed()


# -- messages -----------------------------------------------------------------


async def test_text_and_binary_messages_echo(peer: Any) -> None:
    async with await ws_connect(await peer()) as ws:
        await ws.send_str("héllo")
        assert await ws.receive_str() == "héllo"
        await ws.send_bytes(b"\x00\xff" * 100)
        assert await ws.receive_bytes() == b"\x00\xff" * 100
        await ws.send_json({"a": [1, 2]})
        assert await ws.receive_json() == {"a": [1, 2]}
        await ws.send_bytes(bytearray(b"ba"))
        msg = await ws.receive()
        assert msg.type is WSMsgType.BINARY and msg.data == b"ba"
    assert ws.closed and ws.close_code == WSCloseCode.OK


async def test_receive_str_rejects_binary_and_send_checks_types(peer: Any) -> None:
    async with await ws_connect(await peer()) as ws:
        await ws.send_bytes(b"x")
        with pytest.raises(WSMessageTypeError):
            await ws.receive_str()
        await ws.send_str("x")
        with pytest.raises(WSMessageTypeError):
            await ws.receive_bytes()
        with pytest.raises(TypeError):
            await ws.send_str(b"x")  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            await ws.send_bytes("x")  # type: ignore[arg-type]


async def test_large_fragmented_message_from_server_is_reassembled(peer: Any) -> None:
    chunk = bytes(range(256)) * 1024  # 256 KiB per fragment

    async def fragments(ws: ServerConnection) -> None:
        await ws.send([chunk] * 8)
        await ws.send(["tex", "t ", "frag"])
        await ws.wait_closed()

    async with await ws_connect(await peer(fragments)) as ws:
        assert await ws.receive_bytes() == chunk * 8
        assert await ws.receive_str() == "text frag"


async def test_large_messages_both_ways_with_flow_control(peer: Any) -> None:
    payload = bytes(range(256)) * (32 * 1024)  # 8 MiB: the transport pauses writing
    url = await peer(max_size=None, write_limit=2**16)
    async with await ws_connect(url, max_msg_size=0) as ws:
        for _ in range(2):
            await ws.send_bytes(payload)
        for _ in range(2):
            assert await ws.receive_bytes() == payload


async def test_message_over_max_msg_size_fails_with_1009(peer: Any) -> None:
    closed: list[int | None] = []

    async def big(ws: ServerConnection) -> None:
        await ws.send(b"x" * 2000)
        await ws.wait_closed()
        closed.append(ws.close_code)

    ws = await ws_connect(await peer(big), max_msg_size=1000)
    msg = await ws.receive()
    assert msg.type is WSMsgType.ERROR
    assert ws.close_code == WSCloseCode.MESSAGE_TOO_BIG and ws.closed
    await asyncio.sleep(0.05)
    assert closed == [WSCloseCode.MESSAGE_TOO_BIG]


async def test_async_iteration_stops_at_close(peer: Any) -> None:
    async def three(ws: ServerConnection) -> None:
        for i in range(3):
            await ws.send(str(i))
        await ws.close(4000, "done")

    ws = await ws_connect(await peer(three))
    assert [msg.data async for msg in ws] == ["0", "1", "2"]
    assert ws.closed and ws.close_code == 4000


# -- compression --------------------------------------------------------------


async def test_compressed_both_directions(peer: Any) -> None:
    seen: list[str | None] = []
    sizes: list[int] = []

    async def handler(ws: ServerConnection) -> None:
        seen.append(ws.response.headers.get("Sec-WebSocket-Extensions") if ws.response else None)
        async for message in ws:
            await ws.send(message)

    url = await peer(handler, compression="deflate")
    async with await ws_connect(url, compress=15) as ws:
        # websockets answers with client_max_window_bits=12 by default.
        assert ws.compress == 12
        real_write = ws._conn.transport.write  # type: ignore[union-attr]

        def counting_write(data: Any) -> None:
            sizes.append(len(data))
            real_write(data)

        ws._conn.transport.write = counting_write  # type: ignore[method-assign,union-attr]
        payload = "compress me " * 10_000
        for _ in range(3):  # context takeover across messages both ways
            await ws.send_str(payload)
            assert await ws.receive_str() == payload
        await ws.send_bytes(b"\x01" * 50_000)
        assert await ws.receive_bytes() == b"\x01" * 50_000
    assert seen and seen[0] is not None and "permessage-deflate" in seen[0]
    assert max(sizes) < 2000


async def test_compress_declined_by_server_sends_plain(peer: Any) -> None:
    async with await ws_connect(await peer(), compress=True) as ws:
        assert ws.compress == 0
        await ws.send_str("plain")
        assert await ws.receive_str() == "plain"


# -- ping / pong --------------------------------------------------------------


async def test_client_ping_gets_pong_swallowed_with_autoping(peer: Any) -> None:
    async with await ws_connect(await peer()) as ws:
        await ws.ping(b"hi")
        await ws.send_str("after")
        assert await ws.receive_str() == "after"


async def test_client_ping_pong_visible_without_autoping(peer: Any) -> None:
    async with await ws_connect(await peer(), autoping=False) as ws:
        await ws.ping(b"hi")
        msg = await ws.receive(timeout=5)
        assert msg.type is WSMsgType.PONG and msg.data == b"hi"


async def test_server_ping_is_answered_automatically(peer: Any) -> None:
    latency: list[float] = []

    async def pinger(ws: ServerConnection) -> None:
        waiter = await ws.ping(b"srv")
        latency.append(await asyncio.wait_for(waiter, 5))
        await ws.send("pong seen")
        await ws.wait_closed()

    async with await ws_connect(await peer(pinger)) as ws:
        assert await ws.receive_str(timeout=5) == "pong seen"
    assert len(latency) == 1


async def test_server_ping_returned_without_autoping(peer: Any) -> None:
    async def pinger(ws: ServerConnection) -> None:
        await ws.ping(b"srv")
        await ws.wait_closed()

    async with await ws_connect(await peer(pinger), autoping=False) as ws:
        msg = await ws.receive(timeout=5)
        assert msg.type is WSMsgType.PING and msg.data == b"srv"
        await ws.pong(msg.data)


# -- closing ------------------------------------------------------------------


async def test_client_close_code_and_reason_reach_server(peer: Any) -> None:
    got: list[tuple[int | None, str | None]] = []

    async def handler(ws: ServerConnection) -> None:
        try:
            await ws.recv()
        except ConnectionClosed:
            got.append((ws.close_code, ws.close_reason))

    ws = await ws_connect(await peer(handler))
    assert await ws.close(code=4002, message=b"client bye") is True
    assert ws.closed and ws.close_code == 4002  # the server echoes the code
    assert await ws.close() is False
    assert (await ws.receive()).type is WSMsgType.CLOSED
    await asyncio.sleep(0.05)
    assert got == [(4002, "client bye")]


async def test_server_close_code_reaches_client_with_autoclose(peer: Any) -> None:
    async def handler(ws: ServerConnection) -> None:
        await ws.close(4001, "server bye")

    ws = await ws_connect(await peer(handler))
    msg = await ws.receive()
    assert msg.type is WSMsgType.CLOSE and (msg.data, msg.extra) == (4001, "server bye")
    assert ws.closed and ws.close_code == 4001
    assert (await ws.receive()).type is WSMsgType.CLOSED


async def test_server_close_without_autoclose_waits_for_client(peer: Any) -> None:
    async def handler(ws: ServerConnection) -> None:
        await ws.close(WSCloseCode.GOING_AWAY)

    ws = await ws_connect(await peer(handler), autoclose=False)
    msg = await ws.receive()
    assert msg.type is WSMsgType.CLOSE and msg.data == WSCloseCode.GOING_AWAY
    assert not ws.closed
    assert (await ws.receive()).type is WSMsgType.CLOSED  # close() runs here
    assert ws.closed and ws.close_code == WSCloseCode.GOING_AWAY


async def test_close_from_another_task_interrupts_receive(peer: Any) -> None:
    async def silent(ws: ServerConnection) -> None:
        await ws.wait_closed()

    ws = await ws_connect(await peer(silent))
    receiving = asyncio.ensure_future(ws.receive())
    await asyncio.sleep(0.01)
    with pytest.raises(RuntimeError, match="Concurrent"):
        await ws.receive()
    assert await ws.close() is True
    msg = await receiving
    assert msg.type is WSMsgType.CLOSING
    assert (await ws.receive()).type is WSMsgType.CLOSED
    assert ws.close_code == WSCloseCode.OK


async def test_receive_timeout_raises(peer: Any) -> None:
    async def silent(ws: ServerConnection) -> None:
        await ws.wait_closed()

    async with await ws_connect(await peer(silent)) as ws:
        with pytest.raises(asyncio.TimeoutError):
            await ws.receive(timeout=0.05)


async def test_close_rejects_invalid_code(peer: Any) -> None:
    async with await ws_connect(await peer()) as ws:
        with pytest.raises(ValueError):
            await ws.close(code=1005)
        assert not ws.closed


# -- handshake ----------------------------------------------------------------


async def test_subprotocol_is_negotiated(peer: Any) -> None:
    url = await peer(subprotocols=["chat", "superchat"])
    async with await ws_connect(url, protocols=("v9", "superchat")) as ws:
        assert ws.protocol == "superchat"
    async with await ws_connect(await peer(), protocols=("chat",)) as ws:
        assert ws.protocol is None  # a server without subprotocols selects none


async def test_request_carries_headers_path_and_origin(peer: Any) -> None:
    seen: list[Request] = []

    def record(conn: ServerConnection, request: Request) -> None:
        seen.append(request)

    url = await peer(process_request=record)
    async with await ws_connect(url, headers={"X-Token": "t"}, origin="http://o.example"):
        pass
    request = seen[0]
    assert request.path == "/path?q=1"
    assert request.headers["X-Token"] == "t"
    assert request.headers["Origin"] == "http://o.example"
    assert request.headers["Host"].startswith("127.0.0.1:")


async def test_rejected_handshake_raises_with_status(peer: Any) -> None:
    def forbid(conn: ServerConnection, request: Request) -> Response:
        return conn.respond(HTTPStatus.FORBIDDEN, "Forbidden\n")

    url = await peer(process_request=forbid)
    with pytest.raises(WSServerHandshakeError) as info:
        await ws_connect(url)
    assert info.value.status == 403
    assert info.value.message == "Invalid response status"
    assert info.value.headers["Content-Type"].startswith("text/plain")


# -- raw peers: answers websockets would never send ----------------------------


def accept_for(key: str) -> str:
    digest = hashlib.sha1(key.encode() + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest()
    return base64.b64encode(digest).decode()


async def raw_peer(answer: Callable[[Headers], bytes], after: bytes = b"") -> asyncio.Server:
    """A server that reads the request head, writes ``answer(headers) + after``."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        headers = Headers()
        for line in head.decode().split("\r\n")[1:]:
            if line:
                name, _, value = line.partition(":")
                headers[name] = value.strip()
        writer.write(answer(headers) + after)
        try:
            await reader.read()  # until the client closes
        finally:
            writer.close()

    return await asyncio.start_server(handle, "127.0.0.1", 0)


def upgrade(headers: Headers, extra: str = "", accept: str | None = None) -> bytes:
    key = accept if accept is not None else accept_for(headers["Sec-WebSocket-Key"])
    return (
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Accept: {key}\r\n{extra}\r\n"
    ).encode()


@pytest.fixture
async def raw() -> AsyncIterator[Callable[..., Awaitable[str]]]:
    servers: list[asyncio.Server] = []

    async def start(answer: Callable[[Headers], bytes], after: bytes = b"") -> str:
        server = await raw_peer(answer, after)
        servers.append(server)
        return f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}/"

    yield start
    for server in servers:
        server.close()
        await server.wait_closed()


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (lambda h: upgrade(h, accept="wrong"), "Invalid challenge response"),
        (lambda h: upgrade(h).replace(b"Upgrade: websocket", b"Upgrade: h2c"), "upgrade header"),
        (lambda h: upgrade(h).replace(b"Connection: Upgrade", b"Connection: close"), "connection"),
        (lambda h: upgrade(h, "Sec-WebSocket-Protocol: chat\r\n"), "not offered"),
        (lambda h: upgrade(h, "Sec-WebSocket-Extensions: permessage-deflate\r\n"), "deflate"),
        (lambda h: b"SSH-2.0-OpenSSH\r\n\r\n", "Invalid response status"),
    ],
)
async def test_invalid_acceptance_raises(raw: Any, answer: Any, reason: str) -> None:
    with pytest.raises(WSServerHandshakeError, match=reason):
        await ws_connect(await raw(answer))


@pytest.mark.parametrize(
    "extension",
    [
        "x-webkit-deflate-frame",
        "permessage-deflate; server_max_window_bits=16",
        "permessage-deflate; client_max_window_bits=8",
        "permessage-deflate; server_no_context_takeover=1",
        "permessage-deflate; client_no_context_takeover; client_no_context_takeover",
        "permessage-deflate; mystery",
        "permessage-deflate, permessage-deflate",
    ],
)
async def test_invalid_deflate_answer_fails_handshake(raw: Any, extension: str) -> None:
    url = await raw(lambda h: upgrade(h, f"Sec-WebSocket-Extensions: {extension}\r\n"))
    with pytest.raises(WSServerHandshakeError, match="deflate") as info:
        await ws_connect(url, compress=15)
    assert info.value.status == 101


async def test_frames_sent_with_the_handshake_answer_are_read(raw: Any) -> None:
    after = build_frame(WSMsgType.TEXT, b"early") + build_close(4005, "bye")
    ws = await ws_connect(await raw(upgrade, after))
    assert await ws.receive_str() == "early"
    msg = await ws.receive()
    assert msg.type is WSMsgType.CLOSE and ws.close_code == 4005


async def test_masked_server_frame_is_a_protocol_error(raw: Any) -> None:
    after = build_frame(WSMsgType.TEXT, b"x", mask=b"abcd")
    ws = await ws_connect(await raw(upgrade, after))
    msg = await ws.receive()
    assert msg.type is WSMsgType.ERROR
    assert ws.close_code == WSCloseCode.PROTOCOL_ERROR and ws.closed


async def test_connection_drop_gives_closed_and_1006(raw: Any) -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        key = [ln for ln in head.decode().split("\r\n") if ln.lower().startswith("sec-websocket-key")]
        headers = Headers({"Sec-WebSocket-Key": key[0].partition(":")[2].strip()})
        writer.write(upgrade(headers))
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    async with server:
        ws = await ws_connect(f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}/")
        assert (await ws.receive()).type is WSMsgType.CLOSED
        assert ws.closed and ws.close_code == WSCloseCode.ABNORMAL_CLOSURE
        with pytest.raises(ConnectionResetError):
            await ws.send_str("late")


async def test_context_manager_closes(peer: Any) -> None:
    ws: ClientWebSocketResponse
    async with await ws_connect(await peer()) as ws:
        assert not ws.closed
        assert ws.get_extra_info("peername")[0] == "127.0.0.1"
    assert ws.closed
