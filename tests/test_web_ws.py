"""``WebSocketResponse`` without sockets: the handshake table, state and queue, fed by hand."""

from __future__ import annotations

import asyncio
import inspect
import json
from typing import Any
from unittest import mock

import pytest

import aioweb
from aioweb import web
from aioweb._websocket import (
    FrameReader,
    WebSocketError,
    WSMessageTypeError,
    build_close,
    build_frame,
)
from aioweb.test_utils import make_mocked_request
from aioweb.web_ws import READ_HIGH_WATER, WSCloseCode, WSMessage, WSMsgType

MASK = b"\x0a\x0b\x0c\x0d"
KEY = "dGhlIHNhbXBsZSBub25jZQ=="
GOOD = {
    "Upgrade": "websocket",
    "Connection": "Upgrade",
    "Sec-WebSocket-Key": KEY,
    "Sec-WebSocket-Version": "13",
}


class FakeProtocol:
    """The parts of ``RequestHandler`` a WebSocket uses, recording every call."""

    def __init__(self, tail: bytes = b"") -> None:
        self.transport: Any = mock.Mock()
        self.transport.is_closing.return_value = False
        self.written: list[bytes] = []
        self.calls: list[str] = []
        self.tail = tail
        self.reader: Any = None
        self.ended: Any = None
        self.shutdown: Any = None
        self._writing_paused = False

    def write(self, data: bytes) -> None:
        if self.transport is None or "close" in self.calls or "force_close" in self.calls:
            raise ConnectionResetError("Cannot write to closing transport")
        self.written.append(bytes(data))

    async def drain(self) -> None:
        self.calls.append("drain")

    def take_upgrade(self, reader: Any, ended: Any, shutdown: Any) -> bytes:
        self.reader, self.ended, self.shutdown = reader, ended, shutdown
        return self.tail

    def pause_reading(self) -> None:
        self.calls.append("pause_reading")

    def resume_reading(self) -> None:
        self.calls.append("resume_reading")

    def close(self) -> None:
        self.calls.append("close")

    def force_close(self) -> None:
        self.calls.append("force_close")

    def _linger(self) -> None:
        self.calls.append("linger")

    def frames(self) -> list[WSMessage]:
        """What the server wrote after its 101 head, parsed as a client would."""
        head, _, rest = b"".join(self.written).partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101 ")
        return FrameReader(0, True, is_server=False).feed(rest)


def request(method: str = "GET", headers: Any = None, **kwargs: Any) -> Any:
    return make_mocked_request(
        method, "/ws", headers=GOOD if headers is None else headers, **kwargs
    )


async def prepared(tail: bytes = b"", **kwargs: Any) -> tuple[web.WebSocketResponse, FakeProtocol]:
    proto = FakeProtocol(tail)
    headers = kwargs.pop("headers", None)
    ws = web.WebSocketResponse(**kwargs)
    await ws.prepare(request(protocol=proto, headers=headers))
    return ws, proto


def frame(opcode: int, payload: bytes) -> bytes:
    return build_frame(opcode, payload, mask=MASK)


# -- the handshake --------------------------------------------------------------------------


def without(name: str) -> dict[str, str]:
    return {k: v for k, v in GOOD.items() if k != name}


BAD = [
    ("POST", GOOD, 405),
    ("GET", without("Upgrade"), 400),
    ("GET", {**GOOD, "Upgrade": "h2c"}, 400),
    ("GET", without("Connection"), 400),
    ("GET", {**GOOD, "Connection": "keep-alive"}, 400),
    ("GET", without("Sec-WebSocket-Version"), 426),
    ("GET", {**GOOD, "Sec-WebSocket-Version": "8"}, 426),
    ("GET", without("Sec-WebSocket-Key"), 400),
    ("GET", {**GOOD, "Sec-WebSocket-Key": "c2hvcnQ="}, 400),  # "short"
    ("GET", {**GOOD, "Sec-WebSocket-Key": "not base64!!"}, 400),
    ("GET", {**GOOD, "Sec-WebSocket-Key": "é" * 24}, 400),
]


