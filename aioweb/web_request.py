"""Incoming requests: ``BaseRequest`` (low-level server) and ``Request`` (routed).

Everything derived from the head (headers, URL, query, cookies, host,
conditional headers) is computed on first access and cached: a handler that
looks at nothing pays for nothing, and one that looks twice pays once. A
request is also a ``MutableMapping`` for per-request data (the seed's Data
Sharing section). Not thread-safe.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import re
import socket
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from email.utils import parsedate_to_datetime
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NamedTuple, Optional, TypeVar, Union, cast, overload
from urllib.parse import parse_qsl

from multidict import CIMultiDict, CIMultiDictProxy, MultiDict, MultiDictProxy
from yarl import URL

from . import HttpVersion, HttpVersion10, HttpVersion11, hdrs
from .streams import EMPTY_PAYLOAD, StreamReader
from .typedefs import DEFAULT_JSON_DECODER, JSONDecoder, TypedKey
from .web_exceptions import (
    HTTPBadRequest,
    HTTPRequestEntityTooLarge,
    HTTPUnsupportedMediaType,
)

if TYPE_CHECKING:
    from ._http_parser import RawRequestMessage
    from ._protocol import RequestHandler
    from .multipart import MultipartReader
    from .web_app import Application
    from .web_response import StreamResponse
    from .web_urldispatcher import UrlMappingMatchInfo

__all__ = (
    "BaseRequest",
    "ETag",
    "FileField",
    "InvalidJSONBody",
    "Request",
    "RequestKey",
    "parse_etag",
)

_VERSIONS = {(1, 1): HttpVersion11, (1, 0): HttpVersion10}
_ETAG_RE = re.compile(r'\s*(W/)?"([\x21\x23-\x7e\x80-\xff]*)"\s*')
_RANGE_RE = re.compile(r"^bytes=(\d*)-(\d*)$")
_FORWARDED_PAIR_RE = re.compile(
    r'\s*([!#$%&\'*+.^_`|~0-9A-Za-z-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[!#$%&\'*+.^_`|~0-9A-Za-z:\[\]-]*)\s*'
)
_COOKIE_ESCAPE_RE = re.compile(r"\\(?:([0-3][0-7][0-7])|(.))")
_POST_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE", "TRACE"})
_FORM_TYPES = frozenset({"", "application/x-www-form-urlencoded", "multipart/form-data"})
_SENTINEL: Any = object()
_T = TypeVar("_T")
_R = TypeVar("_R", bound="BaseRequest")


class RequestKey(TypedKey[_T]):
    """A typed key for per-request storage: ``request[KEY]`` has type ``_T`` (aiohttp 3.11)."""

    __slots__ = ()


class InvalidJSONBody(HTTPBadRequest, json.JSONDecodeError):
    """``Request.json()`` met a malformed body.

    A 400 response when left uncaught, and still a ``json.JSONDecodeError``
    (so a ``ValueError``) for handlers that catch those, with its ``msg``,
    ``doc``, ``pos``, ``lineno`` and ``colno``.
    """

    def __init__(self, error: json.JSONDecodeError) -> None:
        super().__init__(text=f"Invalid JSON body: {error}")
        self.msg, self.doc, self.pos = error.msg, error.doc, error.pos
        self.lineno, self.colno = error.lineno, error.colno

    def __str__(self) -> str:
        return self.text or self.reason


class ETag(NamedTuple):
    """An entity tag: ``value`` without quotes, ``is_weak`` for ``W/``."""

    value: str
    is_weak: bool = False


class FileField(NamedTuple):
    """An uploaded file from a form: the seed's ``FileField``."""

    name: str
    filename: str
    file: Any
    content_type: str
    headers: CIMultiDictProxy[str]


def parse_etag(value: str) -> Optional[ETag]:
    """Parse one entity tag (``"x"`` or ``W/"x"``); None if malformed."""
    match = _ETAG_RE.fullmatch(value)
    if match is None:
        return None
    return ETag(value=match.group(2), is_weak=bool(match.group(1)))


def _parse_etags(value: Optional[str]) -> Optional[tuple[ETag, ...]]:
    if value is None:
        return None
    if value.strip() == "*":
        return (ETag(value="*"),)
    tags = []
    for part in value.split(","):
        tag = parse_etag(part)
        if tag is not None:
            tags.append(tag)
    return tuple(tags)


