"""Testing helpers: real servers on loopback, a client with aiohttp's shape.

``TestServer(app)`` serves an application on ``127.0.0.1`` at a free port;
``RawTestServer(handler)`` serves a low-level handler; ``TestClient(server)``
talks to either over real sockets through ``httpx`` and answers with
``ClientResponse`` objects shaped like aiohttp's (``status``, ``headers``,
``await text()``, ``await json()``, ``await read()``).
``TestClient.ws_connect(path)`` opens a WebSocket with aioweb's own client
(``aioweb._ws_client``). ``make_mocked_request`` builds a request with no
network at all.
"""

from __future__ import annotations

import functools
import json
import socket
import ssl
from collections.abc import Awaitable, Callable, Generator, Mapping
from types import TracebackType
from typing import Any, Optional, Union
from unittest import mock

from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from . import HttpVersion, HttpVersion11
from ._http_parser import RawRequestMessage
from ._ws_client import (
    ClientWebSocketResponse,
    WSConnectContext,
    WSServerHandshakeError,
    ws_connect,
)
from .streams import EMPTY_PAYLOAD, StreamReader
from .web_app import Application
from .web_request import BaseRequest, Request
from .web_response import StreamResponse
from .web_runner import AppRunner, BaseRunner, ServerRunner, SockSite
from .web_server import Server
from .web_urldispatcher import UrlMappingMatchInfo

__all__ = (
    "BaseTestServer",
    "ClientResponse",
    "ClientResponseError",
    "ClientWebSocketResponse",
    "RawTestServer",
    "TestClient",
    "TestServer",
    "WSServerHandshakeError",
    "make_mocked_request",
    "unused_port",
)


def unused_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class BaseTestServer:
    """A real server on loopback for the length of a test."""

    __test__ = False

    def __init__(self, *, host: str = "127.0.0.1", port: Optional[int] = None, **kwargs: Any) -> None:
        self.host = host
        self.port = port
        self.scheme = "http"
        self.runner: Optional[BaseRunner] = None
        self._root: Optional[URL] = None
        self._kwargs = kwargs

    async def start_server(self, **kwargs: Any) -> None:
        """Bind, start the runner and begin serving; idempotent."""
        if self.runner is not None:
            return
        self.runner = await self._make_runner(**{**self._kwargs, **kwargs})
        await self.runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port or 0))
        self.port = sock.getsockname()[1]
        site = SockSite(self.runner, sock)
        await site.start()
        self._root = URL.build(scheme=self.scheme, host=self.host, port=self.port)

    async def _make_runner(self, **kwargs: Any) -> BaseRunner:
        raise TypeError("Use TestServer or RawTestServer")

    def make_url(self, path: str) -> URL:
        """The absolute URL of ``path`` on this server."""
        if self._root is None:
            raise RuntimeError("The server is not started")
        url = URL(path)
        if url.is_absolute():
            raise ValueError(f"Expected a path relative to the server, got {path!r}")
        return self._root.join(url)

    @property
    def started(self) -> bool:
        """True between ``start_server()`` and ``close()``."""
        return self.runner is not None

    @property
    def server(self) -> Optional[Server]:
        """The low-level server."""
        return None if self.runner is None else self.runner.server

    async def close(self) -> None:
        """Shut the server down gracefully."""
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None

    async def __aenter__(self) -> BaseTestServer:
        await self.start_server()
        return self

    async def __aexit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        await self.close()


