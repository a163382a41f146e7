"""The low-level server: protocol factory, connection registry, per-request glue.

``Server(handler)`` serves a plain ``async handler(request) -> response``
without an application; ``Application.make_handler()`` and the runners build
one around an application. It turns each parsed message into a request,
calls the handler, turns exceptions into responses (500 without a traceback
unless ``debug``), sends the response and logs it.
"""

from __future__ import annotations

import asyncio
import html
import traceback
from collections.abc import Awaitable, Callable
from typing import Any, Optional

from ._deadlines import Deadlines
from ._gc import tune_gc
from ._heap import tune_heap
from ._http_parser import RawRequestMessage
from ._protocol import RequestHandler
from .abc import AbstractAccessLogger
from .http_exceptions import HttpProcessingError
from .streams import StreamReader
from .web_exceptions import HTTPException
from .web_log import AccessLogger, access_logger, server_logger
from .web_request import BaseRequest, request_builder
from .web_response import SERVER_SOFTWARE, Response, StreamResponse

__all__ = ("Server",)

_RequestFactory = Callable[..., BaseRequest]


def _still_open(proto: RequestHandler) -> bool:
    """True while a connection has work left: a request, or output to flush.

    A closed idle transport with nothing buffered counts as gone even before
    its ``connection_lost`` runs: a KeyboardInterrupt (the seed stops its
    loop with Ctrl+C) can swallow that callback.
    """
    if not proto.idle:
        return True
    transport = proto.transport
    if transport is None:
        return False
    if not transport.is_closing():
        return True
    try:
        return transport.get_write_buffer_size() > 0
    except AttributeError:
        # asyncio's TLS transport, half-closed, has dropped its SSL protocol.
        return False