def _parse_date(value: Optional[str]) -> Optional[datetime.datetime]:
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=datetime.timezone.utc)
    return parsed


def _unquote_cookie(value: str) -> str:
    """Undo ``http.cookies`` quoting: ``"a\\"b\\073c"`` becomes ``a"b;c``."""
    if len(value) < 2 or value[0] != '"' or value[-1] != '"':
        return value
    return _COOKIE_ESCAPE_RE.sub(
        lambda m: chr(int(m.group(1), 8)) if m.group(1) else m.group(2), value[1:-1]
    )


def _parse_cookie_header(raw: str, into: dict[str, str]) -> None:
    """Parse a ``Cookie`` header leniently, as browsers send it.

    Unlike ``SimpleCookie.load`` (which drops every cookie after an unquoted
    space or a JSON value, and eats names like ``path``), each ``name=value``
    pair stands alone: a malformed pair is skipped, never its neighbours. A
    ``;`` inside a quoted value does not split it. The last duplicate wins.
    """
    pos, end = 0, len(raw)
    while pos < end:
        eq = raw.find("=", pos)
        semi = raw.find(";", pos)
        if eq < 0 or 0 <= semi < eq:  # a pair without '=': skip it
            pos = end if semi < 0 else semi + 1
            continue
        name = raw[pos:eq].strip()
        start = eq + 1
        while start < end and raw[start] == " ":
            start += 1
        if start < end and raw[start] == '"':
            close = _closing_quote(raw, start)
            stop = raw.find(";", close + 1) if close > 0 else semi
        else:
            stop = raw.find(";", start)
        if stop < 0:
            stop = end
        if name:
            into[name] = _unquote_cookie(raw[start:stop].strip())
        pos = stop + 1


def _closing_quote(raw: str, start: int) -> int:
    """Index of the quote closing the one at ``start`` (skipping ``\\x``), or -1."""
    i = start + 1
    while i < len(raw):
        ch = raw[i]
        if ch == "\\":
            i += 2
            continue
        if ch == '"':
            return i
        i += 1
    return -1


def _content_type_parts(raw: Optional[str]) -> tuple[str, dict[str, str]]:
    if not raw:
        return "application/octet-stream", {}
    ctype, _, rest = raw.partition(";")
    params: dict[str, str] = {}
    for part in rest.split(";"):
        key, sep, val = part.strip().partition("=")
        if sep:
            params[key.strip().lower()] = val.strip().strip('"')
    return ctype.strip().lower(), params