class TestServer(BaseTestServer):
    """Serves an ``Application`` on loopback."""

    def __init__(self, app: Application, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.app = app

    async def _make_runner(self, **kwargs: Any) -> BaseRunner:
        return AppRunner(self.app, shutdown_timeout=kwargs.pop("shutdown_timeout", 2.0), **kwargs)


class RawTestServer(BaseTestServer):
    """Serves a low-level ``handler(request) -> response`` on loopback."""

    def __init__(self, handler: Callable[[BaseRequest], Awaitable[StreamResponse]], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._handler = handler

    async def _make_runner(self, **kwargs: Any) -> BaseRunner:
        timeout = kwargs.pop("shutdown_timeout", 2.0)
        return ServerRunner(Server(self._handler, **kwargs), shutdown_timeout=timeout)


class ClientResponseError(Exception):
    """Raised by ``ClientResponse.raise_for_status()`` for a 4xx or 5xx answer."""

    def __init__(self, status: int, message: str, headers: CIMultiDictProxy[str], url: URL) -> None:
        super().__init__(f"{status}, message={message!r}, url={str(url)!r}")
        self.status = status
        self.message = message
        self.headers = headers
        self.url = url


class ClientResponse:
    """A response read by ``TestClient``, with aiohttp's client-response shape.

    The body is read before the response is handed out, so ``read()``,
    ``text()`` and ``json()`` never touch the network and may be repeated.
    """

    def __init__(self, response: Any) -> None:
        self._response = response
        self.status: int = response.status_code
        self.reason: str = response.reason_phrase
        self.headers: CIMultiDictProxy[str] = CIMultiDictProxy(
            CIMultiDict(response.headers.multi_items())
        )
        self.url = URL(str(response.url))
        self.method: str = response.request.method
        self.version = HttpVersion11 if response.http_version == "HTTP/1.1" else HttpVersion(1, 0)
        self.history: tuple[ClientResponse, ...] = tuple(ClientResponse(r) for r in response.history)

    @property
    def ok(self) -> bool:
        """True unless the status is 400 or above."""
        return self.status < 400

    def raise_for_status(self) -> None:
        """Raise ``ClientResponseError`` for a 4xx or 5xx status."""
        if not self.ok:
            raise ClientResponseError(self.status, self.reason, self.headers, self.url)

    @property
    def content_type(self) -> str:
        """The media type of the body."""
        return self.headers.get("Content-Type", "application/octet-stream").partition(";")[0].strip()

    @property
    def charset(self) -> Optional[str]:
        """The ``charset`` parameter of Content-Type, if any."""
        return self._response.charset_encoding  # type: ignore[no-any-return]

    @property
    def content_length(self) -> Optional[int]:
        """The Content-Length header as an int, if present."""
        value = self.headers.get("Content-Length")
        return None if value is None else int(value)

    @property
    def cookies(self) -> dict[str, str]:
        """Cookies set by this response."""
        return dict(self._response.cookies)

    @property
    def raw(self) -> Any:
        """The underlying ``httpx.Response``."""
        return self._response

    async def read(self) -> bytes:
        """The body bytes."""
        return bytes(self._response.content)

    async def text(self, encoding: Optional[str] = None, errors: str = "strict") -> str:
        """The body decoded (charset from Content-Type, else utf-8)."""
        body = await self.read()
        if encoding is None:
            encoding = self.charset or "utf-8"
        return body.decode(encoding, errors)

    async def json(
        self,
        *,
        encoding: Optional[str] = None,
        loads: Callable[[str], Any] = json.loads,
        content_type: Optional[str] = "application/json",
    ) -> Any:
        """The body parsed as JSON; None for an empty body.

        Raises ``ValueError`` when Content-Type is not ``content_type``
        (pass ``content_type=None`` to skip the check).
        """
        if content_type is not None and self.content_type != content_type:
            raise ValueError(f"Attempt to decode JSON with unexpected mimetype: {self.content_type}")
        text = await self.text(encoding)
        if not text.strip():
            return None
        return loads(text)

    def release(self) -> None:
        """Kept for aiohttp compatibility; bodies are read eagerly."""

    def close(self) -> None:
        """Kept for aiohttp compatibility; bodies are read eagerly."""

    async def __aenter__(self) -> ClientResponse:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        self.release()

    def __repr__(self) -> str:
        return f"<ClientResponse({self.url}) [{self.status} {self.reason}]>"


@functools.lru_cache(maxsize=1)
def _ssl_context() -> ssl.SSLContext:
    """One verifying SSL context per process: building one costs ~60 ms, per client."""
    return ssl.create_default_context()


class _RequestContext:
    """Awaitable and async-context-manager result of ``client.get(...)``.

    The request is sent when awaited or entered, not before, so a result
    that is dropped unused sends nothing and leaves no un-awaited coroutine.
    """

    def __init__(self, send: Callable[[], Awaitable[ClientResponse]]) -> None:
        self._send = send
        self._resp: Optional[ClientResponse] = None

    def __await__(self) -> Generator[Any, None, ClientResponse]:
        return self._send().__await__()

    async def __aenter__(self) -> ClientResponse:
        self._resp = await self._send()
        return self._resp

    async def __aexit__(self, *exc: Any) -> None:
        if self._resp is not None:
            self._resp.release()


class TestClient:
    """An HTTP client bound to a test server, built on ``httpx.AsyncClient``.

    Paths are relative to the server's root (absolute URLs pass through).
    As in aiohttp's client: ``params=`` (a mapping, a ``MultiDict`` or pairs)
    extends the path's query; ``data=`` is bytes (sent as
    ``application/octet-stream``), str (``text/plain``) or a form mapping;
    ``json=`` and ``headers=`` work; redirects are followed unless
    ``allow_redirects=False``; cookies the server sets are kept for later
    requests, and ``cookies=`` adds some to one request only. Proxy
    environment variables are ignored (``trust_env=False``). Other keyword
    arguments go to ``httpx.AsyncClient``; ``cookie_jar`` is accepted and
    ignored.
    """

    __test__ = False

    def __init__(self, server: BaseTestServer, *, cookie_jar: Any = None, **kwargs: Any) -> None:
        import httpx

        self._server = server
        self._httpx = httpx
        self._kwargs = kwargs
        self._client: Optional[Any] = None
        self._websockets: list[ClientWebSocketResponse] = []
        self._closed = False

    @property
    def server(self) -> BaseTestServer:
        """The server under test."""
        return self._server

    @property
    def app(self) -> Optional[Application]:
        """The application under test (None for a raw server)."""
        return getattr(self._server, "app", None)

    @property
    def host(self) -> str:
        """The server host."""
        return self._server.host

    @property
    def port(self) -> Optional[int]:
        """The server port."""
        return self._server.port

    @property
    def session(self) -> Any:
        """The underlying ``httpx.AsyncClient``."""
        return self._client

    def make_url(self, path: str) -> URL:
        """The absolute URL of ``path`` on the server."""
        return self._server.make_url(path)

    async def start_server(self) -> None:
        """Start the server and open the HTTP client."""
        await self._server.start_server()
        if self._client is None:
            options = {"timeout": 30.0, "trust_env": False, "verify": _ssl_context(), **self._kwargs}
            self._client = self._httpx.AsyncClient(**options)

    def _url(self, path: Union[str, URL], params: Any) -> URL:
        url = URL(path) if isinstance(path, str) else path
        if not url.is_absolute():
            url = self.make_url(str(url))
        if params is not None:
            pairs = list(params.items()) if isinstance(params, Mapping) else list(params)
            url = url.with_query([*url.query.items(), *((str(k), str(v)) for k, v in pairs)])
        return url

    @staticmethod
    def _cookie_header(client: Any, cookies: Any) -> str:
        """The jar's cookies overlaid with per-request ``cookies`` (not stored)."""
        merged = {cookie.name: cookie.value for cookie in client.cookies.jar}
        merged.update(cookies)
        return "; ".join(f"{name}={value}" for name, value in merged.items())

    async def _request(self, method: str, path: Union[str, URL], **kwargs: Any) -> ClientResponse:
        if self._client is None:
            raise RuntimeError("Call start_server() (or use 'async with') before sending requests")
        url = self._url(path, kwargs.pop("params", None))
        follow = kwargs.pop("allow_redirects", True)
        headers = CIMultiDict(kwargs.pop("headers", None) or {})
        cookies = kwargs.pop("cookies", None)
        if cookies:
            headers["Cookie"] = self._cookie_header(self._client, cookies)
        data = kwargs.pop("data", None)
        if isinstance(data, (bytes, bytearray, memoryview)):
            kwargs["content"] = bytes(data)
            headers.setdefault("Content-Type", "application/octet-stream")
        elif isinstance(data, str):
            kwargs["content"] = data.encode("utf-8")
            headers.setdefault("Content-Type", "text/plain; charset=utf-8")
        elif isinstance(data, Mapping):
            form: dict[str, list[str]] = {}
            for key, value in data.items():
                form.setdefault(str(key), []).append(str(value))
            kwargs["data"] = form
        elif data is not None:
            kwargs["content"] = data  # an iterable of bytes or an async iterator
        kwargs.pop("timeout", None)
        response = await self._client.request(
            method, str(url), headers=list(headers.items()), follow_redirects=follow, **kwargs
        )
        await response.aread()
        return ClientResponse(response)

    def request(self, method: str, path: Union[str, URL], **kwargs: Any) -> _RequestContext:
        """Send a request; await it or use it with ``async with``."""
        return _RequestContext(functools.partial(self._request, method, path, **kwargs))

    def get(self, path: Union[str, URL], **kwargs: Any) -> _RequestContext:
        """GET ``path``."""
        return self.request("GET", path, **kwargs)

    def post(self, path: Union[str, URL], **kwargs: Any) -> _RequestContext:
        """POST ``path``."""
        return self.request("POST", path, **kwargs)

    def put(self, path: Union[str, URL], **kwargs: Any) -> _RequestContext:
        """PUT ``path``."""
        return self.request("PUT", path, **kwargs)

    def patch(self, path: Union[str, URL], **kwargs: Any) -> _RequestContext:
        """PATCH ``path``."""
        return self.request("PATCH", path, **kwargs)

    def delete(self, path: Union[str, URL], **kwargs: Any) -> _RequestContext:
        """DELETE ``path``."""
        return self.request("DELETE", path, **kwargs)

    def head(self, path: Union[str, URL], **kwargs: Any) -> _RequestContext:
        """HEAD ``path``."""
        return self.request("HEAD", path, **kwargs)

    def options(self, path: Union[str, URL], **kwargs: Any) -> _RequestContext:
        """OPTIONS ``path``."""
        return self.request("OPTIONS", path, **kwargs)

    def ws_connect(self, path: Union[str, URL], **kwargs: Any) -> WSConnectContext:
        """Open a WebSocket to ``path``; await it or use it with ``async with``.

        Keyword arguments are those of aiohttp's ``ws_connect`` that
        ``aioweb._ws_client.ws_connect`` takes (``protocols``, ``headers``,
        ``compress``, ``autoping``, ``autoclose``, ``max_msg_size``,
        ``timeout``, ``receive_timeout``, ``origin``) plus ``params``. The
        client's cookies are sent. ``close()`` closes websockets left open.
        """
        return WSConnectContext(functools.partial(self._ws_connect, path, **kwargs))

    async def _ws_connect(self, path: Union[str, URL], **kwargs: Any) -> ClientWebSocketResponse:
        if self._client is None:
            raise RuntimeError("Call start_server() (or use 'async with') before ws_connect()")
        url = self._url(path, kwargs.pop("params", None))
        headers = CIMultiDict(kwargs.pop("headers", None) or {})
        if self._client.cookies.jar and "Cookie" not in headers:
            headers["Cookie"] = self._cookie_header(self._client, {})
        ws = await ws_connect(url, headers=headers, **kwargs)
        self._websockets = [w for w in self._websockets if not w.closed]
        self._websockets.append(ws)
        return ws

    async def close(self) -> None:
        """Close open websockets, the client, then the server."""
        if self._closed:
            return
        self._closed = True
        for ws in self._websockets:
            await ws.close()
        if self._client is not None:
            await self._client.aclose()
        await self._server.close()

    async def __aenter__(self) -> TestClient:
        await self.start_server()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()


class _MockProtocol:
    """Stands in for a connection in ``make_mocked_request``."""

    def __init__(self, transport: Any) -> None:
        self.transport = transport
        self.written: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.written.append(bytes(data))

    async def drain(self) -> None:
        return None


def make_mocked_request(
    method: str,
    path: str,
    headers: Any = None,
    *,
    match_info: Optional[dict[str, str]] = None,
    version: HttpVersion = HttpVersion11,
    closing: bool = False,
    app: Optional[Application] = None,
    writer: Any = None,
    protocol: Any = None,
    transport: Any = None,
    payload: Optional[StreamReader] = None,
    sslcontext: Any = None,
    client_max_size: int = 1024**2,
    loop: Any = None,
) -> Request:
    """A ``Request`` for unit tests: no socket, a mock transport.

    Bytes written by a response are collected in ``request.protocol.written``.
    ``writer`` is accepted for aiohttp compatibility and ignored: responses
    write through ``protocol``.
    """
    ci = CIMultiDict(headers or {})
    raw_headers = tuple((k.encode("utf-8"), v.encode("utf-8")) for k, v in ci.items())
    length = ci.get("Content-Length")
    chunked = ci.get("Transfer-Encoding", "").lower() == "chunked"
    expect = ci.get("Expect")
    message = RawRequestMessage(
        method.upper(),
        path,
        (version.major, version.minor),
        raw_headers,
        closing or version < (1, 1) and "keep-alive" not in ci.get("Connection", "").lower(),
        "upgrade" in ci.get("Connection", "").lower(),
        chunked,
        int(length) if length is not None else None,
        expect.encode() if expect else None,
    )
    if transport is None:
        transport = mock.Mock()

        def get_extra_info(key: str, default: Any = None) -> Any:
            return {"sslcontext": sslcontext, "peername": ("127.0.0.1", 12345)}.get(key, default)

        transport.get_extra_info.side_effect = get_extra_info
        transport.is_closing.return_value = False
    if protocol is None:
        protocol = _MockProtocol(transport)
        if isinstance(transport, mock.Mock) and transport.write.side_effect is None:
            # A plain response is written to the transport directly (Response._send_simple).
            transport.write.side_effect = protocol.write
            transport.writelines.side_effect = lambda chunks: protocol.write(b"".join(chunks))
    request = Request(
        message,
        payload if payload is not None else EMPTY_PAYLOAD,
        protocol,
        None,
        loop,
        client_max_size=client_max_size,
    )
    if app is None:
        app = Application()
    info = UrlMappingMatchInfo(match_info or {}, mock.Mock())
    info.add_app(app)
    request._match_info = info
    return request


