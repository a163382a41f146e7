"""Runners and sites: start a server on sockets, stop it in the seed's order.

``AppRunner(app)`` / ``ServerRunner(server)`` own the server; ``TCPSite``,
``UnixSite`` and ``SockSite`` are the sockets it listens on. Shutdown order
(the seed's Graceful shutdown): stop accepting, ``on_shutdown``, let
in-flight requests finish for up to ``shutdown_timeout`` seconds, close what
is left, ``on_cleanup``.
"""

from __future__ import annotations

import abc
import asyncio
import signal
import socket
from typing import Any, Optional

from ._accept import AcceptBurst, needs_accept_burst
from .web_app import Application
from .web_server import Server

__all__ = (
    "AppRunner",
    "BaseRunner",
    "BaseSite",
    "GracefulExit",
    "ServerRunner",
    "SockSite",
    "TCPSite",
    "UnixSite",
)


class GracefulExit(SystemExit):
    """Raised by the signal handlers installed with ``handle_signals=True``."""

    code = 1


def _raise_graceful_exit() -> None:
    raise GracefulExit()


# Listen queue length: aiohttp's 128 overflowed (kernel ListenOverflows)
# when 256 clients connected at once; the kernel caps it at somaxconn.
DEFAULT_BACKLOG = 1024


class BaseSite(abc.ABC):
    """A listening socket of a runner."""

    def __init__(
        self,
        runner: BaseRunner,
        *,
        shutdown_timeout: Optional[float] = None,
        ssl_context: Any = None,
        backlog: int = DEFAULT_BACKLOG,
    ) -> None:
        if runner.server is None:
            raise RuntimeError("Call runner.setup() before making a site")
        if shutdown_timeout is not None:
            runner._shutdown_timeout = shutdown_timeout
        self._runner = runner
        self._ssl_context = ssl_context
        self._backlog = backlog
        self._server: Optional[asyncio.AbstractServer] = None
        self._bursts: list[AcceptBurst] = []

    @property
    @abc.abstractmethod
    def name(self) -> str:
        """A URL-like description of the site."""

    async def start(self) -> None:
        """Start listening."""
        self._runner._reg_site(self)

    async def stop(self) -> None:
        """Stop accepting connections (open ones are the runner's to close)."""
        self._runner._check_site(self)
        for burst in self._bursts:
            burst.close()
        self._bursts.clear()
        if self._server is not None:
            self._server.close()
        self._runner._unreg_site(self)

    def _accept_in_bursts(self, loop: asyncio.AbstractEventLoop) -> None:
        """On uvloop, accept queued connections many per loop iteration (see ``_accept``)."""
        server = self._runner.server
        if self._server is None or server is None or not needs_accept_burst(loop):
            return
        for listener in getattr(self._server, "sockets", None) or ():
            self._bursts.append(AcceptBurst(loop, server, listener, self._ssl_context))


class TCPSite(BaseSite):
    """Listen on ``host:port`` (all interfaces and port 8080 by default)."""

    def __init__(
        self,
        runner: BaseRunner,
        host: Optional[str] = None,
        port: Optional[int] = None,
        *,
        shutdown_timeout: Optional[float] = None,
        ssl_context: Any = None,
        backlog: int = DEFAULT_BACKLOG,
        reuse_address: Optional[bool] = None,
        reuse_port: Optional[bool] = None,
    ) -> None:
        super().__init__(
            runner, shutdown_timeout=shutdown_timeout, ssl_context=ssl_context, backlog=backlog
        )
        self._host = host
        self._port = (8443 if ssl_context else 8080) if port is None else port
        self._reuse_address = reuse_address
        self._reuse_port = reuse_port

    @property
    def name(self) -> str:
        scheme = "https" if self._ssl_context else "http"
        host = "0.0.0.0" if not self._host else self._host
        return f"{scheme}://{host}:{self._port}"

    async def start(self) -> None:
        await super().start()
        loop = asyncio.get_running_loop()
        server = self._runner.server
        assert server is not None
        self._server = await loop.create_server(
            server,
            self._host,
            self._port,
            ssl=self._ssl_context,
            backlog=self._backlog,
            reuse_address=self._reuse_address,
            reuse_port=self._reuse_port,
        )
        self._accept_in_bursts(loop)


class UnixSite(BaseSite):
    """Listen on a Unix domain socket at ``path``."""

    def __init__(
        self,
        runner: BaseRunner,
        path: str,
        *,
        shutdown_timeout: Optional[float] = None,
        ssl_context: Any = None,
        backlog: int = DEFAULT_BACKLOG,
    ) -> None:
        super().__init__(
            runner, shutdown_timeout=shutdown_timeout, ssl_context=ssl_context, backlog=backlog
        )
        self._path = path

    @property
    def name(self) -> str:
        scheme = "https" if self._ssl_context else "http"
        return f"{scheme}://unix:{self._path}:"

    async def start(self) -> None:
        await super().start()
        loop = asyncio.get_running_loop()
        server = self._runner.server
        assert server is not None
        self._server = await loop.create_unix_server(
            server, self._path, ssl=self._ssl_context, backlog=self._backlog
        )
        self._accept_in_bursts(loop)


