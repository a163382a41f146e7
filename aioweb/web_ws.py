"""Server-side WebSockets: ``WebSocketResponse`` on the sans-IO codec of ``_websocket``.

Theory of operation
-------------------
``prepare()`` checks the opening handshake (RFC 6455 section 4.2), sends the
101 answer through the ordinary ``StreamResponse`` path (so
``on_response_prepare`` runs) and takes the connection over from the HTTP
protocol with ``take_upgrade``: from then on every read goes straight to
``_feed``, which runs the bytes through a ``FrameReader`` on the spot. There
is no task per connection.

Reading. ``_feed`` answers pings at once (autoping), completes a close
handshake this side started, and queues every other message in a deque; a
single future wakes the one task allowed to ``receive()``. While more than
``READ_HIGH_WATER`` bytes of messages wait unread, the socket stops being
read (resuming at half), so a fast sender costs at most that plus one read
plus ``max_msg_size``. A protocol violation queues an ERROR message and
fails the connection (RFC 6455 section 7.1.7: a close frame with the error's
code, then a half-close that discards what follows) at once, or, when
messages that arrived before it still wait, once ``receive()`` reaches it, so
the handler can still answer them.

Writing. Every send builds its whole frame and writes it synchronously, so
frames from several tasks never interleave and a send that is not awaited
(the seed's ``ws.send_str(...)``) still leaves, in order. Sends return a small
awaitable (not a coroutine: nothing warns when it is dropped); awaiting it
waits while the transport has paused writing.

Closing. ``close()`` sends a close frame, wakes a task blocked in
``receive()`` with CLOSING, waits up to ``timeout`` for the peer's close
frame, then closes the transport. A close frame from the peer is answered
when ``receive()`` returns it (autoclose). Server shutdown closes every open
socket with 1001. The heartbeat uses one timer that re-arms itself.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import Awaitable, Callable, Generator, Iterable
from typing import TYPE_CHECKING, Any, NamedTuple, Optional, Union

from ._json import fast_dumps
from ._websocket import (
    MSG_BINARY,
    MSG_CLOSE,
    MSG_ENDED,
    MSG_PING,
    MSG_PONG,
    MSG_TEXT,
    DeflateParams,
    FrameReader,
    FrameWriter,
    WebSocketError,
    WSCloseCode,
    WSMessage,
    WSMessageTypeError,
    WSMsgType,
    build_close,
    build_frame,
)
from ._ws_handshake import close_frame, handshake
from .web_exceptions import HTTPException
from .web_response import StreamResponse

if TYPE_CHECKING:
    from ._http_writer import StreamWriter
    from ._protocol import RequestHandler
    from .web_request import BaseRequest

__all__ = (
    "MsgType",
    "WSCloseCode",
    "WSMessage",
    "WSMessageTypeError",
    "WSMsgType",
    "WebSocketReady",
    "WebSocketResponse",
)

MsgType = WSMsgType  # the seed's name; it also has the lower-case members (``MsgType.text``)

# Unread messages past this many bytes pause reading; each counts 64 bytes
# besides its data, so a flood of empty messages is bounded too.
READ_HIGH_WATER = 64 * 1024
_MESSAGE_COST = 64
_CLOSED_READS = 5  # receive() after the end: CLOSED, then RuntimeError (aiohttp's limit)
_NO_STATUS = 1005  # RFC 6455 7.1.5: the peer's close frame had no code
_CLOSED_MESSAGE = WSMessage(WSMsgType.CLOSED, None, None)
_CLOSING_MESSAGE = WSMessage(WSMsgType.CLOSING, None, None)


class WebSocketReady(NamedTuple):
    """What ``can_prepare()`` found: true iff the handshake would succeed."""

    ok: bool
    protocol: Optional[str]

    def __bool__(self) -> bool:
        return self.ok


def _cost(msg: WSMessage) -> int:
    data = msg.data
    return _MESSAGE_COST + (len(data) if isinstance(data, (str, bytes)) else 0)


def _wake(waiter: Optional[asyncio.Future[None]]) -> None:
    if waiter is not None and not waiter.done():
        waiter.set_result(None)


def _expire(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_exception(asyncio.TimeoutError())


async def _wait(
    loop: asyncio.AbstractEventLoop, waiter: asyncio.Future[None], timeout: Optional[float]
) -> None:
    """Await ``waiter``; ``asyncio.TimeoutError`` after ``timeout`` s (one timer handle)."""
    handle = loop.call_later(timeout, _expire, waiter) if timeout else None
    try:
        await waiter
    finally:
        if handle is not None:
            handle.cancel()


# A generator that is already exhausted: awaiting it returns None at once,
# and it holds no state, so every await may share it.
_NOTHING_TO_AWAIT: Generator[Any, None, None] = (_ for _ in ())
next(_NOTHING_TO_AWAIT, None)


class _Drain:
    """What a send returns: the frame is already written; awaiting waits for drain.

    Not a coroutine, so a send that is never awaited is not a mistake.
    """

    __slots__ = ("_protocol",)

    def __init__(self, protocol: RequestHandler) -> None:
        self._protocol = protocol

    def __await__(self) -> Generator[Any, None, None]:
        protocol = self._protocol
        if protocol._writing_paused or protocol.transport is None:
            return protocol.drain().__await__()
        # Nothing to wait for (the usual case): no coroutine, ~1,500
        # instructions less per send.
        return _NOTHING_TO_AWAIT


# -- the response -----------------------------------------------------------------


class WebSocketResponse(StreamResponse):
    """A server WebSocket (RFC 6455, permessage-deflate from RFC 7692).

    Args:
        timeout: seconds ``close()`` waits for the peer's close frame.
        receive_timeout: default timeout of ``receive()`` (None: none).
        autoclose: answer the peer's close frame when ``receive()`` returns it.
        autoping: answer PING with PONG as it arrives; neither is returned.
        heartbeat: after this many seconds without input, send a PING; no
            input within half of it closes the connection (code 1006).
        protocols: subprotocols in the server's order of preference.
        compress: accept a permessage-deflate offer.
        max_msg_size: limit on a reassembled, inflated message (0: none);
            a larger one fails the connection with 1009.

    Only one task may ``receive()`` at a time; any task may send.
    """

    _length_check = False

    def __init__(
        self,
        *,
        timeout: Optional[float] = 10.0,
        receive_timeout: Optional[float] = None,
        autoclose: bool = True,
        autoping: bool = True,
        heartbeat: Optional[float] = None,
        protocols: Iterable[str] = (),
        compress: bool = True,
        max_msg_size: int = 4 * 1024 * 1024,
    ) -> None:
        super().__init__(status=101)
        if isinstance(protocols, str):
            raise TypeError("protocols must be an iterable of names, not a str")
        if heartbeat is not None and heartbeat <= 0:
            raise ValueError("heartbeat must be a positive number of seconds")
        if max_msg_size < 0:
            raise ValueError("max_msg_size cannot be negative")
        self._protocols = tuple(protocols)
        self._timeout = timeout
        self._receive_timeout = receive_timeout
        self._autoclose = autoclose
        self._autoping = autoping
        self._heartbeat = heartbeat
        self._compress = compress
        self._max_msg_size = max_msg_size
        self._ws_protocol: Optional[str] = None
        self._deflate: Optional[DeflateParams] = None
        # Set by prepare().
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._proto: Optional[RequestHandler] = None
        self._reader: Optional[FrameReader] = None
        self._frames: Optional[FrameWriter] = None
        self._drain: Optional[_Drain] = None
        # Reading.
        self._queue: deque[WSMessage] = deque()
        self._queued = 0
        self._read_paused = False
        self._read_waiter: Optional[asyncio.Future[None]] = None
        self._waiting = False
        self._closed_reads = 0
        # Closing: see the module docstring.
        self._closed = False  # this side is done (close() ran, failure, or loss)
        self._closing = False  # receive() returned the peer's close frame
        self._close_sent = False
        self._peer_close: Optional[WSMessage] = None
        self._input_done = False
        self._transport_done = False
        self._close_waiter: Optional[asyncio.Future[None]] = None
        self._close_code: Optional[int] = None
        self._exception: Optional[BaseException] = None
        self._pending_error: Optional[WebSocketError] = None
        self._sent = 0
        # Heartbeat.
        self._hb_timer: Optional[asyncio.TimerHandle] = None
        self._last_seen = 0.0
        self._ping_at: Optional[float] = None

    # -- handshake --

    def can_prepare(self, request: BaseRequest) -> WebSocketReady:
        """Whether ``prepare(request)`` would succeed, and the subprotocol it would pick."""
        if self._reader is not None:
            raise RuntimeError("Already started")
        try:
            answer = handshake(request, self._protocols, self._compress)
        except HTTPException:
            return WebSocketReady(False, None)
        return WebSocketReady(True, answer.protocol)

    async def prepare(self, request: BaseRequest) -> Optional[StreamWriter]:
        """Answer the handshake with 101 and take the connection over.

        Raises the ``HTTPException`` to answer when the handshake is invalid
        (405 not GET, 426 with ``Sec-WebSocket-Version: 13`` for another
        version, 400 otherwise); the connection is then not switched.
        Idempotent for the same request.
        """
        if self._reader is not None or self._eof_sent:
            return await super().prepare(request)
        answer = handshake(request, self._protocols, self._compress)
        if request._protocol.transport is None:
            raise ConnectionResetError("Connection lost")
        for name, value in answer.headers:
            self._headers[name] = value
        self._ws_protocol = answer.protocol
        self._deflate = answer.deflate
        writer = await self._start(request)
        self._take_over(request._protocol)
        return writer

    def _build_head(self, request: BaseRequest, writer: StreamWriter) -> bytes:
        # A head built for a closing connection would say "Connection: close".
        self._keep_alive = True
        try:
            return super()._build_head(request, writer)
        finally:
            self._keep_alive = False  # the connection is never reused for HTTP

    def _take_over(self, proto: RequestHandler) -> None:
        self._loop = asyncio.get_running_loop()
        self._proto = proto
        self._reader = FrameReader(self._max_msg_size, self._deflate, is_server=True)
        self._frames = FrameWriter(self._deflate, is_server=True)
        self._drain = _Drain(proto)
        if self._heartbeat is not None:
            self._last_seen = self._loop.time()
            self._hb_timer = self._loop.call_at(
                self._last_seen + self._heartbeat, self._on_heartbeat
            )
        tail = proto.take_upgrade(self._feed, self._input_ended, self._server_shutdown)
        if tail:
            self._feed(tail)

    async def _finish(self, request: BaseRequest) -> None:
        """After the handler: close the socket (preparing it first if the handler did not)."""
        if self._reader is None and not self._eof_sent:
            try:
                await self.prepare(request)
            except HTTPException as exc:
                self.force_close()
                await exc._finish(request)
                return
        elif self._req is not request and not self._eof_sent:
            raise RuntimeError("Response has already been prepared for another request")
        await self.write_eof()

    async def write_eof(self, data: bytes = b"") -> None:
        """Close the WebSocket (``close()``); later calls do nothing."""
        if data:
            raise RuntimeError("Cannot write data to a websocket")
        if self._eof_sent:
            return
        if self._reader is None:
            raise RuntimeError("Response has not been started")
        try:
            await self.close()
        finally:
            self._eof_sent = True
            head = self._writer.output_size if self._writer is not None else 0
            self._body_length = head + self._sent

    async def write(self, data: Union[bytes, bytearray, memoryview]) -> None:
        """Not for WebSockets: raises ``RuntimeError`` (use the send methods)."""
        raise RuntimeError("Cannot call .write() for websocket")

    # -- state --

    @property
    def closed(self) -> bool:
        """True once this side has closed (or the connection failed or was lost)."""
        return self._closed

    @property
    def close_code(self) -> Optional[int]:
        """The close code: what ``close()`` was asked for, the peer's, or 1006 when lost.

        1005 means the peer's close frame carried no code.
        """
        return self._close_code

    @property
    def ws_protocol(self) -> Optional[str]:
        """The negotiated subprotocol, or None."""
        return self._ws_protocol

    @property
    def compress(self) -> Union[bool, int]:
        """Before ``prepare()`` the argument; after it the server's window bits, or 0."""
        if self._reader is None:
            return self._compress
        return 0 if self._deflate is None else self._deflate.server_max_window_bits

    def exception(self) -> Optional[BaseException]:
        """Why the connection failed (protocol error, missing pong, loss), or None."""
        return self._exception

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        """The transport's extra info ``name`` (``peername``, ``sslcontext``...)."""
        transport = None if self._proto is None else self._proto.transport
        return default if transport is None else transport.get_extra_info(name, default)

    # -- input (called by the protocol) --

    def _feed(self, data: bytes) -> None:
        assert self._reader is not None and self._loop is not None
        if self._heartbeat is not None:
            self._last_seen = self._loop.time()
        if self._pending_error is not None:
            return  # the reader is poisoned; the failure is on its way
        messages, error = self._reader.feed_until_error(data)
        for msg in messages:
            tp = msg.type
            if (tp is MSG_BINARY or tp is MSG_TEXT) and not self._close_sent:
                self._push(msg)  # what _dispatch() does with a data message, one call less
            else:
                self._dispatch(msg)
        if error is not None:
            self._violation(error)

    def _dispatch(self, msg: WSMessage) -> None:
        tp = msg.type
        if tp is MSG_CLOSE:
            self._peer_close = msg
            if self._close_sent:  # the handshake this side started is complete
                self._end_transport()
                _wake(self._close_waiter)
                return
        elif self._close_sent:
            return  # after our close frame only the answer matters
        elif self._autoping and tp is MSG_PING:
            assert self._frames is not None
            self._write_control(self._frames.pong(msg.data))
            return
        elif self._autoping and tp is MSG_PONG:
            return
        self._push(msg)

    def _push(self, msg: WSMessage) -> None:
        self._queue.append(msg)
        self._queued += _cost(msg)
        if self._queued > READ_HIGH_WATER and not self._read_paused and not self._closed:
            assert self._proto is not None
            self._read_paused = True
            self._proto.pause_reading()
        waiter = self._read_waiter  # _wake(), inline: once per message
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _resume_reading(self) -> None:
        if self._read_paused:
            assert self._proto is not None
            self._read_paused = False
            self._proto.resume_reading()

    def _violation(self, exc: WebSocketError) -> None:
        """Fail the connection now, or once the reader has taken the messages before it.

        Deferring lets a handler still answer messages that arrived in the
        same read as the violation; the queue is never empty meanwhile.
        """
        self._exception = exc
        self._push(WSMessage(WSMsgType.ERROR, exc, None))
        if len(self._queue) > 1 and not self._close_sent:
            self._pending_error = exc
        else:
            self._fail(exc)

    def _fail(self, exc: WebSocketError) -> None:
        """Close with the violation's code and discard what follows (RFC 6455 7.1.7)."""
        assert self._proto is not None
        self._pending_error = None
        self._set_closed(exc.code)
        reason = exc.message.encode("utf-8")[:120].decode("utf-8", "ignore")
        self._send_close(build_close(exc.code, reason))
        if not self._transport_done:
            self._transport_done = True
            # Half-close and drain: closing with unread input would send an
            # RST that can destroy the close frame before the peer reads it.
            self._proto._linger()
        _wake(self._close_waiter)

    def _input_ended(self, exc: Optional[BaseException]) -> None:
        """EOF or connection loss; without a close frame first, that is 1006."""
        self._input_done = True
        if self._peer_close is None and not self._transport_done:
            if self._exception is None:
                self._exception = exc or ConnectionResetError(
                    "WebSocket connection ended without a close frame"
                )
            self._set_closed(WSCloseCode.ABNORMAL_CLOSURE)
            self._end_transport()
        _wake(self._close_waiter)
        _wake(self._read_waiter)

    def _server_shutdown(self) -> None:
        """The server is stopping: close with 1001 without waiting in a task."""
        if self._closed:
            return
        if self._begin_close(WSCloseCode.GOING_AWAY, build_close(1001, "Server shutdown")):
            assert self._loop is not None
            if self._timeout is not None:
                self._loop.call_later(self._timeout, self._end_transport)

    # -- output --

    def _end_transport(self, abort: bool = False) -> None:
        if self._transport_done or self._proto is None:
            return
        self._transport_done = True
        if abort:
            self._proto.force_close()
        else:
            self._proto.close()

    def _write_control(self, frame: bytes) -> None:
        if self._close_sent or self._proto is None:
            return
        try:
            self._proto.write(frame)
        except ConnectionError:
            return
        self._sent += len(frame)

    def _send_close(self, frame: bytes) -> bool:
        """Write this side's close frame once; False if the transport is gone."""
        if self._close_sent:
            return True
        self._close_sent = True
        assert self._proto is not None
        try:
            self._proto.write(frame)
        except ConnectionError:
            return False
        self._sent += len(frame)
        return True

    def _writer_or_raise(self) -> FrameWriter:
        frames = self._frames
        if frames is None:
            raise RuntimeError("Call .prepare() first")
        if self._close_sent or self._transport_done:
            raise ConnectionResetError("Cannot write to closing transport")
        return frames

    def _send(self, frame: bytes) -> Awaitable[None]:
        assert self._proto is not None and self._drain is not None
        self._proto.write(frame)  # ConnectionResetError once the transport is closing
        self._sent += len(frame)
        return self._drain

    def send_frame(
        self, message: bytes, opcode: int, compress: Optional[int] = None
    ) -> Awaitable[None]:
        """Send one final frame with any opcode; see ``send_str`` for the rest."""
        frames = self._writer_or_raise()
        flag = compress is None or bool(compress)
        return self._send(frames.frame(opcode, bytes(message), compress=flag))

    def send_str(self, data: str, compress: Optional[int] = None) -> Awaitable[None]:
        """Send a TEXT message.

        The frame is written before this returns, so the result need not be
        awaited; awaiting it waits while the transport is paused. With
        permessage-deflate the message is compressed unless ``compress`` is
        0/False. Raises ``TypeError`` for a non-str, ``RuntimeError`` before
        ``prepare()`` and ``ConnectionResetError`` once closing.
        """
        frames = self._writer_or_raise()
        if not isinstance(data, str):
            raise TypeError(f"data argument must be str ({type(data).__name__!r})")
        if frames.plain:
            return self._send(build_frame(MSG_TEXT, data.encode("utf-8")))
        flag = compress is None or bool(compress)
        return self._send(frames.frame(MSG_TEXT, data.encode("utf-8"), compress=flag))

    def send_bytes(
        self, data: Union[bytes, bytearray, memoryview], compress: Optional[int] = None
    ) -> Awaitable[None]:
        """Send a BINARY message (as ``send_str``)."""
        frames = self._writer_or_raise()
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"data argument must be byte-ish ({type(data).__name__!r})")
        if frames.plain:
            return self._send(build_frame(MSG_BINARY, bytes(data)))
        flag = compress is None or bool(compress)
        return self._send(frames.frame(MSG_BINARY, bytes(data), compress=flag))

    def send_json(
        self,
        data: Any,
        compress: Optional[int] = None,
        *,
        dumps: Callable[[Any], str] = json.dumps,
    ) -> Awaitable[None]:
        """Send ``dumps(data)`` as a TEXT message (as ``send_str``)."""
        return self.send_str(fast_dumps(dumps)(data), compress=compress)

    def ping(self, message: Union[bytes, str] = b"") -> Awaitable[None]:
        """Send a PING (payload at most 125 bytes, else ``ValueError``)."""
        frames = self._writer_or_raise()
        payload = message.encode("utf-8") if isinstance(message, str) else bytes(message)
        return self._send(frames.ping(payload))

    def pong(self, message: Union[bytes, str] = b"") -> Awaitable[None]:
        """Send an unsolicited PONG (payload at most 125 bytes)."""
        frames = self._writer_or_raise()
        payload = message.encode("utf-8") if isinstance(message, str) else bytes(message)
        return self._send(frames.pong(payload))

    # -- closing --

    def _set_closed(self, code: int) -> None:
        self._closed = True
        self._close_code = code
        timer, self._hb_timer = self._hb_timer, None
        if timer is not None:
            timer.cancel()

    def _begin_close(self, code: int, frame: bytes) -> bool:
        """Close this side; True while the peer's close frame is still due."""
        if self._pending_error is not None:
            self._fail(self._pending_error)
            self._queue.clear()
            return False
        self._set_closed(code)
        self._queue.clear()
        self._queued = 0
        self._resume_reading()  # the peer's close frame must still be read
        if self._waiting:
            self._push(_CLOSING_MESSAGE)
        if not self._send_close(frame):
            if self._exception is None:
                self._exception = ConnectionResetError("Connection lost")
            self._close_code = WSCloseCode.ABNORMAL_CLOSURE
            self._end_transport()
            return False
        if self._peer_close is not None or self._input_done or self._transport_done:
            self._end_transport()
            return False
        return True

    async def close(self, *, code: int = WSCloseCode.OK, message: Union[bytes, str] = b"") -> bool:
        """Send a close frame, wait up to ``timeout`` for the peer's, close the transport.

        Returns True the first time, False when already closed. A task
        blocked in ``receive()`` gets CLOSING. ``close_code`` becomes
        ``code``, or 1006 if the peer does not answer (``exception()`` then
        holds the ``asyncio.TimeoutError``). A ``code`` that may not be sent
        on the wire (the seed's 999) is sent as 1001 GOING_AWAY. Raises
        ``TypeError``/``ValueError`` for an invalid code type or message
        (not UTF-8, over 123 bytes), ``RuntimeError`` before ``prepare()``.
        """
        if self._reader is None or self._loop is None:
            raise RuntimeError("Call .prepare() first")
        frame = close_frame(code, message)
        if self._closed:
            return False
        if not self._begin_close(code, frame):
            return True
        waiter = self._close_waiter = self._loop.create_future()
        try:
            await _wait(self._loop, waiter, self._timeout)
        except asyncio.TimeoutError as exc:
            self._exception = exc
            self._close_code = WSCloseCode.ABNORMAL_CLOSURE
            self._end_transport(abort=True)
            return True
        except asyncio.CancelledError:
            self._close_code = WSCloseCode.ABNORMAL_CLOSURE
            self._end_transport(abort=True)
            raise
        finally:
            self._close_waiter = None
        self._end_transport()
        return True

    # -- heartbeat --

    def _on_heartbeat(self) -> None:
        self._hb_timer = None
        if self._closed or self._heartbeat is None or self._loop is None:
            return
        loop, period = self._loop, self._heartbeat
        now = loop.time()
        ping_at = self._ping_at
        if ping_at is not None and self._last_seen < ping_at:
            self._heartbeat_failed()  # the timer was armed for the pong deadline
            return
        self._ping_at = None
        due = self._last_seen + period
        if now < due:  # input arrived since: re-arm instead of pinging
            self._hb_timer = loop.call_at(due, self._on_heartbeat)
            return
        assert self._frames is not None
        self._write_control(self._frames.ping())
        self._ping_at = now
        self._hb_timer = loop.call_at(now + period / 2, self._on_heartbeat)

    def _heartbeat_failed(self) -> None:
        assert self._heartbeat is not None
        exc = asyncio.TimeoutError(f"No PONG received after {self._heartbeat / 2} seconds")
        self._exception = exc
        self._set_closed(WSCloseCode.ABNORMAL_CLOSURE)
        self._push(WSMessage(WSMsgType.ERROR, exc, None))
        self._end_transport(abort=True)

    # -- receiving --

    def _take(self) -> Optional[WSMessage]:
        queue = self._queue
        if queue:
            msg = queue.popleft()
            self._queued -= _cost(msg)
            if self._pending_error is not None and msg.data is self._pending_error:
                self._fail(self._pending_error)
            if self._read_paused and self._queued <= READ_HIGH_WATER // 2:
                self._resume_reading()
            return msg
        if self._closed:
            self._closed_reads += 1
            if self._closed_reads >= _CLOSED_READS:
                raise RuntimeError("WebSocket connection is closed.")
            return _CLOSED_MESSAGE
        if self._closing:
            return _CLOSING_MESSAGE
        return None

    async def receive(self, timeout: Optional[float] = None) -> WSMessage:
        """The next message.

        TEXT/BINARY as sent; PING/PONG only with ``autoping=False``; the
        peer's CLOSE (``data`` its code, ``extra`` its reason; answered with
        ``autoclose``); ERROR (``data`` the exception) when the connection
        failed; CLOSING while closing; CLOSED once closed (a few times, then
        ``RuntimeError``). Raises ``RuntimeError`` if another task is
        receiving and ``asyncio.TimeoutError`` after ``timeout`` (default
        ``receive_timeout``) seconds, leaving the socket usable.
        """
        if self._loop is None:
            raise RuntimeError("Call .prepare() first")
        if self._waiting:
            raise RuntimeError("Concurrent call to receive() is not allowed")
        while True:
            if self._queue or self._closed or self._closing:  # else _take() has nothing
                msg = self._take()
                if msg is not None:
                    break
            self._waiting = True
            waiter = self._read_waiter = self._loop.create_future()
            try:
                limit = timeout or self._receive_timeout
                if limit:
                    await _wait(self._loop, waiter, limit)
                else:
                    await waiter  # no timer, so no helper coroutine
            finally:
                self._waiting = False
                self._read_waiter = None
        if msg.type is MSG_CLOSE:
            self._peer_closed(msg)
        return msg

    def _peer_closed(self, msg: WSMessage) -> None:
        self._closing = True
        if self._closed:
            return
        code: int = msg.data or _NO_STATUS
        self._close_code = code
        if self._autoclose:
            self._set_closed(code)
            self._send_close(build_close(msg.data or None))
            self._end_transport()

    async def receive_str(self, *, timeout: Optional[float] = None) -> str:
        """The next message, which must be TEXT (else ``WSMessageTypeError``)."""
        msg = await self.receive(timeout)
        if msg.type is not MSG_TEXT:
            raise WSMessageTypeError(f"Received message {msg.type}:{msg.data!r} is not TEXT")
        return str(msg.data)

    async def receive_bytes(self, *, timeout: Optional[float] = None) -> bytes:
        """The next message, which must be BINARY (else ``WSMessageTypeError``)."""
        msg = await self.receive(timeout)
        if msg.type is not MSG_BINARY:
            raise WSMessageTypeError(f"Received message {msg.type}:{msg.data!r} is not BINARY")
        return bytes(msg.data)

    async def receive_json(
        self, *, loads: Callable[[str], Any] = json.loads, timeout: Optional[float] = None
    ) -> Any:
        """``loads()`` of the next message, which must be TEXT."""
        return loads(await self.receive_str(timeout=timeout))

    def __aiter__(self) -> WebSocketResponse:
        return self

    async def __anext__(self) -> WSMessage:
        msg = await self.receive()
        if msg.type in MSG_ENDED:
            raise StopAsyncIteration
        return msg