@pytest.mark.parametrize(("method", "headers", "status"), BAD)
async def test_bad_handshake_raises_and_writes_nothing(
    method: str, headers: dict[str, str], status: int
) -> None:
    proto = FakeProtocol()
    req = request(method, headers, protocol=proto)
    ws = web.WebSocketResponse()
    assert ws.can_prepare(req) == web.WebSocketReady(False, None)
    assert not ws.can_prepare(req)
    with pytest.raises(web.HTTPException) as info:
        await ws.prepare(req)
    assert info.value.status == status
    assert info.value.text is not None and info.value.text.startswith(f"{status}: ")
    assert proto.written == [] and proto.reader is None
    if status == 426:
        assert info.value.headers["Sec-WebSocket-Version"] == "13"


def test_http10_is_refused() -> None:
    req = request(version=aioweb.HttpVersion10)
    assert not web.WebSocketResponse().can_prepare(req)


@pytest.mark.parametrize(
    "headers",
    [
        GOOD,
        {**GOOD, "Connection": "keep-alive, Upgrade", "Upgrade": "WebSocket"},
        {**GOOD, "Sec-WebSocket-Key": f"  {KEY} "},
    ],
)
async def test_good_handshake_answers_101(headers: dict[str, str]) -> None:
    proto = FakeProtocol()
    ws = web.WebSocketResponse()
    assert ws.can_prepare(request(headers=headers)) == (True, None)
    await ws.prepare(request(headers=headers, protocol=proto))
    head = b"".join(proto.written).decode()
    assert head.startswith("HTTP/1.1 101 Switching Protocols\r\n")
    assert "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n" in head
    assert "Connection: upgrade\r\n" in head and "Upgrade: websocket\r\n" in head
    assert "Content-Length" not in head and "Transfer-Encoding" not in head
    assert ws.keep_alive is False
    assert proto.reader is not None


@pytest.mark.parametrize(
    ("offered", "chosen"),
    [("b, a", "a"), ("b,c", "c"), ("x", None), (None, None)],
)
def test_subprotocol_is_the_servers_first_choice(offered: str | None, chosen: str | None) -> None:
    headers = dict(GOOD)
    if offered is not None:
        headers["Sec-WebSocket-Protocol"] = offered
    ws = web.WebSocketResponse(protocols=["a", "c", "b"])
    assert ws.can_prepare(request(headers=headers)) == (True, chosen)


@pytest.mark.parametrize(
    ("offer", "compress", "answer"),
    [
        ("permessage-deflate", True, "permessage-deflate"),
        (
            "permessage-deflate; client_max_window_bits",
            True,
            "permessage-deflate",
        ),
        (
            "permessage-deflate; server_no_context_takeover; client_max_window_bits=10",
            True,
            "permessage-deflate; server_no_context_takeover; client_max_window_bits=10",
        ),
        ("permessage-deflate; bogus", True, None),
        ("x-webkit-deflate-frame", True, None),
        ("permessage-deflate", False, None),
    ],
)
async def test_deflate_negotiation(offer: str, compress: bool, answer: str | None) -> None:
    ws, proto = await prepared(
        compress=compress, headers={**GOOD, "Sec-WebSocket-Extensions": offer}
    )
    assert ws.headers.get("Sec-WebSocket-Extensions") == answer
    assert ws.compress == (15 if answer else 0)


async def test_prepare_is_idempotent_and_single_request() -> None:
    proto = FakeProtocol()
    req = request(protocol=proto)
    ws = web.WebSocketResponse()
    first = await ws.prepare(req)
    assert await ws.prepare(req) is first
    with pytest.raises(RuntimeError):
        await ws.prepare(request(protocol=FakeProtocol()))
    with pytest.raises(RuntimeError):
        ws.can_prepare(req)


async def test_on_response_prepare_sees_the_101() -> None:
    app = web.Application()
    seen: list[int] = []

    async def hook(req: web.Request, resp: web.StreamResponse) -> None:
        seen.append(resp.status)
        resp.headers["X-Hook"] = "1"

    app.on_response_prepare.append(hook)
    app.freeze()
    proto = FakeProtocol()
    ws = web.WebSocketResponse()
    await ws.prepare(request(protocol=proto, app=app))
    assert seen == [101]
    assert b"X-Hook: 1\r\n" in proto.written[0]


