"""A WebSocket client for tests, built on aioweb's own codec.

``ws_connect(url)`` opens a TCP connection, performs the RFC 6455 opening
handshake and returns a :class:`ClientWebSocketResponse` with the API and the
close/ping behaviour of aiohttp's client websocket. Frames are parsed by
:class:`~aioweb._websocket.FrameReader` and built by
:class:`~aioweb._websocket.FrameWriter` (client side: masked out, unmasked
in), so the client shares no code path with the server it tests except the
codec, which is tested against independent peers on its own.

One :class:`_Connection` protocol owns the transport: it buffers the
handshake answer, then feeds every read to the frame reader and queues the
messages (pausing the socket when more than ``_QUEUE_HIGH`` wait). There is
no background task; ``receive()`` awaits the queue.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import ssl as ssl_module
from collections import deque
from collections.abc import Awaitable, Callable, Generator, Iterable, Mapping
from typing import Any, Union

from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from ._websocket import (
    DeflateParams,
    FrameReader,
    FrameWriter,
    WebSocketError,
    WSCloseCode,
    WSMessage,
    WSMsgType,
    parse_extensions,
)

__all__ = ("ClientWebSocketResponse", "WSMessageTypeError", "WSServerHandshakeError", "ws_connect")

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_MAX_HEAD = 64 * 1024
_QUEUE_HIGH = 64
_CLOSED_MESSAGE = WSMessage(WSMsgType.CLOSED, None, None)
_CLOSING_MESSAGE = WSMessage(WSMsgType.CLOSING, None, None)

# A queued item: a message, a protocol error, or None for end of stream.
_Item = Union[WSMessage, WebSocketError, None]


class WSServerHandshakeError(Exception):
    """The server did not accept the opening handshake.

    ``status`` is the HTTP status of the answer (0 when it was not HTTP),
    ``message`` says what was wrong, ``headers`` are the answer's headers.
    """

    def __init__(
        self, message: str, *, status: int, headers: CIMultiDictProxy[str], url: URL
    ) -> None:
        super().__init__(f"{status}, message={message!r}, url={str(url)!r}")
        self.status = status
        self.message = message
        self.headers = headers
        self.url = url


class WSMessageTypeError(TypeError):
    """``receive_str``/``receive_bytes`` got a message of another type."""


class _Connection(asyncio.Protocol):
    """Transport glue: the handshake head first, then frames to a queue."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self.transport: asyncio.Transport | None = None
        self.head: asyncio.Future[bytes] = loop.create_future()
        self.lost: asyncio.Future[None] = loop.create_future()
        self._pre = bytearray()
        self._reader: FrameReader | None = None
        self._queue: deque[_Item] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._read_paused = False
        self._drain: asyncio.Future[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        if self._reader is not None:
            self._feed(data)
            return
        self._pre += data
        if self.head.done():
            return
        end = self._pre.find(b"\r\n\r\n")
        if end >= 0:
            self.head.set_result(bytes(self._pre[: end + 4]))
            del self._pre[: end + 4]
        elif len(self._pre) > _MAX_HEAD:
            self.head.set_exception(ValueError("handshake answer head too large"))

    def start(self, reader: FrameReader) -> None:
        """Switch to frame mode; bytes that followed the head are fed now."""
        self._reader = reader
        if self._pre:
            data, self._pre = bytes(self._pre), bytearray()
            self._feed(data)

    def _feed(self, data: bytes) -> None:
        assert self._reader is not None
        try:
            messages: list[_Item] = list(self._reader.feed(data))
        except WebSocketError as exc:
            messages = [exc]
        self._queue.extend(messages)
        if messages:
            self._wake()
        if len(self._queue) > _QUEUE_HIGH and not self._read_paused and self.transport:
            self._read_paused = True
            self.transport.pause_reading()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def get(self) -> WSMessage:
        """The next message; raises its protocol error or ``EOFError`` at the end.

        Errors and the end of stream stay queued, so later calls raise again.
        """
        while not self._queue:
            self._waiter = self._loop.create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        item = self._queue[0]
        if item is None:
            raise EOFError("connection closed")
        if isinstance(item, WebSocketError):
            raise item
        self._queue.popleft()
        if self._read_paused and len(self._queue) <= _QUEUE_HIGH // 2 and self.transport:
            self._read_paused = False
            self.transport.resume_reading()
        return item

    def push_closing(self) -> None:
        """Wake a pending ``get()`` with a CLOSING message (for ``close()``)."""
        self._queue.appendleft(_CLOSING_MESSAGE)
        self._wake()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.head.done():
            self.head.set_exception(ConnectionResetError("connection closed during handshake"))
        self._queue.append(None)
        self._wake()
        self.resume_writing()  # the next write() raises: the transport is closing
        if not self.lost.done():
            self.lost.set_result(None)

    def pause_writing(self) -> None:
        self._drain = self._loop.create_future()

    def resume_writing(self) -> None:
        if self._drain is not None and not self._drain.done():
            self._drain.set_result(None)
        self._drain = None

    async def write(self, data: bytes) -> None:
        """Write ``data``; wait while the transport's buffer is over its limit."""
        if self.transport is None or self.transport.is_closing():
            raise ConnectionResetError("Cannot write to closing transport")
        self.transport.write(data)
        if self._drain is not None:
            await asyncio.shield(self._drain)

    async def abort(self, timeout: float = 1.0) -> None:
        """Close the transport and wait (bounded) until it is gone."""
        if self.transport is not None:
            self.transport.close()
        try:
            await asyncio.wait_for(asyncio.shield(self.lost), timeout)
        except asyncio.TimeoutError:
            if self.transport is not None:
                self.transport.abort()
        if self.head.done() and not self.head.cancelled():
            self.head.exception()  # retrieved: a failed handshake was reported already


class ClientWebSocketResponse:
    """An open client WebSocket, with aiohttp's ``ClientWebSocketResponse`` API.

    Behaviour follows aiohttp's client: with ``autoping`` a PING is answered
    and a PONG swallowed inside :meth:`receive`; with ``autoclose`` a CLOSE
    from the server is answered at once and the connection dropped.
    :meth:`close` sends a CLOSE and waits (at most ``timeout`` seconds) for
    the server's, unless one already arrived. After a protocol violation by
    the server, :meth:`receive` answers with the matching close code and
    returns an ``ERROR`` message. Only one task may :meth:`receive` at a
    time; :meth:`close` may be called from another task and interrupts it.
    """

    def __init__(
        self,
        conn: _Connection,
        *,
        protocol: str | None,
        compress: DeflateParams | None,
        autoping: bool,
        autoclose: bool,
        timeout: float,
        receive_timeout: float | None,
    ) -> None:
        self._conn = conn
        self._writer = FrameWriter(compress, is_server=False)
        self._protocol = protocol
        self._params = compress
        self._autoping = autoping
        self._autoclose = autoclose
        self._timeout = timeout
        self._receive_timeout = receive_timeout
        self._closed = False
        self._closing = False
        self._close_code: int | None = None
        self._exception: BaseException | None = None
        self._waiting = False
        self._close_wait: asyncio.Future[None] | None = None

    @property
    def closed(self) -> bool:
        """True once :meth:`close` started or the connection was lost."""
        return self._closed

    @property
    def close_code(self) -> int | None:
        """The peer's close code (1006 for an abnormal end), None while open."""
        return self._close_code

    @property
    def protocol(self) -> str | None:
        """The subprotocol the server selected, if any."""
        return self._protocol

    @property
    def compress(self) -> int:
        """The negotiated server window bits (15 by default), 0 when uncompressed."""
        return self._params.server_max_window_bits if self._params else 0

    @property
    def client_notakeover(self) -> bool:
        """Whether the server asked for ``client_no_context_takeover``."""
        return bool(self._params and self._params.client_no_context_takeover)

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        """Extra information from the transport (``peername``, ``socket``...)."""
        transport = self._conn.transport
        return default if transport is None else transport.get_extra_info(name, default)

    def exception(self) -> BaseException | None:
        """The error that ended the connection, if any."""
        return self._exception

    async def ping(self, message: bytes = b"") -> None:
        """Send a PING (payload at most 125 bytes)."""
        await self._conn.write(self._writer.ping(bytes(message)))

    async def pong(self, message: bytes = b"") -> None:
        """Send an unsolicited PONG (payload at most 125 bytes)."""
        await self._conn.write(self._writer.pong(bytes(message)))

    async def send_str(self, data: str, compress: int | None = None) -> None:
        """Send a TEXT message (compressed when deflate was negotiated).

        ``compress`` is accepted for aiohttp compatibility and ignored.
        """
        if not isinstance(data, str):
            raise TypeError(f"data argument must be str ({type(data)!r})")
        await self._conn.write(self._writer.message(data))

    async def send_bytes(self, data: bytes, compress: int | None = None) -> None:
        """Send a BINARY message; ``compress`` as in :meth:`send_str`."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"data argument must be byte-ish ({type(data)!r})")
        await self._conn.write(self._writer.message(bytes(data)))

    async def send_json(
        self,
        data: Any,
        compress: int | None = None,
        *,
        dumps: Callable[[Any], str] = json.dumps,
    ) -> None:
        """Send ``dumps(data)`` as a TEXT message."""
        await self.send_str(dumps(data), compress=compress)

    async def close(self, *, code: int = WSCloseCode.OK, message: bytes = b"") -> bool:
        """Run the closing handshake; return False if already closed.

        Waits for the server's CLOSE (at most ``timeout`` seconds, then the
        close code is 1006) unless one was received, the connection failed or
        a receive timed out. The transport is closed on return.
        """
        reason = message.decode("utf-8") if isinstance(message, bytes) else str(message)
        frame = self._writer.close(code, reason)  # ValueError for a bad code or reason
        if self._waiting and not self._closing:
            self._close_wait = asyncio.get_running_loop().create_future()
            self._closing = True
            self._conn.push_closing()
            await self._close_wait
        if self._closed:
            return False
        self._closed = True
        try:
            await self._conn.write(frame)
        except Exception as exc:
            if self._close_code is None:
                return await self._fail(exc)
            # The server's CLOSE arrived and it dropped the connection: done.
            await self._conn.abort()
            return True
        if self._close_code is None:
            try:
                while True:
                    msg = await asyncio.wait_for(self._conn.get(), self._timeout)
                    if msg.type is WSMsgType.CLOSE:
                        self._close_code = msg.data
                        break
            except asyncio.CancelledError:
                self._close_code = WSCloseCode.ABNORMAL_CLOSURE
                await self._conn.abort()
                raise
            except Exception as exc:
                return await self._fail(exc)
        await self._conn.abort()
        return True

    async def _fail(self, exc: BaseException) -> bool:
        self._close_code = WSCloseCode.ABNORMAL_CLOSURE
        self._exception = exc
        await self._conn.abort()
        return True

    async def receive(self, timeout: float | None = None) -> WSMessage:
        """The next data message, or a CLOSE/CLOSING/CLOSED/ERROR one.

        Raises ``RuntimeError`` when another task is already receiving and
        ``asyncio.TimeoutError`` after ``timeout`` seconds (default: the
        ``receive_timeout`` given to ``ws_connect``; None waits forever).
        """
        timeout = timeout or self._receive_timeout
        while True:
            if self._waiting:
                raise RuntimeError("Concurrent call to receive() is not allowed")
            if self._closed:
                return _CLOSED_MESSAGE
            if self._closing:
                await self.close()
                return _CLOSED_MESSAGE
            try:
                msg = await self._read(timeout)
            except (asyncio.CancelledError, asyncio.TimeoutError):
                self._close_code = WSCloseCode.ABNORMAL_CLOSURE
                raise
            except EOFError:
                self._closed = True
                self._close_code = WSCloseCode.ABNORMAL_CLOSURE
                await self._conn.abort()
                return _CLOSED_MESSAGE
            except WebSocketError as exc:
                self._close_code = exc.code
                await self.close(code=exc.code)
                return WSMessage(WSMsgType.ERROR, exc, None)
            if msg.type is WSMsgType.CLOSE:
                self._closing = True
                self._close_code = msg.data
                if not self._closed and self._autoclose:
                    await self.close()
            elif msg.type is WSMsgType.CLOSING:
                self._closing = True
            elif msg.type is WSMsgType.PING and self._autoping:
                await self.pong(msg.data)
                continue
            elif msg.type is WSMsgType.PONG and self._autoping:
                continue
            return msg

    async def _read(self, timeout: float | None) -> WSMessage:
        self._waiting = True
        try:
            if timeout:
                return await asyncio.wait_for(self._conn.get(), timeout)
            return await self._conn.get()
        finally:
            self._waiting = False
            if self._close_wait is not None and not self._close_wait.done():
                self._close_wait.set_result(None)

    async def receive_str(self, *, timeout: float | None = None) -> str:
        """The next message, which must be TEXT (else ``WSMessageTypeError``)."""
        msg = await self.receive(timeout)
        if msg.type is not WSMsgType.TEXT:
            raise WSMessageTypeError(f"Received message {msg.type}:{msg.data!r} is not TEXT")
        return str(msg.data)

    async def receive_bytes(self, *, timeout: float | None = None) -> bytes:
        """The next message, which must be BINARY (else ``WSMessageTypeError``)."""
        msg = await self.receive(timeout)
        if msg.type is not WSMsgType.BINARY:
            raise WSMessageTypeError(f"Received message {msg.type}:{msg.data!r} is not BINARY")
        return bytes(msg.data)

    async def receive_json(
        self, *, loads: Callable[[str], Any] = json.loads, timeout: float | None = None
    ) -> Any:
        """The next TEXT message decoded with ``loads``."""
        return loads(await self.receive_str(timeout=timeout))

    def __aiter__(self) -> ClientWebSocketResponse:
        return self

    async def __anext__(self) -> WSMessage:
        msg = await self.receive()
        if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED):
            raise StopAsyncIteration
        return msg

    async def __aenter__(self) -> ClientWebSocketResponse:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


class WSConnectContext:
    """Awaitable and async-context-manager result of ``ws_connect``.

    Nothing is sent until it is awaited or entered; leaving the ``async
    with`` block closes the websocket.
    """

    def __init__(self, connect: Callable[[], Awaitable[ClientWebSocketResponse]]) -> None:
        self._connect = connect
        self._ws: ClientWebSocketResponse | None = None

    def __await__(self) -> Generator[Any, None, ClientWebSocketResponse]:
        return self._connect().__await__()

    async def __aenter__(self) -> ClientWebSocketResponse:
        self._ws = await self._connect()
        return self._ws

    async def __aexit__(self, *exc: object) -> None:
        if self._ws is not None:
            await self._ws.close()


# -- the opening handshake ------------------------------------------------------


def _request_head(
    url: URL, key: str, protocols: Iterable[str], compress: int, origin: str | None, headers: Any
) -> bytes:
    fields: CIMultiDict[str] = CIMultiDict(headers or {})
    default_port = 443 if url.scheme in ("https", "wss") else 80
    host = url.raw_host or ""
    host = f"[{host}]" if ":" in host else host
    fields.setdefault("Host", host if url.port in (None, default_port) else f"{host}:{url.port}")
    fields["Upgrade"] = "websocket"
    fields["Connection"] = "Upgrade"
    fields["Sec-WebSocket-Key"] = key
    fields["Sec-WebSocket-Version"] = "13"
    protocols = list(protocols)
    if protocols:
        fields["Sec-WebSocket-Protocol"] = ",".join(protocols)
    if compress:
        offer = "permessage-deflate; client_max_window_bits"
        if compress < 15:
            offer += f"; server_max_window_bits={compress}"
        fields["Sec-WebSocket-Extensions"] = offer
    if origin is not None:
        fields["Origin"] = origin
    lines = [f"GET {url.raw_path_qs} HTTP/1.1", *(f"{k}: {v}" for k, v in fields.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")


def _parse_head(head: bytes) -> tuple[int, CIMultiDictProxy[str]]:
    """Status and headers of an HTTP answer head; status 0 when it is not HTTP."""
    lines = head.decode("latin-1").split("\r\n")
    version, _, rest = lines[0].partition(" ")
    code = rest[:3]
    status = int(code) if version.startswith("HTTP/1.") and code.isdigit() else 0
    fields: CIMultiDict[str] = CIMultiDict()
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep and name and name == name.strip():
            fields.add(name, value.strip())
    return status, CIMultiDictProxy(fields)


def _window_bits(value: str | None) -> int:
    if value is None or not value.isdigit() or not 8 <= int(value) <= 15:
        raise ValueError(f"invalid window bits {value!r}")
    return int(value)


def _accept_extensions(value: str, offered: bool) -> DeflateParams | None:
    """The deflate parameters a server answer sets; ``ValueError`` if invalid.

    RFC 7692 section 7.1: the client fails the connection on an extension
    it did not offer, an unknown or repeated parameter, or a bad value.
    """
    offers = parse_extensions(value)
    if not offers:
        return None
    if not offered or len(offers) != 1 or offers[0][0] != "permessage-deflate":
        raise ValueError(f"unexpected extension {value!r}")
    fields: dict[str, Any] = {}
    for key, val in offers[0][1]:
        if key in fields:
            raise ValueError(f"repeated parameter {key}")
        if key in ("server_no_context_takeover", "client_no_context_takeover"):
            if val is not None:
                raise ValueError(f"{key} takes no value")
            fields[key] = True
        elif key in ("server_max_window_bits", "client_max_window_bits"):
            fields[key] = _window_bits(val)
        else:
            raise ValueError(f"unknown parameter {key}")
    if fields.get("client_max_window_bits") == 8:
        raise ValueError("zlib cannot compress with an 8-bit window")
    return DeflateParams(**fields)


def _check_answer(
    status: int,
    headers: CIMultiDictProxy[str],
    key: str,
    protocols: list[str],
    compress: int,
) -> tuple[str | None, DeflateParams | None]:
    """Validate a handshake answer; return (subprotocol, deflate params).

    Raises ``ValueError`` with the reason when the answer is not a valid
    acceptance of this request.
    """
    if status != 101:
        raise ValueError("Invalid response status")
    if headers.get("Upgrade", "").lower() != "websocket":
        raise ValueError("Invalid upgrade header")
    if "upgrade" not in (t.strip() for t in headers.get("Connection", "").lower().split(",")):
        raise ValueError("Invalid connection header")
    expected = base64.b64encode(hashlib.sha1(key.encode() + _GUID).digest()).decode()
    if headers.get("Sec-WebSocket-Accept", "") != expected:
        raise ValueError("Invalid challenge response")
    protocol = headers.get("Sec-WebSocket-Protocol")
    if protocol is not None and protocol not in protocols:
        raise ValueError(f"Server selected a subprotocol not offered: {protocol!r}")
    try:
        params = _accept_extensions(headers.get("Sec-WebSocket-Extensions", ""), bool(compress))
    except ValueError as exc:
        raise ValueError(f"Invalid deflate extension: {exc}") from None
    return protocol, params


async def _open(url: URL, ssl: Any, timeout: float) -> _Connection:
    loop = asyncio.get_running_loop()
    secure = url.scheme in ("https", "wss")
    if secure and ssl in (None, True):
        ssl = ssl_module.create_default_context()
    elif not secure:
        ssl = None
    if not url.raw_host:
        raise ValueError(f"URL has no host: {url}")
    port = url.port or (443 if secure else 80)
    _, conn = await asyncio.wait_for(
        loop.create_connection(lambda: _Connection(loop), url.raw_host, port, ssl=ssl), timeout
    )
    return conn


async def ws_connect(
    url: str | URL,
    *,
    protocols: Iterable[str] = (),
    headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
    compress: int = 0,
    autoping: bool = True,
    autoclose: bool = True,
    max_msg_size: int = 4 * 1024 * 1024,
    timeout: Any = 10.0,
    receive_timeout: float | None = None,
    origin: str | None = None,
    ssl: Any = None,
) -> ClientWebSocketResponse:
    """Open a WebSocket to ``url`` (``ws``/``wss``, or ``http``/``https``).

    ``compress`` offers permessage-deflate: ``True`` or 15 for the default
    window, 9-14 to also ask for a smaller server window; 0 offers nothing.
    ``timeout`` bounds connecting, the handshake and the closing handshake
    (an object with ``ws_close``/``ws_receive``, like aiohttp's
    ``ClientWSTimeout``, is accepted too). Raises
    :class:`WSServerHandshakeError` when the server refuses or answers
    wrongly, with ``status`` set to the answer's HTTP status.
    """
    url = URL(url)
    compress = 15 if compress is True else int(compress)
    if compress and not 9 <= compress <= 15:
        raise ValueError("compress must be 0 or window bits between 9 and 15")
    if hasattr(timeout, "ws_close"):
        receive_timeout = receive_timeout or timeout.ws_receive
        timeout = timeout.ws_close
    timeout = 10.0 if timeout is None else float(timeout)
    protocols = list(protocols)
    key = base64.b64encode(os.urandom(16)).decode()
    conn = await _open(url, ssl, timeout)
    try:
        assert conn.transport is not None
        conn.transport.write(_request_head(url, key, protocols, compress, origin, headers))
        status, answer = _parse_head(await asyncio.wait_for(conn.head, timeout))
        try:
            protocol, params = _check_answer(status, answer, key, protocols, compress)
        except ValueError as exc:
            raise WSServerHandshakeError(str(exc), status=status, headers=answer, url=url) from None
    except BaseException:
        await conn.abort()
        raise
    conn.start(FrameReader(max_msg_size, params, is_server=False))
    return ClientWebSocketResponse(
        conn,
        protocol=protocol,
        compress=params,
        autoping=autoping,
        autoclose=autoclose,
        timeout=timeout,
        receive_timeout=receive_timeout,
    )