class Server:
    """Protocol factory for ``loop.create_server`` plus graceful shutdown.

    ``requests_count`` counts requests handled; ``connections`` lists the
    open connections. Calling the server returns a new connection protocol.
    """

    def __init__(
        self,
        handler: Callable[[Any], Awaitable[StreamResponse]],
        *,
        request_factory: Optional[_RequestFactory] = None,
        handler_cancellation: bool = False,
        loop: Optional[asyncio.AbstractEventLoop] = None,
        keepalive_timeout: float = 75.0,
        head_timeout: float = 60.0,
        access_log_class: type[AbstractAccessLogger] = AccessLogger,
        access_log: Any = access_logger,
        access_log_format: str = AccessLogger.LOG_FORMAT,
        debug: bool = False,
        max_line_size: int = 8190,
        max_field_size: int = 8190,
        max_headers: int = 128,
        max_head_size: int = 65536,
        logger: Any = server_logger,
        **kwargs: Any,
    ) -> None:
        self._handler = handler
        self._request_factory: _RequestFactory = request_factory or request_builder(
            BaseRequest, None, 1024**2
        )
        self._loop = loop
        self.handler_cancellation = handler_cancellation
        self.keepalive_timeout = keepalive_timeout
        self.head_timeout = head_timeout
        self.debug = debug
        self.logger = logger
        self.server_header = SERVER_SOFTWARE
        self.parser_limits = {
            "max_line_size": max_line_size,
            "max_field_size": max_field_size,
            "max_headers": max_headers,
            "max_head_size": max_head_size,
        }
        self._access_logger: Optional[AbstractAccessLogger] = (
            None if access_log is None else access_log_class(access_log, access_log_format)
        )
        self._connections: dict[RequestHandler, None] = {}
        self._deadlines: Optional[Deadlines] = None
        self.requests_count = 0
        self._shutting_down = False
        self._kwargs = kwargs
        tune_heap()  # see _heap: 64 KiB bodies ran at about half speed without it
        tune_gc()  # see _gc: 256 connections ran young collections every loop pass

    @property
    def connections(self) -> list[RequestHandler]:
        """Open connections, oldest first."""
        return list(self._connections)

    def __call__(self) -> RequestHandler:
        return RequestHandler(self, self._loop or asyncio.get_running_loop())

    def deadlines(self, loop: asyncio.AbstractEventLoop) -> Deadlines:
        """The one loop timer of this server's connections on ``loop`` (see ``_deadlines``).

        Kept by the server, not in a table by loop: what it holds (the open
        connections) then lives no longer than the server does. A server
        used on another loop gets a new one.
        """
        deadlines = self._deadlines
        if deadlines is None or deadlines.loop is not loop:
            deadlines = self._deadlines = Deadlines(loop)
        return deadlines

    def connection_made(self, proto: RequestHandler) -> None:
        """Register a new connection (closing it at once while shutting down)."""
        self._connections[proto] = None
        if self._shutting_down:
            proto.close()

    def connection_lost(self, proto: RequestHandler) -> None:
        """Forget a closed connection."""
        self._connections.pop(proto, None)

    async def handle(
        self, proto: RequestHandler, message: RawRequestMessage, payload: StreamReader
    ) -> bool:
        """Serve one request; return True if the connection may be reused."""
        self.requests_count += 1
        request = self._request_factory(message, payload, proto, proto._task)
        access = self._access_logger
        if access is not None and not access.enabled:
            access = None
        started = asyncio.get_running_loop().time() if access is not None else 0.0
        try:
            response = await self._handler(request)
            if not isinstance(response, StreamResponse):
                raise TypeError(
                    f"Handler {self._handler!r} returned {type(response).__name__}, "
                    "expected a web.StreamResponse"
                )
        except HTTPException as exc:
            response = exc
        except HttpProcessingError as exc:
            response = Response(status=exc.code, text=f"{exc.code}: {exc.message}")
            response.force_close()
        except asyncio.CancelledError:
            raise
        except ConnectionError:
            # The client went away mid-request: nobody to answer, nothing to log.
            return False
        except Exception as exc:
            if proto.transport is None:
                return False
            response = self._internal_error(request, exc)
        # The usual request (its body read to the end, nothing sent yet) has
        # nothing to settle: no call then (about 900 instructions a POST).
        if not payload._eof or request._response_started or self._shutting_down:
            if not self._ready_to_send(proto, request, response, payload):
                return False
        try:
            # A plain Response leaves in one synchronous write; anything else
            # (streams, files, prepare hooks) takes the general path.
            if response._send_simple(request):
                if proto._writing_paused:
                    await proto.drain()
            else:
                await response._finish(request)
        except (ConnectionError, RuntimeError):
            return False
        if access is not None:
            access.log(request, response, asyncio.get_running_loop().time() - started)
        return response._keep_alive is True  # set by the send; no property call

    def _ready_to_send(
        self,
        proto: RequestHandler,
        request: BaseRequest,
        response: StreamResponse,
        payload: StreamReader,
    ) -> bool:
        """Settle keep-alive before sending; False if nothing more may be sent."""
        if request._response_started and not response.prepared:
            # A streamed response already sent its head; nothing else can follow.
            proto.force_close()
            return False
        if not payload.is_eof():
            # The body was not read to its end: the connection closes after
            # this response, and the response says so.
            response.force_close()
        elif self._shutting_down and not proto._queue:
            # Requests already queued on this connection (pipelined before
            # shutdown) are still answered; the last response closes it.
            response.force_close()
        return True

    def _internal_error(self, request: BaseRequest, exc: BaseException) -> Response:
        self.logger.error("Error handling request %s %s", request.method, request.path, exc_info=exc)
        if self.debug:
            text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
            body = f"<html><body><h1>500 Internal Server Error</h1><pre>{html.escape(text)}</pre></body></html>"
            return Response(status=500, text=body, content_type="text/html")
        return Response(
            status=500, text="500 Internal Server Error\n\nServer got itself in trouble"
        )

    def pre_shutdown(self) -> None:
        """Stop taking requests: idle connections close now, busy ones once answered.

        A busy connection answers the requests it already holds, the last
        one with ``Connection: close``. The owner of a switched connection (a
        WebSocket) is told to close it (``RequestHandler.notify_shutdown``).
        """
        self._shutting_down = True
        for proto in list(self._connections):
            if proto.idle:
                proto.close()
            else:
                proto.notify_shutdown()

    async def shutdown(self, timeout: Optional[float] = None) -> None:
        """Let in-flight requests finish for up to ``timeout`` s, then close the rest.

        Idle connections are closed gracefully (buffered output is flushed)
        as soon as they become idle; a request that was fully received keeps
        its connection until its response is sent. When ``timeout`` expires
        every remaining connection is aborted. ``None`` waits without limit.
        Polls every 10 ms: shutdown is rare and the poll keeps the
        per-request path free of shutdown bookkeeping.
        """
        self.pre_shutdown()
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while True:
            for proto in list(self._connections):
                if proto.idle:
                    proto.close()
            if not any(map(_still_open, self._connections)):
                break
            if deadline is not None and loop.time() >= deadline:
                break
            await asyncio.sleep(0.01)
        for proto in list(self._connections):
            proto.force_close()
        if self._connections:
            await asyncio.sleep(0)

    async def finish_connections(self, timeout: Optional[float] = None) -> None:
        """The seed's name for ``shutdown(timeout)``."""
        await self.shutdown(timeout)