def test_constructor_checks() -> None:
    with pytest.raises(TypeError):
        web.WebSocketResponse(protocols="chat")
    with pytest.raises(ValueError):
        web.WebSocketResponse(heartbeat=0)
    with pytest.raises(ValueError):
        web.WebSocketResponse(max_msg_size=-1)
    ws = web.WebSocketResponse()
    assert ws.status == 101 and not ws.closed and ws.close_code is None
    assert ws.ws_protocol is None and ws.exception() is None and ws.compress is True
    assert ws.get_extra_info("peername", "none") == "none"


# -- names ------------------------------------------------------------------------------------


def test_msgtype_aliases() -> None:
    assert aioweb.MsgType is aioweb.WSMsgType is web.WSMsgType is web.MsgType
    pairs = {
        "text": "TEXT", "binary": "BINARY", "ping": "PING", "pong": "PONG", "close": "CLOSE",
        "closed": "CLOSED", "error": "ERROR", "closing": "CLOSING", "continuation": "CONTINUATION",
    }
    for lower, upper in pairs.items():
        assert getattr(aioweb.MsgType, lower) is getattr(aioweb.MsgType, upper)
    assert len(list(WSMsgType)) == 9  # aliases do not iterate
    msg = WSMessage(WSMsgType.TEXT, "x", "")
    assert msg.tp == aioweb.MsgType.text
    assert [t for t in WSMsgType if t == msg.tp] == [aioweb.MsgType.text]
    assert aioweb.WSCloseCode is web.WSCloseCode is WSCloseCode
    assert web.WSMessage is WSMessage


def test_websocket_ready_truthiness() -> None:
    assert web.WebSocketReady(True, "p") and web.WebSocketReady(True, None)
    assert not web.WebSocketReady(False, None)
    assert web.WebSocketReady(True, "p").protocol == "p"


# -- before prepare ----------------------------------------------------------------------------


async def test_everything_needs_prepare_first() -> None:
    ws = web.WebSocketResponse()
    for call in (ws.send_str, ws.send_json):
        with pytest.raises(RuntimeError):
            call("x")
    with pytest.raises(RuntimeError):
        ws.send_bytes(b"x")
    with pytest.raises(RuntimeError):
        ws.ping()
    with pytest.raises(RuntimeError):
        await ws.receive()
    with pytest.raises(RuntimeError):
        await ws.close()
    with pytest.raises(RuntimeError):
        await ws.write(b"x")


# -- sending --------------------------------------------------------------------------------------


async def test_send_writes_at_once_and_returns_a_plain_awaitable() -> None:
    ws, proto = await prepared(compress=False)
    result = ws.send_str("one")
    assert not inspect.iscoroutine(result)
    assert [m.data for m in proto.frames()] == ["one"]  # written before any await
    ws.send_bytes(b"two")  # never awaited: no warning (filterwarnings = error)
    await ws.send_json({"three": 3})
    await ws.send_frame(b"four", WSMsgType.BINARY)
    await ws.ping(b"p")
    await ws.pong("q")
    got = [(m.type, m.data) for m in proto.frames()]
    assert got == [
        (WSMsgType.TEXT, "one"),
        (WSMsgType.BINARY, b"two"),
        (WSMsgType.TEXT, json.dumps({"three": 3})),
        (WSMsgType.BINARY, b"four"),
        (WSMsgType.PING, b"p"),
        (WSMsgType.PONG, b"q"),
    ]
    assert "drain" not in proto.calls  # writing was never paused: nothing to wait for
    proto._writing_paused = True
    await ws.send_bytes(b"five")
    assert proto.calls.count("drain") == 1


async def test_send_type_errors() -> None:
    ws, _ = await prepared()
    with pytest.raises(TypeError):
        ws.send_str(b"bytes")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        ws.send_bytes("text")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        ws.ping(b"x" * 126)