class SockSite(BaseSite):
    """Listen on an already bound socket."""

    def __init__(
        self,
        runner: BaseRunner,
        sock: socket.socket,
        *,
        shutdown_timeout: Optional[float] = None,
        ssl_context: Any = None,
        backlog: int = DEFAULT_BACKLOG,
    ) -> None:
        super().__init__(
            runner, shutdown_timeout=shutdown_timeout, ssl_context=ssl_context, backlog=backlog
        )
        self._sock = sock
        scheme = "https" if ssl_context else "http"
        if hasattr(socket, "AF_UNIX") and sock.family == socket.AF_UNIX:
            self._name = f"{scheme}://unix:{sock.getsockname()}:"
        else:
            host, port = sock.getsockname()[:2]
            self._name = f"{scheme}://{host}:{port}"

    @property
    def name(self) -> str:
        return self._name

    async def start(self) -> None:
        await super().start()
        loop = asyncio.get_running_loop()
        server = self._runner.server
        assert server is not None
        self._server = await loop.create_server(
            server, sock=self._sock, ssl=self._ssl_context, backlog=self._backlog
        )
        self._accept_in_bursts(loop)


class BaseRunner(abc.ABC):
    """Owns a ``Server`` and its sites; ``setup()`` then sites, ``cleanup()`` at the end."""

    def __init__(
        self,
        *,
        handle_signals: bool = False,
        shutdown_timeout: float = 60.0,
        **kwargs: Any,
    ) -> None:
        self._handle_signals = handle_signals
        self._shutdown_timeout = shutdown_timeout
        self._kwargs = kwargs
        self._server: Optional[Server] = None
        self._sites: list[BaseSite] = []

    @property
    def server(self) -> Optional[Server]:
        """The low-level server (None before ``setup()``)."""
        return self._server

    @property
    def addresses(self) -> list[Any]:
        """The socket addresses of every started site."""
        addresses: list[Any] = []
        for site in self._sites:
            server = site._server
            if server is not None:
                for sock in getattr(server, "sockets", None) or ():
                    addresses.append(sock.getsockname())
        return addresses

    @property
    def sites(self) -> set[BaseSite]:
        """The registered sites."""
        return set(self._sites)

    async def setup(self) -> None:
        """Install signal handlers (if asked) and build the server."""
        loop = asyncio.get_running_loop()
        if self._handle_signals:
            try:
                loop.add_signal_handler(signal.SIGINT, _raise_graceful_exit)
                loop.add_signal_handler(signal.SIGTERM, _raise_graceful_exit)
            except NotImplementedError:
                pass
        self._server = await self._make_server()

    async def shutdown(self) -> None:
        """Run the shutdown hooks (``on_shutdown`` for an application)."""

    async def cleanup(self) -> None:
        """Stop every site, shut down gracefully, run cleanup hooks.

        Order (the seed's Graceful shutdown): stop accepting; ``on_shutdown``;
        in-flight requests finish for up to ``shutdown_timeout`` seconds while
        idle connections close; what is left is aborted; the listening
        servers are awaited (on Python 3.12+ ``wait_closed()`` waits for every
        connection, so it must come after they are closed); ``on_cleanup``.
        """
        servers = [site._server for site in self._sites if site._server is not None]
        for site in list(self._sites):
            await site.stop()
        if self._server is not None:
            # Let connections accepted just before the sites stopped read
            # their first request, so it counts as in flight.
            await asyncio.sleep(0)
            await self.shutdown()
            await self._server.shutdown(self._shutdown_timeout)
        for server in servers:
            await server.wait_closed()
        await self._cleanup_server()
        self._server = None
        if self._handle_signals:
            loop = asyncio.get_running_loop()
            try:
                loop.remove_signal_handler(signal.SIGINT)
                loop.remove_signal_handler(signal.SIGTERM)
            except NotImplementedError:
                pass

    @abc.abstractmethod
    async def _make_server(self) -> Server:
        """Build (or return) the server to serve."""

    async def _cleanup_server(self) -> None:
        pass

    def _reg_site(self, site: BaseSite) -> None:
        if site in self._sites:
            raise RuntimeError(f"Site {site} is already registered in runner {self}")
        self._sites.append(site)

    def _check_site(self, site: BaseSite) -> None:
        if site not in self._sites:
            raise RuntimeError(f"Site {site} is not registered in runner {self}")

    def _unreg_site(self, site: BaseSite) -> None:
        self._check_site(site)
        self._sites.remove(site)


class ServerRunner(BaseRunner):
    """Runner for a low-level ``web.Server``."""

    def __init__(self, web_server: Server, *, handle_signals: bool = False, **kwargs: Any) -> None:
        super().__init__(handle_signals=handle_signals, **kwargs)
        self._web_server = web_server

    async def _make_server(self) -> Server:
        return self._web_server


class AppRunner(BaseRunner):
    """Runner for an ``Application``: freezes it and runs its signals."""

    def __init__(self, app: Application, *, handle_signals: bool = False, **kwargs: Any) -> None:
        if not isinstance(app, Application):
            raise TypeError(f"The first argument should be web.Application instance, got {app!r}")
        super().__init__(handle_signals=handle_signals, **kwargs)
        self._app = app

    @property
    def app(self) -> Application:
        """The application served."""
        return self._app

    async def shutdown(self) -> None:
        await self._app.shutdown()

    async def _make_server(self) -> Server:
        self._app.freeze()
        await self._app.startup()
        return self._app.make_handler(**self._kwargs)

    async def _cleanup_server(self) -> None:
        await self._app.cleanup()