class BaseRequest(MutableMapping[Union[str, RequestKey[Any]], Any]):
    """A request as the low-level server sees it: no routing, no application."""

    __slots__ = (
        "_message",
        "_payload",
        "_protocol",
        "_task",
        "_loop",
        "_client_max_size",
        "_state",
        "_headers",
        "_rel_url",
        "_url",
        "_query",
        "_cookies",
        "_read_bytes",
        "_post",
        "_host",
        "_scheme",
        "_remote",
        "_path",
        "_ctype",
        "_cache",
        "_response_started",
        "_match_info",
        "__weakref__",
    )

    def __init__(
        self,
        message: RawRequestMessage,
        payload: StreamReader,
        protocol: RequestHandler,
        task: Optional[asyncio.Task[Any]] = None,
        loop: Optional[asyncio.AbstractEventLoop] = None,
        *,
        client_max_size: int = 1024**2,
        state: Optional[dict[Any, Any]] = None,
        scheme: Optional[str] = None,
        host: Optional[str] = None,
        remote: Optional[str] = None,
    ) -> None:
        self._init(
            message, payload, protocol, task, loop, client_max_size, state, scheme, host, remote
        )

    def _init(
        self,
        message: RawRequestMessage,
        payload: StreamReader,
        protocol: RequestHandler,
        task: Optional[asyncio.Task[Any]],
        loop: Optional[asyncio.AbstractEventLoop],
        client_max_size: int,
        state: Optional[dict[Any, Any]] = None,
        scheme: Optional[str] = None,
        host: Optional[str] = None,
        remote: Optional[str] = None,
    ) -> None:
        """``__init__``'s work, with positional arguments only.

        The server builds each request with ``object.__new__`` and this
        (see ``request_builder``): calling the class with keywords cost
        about 1,600 instructions more per request on Python 3.11.
        """
        self._message = message
        self._payload = payload
        self._protocol = protocol
        self._task = task
        self._loop = loop
        self._client_max_size = client_max_size
        self._state = {} if state is None else state
        self._headers: Optional[CIMultiDictProxy[str]] = None
        self._rel_url: Optional[URL] = None
        self._url: Optional[URL] = None
        self._query: Optional[MultiDictProxy[str]] = None
        self._cookies: Optional[Mapping[str, str]] = None
        self._read_bytes: Optional[bytes] = None
        self._post: Optional[MultiDictProxy[Any]] = None
        self._host = host
        self._scheme = scheme
        self._remote = remote
        self._path: Optional[str] = None
        self._ctype: Optional[tuple[str, dict[str, str]]] = None
        self._cache: Optional[dict[str, Any]] = None
        self._response_started = False
        self._match_info: Optional[UrlMappingMatchInfo] = None

    def clone(
        self,
        *,
        method: Any = _SENTINEL,
        rel_url: Any = _SENTINEL,
        headers: Any = _SENTINEL,
        scheme: Any = _SENTINEL,
        host: Any = _SENTINEL,
        remote: Any = _SENTINEL,
        client_max_size: Any = _SENTINEL,
    ) -> BaseRequest:
        """A copy with some head fields replaced; the body stream is shared.

        Raises ``RuntimeError`` once the body has been read.
        """
        if self._read_bytes is not None:
            raise RuntimeError("Cannot clone request after reading its content")
        from ._http_parser import RawRequestMessage

        msg = self._message
        raw_headers = msg.raw_headers
        new_path = msg.path
        if rel_url is not _SENTINEL:
            url = URL(rel_url)
            if url.is_absolute():
                raise ValueError("rel_url must be relative")
            new_path = str(url)
        if headers is not _SENTINEL:
            ci = CIMultiDict(headers)
            raw_headers = tuple((k.encode(), v.encode()) for k, v in ci.items())
        message = RawRequestMessage(
            msg.method if method is _SENTINEL else str(method).upper(),
            new_path,
            msg.version,
            raw_headers,
            msg.should_close,
            msg.upgrade,
            msg.chunked,
            msg.content_length,
            msg.expect,
        )
        new = self._clone_with(message)
        new._client_max_size = (
            self._client_max_size if client_max_size is _SENTINEL else client_max_size
        )
        new._scheme = self._scheme if scheme is _SENTINEL else scheme
        new._host = self._host if host is _SENTINEL else host
        new._remote = self._remote if remote is _SENTINEL else remote
        return new

    def _clone_with(self, message: RawRequestMessage) -> BaseRequest:
        return self.__class__(
            message,
            self._payload,
            self._protocol,
            self._task,
            self._loop,
            state=self._state.copy(),
        )

    def _has_prepare_hooks(self) -> bool:
        """True if ``_prepare_hook`` has anything to run (checked per response)."""
        return False

    async def _prepare_hook(self, response: StreamResponse) -> None:
        """Run before a response's head is built (signals live on ``Request``)."""

    def _cached(self, key: str, compute: Callable[[], _T]) -> _T:
        """``compute()`` once per request; for attributes too rare to earn a slot."""
        cache = self._cache
        if cache is None:
            cache = self._cache = {}
        elif key in cache:
            return cache[key]  # type: ignore[no-any-return]
        value = cache[key] = compute()
        return value

    # -- MutableMapping storage --

    @overload
    def __getitem__(self, key: RequestKey[_T]) -> _T: ...

    @overload
    def __getitem__(self, key: str) -> Any: ...

    def __getitem__(self, key: Union[str, RequestKey[Any]]) -> Any:
        return self._state[key]

    @overload
    def __setitem__(self, key: RequestKey[_T], value: _T) -> None: ...

    @overload
    def __setitem__(self, key: str, value: Any) -> None: ...

    def __setitem__(self, key: Union[str, RequestKey[Any]], value: Any) -> None:
        self._state[key] = value

    def __delitem__(self, key: Union[str, RequestKey[Any]]) -> None:
        del self._state[key]

    def __len__(self) -> int:
        return len(self._state)

    def __iter__(self) -> Iterator[Union[str, RequestKey[Any]]]:
        return iter(self._state)

    def __eq__(self, other: object) -> bool:
        return self is other

    def __hash__(self) -> int:
        return id(self)

    def __bool__(self) -> bool:
        return True

    def __repr__(self) -> str:
        return f"<{self.__class__.__name__} {self.method} {self.path} >"

    # -- connection --

    @property
    def task(self) -> Optional[asyncio.Task[Any]]:
        """The task running this request's handler: ``asyncio.current_task()`` in it.

        Until the handler first suspends, that may be aioweb's compiled request
        task: a future with a Task's methods (``cancel``, ``cancelling``,
        ``uncancel``, ``get_name``, ``get_coro``, ``get_context``,
        ``get_stack``) but not an ``asyncio.Task`` instance. From then on it is
        the ``asyncio.Task`` that took the handler over (see ``_request_task_c``).
        """
        task = self._task
        return cast("Optional[asyncio.Task[Any]]", getattr(task, "handed_over_to", None) or task)

    @property
    def protocol(self) -> RequestHandler:
        """The connection protocol."""
        return self._protocol

    @property
    def transport(self) -> Optional[asyncio.Transport]:
        """The connection's transport (None once the connection is closed)."""
        return self._protocol.transport

    @property
    def writer(self) -> RequestHandler:
        """What responses write to (the connection)."""
        return self._protocol

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The event loop (deprecated in aiohttp 3.x; kept for old code)."""
        return self._loop or asyncio.get_running_loop()

    @property
    def client_max_size(self) -> int:
        """Largest body ``read()``/``post()`` accept before answering 413."""
        return self._client_max_size

    @property
    def message(self) -> RawRequestMessage:
        """The parsed request head."""
        return self._message

    # -- request line --

    @property
    def method(self) -> str:
        """The request method, upper-case (``"GET"``)."""
        return self._message.method

    @property
    def version(self) -> HttpVersion:
        """The protocol version as ``HttpVersion(1, 1)``."""
        version = self._message.version
        return _VERSIONS.get(version) or HttpVersion(*version)

    @property
    def raw_path(self) -> str:
        """The request target exactly as sent (path and query, still encoded)."""
        return self._message.path

    @property
    def rel_url(self) -> URL:
        """The target as a relative ``yarl.URL``."""
        url = self._rel_url
        if url is None:
            target = self._message.path
            if target.startswith("/"):
                # The fragment, if a client sends one, ends the query (RFC 3986 3.5).
                target, _, fragment = target.partition("#")
                path, _, query = target.partition("?")
                url = URL.build(path=path, query_string=query, fragment=fragment, encoded=True)
            else:
                try:
                    url = URL(target)
                except ValueError:
                    raise HTTPBadRequest(text="Invalid request target") from None
                if url.is_absolute():
                    url = url.relative()
            self._rel_url = url
        return url

    @property
    def path(self) -> str:
        """The decoded path, without the query string."""
        path = self._path
        if path is None:
            target = self._message.path
            # Decoding through yarl costs ~1 us; a target with no '%' and no
            # '?' is already its own decoded path, which routing needs first.
            if target.startswith("/") and "%" not in target:
                path = target.partition("?")[0].partition("#")[0]
            else:
                path = self.rel_url.path
            self._path = path
        return path

    @property
    def raw_path_only(self) -> str:
        """The encoded path without the query string."""
        return self.rel_url.raw_path

    @property
    def path_qs(self) -> str:
        """The decoded path with the query string."""
        return str(self.rel_url)

    @property
    def query_string(self) -> str:
        """The query string, decoded (may be empty)."""
        return self.rel_url.query_string

    @property
    def query(self) -> MultiDictProxy[str]:
        """The query parameters as a ``MultiDictProxy``."""
        query = self._query
        if query is None:
            query = self._query = self.rel_url.query
        return query

    @property
    def url(self) -> URL:
        """The absolute URL: scheme and host joined with ``rel_url``."""
        url = self._url
        if url is None:
            try:
                base = URL.build(scheme=self.scheme, authority=self.host)
            except ValueError:
                raise HTTPBadRequest(text=f"Invalid Host header {self.host!r}") from None
            url = self._url = base.join(self.rel_url)
        return url

    # -- headers --

    @property
    def headers(self) -> CIMultiDictProxy[str]:
        """Request headers (a case-insensitive multidict, read-only)."""
        headers = self._headers
        if headers is None:
            headers = self._headers = CIMultiDictProxy(
                CIMultiDict(
                    (name.decode("utf-8", "surrogateescape"), value.decode("utf-8", "surrogateescape"))
                    for name, value in self._message.raw_headers
                )
            )
        return headers

    @property
    def raw_headers(self) -> tuple[tuple[bytes, bytes], ...]:
        """Headers as received: a tuple of ``(name, value)`` byte pairs."""
        return self._message.raw_headers

    @property
    def keep_alive(self) -> bool:
        """True if the client allows the connection to be reused."""
        return not self._message.should_close

    @property
    def host(self) -> str:
        """The Host header, else the server's fully qualified name."""
        host = self._host
        if host is None:
            host = self.headers.get(hdrs.HOST) or socket.getfqdn()
            self._host = host
        return host

    @property
    def scheme(self) -> str:
        """``"https"`` over TLS, else ``"http"``."""
        scheme = self._scheme
        if scheme is None:
            transport = self._protocol.transport
            ssl = transport is not None and transport.get_extra_info("sslcontext") is not None
            scheme = self._scheme = "https" if ssl else "http"
        return scheme

    @property
    def secure(self) -> bool:
        """True when ``scheme`` is https."""
        return self.scheme == "https"

    @property
    def remote(self) -> Optional[str]:
        """The peer address (IP for TCP, the socket path for Unix sockets)."""
        remote = self._remote
        if remote is None:
            transport = self._protocol.transport
            if transport is None:
                return None
            peer = transport.get_extra_info("peername")
            if isinstance(peer, (list, tuple)):
                remote = str(peer[0])
            elif peer is not None:
                remote = str(peer)
            self._remote = remote
        return remote

    @property
    def forwarded(self) -> tuple[Mapping[str, str], ...]:
        """RFC 7239 ``Forwarded`` elements, one read-only mapping per hop.

        Malformed pairs are skipped. Parsed on first access, then cached.
        """
        return self._cached("forwarded", self._parse_forwarded)

    def _parse_forwarded(self) -> tuple[Mapping[str, str], ...]:
        elements: list[Mapping[str, str]] = []
        for field in self.headers.getall(hdrs.FORWARDED, ()):
            for element in field.split(","):
                pairs: dict[str, str] = {}
                for pair in element.split(";"):
                    match = _FORWARDED_PAIR_RE.fullmatch(pair)
                    if match is None:
                        continue
                    name, value = match.group(1).lower(), match.group(2)
                    if value.startswith('"'):
                        value = re.sub(r"\\(.)", r"\1", value[1:-1])
                    pairs.setdefault(name, value)
                elements.append(MappingProxyType(pairs))
        return tuple(elements)

    @property
    def cookies(self) -> Mapping[str, str]:
        """Cookies sent by the client, as a read-only mapping of name to value."""
        cookies = self._cookies
        if cookies is None:
            parsed: dict[str, str] = {}
            for raw in self.headers.getall(hdrs.COOKIE, ()):
                _parse_cookie_header(raw, parsed)
            cookies = self._cookies = MappingProxyType(parsed)
        return cookies

    # -- entity headers --

    def _content_type(self) -> tuple[str, dict[str, str]]:
        parts = self._ctype
        if parts is None:
            parts = self._ctype = _content_type_parts(self.headers.get(hdrs.CONTENT_TYPE))
        return parts

    @property
    def content_type(self) -> str:
        """The media type of the body, lower-cased, without parameters.

        ``application/octet-stream`` when there is no Content-Type header.
        """
        return self._content_type()[0]

    @property
    def charset(self) -> Optional[str]:
        """The ``charset`` parameter of Content-Type, or None."""
        return self._content_type()[1].get("charset")

    @property
    def content_length(self) -> Optional[int]:
        """The Content-Length as an int, or None."""
        return self._message.content_length

    @property
    def if_modified_since(self) -> Optional[datetime.datetime]:
        """If-Modified-Since as an aware datetime, or None."""
        return self._cached("if_modified_since", lambda: _parse_date(self.headers.get(hdrs.IF_MODIFIED_SINCE)))

    @property
    def if_unmodified_since(self) -> Optional[datetime.datetime]:
        """If-Unmodified-Since as an aware datetime, or None."""
        return self._cached("if_unmodified_since", lambda: _parse_date(self.headers.get(hdrs.IF_UNMODIFIED_SINCE)))

    @property
    def if_range(self) -> Optional[datetime.datetime]:
        """If-Range as an aware datetime, or None (an ETag there gives None)."""
        return self._cached("if_range", lambda: _parse_date(self.headers.get(hdrs.IF_RANGE)))

    @property
    def if_match(self) -> Optional[tuple[ETag, ...]]:
        """If-Match entity tags, or None if the header is absent."""
        return self._cached("if_match", lambda: _parse_etags(self.headers.get(hdrs.IF_MATCH)))

    @property
    def if_none_match(self) -> Optional[tuple[ETag, ...]]:
        """If-None-Match entity tags, or None if the header is absent."""
        return self._cached("if_none_match", lambda: _parse_etags(self.headers.get(hdrs.IF_NONE_MATCH)))

    @property
    def http_range(self) -> slice:
        """The Range header as a ``slice`` (``slice(None, None)`` if absent).

        Raises ``ValueError`` for a malformed or inverted range.
        """
        rng = self.headers.get(hdrs.RANGE)
        if rng is None:
            return slice(None, None, None)
        match = _RANGE_RE.match(rng.strip())
        if match is None:
            raise ValueError("range not in acceptable format")
        first, last = match.groups()
        start = int(first) if first else None
        end = int(last) if last else None
        if start is None and end is not None:
            return slice(-end, None, None)
        if start is not None and end is not None:
            if start > end:
                raise ValueError("start cannot be after end")
            end += 1
        if start is None and end is None:
            raise ValueError("No start or end of range specified")
        return slice(start, end, None)

    # -- body --

    @property
    def content(self) -> StreamReader:
        """The body as a ``StreamReader`` (``read``, ``readany``, ``iter_chunked``...)."""
        return self._payload

    @property
    def can_read_body(self) -> bool:
        """True if body bytes remain to be read."""
        return not self._payload.at_eof()

    @property
    def body_exists(self) -> bool:
        """True if the request announced a body."""
        return self._payload is not EMPTY_PAYLOAD

    @property
    def has_body(self) -> bool:
        """Deprecated alias of ``can_read_body``."""
        return self.can_read_body

    async def release(self) -> None:
        """Read and discard what is left of the body."""
        while await self._payload.readany():
            pass

    async def read(self) -> bytes:
        """The whole body, read once and cached.

        Raises ``HTTPRequestEntityTooLarge`` (413) past ``client_max_size``.
        """
        if self._read_bytes is None:
            limit = self._client_max_size
            declared = self._message.content_length
            if limit and declared is not None and declared > limit:
                raise HTTPRequestEntityTooLarge(max_size=limit, actual_size=declared)
            payload = self._payload
            whole = payload.take_complete(limit)
            if whole is not None:  # the body has already arrived
                self._read_bytes = whole
                return whole
            # Take everything buffered per wake-up and join once: a body that
            # arrived in one piece is returned without a copy.
            chunks: list[bytes] = []
            total = 0
            while True:
                chunk = await payload.read(limit - total + 1 if limit else 1 << 62)
                if not chunk:
                    break
                chunks.append(chunk)
                total += len(chunk)
                if limit and total > limit:
                    raise HTTPRequestEntityTooLarge(max_size=limit, actual_size=total)
            self._read_bytes = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        return self._read_bytes

    async def text(self) -> str:
        """The body decoded with its charset (utf-8 by default).

        Raises ``HTTPUnsupportedMediaType`` (415) for a charset Python does
        not know and ``HTTPBadRequest`` (400) for bytes invalid in it.
        """
        body = await self.read()
        return self._decode(body)

    def _decode(self, body: bytes) -> str:
        encoding = self.charset or "utf-8"
        try:
            return body.decode(encoding)
        except LookupError:
            raise HTTPUnsupportedMediaType(text=f"Unknown charset {encoding!r}") from None
        except UnicodeDecodeError as exc:
            raise HTTPBadRequest(
                text=f"Request body is not valid {encoding}: {exc.reason} at byte {exc.start}"
            ) from None

    async def json(
        self, *, loads: JSONDecoder = DEFAULT_JSON_DECODER, content_type: Optional[str] = None
    ) -> Any:
        """The body parsed as JSON with ``loads``.

        Malformed JSON raises ``InvalidJSONBody``: a 400 if uncaught, and a
        ``json.JSONDecodeError`` (a ``ValueError``) to ``except`` clauses.
        With ``content_type``, a body of another media type is refused (400)
        before it is read.
        """
        if content_type is not None and self.content_type != content_type:
            raise HTTPBadRequest(
                text=f"Attempt to decode JSON with unexpected mimetype: {self.content_type}"
            )
        body = await self.text()
        try:
            return loads(body)
        except json.JSONDecodeError as exc:
            raise InvalidJSONBody(exc) from exc

    async def multipart(self) -> MultipartReader:
        """A streaming reader over a ``multipart/*`` body (parts read one by one)."""
        from .multipart import MultipartReader

        return MultipartReader(self.headers, self.content)

    async def post(self) -> MultiDictProxy[Any]:
        """Form fields of an ``application/x-www-form-urlencoded`` body, cached.

        ``multipart/form-data`` is read by ``aioweb.multipart.read_form``
        (uploads become ``FileField``). Other content types, and methods
        without a body, give an empty mapping. The size limit and charset
        errors are those of ``read()`` and ``text()``.
        """
        if self._post is not None:
            return self._post
        ctype = self.content_type
        if self.method not in _POST_METHODS or ctype not in _FORM_TYPES:
            self._post = MultiDictProxy(MultiDict())
            return self._post
        if ctype == "multipart/form-data":
            from . import multipart

            self._post = await multipart.read_form(self)
            return self._post
        text = self._decode(await self.read())
        fields = parse_qsl(text, keep_blank_values=True, encoding=self.charset or "utf-8")
        self._post = MultiDictProxy(MultiDict(fields))
        return self._post