async def test_compression_can_be_skipped_per_message() -> None:
    ws, proto = await prepared(headers={**GOOD, "Sec-WebSocket-Extensions": "permessage-deflate"})
    ws.send_str("a" * 1000)
    ws.send_str("a" * 1000, compress=0)
    body = b"".join(proto.written).partition(b"\r\n\r\n")[2]
    first_len = body[1] & 0x7F
    assert body[0] & 0x40 and first_len < 100  # RSV1: compressed
    second = body[2 + first_len :]
    assert not second[0] & 0x40 and len(second) == 4 + 1000


async def test_sending_after_close_raises_connection_reset() -> None:
    ws, proto = await prepared()
    proto.reader(frame(WSMsgType.CLOSE, build_close(1000)[2:]))
    assert (await ws.receive()).type is WSMsgType.CLOSE
    with pytest.raises(ConnectionResetError):
        ws.send_str("late")
    assert await ws.close() is False


# -- receiving ------------------------------------------------------------------------------------


async def test_frames_already_received_with_the_head_are_read() -> None:
    ws, _ = await prepared(tail=frame(WSMsgType.TEXT, b"early"))
    assert await ws.receive_str() == "early"


async def test_receive_helpers() -> None:
    ws, proto = await prepared()
    proto.reader(frame(WSMsgType.TEXT, b'{"a": 1}') + frame(WSMsgType.BINARY, b"\x01"))
    assert await ws.receive_json() == {"a": 1}
    assert await ws.receive_bytes() == b"\x01"
    proto.reader(frame(WSMsgType.BINARY, b"x"))
    with pytest.raises(WSMessageTypeError):
        await ws.receive_str()
    proto.reader(frame(WSMsgType.TEXT, b"x"))
    with pytest.raises(TypeError):
        await ws.receive_bytes()


async def test_autoping_answers_at_once_and_hides_ping_pong() -> None:
    ws, proto = await prepared()
    proto.reader(frame(WSMsgType.PING, b"hb") + frame(WSMsgType.PONG, b"") + frame(WSMsgType.TEXT, b"t"))
    assert [(m.type, m.data) for m in proto.frames()] == [(WSMsgType.PONG, b"hb")]
    assert (await ws.receive()).data == "t"


async def test_autoping_off_returns_ping_and_pong() -> None:
    ws, proto = await prepared(autoping=False)
    proto.reader(frame(WSMsgType.PING, b"a") + frame(WSMsgType.PONG, b"b"))
    assert (await ws.receive()).type is WSMsgType.PING
    assert (await ws.receive()).type is WSMsgType.PONG
    assert proto.frames() == []


async def test_peer_close_with_autoclose() -> None:
    ws, proto = await prepared()
    proto.reader(frame(WSMsgType.CLOSE, build_close(4000, "bye")[2:]))
    msg = await ws.receive()
    assert (msg.type, msg.data, msg.extra) == (WSMsgType.CLOSE, 4000, "bye")
    assert ws.closed and ws.close_code == 4000
    assert [(m.type, m.data) for m in proto.frames()] == [(WSMsgType.CLOSE, 4000)]  # echoed
    assert "close" in proto.calls
    assert (await ws.receive()).type is WSMsgType.CLOSED


async def test_peer_close_without_code_is_1005() -> None:
    ws, proto = await prepared()
    proto.reader(frame(WSMsgType.CLOSE, b""))
    assert (await ws.receive()).data == 0
    assert ws.close_code == 1005
    assert proto.written[-1] == build_close(None)


async def test_peer_close_without_autoclose() -> None:
    ws, proto = await prepared(autoclose=False)
    proto.reader(frame(WSMsgType.CLOSE, build_close(1001)[2:]))
    assert (await ws.receive()).type is WSMsgType.CLOSE
    assert not ws.closed and proto.frames() == []
    assert (await ws.receive()).type is WSMsgType.CLOSING
    assert await ws.close() is True  # the peer already closed: no waiting
    assert [(m.type, m.data) for m in proto.frames()] == [(WSMsgType.CLOSE, 1000)]
    assert "close" in proto.calls


