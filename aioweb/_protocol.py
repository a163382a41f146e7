"""One HTTP/1.x connection: parsing, request queue, pipelining, timeouts.

Theory of operation. ``data_received`` feeds the parser; every complete head
is queued with its body stream. One task per burst of requests drains the
queue in order, handing each message to the server's ``handle`` coroutine,
so pipelined responses leave in request order. The task ends when the queue
is empty; the next head starts a new one. The protocol knows bytes, messages
and the transport, nothing of requests, routing or applications.

Back-pressure: reading pauses while more than ``MAX_PIPELINED`` heads are
queued (resuming at half) and while a body stream holds more than its
high-water mark (see ``streams``); ``drain()`` waits while the transport has
paused writing.

Timeouts: each connection is filed under its next deadline in its server's
``Deadlines`` (one loop timer for every connection, see ``_deadlines``);
moving a deadline later costs an attribute store, and the connection files
itself again when the earlier filing fires. A connection that
sends nothing is closed ``head_timeout`` seconds after it opens; an idle
kept-alive one after ``keepalive_timeout``; a request head must be complete
within ``head_timeout`` of its first byte (slowloris).

Closing. When the client may still be sending (a body left unread, a parse
error, an upgrade answered without switching, reading paused) the connection
does not simply close: closing a socket with unread bytes makes the kernel
send RST, which can destroy the response before the client reads it. It
half-closes instead (FIN after the response), discards whatever arrives, and
closes when the client does, or after ``LINGER_TIMEOUT`` / ``LINGER_MAX_BYTES``.

End of input. A client that half-closes after its request still gets the
response, unless ``handler_cancellation`` is on: then EOF counts as the client
going away (TCP cannot tell a half-close from a close until a write fails),
and the running handler is cancelled.
"""

from __future__ import annotations

import asyncio
import math
import os
import socket
import sys
import weakref
from typing import TYPE_CHECKING, Any, Protocol, cast

from ._deadlines import Deadlines
from ._http_parser import RawRequestMessage, RequestParser, UpgradeRequest
from ._http_writer import date_value, reason_phrase
from .http_exceptions import HttpProcessingError
from .streams import EMPTY_PAYLOAD, StreamReader

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ("RequestHandler", "ServerHooks")

MAX_PIPELINED = 32
LINGER_TIMEOUT = 5.0
LINGER_MAX_BYTES = 16 * 1024 * 1024
# Bytes after an upgrade head are kept until a consumer takes them; above
# this, reading pauses until ``take_upgrade``.
UPGRADE_TAIL_LIMIT = 64 * 1024

# The compiled request task and its per-pass starter (aioweb/_request_task_c.pyx)
# when built, on 3.11+: GET / went from 68,857 to 62,001 instructions per
# request on the real server (3.11, uvloop). AIOWEB_NO_EXTENSIONS=1 selects
# plain Tasks.
PendingStarts: Any = None
if sys.version_info >= (3, 11) and not os.environ.get("AIOWEB_NO_EXTENSIONS"):
    try:
        from ._request_task_c import PendingStarts  # type: ignore[import-not-found,no-redef]
    except ImportError:  # pragma: no cover - built without a compiler
        pass

_IDLE, _HEAD, _LINGER = 1, 2, 3
_NOT_FILED = math.inf


def _set_nodelay(transport: asyncio.BaseTransport) -> None:
    sock = transport.get_extra_info("socket")
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass


class _Starting:
    """Stands for a request task that starts in the next loop pass.

    As a not-yet-started task would: not done, and cancelling it does nothing
    the task's own start does not already handle (``_run`` ends at once on a
    closed connection).
    """

    __slots__ = ()

    def done(self) -> bool:
        return False

    def cancel(self, msg: Any = None) -> bool:
        return False


_STARTING: Any = _Starting()


_pending_starts: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = (
    weakref.WeakKeyDictionary()
)