_new_object = object.__new__


def request_builder(
    cls: type[_R], loop: Optional[asyncio.AbstractEventLoop], client_max_size: int
) -> Callable[[RawRequestMessage, StreamReader, RequestHandler, Optional[asyncio.Task[Any]]], _R]:
    """What the server calls to build each request, for ``cls`` with ``BaseRequest.__init__``.

    ``build(message, payload, protocol, task)`` returns what ``cls(message,
    payload, protocol, task, loop, client_max_size=client_max_size)`` would,
    without calling the class: about 1,600 instructions less per request
    on Python 3.11 (``bench/micro.py``). Only for a ``cls`` that does not
    override ``__init__``.
    """

    def build(
        message: RawRequestMessage,
        payload: StreamReader,
        protocol: RequestHandler,
        task: Optional[asyncio.Task[Any]],
    ) -> _R:
        request: _R = _new_object(cls)
        request._init(message, payload, protocol, task, loop, client_max_size)
        return request

    return build


class Request(BaseRequest):
    """A routed request: adds ``match_info``, ``app`` and ``config_dict``."""

    __slots__ = ()

    def _clone_with(self, message: RawRequestMessage) -> BaseRequest:
        new = super()._clone_with(message)
        assert isinstance(new, Request)
        new._match_info = self._match_info
        return new

    @property
    def match_info(self) -> UrlMappingMatchInfo:
        """The route's match result: the variable parts, plus ``.route`` and ``.apps``."""
        assert self._match_info is not None
        return self._match_info

    @property
    def app(self) -> Application:
        """The application that owns the matched route."""
        match_info = self._match_info
        assert match_info is not None
        return match_info.current_app

    @property
    def config_dict(self) -> Mapping[Any, Any]:
        """The app's storage chained with its parents' (innermost first)."""
        from .web_app import ChainMapProxy

        match_info = self._match_info
        assert match_info is not None
        return ChainMapProxy(list(reversed(match_info.apps)))

    def _has_prepare_hooks(self) -> bool:
        match_info = self._match_info
        if match_info is None:
            return False
        for app in match_info._apps:
            if app._on_response_prepare:
                return True
        return False

    async def _prepare_hook(self, response: StreamResponse) -> None:
        match_info = self._match_info
        if match_info is None:
            return
        for app in match_info.apps:
            signal = app.on_response_prepare
            if signal:
                await signal.send(self, response)