async def test_closed_reads_end_in_runtime_error() -> None:
    ws, proto = await prepared()
    proto.ended(None)
    assert ws.close_code == 1006
    for _ in range(4):
        assert (await ws.receive()).type is WSMsgType.CLOSED
    with pytest.raises(RuntimeError):
        await ws.receive()


async def test_concurrent_receive_is_refused() -> None:
    ws, proto = await prepared()
    first = asyncio.create_task(ws.receive())
    await asyncio.sleep(0)
    with pytest.raises(RuntimeError, match="Concurrent"):
        await ws.receive()
    proto.reader(frame(WSMsgType.TEXT, b"x"))
    assert (await first).data == "x"


async def test_receive_timeout_leaves_the_socket_usable() -> None:
    ws, proto = await prepared(receive_timeout=0.01)
    with pytest.raises(asyncio.TimeoutError):
        await ws.receive()
    with pytest.raises(asyncio.TimeoutError):
        await ws.receive(timeout=0.01)
    proto.reader(frame(WSMsgType.TEXT, b"x"))
    assert (await ws.receive()).data == "x"


async def test_async_iteration_stops_at_close() -> None:
    ws, proto = await prepared()
    proto.reader(frame(WSMsgType.TEXT, b"a") + frame(WSMsgType.CLOSE, build_close(1000)[2:]))
    assert [msg.data async for msg in ws] == ["a"]


async def test_back_pressure_pauses_and_resumes_reading() -> None:
    ws, proto = await prepared()
    chunk = frame(WSMsgType.BINARY, bytes(1000))
    count = READ_HIGH_WATER // 1000 + 2
    proto.reader(chunk * count)
    assert proto.calls.count("pause_reading") == 1
    resumed_after = None
    for i in range(count):
        await ws.receive()
        if resumed_after is None and "resume_reading" in proto.calls:
            resumed_after = i + 1
    # Resumed once about half the unread bytes were taken, not before, not at the end.
    assert resumed_after is not None and count // 3 < resumed_after < count
    assert proto.calls.count("pause_reading") == 1


# -- failures -------------------------------------------------------------------------------------


async def test_violation_closes_with_its_code_and_returns_error() -> None:
    ws, proto = await prepared()
    proto.reader(build_frame(WSMsgType.TEXT, b"unmasked"))
    msg = await ws.receive()
    assert msg.type is WSMsgType.ERROR and isinstance(msg.data, WebSocketError)
    assert ws.exception() is msg.data and ws.close_code == 1002 and ws.closed
    assert [(m.type, m.data) for m in proto.frames()] == [(WSMsgType.CLOSE, 1002)]
    assert "linger" in proto.calls
    assert (await ws.receive()).type is WSMsgType.CLOSED


async def test_violation_waits_for_the_messages_before_it() -> None:
    ws, proto = await prepared()
    proto.reader(frame(WSMsgType.TEXT, b"first") + frame(WSMsgType.TEXT, b"\xff"))
    assert not ws.closed
    assert (await ws.receive()).data == "first"
    await ws.send_str("answer")  # still allowed: the failure comes after this message
    assert (await ws.receive()).type is WSMsgType.ERROR
    assert ws.close_code == 1007
    assert [m.data for m in proto.frames()] == ["answer", 1007]


async def test_connection_loss_wakes_a_waiting_reader() -> None:
    ws, proto = await prepared()
    waiting = asyncio.create_task(ws.receive())
    await asyncio.sleep(0)
    proto.ended(ConnectionResetError("gone"))
    assert (await waiting).type is WSMsgType.CLOSED
    assert ws.close_code == 1006 and isinstance(ws.exception(), ConnectionResetError)


async def test_heartbeat_pings_then_gives_up() -> None:
    ws, proto = await prepared(heartbeat=0.02)
    waiting = asyncio.create_task(ws.receive())
    await asyncio.sleep(0.025)
    assert [m.type for m in proto.frames()] == [WSMsgType.PING]
    msg = await asyncio.wait_for(waiting, 1)
    assert msg.type is WSMsgType.ERROR and isinstance(msg.data, asyncio.TimeoutError)
    assert ws.close_code == 1006 and "force_close" in proto.calls


