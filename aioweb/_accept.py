"""Accepting connections in bursts on uvloop.

libuv, since 1.45 (every current uvloop), accepts one connection per loop
iteration. An iteration of a busy server answers every ready connection's
request, so when many clients connect at once (``wrk -c256``, a proxy
reopening its pool) the last of them wait in the listen queue for hundreds
of iterations: 1-2 s at 256 connections, seen as p99 latency and client
timeouts (bench/RESULTS.md). asyncio's own loop accepts up to the backlog
per readiness event and is not affected.

``AcceptBurst`` watches a duplicate of the listening descriptor and, each
time it is readable, accepts up to ``BURST`` connections and hands them to
the loop as accepted sockets. libuv keeps its own watcher on the original
descriptor; whichever accept comes first gets a connection, the other sees
EAGAIN, so no connection is lost or served twice. ``close()`` must run when
the site stops: the duplicate descriptor keeps the socket listening.
"""

from __future__ import annotations

import asyncio
import errno
import os
import socket
from collections.abc import Callable
from typing import Any

from .web_log import server_logger as _log

__all__ = ("BURST", "AcceptBurst", "needs_accept_burst")

BURST = 128
RETRY_DELAY = 1.0  # after accept() fails for want of descriptors or memory
_SKIPPABLE = (errno.ECONNABORTED, errno.EPROTO, errno.EPERM)


def needs_accept_burst(loop: asyncio.AbstractEventLoop) -> bool:
    """True for uvloop, whose libuv accepts a single connection per iteration."""
    return type(loop).__module__.startswith("uvloop")


class AcceptBurst:
    """Accepts up to ``BURST`` queued connections per readable event of a listener.

    Loop-bound and not thread-safe. Costs one extra descriptor per listening
    socket and one short task per connection it accepts.
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        protocol_factory: Callable[[], asyncio.BaseProtocol],
        listener: Any,
        ssl: Any = None,
    ) -> None:
        self._loop = loop
        self._factory = protocol_factory
        self._ssl = ssl
        self._sock: socket.socket | None = socket.socket(fileno=os.dup(listener.fileno()))
        self._sock.setblocking(False)
        self._pending: set[asyncio.Task[None]] = set()
        self._retry: asyncio.TimerHandle | None = None
        loop.add_reader(self._sock.fileno(), self._accept)

    def _accept(self) -> None:
        sock = self._sock
        if sock is None:
            return
        for _ in range(BURST):
            try:
                conn, _addr = sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                if exc.errno in _SKIPPABLE:
                    continue
                self._back_off(sock, exc)
                return
            task = self._loop.create_task(self._attach(conn))
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)

    def _back_off(self, sock: socket.socket, exc: OSError) -> None:
        """Stop watching for ``RETRY_DELAY`` s (EMFILE and the like).

        The listening socket stays readable while connections wait, so
        retrying at once would spin, and log, on every loop iteration.
        libuv's own watcher goes on meanwhile.
        """
        _log.warning("accept() failed, retrying in %g s: %s", RETRY_DELAY, exc)
        self._loop.remove_reader(sock.fileno())
        self._retry = self._loop.call_later(RETRY_DELAY, self._resume)

    def _resume(self) -> None:
        self._retry = None
        if self._sock is not None:
            self._loop.add_reader(self._sock.fileno(), self._accept)

    async def _attach(self, conn: socket.socket) -> None:
        try:
            await self._loop.connect_accepted_socket(self._factory, conn, ssl=self._ssl)
        except Exception as exc:  # a failed TLS handshake, a client gone already
            _log.debug("Accepted connection dropped: %r", exc)
            conn.close()

    def close(self) -> None:
        """Stop accepting and release the duplicate descriptor (idempotent)."""
        sock, self._sock = self._sock, None
        if sock is None:
            return
        if self._retry is not None:
            self._retry.cancel()
            self._retry = None
        self._loop.remove_reader(sock.fileno())
        sock.close()