def _starts_for(loop: asyncio.AbstractEventLoop) -> Any:
    """The loop's ``PendingStarts`` (see _request_task_c), if tasks are compiled."""
    if PendingStarts is None:
        return None
    starts = _pending_starts.get(loop)
    if starts is None:
        try:
            starts = _pending_starts[loop] = PendingStarts()
        except TypeError:  # a loop without weak references
            return None
    return starts


class ServerHooks(Protocol):
    """What a connection needs from the server that owns it."""

    keepalive_timeout: float
    head_timeout: float
    handler_cancellation: bool
    server_header: str
    parser_limits: dict[str, int]
    logger: Any

    def connection_made(self, proto: RequestHandler) -> None: ...

    def deadlines(self, loop: asyncio.AbstractEventLoop) -> Deadlines: ...

    def connection_lost(self, proto: RequestHandler) -> None: ...

    async def handle(
        self, proto: RequestHandler, message: RawRequestMessage, payload: StreamReader
    ) -> bool: ...


_QueueItem = tuple[RawRequestMessage, StreamReader] | HttpProcessingError


class RequestHandler(asyncio.Protocol):
    """asyncio protocol serving HTTP/1.0 and HTTP/1.1 on one connection.

    Not thread-safe; every method runs on the loop that owns the transport.
    """

    __slots__ = (
        "_server",
        "_loop",
        "transport",
        "_parser",
        "_queue",
        "_task",
        "_payload",
        "_read_paused",
        "_closing",
        "_broken",
        "_writing_paused",
        "_drain_waiter",
        "_deadline",
        "_deadline_kind",
        "_timer_at",
        "_deadlines",
        "_upgraded",
        "_upgrade_tail",
        "_upgrade_reader",
        "_upgrade_ended",
        "_upgrade_shutdown",
        "_lingering",
        "_lingered",
        "_close_after",
        "_starts",
    )

    def __init__(self, server: ServerHooks, loop: asyncio.AbstractEventLoop) -> None:
        # server lifetime
        self._server = server
        self._loop = loop
        # connection lifetime
        self.transport: asyncio.Transport | None = None
        self._parser = RequestParser(self, **server.parser_limits)
        # A list, not a deque: an empty deque holds 760 bytes on every idle
        # connection, a list 56. pop(0) stays cheap: 14,000 pipelined heads
        # (a whole 256 KiB read) cost 23 ms of pops against ~0.5 s to answer.
        self._queue: list[_QueueItem] = []
        # or a RequestTask (a Task's API), or _STARTING until it starts
        self._task: asyncio.Task[None] | None = None
        self._read_paused = False
        self._closing = False
        self._broken = False
        self._writing_paused = False
        self._drain_waiter: asyncio.Future[None] | None = None
        self._deadline: float | None = None
        self._deadline_kind = 0
        self._timer_at = _NOT_FILED  # the tick this connection is filed under
        self._deadlines = server.deadlines(loop)
        self._upgraded = False
        self._upgrade_tail = b""
        self._upgrade_reader: Callable[[bytes], None] | None = None
        self._upgrade_ended: Callable[[BaseException | None], None] | None = None
        self._upgrade_shutdown: Callable[[], None] | None = None
        self._lingering = False
        self._lingered = 0
        self._close_after = False
        # request lifetime: the body stream being fed, if any
        self._payload: StreamReader | None = None
        self._starts = _starts_for(loop)

    # -- asyncio.Protocol --

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses: no isinstance.
        self.transport = cast("asyncio.Transport", transport)
        # uvloop's TCP transports turn TCP_NODELAY on themselves (libuv), for
        # every connection; asking uvloop for the socket to set it again made
        # it keep a socket object per connection: 80 of 3,791 bytes per idle
        # connection (bench/idle_memory.py). asyncio's turn it on only when
        # the listening socket's protocol number says TCP, and a socket made
        # with socket.socket() says 0.
        if not type(transport).__module__.startswith("uvloop"):
            _set_nodelay(transport)
        self._server.connection_made(self)
        self._set_deadline(_HEAD, self._server.head_timeout)

    def connection_lost(self, exc: BaseException | None) -> None:
        self._closing = True
        self.transport = None
        self._server.connection_lost(self)
        if self._timer_at != _NOT_FILED:
            self._deadlines.unfile(self, self._timer_at)
            self._timer_at = _NOT_FILED
        if self._payload is not None:
            self._payload.set_exception(ConnectionResetError("Connection lost"))
            self._payload = None
        self._wake_drain(ConnectionResetError("Connection lost"))
        for item in self._queue:
            if not isinstance(item, HttpProcessingError) and item[1] is not EMPTY_PAYLOAD:
                item[1].set_exception(ConnectionResetError("Connection lost"))
        self._queue.clear()
        self._end_upgrade(exc)
        task = self._task
        if task is not None and self._server.handler_cancellation and not task.done():
            task.cancel()

    def data_received(self, data: bytes) -> None:
        if self._lingering:
            self._lingered += len(data)
            if self._lingered > LINGER_MAX_BYTES:
                self.force_close()
            return
        if self._broken or self._closing:
            return
        if self._upgraded:
            if self._upgrade_reader is not None:
                self._upgrade_reader(data)
            else:
                self._keep_upgrade_tail(data)
            return
        try:
            self._parser.feed(data)
        except UpgradeRequest as upgrade:
            self._upgraded = True
            self._keep_upgrade_tail(upgrade.tail)
        except HttpProcessingError as error:
            self._on_parse_error(error)  # queues the error, or fails the body being read
        if self._task is None and self._queue:
            # Start the task that answers the queued requests: here, once the
            # parser has consumed a whole read, never from a parser callback.
            # It starts one loop pass later, never eagerly: answering inside
            # data_received served fewer requests per second (bench/RESULTS.md,
            # seventh and tenth sessions). With the compiled RequestTask (see
            # _request_task_c) and no task factory, the starts of one pass are
            # batched into one callback (PendingStarts). Inline, not a method:
            # the frame cost about 500 instructions per request.
            loop = self._loop
            starts = self._starts
            if starts is not None and loop.get_task_factory() is None:
                self._task = _STARTING
                starts.add(self)
            else:
                self._task = loop.create_task(self._run())
        # Armed only when a head spans reads: a head that arrives whole in one
        # read (the common case) touches no timer at all.
        elif (
            self._parser.in_head
            and self._deadline_kind != _HEAD
            and self._task is None
            and not self._broken
        ):
            self._set_deadline(_HEAD, self._server.head_timeout)

    def _keep_upgrade_tail(self, data: bytes) -> None:
        self._upgrade_tail += data
        if len(self._upgrade_tail) > UPGRADE_TAIL_LIMIT:
            self.pause_reading()

    def eof_received(self) -> bool | None:
        keep_open = self._on_eof()
        # TLS has no half-open state: asyncio closes anyway and warns when
        # asked to keep the transport open.
        if keep_open and self._tls():
            return None
        return keep_open

    def _on_eof(self) -> bool:
        if self._lingering or (self._task is None and not self._queue):
            # Nothing left to answer; close() still flushes buffered output.
            self.close()
            return True
        if self._upgrade_ended is not None:
            # A switched protocol's input ended; its owner writes and closes.
            self._end_upgrade(None)
            return True
        if self._payload is not None:
            self._payload.set_exception(ConnectionResetError("Client closed before the body ended"))
            self._payload = None
        if self._server.handler_cancellation:
            return False  # the transport closes; connection_lost cancels the handler
        self._close_after = True
        return True

    def _tls(self) -> bool:
        transport = self.transport
        return transport is not None and transport.get_extra_info("sslcontext") is not None

    def pause_writing(self) -> None:
        self._writing_paused = True

    def resume_writing(self) -> None:
        self._writing_paused = False
        self._wake_drain(None)

    # -- parser sink --

    def on_head(self, message: RawRequestMessage) -> None:
        payload: StreamReader
        if message.chunked or message.content_length:
            payload = self._payload = StreamReader(self, loop=self._loop)
        else:
            payload = EMPTY_PAYLOAD
        self._deadline = None
        self._deadline_kind = 0
        self._queue.append((message, payload))
        if len(self._queue) > MAX_PIPELINED and not self._read_paused:
            self._read_paused = True
            self.transport.pause_reading()  # type: ignore[union-attr]

    def on_body(self, data: bytes) -> None:
        payload = self._payload
        if payload is not None:
            payload.feed_data(data)

    def on_message_complete(self) -> None:
        payload = self._payload
        if payload is not None:
            self._payload = None
            payload.feed_eof()

    # -- request loop --

    async def _run(self) -> None:
        server = self._server
        queue = self._queue
        try:
            while queue and not self._closing:
                item = queue.pop(0)
                if self._read_paused and len(queue) <= MAX_PIPELINED // 2:
                    self._read_paused = False
                    self.resume_reading()
                if isinstance(item, HttpProcessingError):
                    self.send_error_and_close(item.code, item.message)
                    return
                message, payload = item
                keep_alive = await server.handle(self, message, payload)
                if self._closing:
                    return
                if self._upgraded:
                    if self._upgrade_reader is None:
                        # Answered without switching: the bytes that follow
                        # are not HTTP/1, so the connection ends here.
                        self._linger()
                    return
                if not keep_alive or self._close_after:
                    self._finish(payload)
                    return
                if not payload._eof:  # EMPTY_PAYLOAD is always at EOF
                    self._finish(payload)
                    return
        except asyncio.CancelledError:
            self.force_close()
            raise
        except Exception:
            # The server answers handler errors itself; reaching here means
            # the glue failed, and the stream can no longer be trusted.
            server.logger.exception("Unhandled error while serving a connection")
            self.force_close()
            return
        finally:
            self._task = None
        if not self._closing and self.transport is not None:
            if self._parser.in_head:
                self._set_deadline(_HEAD, server.head_timeout)
            else:
                self._set_deadline(_IDLE, server.keepalive_timeout)

    def _finish(self, payload: StreamReader) -> None:
        """End the connection after a response, lingering if bytes may still come."""
        if payload.is_eof() and not self._read_paused and not self._broken:
            self.close()
        else:
            self._linger()

    def _linger(self) -> None:
        """Half-close, then discard input until the client closes (see module doc)."""
        transport = self.transport
        if transport is None or self._lingering:
            return
        self._lingering = True
        self._queue.clear()
        if self._payload is not None:
            self._payload.set_exception(ConnectionResetError("Connection is closing"))
            self._payload = None
        if not transport.can_write_eof():
            self.close()
            return
        transport.write_eof()
        transport.resume_reading()
        self._set_deadline(_LINGER, LINGER_TIMEOUT)

    def _on_parse_error(self, error: HttpProcessingError) -> None:
        self._broken = True
        payload = self._payload
        if payload is not None:
            # The request whose body broke is already being handled: its
            # reader gets the error; no second response is written for it.
            self._payload = None
            payload.set_exception(error)
            self._close_after = True
            return
        self._queue.append(error)

    # -- reading control (used by body streams) --

    def pause_reading(self) -> None:
        """Stop reading from the socket until ``resume_reading``."""
        if self.transport is not None and not self._closing:
            self.transport.pause_reading()

    def resume_reading(self) -> None:
        """Resume reading unless the request queue or the body being fed is full."""
        if self.transport is None or self._closing or self._read_paused:
            return
        payload = self._payload
        if payload is not None and payload._paused:
            return
        self.transport.resume_reading()

    # -- writing --

    def write(self, data: bytes) -> None:
        """Write to the transport; ``ConnectionResetError`` once it is closing."""
        transport = self.transport
        if transport is None or transport.is_closing():
            raise ConnectionResetError("Cannot write to closing transport")
        transport.write(data)

    async def drain(self) -> None:
        """Wait while the transport has paused writing."""
        if self.transport is None:
            raise ConnectionResetError("Connection lost")
        if not self._writing_paused:
            return
        waiter = self._drain_waiter
        if waiter is None:
            waiter = self._drain_waiter = self._loop.create_future()
        await asyncio.shield(waiter)

    def _wake_drain(self, exc: BaseException | None) -> None:
        waiter = self._drain_waiter
        if waiter is None:
            return
        self._drain_waiter = None
        if not waiter.done():
            if exc is None:
                waiter.set_result(None)
            else:
                waiter.set_exception(exc)
                waiter.exception()  # mark retrieved: nobody may be waiting

    def send_error_and_close(self, status: int, message: str) -> None:
        """Answer a request the server could not parse, then close.

        The status line always says HTTP/1.1, whatever the client claimed.
        """
        body = f"{status}: {message}".encode("utf-8", "replace")
        head = (
            f"HTTP/1.1 {status} {reason_phrase(status)}\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n"
            f"Content-Length: {len(body)}\r\n"
            "Connection: close\r\n"
            f"Date: {date_value()}\r\n"
            f"Server: {self._server.server_header}\r\n\r\n"
        )
        transport = self.transport
        if transport is not None and not transport.is_closing():
            transport.write(head.encode("latin-1") + body)
        self._linger()

    # -- lifecycle --

    @property
    def idle(self) -> bool:
        """True when no request is queued or being handled."""
        return self._task is None and not self._queue

    @property
    def upgraded(self) -> bool:
        """True once the client asked to switch protocols (Upgrade/CONNECT)."""
        return self._upgraded

    def take_upgrade(
        self,
        reader: Callable[[bytes], None],
        ended: Callable[[BaseException | None], None] | None = None,
        shutdown: Callable[[], None] | None = None,
    ) -> bytes:
        """Route further bytes to ``reader``; return what already arrived.

        ``ended(exc)`` runs once when the input ends: at EOF with ``None``
        (the transport stays writable; closing it is then the owner's job) or
        when the connection is lost. ``shutdown()`` runs on ``notify_shutdown``.
        """
        self._upgrade_reader = reader
        self._upgrade_ended = ended
        self._upgrade_shutdown = shutdown
        tail, self._upgrade_tail = self._upgrade_tail, b""
        self.resume_reading()
        return tail

    def _end_upgrade(self, exc: BaseException | None) -> None:
        ended, self._upgrade_ended = self._upgrade_ended, None
        if ended is not None:
            ended(exc)

    def notify_shutdown(self) -> None:
        """Tell the owner of a switched connection (``take_upgrade``) that the server stops."""
        shutdown, self._upgrade_shutdown = self._upgrade_shutdown, None
        if shutdown is not None:
            shutdown()

    def close(self) -> None:
        """Close after buffered output is flushed."""
        self._closing = True
        if self.transport is not None:
            self.transport.close()

    def force_close(self) -> None:
        """Close now, dropping buffered output."""
        self._closing = True
        if self.transport is not None:
            self.transport.abort()

    @property
    def peername(self) -> Any:
        """The peer address as the transport reports it."""
        return None if self.transport is None else self.transport.get_extra_info("peername")

    # -- timer --

    def _set_deadline(self, kind: int, delay: float | None) -> None:
        if not delay or delay <= 0:
            self._deadline = None
            return
        deadline = self._loop.time() + delay
        self._deadline = deadline
        self._deadline_kind = kind
        if deadline < self._timer_at:  # also when not filed: _NOT_FILED is infinite
            if self._timer_at != _NOT_FILED:
                self._deadlines.unfile(self, self._timer_at)
            self._timer_at = self._deadlines.file(self, deadline)

    def _on_timer(self) -> None:
        self._timer_at = _NOT_FILED
        deadline = self._deadline
        if deadline is None or self._closing:
            return
        if self._loop.time() < deadline:
            self._timer_at = self._deadlines.file(self, deadline)
            return
        self._deadline = None
        kind = self._deadline_kind
        if kind == _LINGER:
            self.force_close()
        elif self._task is None and not self._queue:
            if kind == _HEAD and self._parser.in_head:
                self.send_error_and_close(408, "Request head was not received in time")
            else:
                self.close()