async def test_heartbeat_input_counts_as_alive() -> None:
    ws, proto = await prepared(heartbeat=0.03)
    for _ in range(6):
        await asyncio.sleep(0.01)
        proto.reader(frame(WSMsgType.PONG, b""))
    assert proto.frames() == [] and not ws.closed  # never silent long enough to ping


# -- closing ----------------------------------------------------------------------------------------


async def test_close_sends_waits_for_the_answer_and_closes() -> None:
    ws, proto = await prepared()
    closing = asyncio.create_task(ws.close(code=4321, message="done"))
    await asyncio.sleep(0)
    assert ws.closed and [(m.data, m.extra) for m in proto.frames()] == [(4321, "done")]
    assert "close" not in proto.calls  # waiting for the peer's close frame
    proto.reader(frame(WSMsgType.TEXT, b"ignored") + frame(WSMsgType.CLOSE, build_close(4321)[2:]))
    assert await closing is True
    assert "close" in proto.calls and ws.close_code == 4321
    assert await ws.close() is False


async def test_close_wakes_a_reader_in_another_task() -> None:
    ws, proto = await prepared()
    reader = asyncio.create_task(ws.receive())
    await asyncio.sleep(0)
    closing = asyncio.create_task(ws.close())
    assert (await reader).type is WSMsgType.CLOSING
    proto.reader(frame(WSMsgType.CLOSE, build_close(1000)[2:]))
    assert await closing is True


async def test_close_timeout_is_abnormal() -> None:
    ws, proto = await prepared(timeout=0.01)
    assert await ws.close() is True
    assert ws.close_code == 1006 and isinstance(ws.exception(), asyncio.TimeoutError)
    assert "force_close" in proto.calls


@pytest.mark.parametrize(("code", "wire"), [(999, 1001), (1006, 1001), (5000, 1001), (3000, 3000)])
async def test_unsendable_codes_go_out_as_going_away(code: int, wire: int) -> None:
    ws, proto = await prepared(timeout=0.01)
    await ws.close(code=code, message=b"Server shutdown")
    assert [(m.data, m.extra) for m in proto.frames()] == [(wire, "Server shutdown")]
    assert ws.exception() is not None  # the fake peer never answered
    assert ws.close_code == 1006


async def test_close_argument_checks() -> None:
    ws, proto = await prepared()
    with pytest.raises(ValueError):
        await ws.close(message=b"\xff")
    with pytest.raises(ValueError):
        await ws.close(message="x" * 124)
    with pytest.raises(TypeError):
        await ws.close(code="1000")  # type: ignore[arg-type]
    assert not ws.closed and proto.frames() == []


async def test_server_shutdown_hook_closes_with_1001() -> None:
    ws, proto = await prepared()
    reader = asyncio.create_task(ws.receive())
    await asyncio.sleep(0)
    proto.shutdown()
    assert (await reader).type is WSMsgType.CLOSING
    assert [(m.data, m.extra) for m in proto.frames()] == [(1001, "Server shutdown")]
    assert ws.close_code == 1001
    proto.reader(frame(WSMsgType.CLOSE, build_close(1001)[2:]))
    assert "close" in proto.calls


async def test_finish_closes_and_counts_bytes() -> None:
    proto = FakeProtocol()
    req = request(protocol=proto)
    ws = web.WebSocketResponse(timeout=0.01)
    await ws.prepare(req)
    ws.send_str("x")
    await ws._finish(req)
    assert ws.closed and ws.keep_alive is False
    assert ws.body_length == sum(map(len, proto.written))
    await ws._finish(req)  # idempotent


async def test_finish_prepares_an_unprepared_socket() -> None:
    proto = FakeProtocol()
    req = request(protocol=proto)
    ws = web.WebSocketResponse(timeout=0.01)
    await ws._finish(req)
    assert proto.written[0].startswith(b"HTTP/1.1 101 ")
    assert [m.type for m in proto.frames()] == [WSMsgType.CLOSE]
