"""Responses: ``StreamResponse`` (streamed), ``Response`` (whole body), ``json_response``.

A ``Response`` is serialised into one buffer, head and body together, and
leaves in one ``transport.write``. A ``StreamResponse`` sends its head at
``prepare()`` and each ``write()`` waits while the transport is paused.
Header names and values are checked for CR, LF and NUL when they are set, so
a header can never split the response.
"""

from __future__ import annotations

import datetime
import functools
import json
import math
import time
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import Executor
from email.utils import parsedate_to_datetime
from http.cookies import CookieError, Morsel, SimpleCookie
from typing import TYPE_CHECKING, Any, Optional, TypeVar, Union, overload

from multidict import CIMultiDict

from . import hdrs
from ._compression import (
    ZLIB_EXECUTOR_SIZE,
    Compressor,
    ContentCoding,
    add_vary,
    coerce_force,
    compress_body,
    select_coding,
)
from ._flow_control import set_tcp_cork, set_tcp_nodelay
from ._http_writer import DATE, StreamWriter, date_value, reason_phrase, status_line
from ._json import fast_dumps
from ._multipart_writer import Payload
from .typedefs import JSONEncoder, LooseHeaders, TypedKey

if TYPE_CHECKING:
    from .web_request import BaseRequest

__all__ = (
    "ContentCoding",
    "Headers",
    "Response",
    "ResponseKey",
    "StreamResponse",
    "json_response",
)

SERVER_SOFTWARE = "aioweb"
_FORBIDDEN = ("\r", "\n", "\x00")
_NO_BODY_STATUSES = frozenset({204, 304})
# A body this large leaves beside its head (``transport.writelines``: one
# writev on uvloop and on asyncio since Python 3.12) instead of being copied
# behind it: a 64 KiB echo took 3-5 us less user CPU per request on uvloop
# (bench/RESULTS.md, ninth session). Below it, one copy is cheaper than a
# second buffer.
_JOIN_BELOW = 16384
_EPOCH = "Thu, 01 Jan 1970 00:00:00 GMT"
_TEXT_UTF8 = "text/plain; charset=utf-8"
_JSON_UTF8 = "application/json; charset=utf-8"
# Status line, Content-Type and "Content-Length: " of quick sends, by (minor,
# status, content type), for the standard reason phrase: one lookup instead of
# formatting (~1k instructions per response). At most _HEAD_PREFIX_LIMIT.
_HEAD_PREFIXES: dict[tuple[int, int, str], str] = {}
_HEAD_PREFIX_LIMIT = 256
_set_unchecked = CIMultiDict.__setitem__  # for constants known to be valid
_SENTINEL: Any = object()
_time = time.time


_T = TypeVar("_T")


class ResponseKey(TypedKey[_T]):
    """A typed key for per-response storage: ``response[KEY]`` has type ``_T`` (aiohttp 3.11)."""

    __slots__ = ()


def _check_header(name: object, value: object) -> tuple[str, str]:
    if not isinstance(name, str):
        raise TypeError(f"Header name must be str, got {type(name).__name__}")
    if not isinstance(value, str):
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        else:
            raise TypeError(f"Header {name!r} value must be str, got {type(value).__name__}")
    for ch in _FORBIDDEN:
        if ch in name or ch in value:  # type: ignore[operator]
            raise ValueError(
                f"Header {name!r} contains a forbidden character {ch!r}: "
                "CR, LF and NUL would allow response splitting"
            )
    if not name or ":" in name or " " in name:
        raise ValueError(f"Invalid header name {name!r}")
    return name, value  # type: ignore[return-value]


@functools.lru_cache(maxsize=64)
def _content_type_value(ctype: str, charset: Optional[str]) -> str:
    """``"<ctype>; charset=<charset>"`` (or ``ctype`` alone), checked once per pair.

    ``json_response`` and typed ``Response`` bodies repeat the same value on
    every response; the cache saves the CR/LF check and the formatting (about
    a third of their cost). A value that fails the check raises and is not
    cached.
    """
    value = f"{ctype}; charset={charset}" if charset else ctype
    _check_header(hdrs.CONTENT_TYPE, value)
    return value


def _head_prefix(minor: int, status: int, ctype: str) -> str:
    """Build (and keep, while there is room) a quick send's head prefix."""
    prefix = f"{status_line(minor, status, None)}Content-Type: {ctype}\r\nContent-Length: "
    if len(_HEAD_PREFIXES) < _HEAD_PREFIX_LIMIT:
        _HEAD_PREFIXES[(minor, status, ctype)] = prefix
    return prefix


def _cookie_attr(key: str, value: object) -> str:
    text = str(value)
    for ch in (*_FORBIDDEN, ";"):
        if ch in text:
            raise ValueError(f"Cookie attribute {key!r} cannot contain {ch!r}: {text!r}")
    return text


class Headers(CIMultiDict[str]):
    """A ``CIMultiDict`` that refuses CR, LF and NUL in names and values.

    Every mutating method validates, so the check happens once, at assignment,
    and serialisation can trust what it holds.
    """

    __slots__ = ()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # CIMultiDict.__new__ already built an empty store; its __init__
        # would add the arguments unchecked, so they go through extend().
        if args or kwargs:
            self.extend(*args, **kwargs)

    def __setitem__(self, key: str, value: str) -> None:
        super().__setitem__(*_check_header(key, value))

    def add(self, key: str, value: str) -> None:  # type: ignore[override]
        super().add(*_check_header(key, value))

    def setdefault(self, key: str, default: str = None) -> str:  # type: ignore[assignment,override]
        if key in self:
            return self[key]
        self[key] = default
        return default

    def _pairs(self, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> list[tuple[str, str]]:
        pairs: list[tuple[str, str]] = []
        for arg in args:
            items: Iterable[Any] = arg.items() if hasattr(arg, "items") else arg
            for item in items:
                pairs.append(_check_header(item[0], item[1]))
        for key, value in kwargs.items():
            pairs.append(_check_header(key, value))
        return pairs

    def extend(self, *args: Any, **kwargs: Any) -> None:
        super().extend(self._pairs(args, kwargs))

    def update(self, *args: Any, **kwargs: Any) -> None:
        super().update(self._pairs(args, kwargs))

    def merge(self, *args: Any, **kwargs: Any) -> None:
        super().merge(self._pairs(args, kwargs))


class StreamResponse:
    """A response whose body is written piece by piece after ``prepare()``.

    Streams default to TCP NODELAY (the seed's Flow control section). Reusing
    a prepared response for another request raises ``RuntimeError``. A
    response also stores per-response data by key (``resp["k"] = v``).
    """

    _length_check = True
    _default_cork = False
    # State the usual response never reads or changes starts as these class
    # defaults, stored on the instance only when set. State the hot path reads
    # is stored in ``_init_head``: on Python 3.11 reading a class default
    # through an instance costs ~230 instructions more than an instance value.
    _partitioned: Optional[set[str]] = None
    _req: Optional[BaseRequest] = None
    _body_length = 0
    _tcp_touched = False
    # Created on first use: most responses never store anything.
    _state: Optional[dict[Any, Any]] = None
    # Headers a quick send wrote but did not store (see Response._quick_data).
    # (Content-Type if added, Content-Length, Connection if sent, Date)
    _late_headers: Optional[tuple[Optional[str], str, Optional[str], str]] = None
    # Compression state is kept on the class until enable_compression() and
    # prepare() set it (``_compression`` aside, which the hot path reads).
    _compression = False
    _compression_force: Optional[ContentCoding] = None
    _compression_strategy: Optional[int] = None
    _compressor: Optional[Compressor] = None  # set for a stream being encoded
    _coding_streamed = False  # encoded stream: its length is unknown
    # Headers are built on first use (``_headers``): a CIMultiDict costs about
    # 2,000 instructions to create, and the usual response holds only a
    # Content-Type, which waits here until then.
    _lazy_ctype: Optional[str] = None

    def __init__(
        self,
        *,
        status: int = 200,
        reason: Optional[str] = None,
        headers: Optional[LooseHeaders] = None,
    ) -> None:
        self._init_head(status, reason, headers)

    def _init_head(self, status: int, reason: Optional[str], headers: Optional[LooseHeaders]) -> None:
        """What every response sets up: headers, and the status unless 200."""
        self._hdrs: Optional[Headers] = Headers(headers) if headers else None
        self._writer: Optional[StreamWriter] = None
        self._eof_sent = False
        self._status = 200
        self._reason: Optional[str] = None
        if status != 200 or reason is not None:  # skip the checks for the usual 200
            self.set_status(status, reason)
        self._cookies: Optional[SimpleCookie] = None
        self._chunked = False
        self._keep_alive: Optional[bool] = None
        self._tcp_cork: Optional[bool] = None
        self._tcp_nodelay: Optional[bool] = None
        self._compression = False

    # -- status --

    @property
    def prepared(self) -> bool:
        """True once the head has been built (``prepare()`` ran)."""
        return self._writer is not None or self._eof_sent

    @property
    def task(self) -> Optional[Any]:
        """The task running the handler, if known."""
        req = self._req
        return None if req is None else req.task

    @property
    def status(self) -> int:
        """The numeric status code."""
        return self._status

    @property
    def reason(self) -> str:
        """The reason phrase (the standard one unless given)."""
        if self._reason is not None:
            return self._reason
        return reason_phrase(self._status)

    def set_status(self, status: int, reason: Optional[str] = None) -> None:
        """Set the status (100-999) and optional reason; not after ``prepare()``."""
        if self.prepared:
            raise RuntimeError("Cannot change the response status after the headers are sent")
        status = int(status)
        if not 100 <= status <= 999:
            raise ValueError(f"Invalid status code {status}")
        if reason is not None:
            if not isinstance(reason, str):
                raise TypeError(f"Reason must be str, got {type(reason).__name__}")
            if any(ch in reason for ch in _FORBIDDEN):
                raise ValueError("Reason phrase cannot contain CR, LF or NUL")
        self._status = status
        self._reason = reason

    # -- keep-alive --

    @property
    def keep_alive(self) -> Optional[bool]:
        """Whether the connection stays open after this response."""
        return self._keep_alive

    def force_close(self) -> None:
        """Close the connection after this response."""
        self._keep_alive = False

    # -- body framing --

    @property
    def chunked(self) -> bool:
        """True if ``enable_chunked_encoding()`` was called."""
        return self._chunked

    @property
    def compression(self) -> bool:
        """True if compression was enabled."""
        return self._compression

    def enable_chunked_encoding(self, chunk_size: Optional[int] = None) -> None:
        """Send the body with ``Transfer-Encoding: chunked``.

        Raises ``RuntimeError`` if a Content-Length is already set.
        """
        if hdrs.CONTENT_LENGTH in self._headers:
            raise RuntimeError("You can't enable chunked encoding when a content length is set")
        self._chunked = True

    def enable_compression(
        self,
        force: Union[ContentCoding, str, bool, None] = None,
        strategy: Optional[int] = None,
    ) -> None:
        """Compress the body with the best coding the request accepts, or ``force``.

        Decided at ``prepare()`` (after ``on_response_prepare``): br, gzip or
        deflate chosen from ``Accept-Encoding`` (br only with the ``brotli``
        package), ``Content-Encoding`` set and ``Accept-Encoding`` added to
        ``Vary``. A streamed body loses its Content-Length (chunked on
        HTTP/1.1, close-delimited on HTTP/1.0) and every ``write()`` is
        encoded; a ``Response`` body is encoded once. Nothing is encoded for
        1xx/204/304, a response that already has Content-Encoding or
        Content-Range, or an empty ``Response`` body. ``force`` is a
        ``ContentCoding`` or its name (bool is deprecated); ``strategy`` goes
        to zlib. Raises ``RuntimeError`` after ``prepare()``.
        """
        if self.prepared:
            raise RuntimeError("Cannot enable compression after the headers are sent")
        self._compression_force = coerce_force(force)
        self._compression = True
        self._compression_strategy = strategy

    async def _start_compression(self, request: BaseRequest) -> None:
        coding = self._negotiate_coding(request)
        if coding is not None:
            await self._apply_coding(coding, request)

    def _negotiate_coding(self, request: BaseRequest) -> Optional[ContentCoding]:
        """The coding to send (None: none), adding ``Vary`` when the request chose."""
        headers = self._headers
        status = self._status
        if (
            status < 200
            or status == 204
            or hdrs.CONTENT_ENCODING in headers
            or hdrs.CONTENT_RANGE in headers  # ranges count unencoded bytes
        ):
            return None
        force = self._compression_force
        if force is not None:
            return None if force is ContentCoding.identity or status == 304 else force
        # A 304 carries the Vary its 200 would have (RFC 9110 section 15.4.5).
        vary = add_vary(headers, hdrs.ACCEPT_ENCODING)
        if vary is not None:  # built from checked values and a constant
            _set_unchecked(headers, hdrs.VARY, vary)
        if status == 304:
            return None
        return select_coding(request.headers.get(hdrs.ACCEPT_ENCODING))

    async def _apply_coding(self, coding: ContentCoding, request: BaseRequest) -> None:
        """Streams: announce ``coding``, drop Content-Length, encode each write."""
        headers = self._headers
        _set_unchecked(headers, hdrs.CONTENT_ENCODING, coding.value)
        headers.popall(hdrs.CONTENT_LENGTH, None)
        self._coding_streamed = True
        if request.method != "HEAD":
            self._compressor = Compressor(coding, strategy=self._compression_strategy)

    @property
    def headers(self) -> Headers:
        """The response headers; assignment of CR/LF/NUL raises ``ValueError``."""
        if self._late_headers is not None:
            self._store_late_headers()
        return self._headers

    @property
    def _headers(self) -> Headers:
        """The header store, created (with a waiting Content-Type) on first use."""
        headers = self._hdrs
        if headers is None:
            headers = self._hdrs = Headers()
            ctype = self._lazy_ctype
            if ctype is not None:
                _set_unchecked(headers, hdrs.CONTENT_TYPE, ctype)
        return headers

    @_headers.setter
    def _headers(self, headers: Headers) -> None:
        self._hdrs = headers

    def _store_late_headers(self) -> None:
        """Add the headers a quick send wrote, so ``headers`` shows what was sent."""
        late, self._late_headers = self._late_headers, None
        if late is None:
            return
        ctype, size, connection, date = late
        headers = self._headers
        if ctype is not None:
            _set_unchecked(headers, hdrs.CONTENT_TYPE, ctype)
        _set_unchecked(headers, hdrs.CONTENT_LENGTH, size)
        if connection is not None:
            _set_unchecked(headers, hdrs.CONNECTION, connection)
        _set_unchecked(headers, hdrs.DATE, date)
        _set_unchecked(headers, hdrs.SERVER, SERVER_SOFTWARE)

    @property
    def cookies(self) -> SimpleCookie:
        """Cookies to send, as a ``http.cookies.SimpleCookie``."""
        if self._cookies is None:
            self._cookies = SimpleCookie()
        return self._cookies

    def set_cookie(
        self,
        name: str,
        value: str,
        *,
        expires: Optional[str] = None,
        domain: Optional[str] = None,
        max_age: Optional[Union[int, str]] = None,
        path: str = "/",
        secure: Optional[bool] = None,
        httponly: Optional[bool] = None,
        version: Optional[str] = None,
        samesite: Optional[str] = None,
        partitioned: Optional[bool] = None,
    ) -> None:
        """Set a cookie, sent as one ``Set-Cookie`` header at ``prepare()``.

        The value is quoted as ``http.cookies`` does (spaces, quotes, ``;``
        and control characters are escaped inside double quotes), so it can
        never add attributes. Setting a cookie again keeps the attributes not
        given, except ``max-age`` (reset) and the expiry ``del_cookie`` set.
        Raises ``ValueError`` for an invalid name, or an attribute containing
        CR, LF, NUL or ``;``.
        """
        attrs: dict[str, Any] = {
            "expires": expires,
            "domain": domain,
            "max-age": max_age,
            "path": path,
            "secure": secure,
            "httponly": httponly,
            "version": version,
            "samesite": samesite,
        }
        morsel = self._morsel_for(name, value)
        for key, attr in attrs.items():
            if attr is not None:
                morsel[key] = attr if isinstance(attr, bool) else _cookie_attr(key, attr)
            elif key == "max-age" or (key == "expires" and morsel["expires"] == _EPOCH):
                morsel[key] = ""
        self._set_partitioned(name, bool(partitioned))

    def _morsel_for(self, name: str, value: str) -> Morsel[str]:
        """Store ``value`` under ``name``; a deleted cookie starts afresh."""
        cookies = self.cookies
        old = cookies.get(name)
        if old is not None and old.coded_value == "":
            del cookies[name]
        try:
            cookies[name] = value
        except CookieError as exc:
            raise ValueError(f"Invalid cookie name {name!r}: {exc}") from None
        return cookies[name]

    def _set_partitioned(self, name: str, partitioned: bool) -> None:
        # http.cookies.Morsel has no Partitioned flag before Python 3.14.
        if partitioned:
            if self._partitioned is None:
                self._partitioned = set()
            self._partitioned.add(name)
        elif self._partitioned is not None:
            self._partitioned.discard(name)

    def del_cookie(
        self,
        name: str,
        *,
        domain: Optional[str] = None,
        path: str = "/",
        secure: Optional[bool] = None,
        httponly: Optional[bool] = None,
        samesite: Optional[str] = None,
    ) -> None:
        """Tell the client to delete a cookie (empty value, expired, Max-Age=0)."""
        if self._cookies is not None:
            self._cookies.pop(name, None)
        self.set_cookie(
            name,
            "",
            max_age=0,
            expires=_EPOCH,
            domain=domain,
            path=path,
            secure=secure,
            httponly=httponly,
            samesite=samesite,
        )

    # -- entity headers --

    @property
    def content_length(self) -> Optional[int]:
        """The Content-Length header as an int, or None."""
        value = self._headers.get(hdrs.CONTENT_LENGTH)
        return None if value is None else int(value)

    @content_length.setter
    def content_length(self, value: Optional[int]) -> None:
        if value is not None:
            value = int(value)
            if value < 0:
                raise ValueError("Content-Length cannot be negative")
            if self._chunked:
                raise RuntimeError("You can't set content length when chunked encoding is enabled")
            self._headers[hdrs.CONTENT_LENGTH] = str(value)
        else:
            self._headers.pop(hdrs.CONTENT_LENGTH, None)

    def _content_type_parts(self) -> tuple[str, dict[str, str]]:
        raw = self._headers.get(hdrs.CONTENT_TYPE)
        if raw is None:
            return "application/octet-stream", {}
        ctype, _, rest = raw.partition(";")
        params: dict[str, str] = {}
        for part in rest.split(";"):
            key, sep, val = part.strip().partition("=")
            if sep:
                params[key.lower()] = val.strip('"')
        return ctype.strip().lower(), params

    def _set_content_type(self, ctype: str, params: Mapping[str, str]) -> None:
        text = ctype + "".join(f"; {k}={v}" for k, v in params.items())
        self._headers[hdrs.CONTENT_TYPE] = text

    @property
    def content_type(self) -> str:
        """The media type without parameters (default ``application/octet-stream``)."""
        return self._content_type_parts()[0]

    @content_type.setter
    def content_type(self, value: str) -> None:
        _, params = self._content_type_parts()
        self._set_content_type(str(value), params)

    @property
    def charset(self) -> Optional[str]:
        """The ``charset`` parameter of Content-Type, lower-cased, or None."""
        charset = self._content_type_parts()[1].get("charset")
        return None if charset is None else charset.lower()

    @charset.setter
    def charset(self, value: Optional[str]) -> None:
        ctype, params = self._content_type_parts()
        if ctype == "application/octet-stream":
            raise RuntimeError(
                "Setting charset for application/octet-stream doesn't make sense, "
                "setup content_type first"
            )
        if value is None:
            params.pop("charset", None)
        else:
            params["charset"] = str(value).lower()
        self._set_content_type(ctype, params)

    @property
    def last_modified(self) -> Optional[datetime.datetime]:
        """Last-Modified as an aware datetime, or None."""
        value = self._headers.get(hdrs.LAST_MODIFIED)
        if value is None:
            return None
        try:
            parsed = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=datetime.timezone.utc)
        return parsed

    @last_modified.setter
    def last_modified(
        self, value: Optional[Union[int, float, datetime.datetime, str]]
    ) -> None:
        if value is None:
            self._headers.pop(hdrs.LAST_MODIFIED, None)
        elif isinstance(value, (int, float)):
            self._headers[hdrs.LAST_MODIFIED] = time.strftime(
                "%a, %d %b %Y %H:%M:%S GMT", time.gmtime(math.ceil(value))
            )
        elif isinstance(value, datetime.datetime):
            self._headers[hdrs.LAST_MODIFIED] = time.strftime(
                "%a, %d %b %Y %H:%M:%S GMT", value.utctimetuple()
            )
        elif isinstance(value, str):
            self._headers[hdrs.LAST_MODIFIED] = value
        else:
            raise TypeError(f"Unsupported type for last_modified: {type(value).__name__}")

    @property
    def etag(self) -> Optional[Any]:
        """The ETag as an ``ETag(value, is_weak)``, or None."""
        from .web_request import ETag, parse_etag

        value = self._headers.get(hdrs.ETAG)
        if value is None:
            return None
        tag = parse_etag(value)
        return tag if tag is not None else ETag(value=value)

    @etag.setter
    def etag(self, value: Optional[Any]) -> None:
        from .web_request import ETag

        if value is None:
            self._headers.pop(hdrs.ETAG, None)
        elif isinstance(value, str) and value != "*":
            if '"' in value:
                raise ValueError(f"Invalid ETag value {value!r}: it may not contain quotes")
            self._headers[hdrs.ETAG] = f'"{value}"'
        elif value == "*":
            self._headers[hdrs.ETAG] = "*"
        elif isinstance(value, ETag):
            prefix = "W/" if value.is_weak else ""
            self._headers[hdrs.ETAG] = f'{prefix}"{value.value}"'
        else:
            raise ValueError(f"Unsupported etag type: {type(value).__name__}")

    # -- flow control (the seed's CORK / NODELAY modes) --
    #
    # asyncio puts every TCP socket in NODELAY mode, which is already the
    # streams' default. A Response leaves in one write, and CORK around one
    # write followed by uncorking at EOF sends exactly what NODELAY sends, so
    # the defaults cost no system call: the socket is only touched when a
    # handler asks for a mode, and restored to NODELAY at ``write_eof()`` so
    # the tail is flushed and the next response starts from the default.

    @property
    def tcp_cork(self) -> bool:
        """True while this response is in CORK mode (the default for ``Response``)."""
        if self._tcp_cork is None:
            return self._default_cork
        return self._tcp_cork

    @property
    def tcp_nodelay(self) -> bool:
        """True while Nagle's algorithm is off (the default for streams)."""
        if self._tcp_nodelay is None:
            return not self._default_cork
        return self._tcp_nodelay

    def set_tcp_cork(self, value: bool) -> None:
        """Switch CORK mode on or off (turning it on turns NODELAY off).

        Where the OS has neither ``TCP_CORK`` nor ``TCP_NOPUSH`` the socket
        is left in Nagle's mode, which is what CORK degrades to.
        """
        self._tcp_cork = bool(value)
        self._tcp_nodelay = False if value else self.tcp_nodelay
        self._apply_tcp_mode()

    def set_tcp_nodelay(self, value: bool) -> None:
        """Switch NODELAY mode on or off (turning it on turns CORK off)."""
        self._tcp_nodelay = bool(value)
        self._tcp_cork = False if value else self.tcp_cork
        self._apply_tcp_mode()

    def _apply_tcp_mode(self) -> None:
        """Put the socket in this response's mode, once prepared."""
        req = self._req
        if req is None or self._eof_sent:
            return  # applied by _start(), or nothing left to send
        self._tcp_touched = True
        transport = req.transport
        if self.tcp_cork:
            set_tcp_cork(transport, True)
        elif self.tcp_nodelay:
            set_tcp_nodelay(transport, True)
        else:  # Nagle's mode: uncork (flushing what CORK held), then clear NODELAY
            set_tcp_cork(transport, False)
            set_tcp_nodelay(transport, False)

    def _restore_tcp_mode(self) -> None:
        if self._tcp_touched and self._req is not None:
            self._tcp_touched = False
            set_tcp_nodelay(self._req.transport, True)

    # -- sending --

    async def prepare(self, request: BaseRequest) -> Optional[StreamWriter]:
        """Build and send the head; run ``on_response_prepare`` first.

        Idempotent for the same request; raises ``RuntimeError`` if the
        response was already sent for a different one.
        """
        if self._eof_sent:
            return None
        if self._writer is not None:
            if self._req is not request:
                raise RuntimeError("Response has already been prepared for another request")
            return self._writer
        return await self._start(request)

    async def _start(self, request: BaseRequest) -> StreamWriter:
        self._req = request
        request._response_started = True
        await request._prepare_hook(self)
        if self._compression:
            await self._start_compression(request)
        writer = self._writer = StreamWriter(request._protocol)
        if self._tcp_cork is not None or self._tcp_nodelay is not None:
            self._apply_tcp_mode()
        writer.set_head(self._build_head(request, writer))
        if self._send_head_early():
            writer.flush_head()
        return writer

    def _send_head_early(self) -> bool:
        return True

    async def _finish(self, request: BaseRequest) -> None:
        """Called by the server after the handler: prepare if needed, end the body."""
        if self._eof_sent:
            if self._req is not request:
                raise RuntimeError("Response has already been sent for another request")
            return
        if self._writer is None:
            await self._start(request)
        elif self._req is not request:
            raise RuntimeError("Response has already been prepared for another request")
        await self.write_eof()

    def _build_head(self, request: BaseRequest, writer: StreamWriter) -> bytes:
        """Serialise status line and headers; decide framing and keep-alive.

        Sets ``writer.chunked``/``writer.suppress_body`` and ``keep_alive``.
        Headers the server adds itself (Content-Length, Transfer-Encoding,
        Connection, Date, Server) are stored unchecked: they are constants or
        numbers, and the CR/LF check costs ~0.3 us each.
        """
        message = request._message
        minor = message.version[1]
        headers = self._headers
        keep_alive = self._keep_alive
        if keep_alive is None:
            keep_alive = not message.should_close
        if self._cookies:
            self._add_cookie_headers(headers)
        status = self._status
        if status in _NO_BODY_STATUSES or status < 200:
            headers.popall(hdrs.CONTENT_LENGTH, None)
            headers.popall(hdrs.TRANSFER_ENCODING, None)
            writer.suppress_body = True
        else:
            if message.method == "HEAD":
                writer.suppress_body = True
            size = None if self._chunked else self._body_size()
            if size is not None:
                _set_unchecked(headers, hdrs.CONTENT_LENGTH, str(size))
            elif (
                self._chunked
                or (hdrs.CONTENT_LENGTH not in headers and not self._fixed_length())
                or self._coding_streamed
            ):
                if minor:
                    if not writer.suppress_body:
                        writer.chunked = True
                    _set_unchecked(headers, hdrs.TRANSFER_ENCODING, "chunked")
                    headers.popall(hdrs.CONTENT_LENGTH, None)
                else:
                    keep_alive = False
            if hdrs.CONTENT_TYPE not in headers:
                _set_unchecked(headers, hdrs.CONTENT_TYPE, "application/octet-stream")
        if not keep_alive:
            _set_unchecked(headers, hdrs.CONNECTION, "close")
        elif not minor:
            _set_unchecked(headers, hdrs.CONNECTION, "keep-alive")
        self._keep_alive = keep_alive
        if hdrs.DATE not in headers:
            _set_unchecked(headers, hdrs.DATE, date_value())
        if hdrs.SERVER not in headers:
            _set_unchecked(headers, hdrs.SERVER, SERVER_SOFTWARE)
        # map(": ".join, items) formats every header in C: 1.6 us against
        # 2.5 us for a list comprehension of f-strings (four headers).
        # (Never empty: Date and Server are always there.)
        text = "\r\n".join(map(": ".join, headers.items()))
        return (status_line(minor, status, self._reason) + text + "\r\n\r\n").encode("utf-8")

    def _add_cookie_headers(self, headers: Headers) -> None:
        assert self._cookies is not None
        for name, morsel in self._cookies.items():
            value = morsel.OutputString()
            if self._partitioned and name in self._partitioned:
                value += "; Partitioned"
            headers.add(hdrs.SET_COOKIE, value)

    def _body_size(self) -> Optional[int]:
        """The body length when known before sending (None: streamed)."""
        return None

    def _send_simple(self, request: BaseRequest) -> bool:
        """Send the whole response now, synchronously, if it can be; else False.

        Only a ``Response`` can (see there); streams go through ``prepare()``.
        """
        return False

    def _fixed_length(self) -> bool:
        return False

    async def write(self, data: Union[bytes, bytearray, memoryview]) -> None:
        """Send a body chunk; waits while the transport's buffer is full."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"data argument must be byte-ish ({type(data).__name__!r})")
        if self._eof_sent:
            raise RuntimeError("Cannot call write() after write_eof()")
        if self._writer is None:
            raise RuntimeError("Cannot call write() before prepare()")
        compressor = self._compressor
        if compressor is not None:  # chunks over 4 KiB are encoded off the loop
            data = await compressor.compress_async(data)
        await self._writer.write(data)

    async def drain(self) -> None:
        """Wait until the transport accepts more data.

        When compressing, first sends what the encoder holds back (a sync
        flush), so everything written so far reaches the client.
        """
        if self._writer is None:
            raise RuntimeError("Response has not been started")
        compressor = self._compressor
        if compressor is not None:
            await self._writer.write(compressor.flush(final=False))
            return
        await self._writer.drain()

    async def write_eof(self, data: bytes = b"") -> None:
        """Finish the body (sending ``data`` last); later calls do nothing."""
        if self._eof_sent:
            return
        if self._writer is None:
            raise RuntimeError("Response has not been started")
        compressor = self._compressor
        if compressor is not None:
            self._compressor = None
            head = await compressor.compress_async(data) if data else b""
            data = head + compressor.flush()
        try:
            await self._writer.write_eof(data)
        finally:
            self._eof_sent = True
            self._body_length = self._writer.output_size
            if self._tcp_touched:
                self._restore_tcp_mode()

    @property
    def body_length(self) -> int:
        """Bytes put on the wire for this response, head included."""
        return self._body_length

    def __repr__(self) -> str:
        if self._eof_sent:
            info = "eof"
        elif self.prepared and self._req is not None:
            info = f"{self._req.method} {self._req.path} "
        else:
            info = "not prepared"
        return f"<{self.__class__.__name__} {self.reason} {info}>"

    # -- per-response storage (aiohttp 3.x) --

    @overload
    def __getitem__(self, key: ResponseKey[_T]) -> _T: ...

    @overload
    def __getitem__(self, key: str) -> Any: ...

    def __getitem__(self, key: Union[str, ResponseKey[Any]]) -> Any:
        if self._state is None:
            raise KeyError(key)
        return self._state[key]

    @overload
    def __setitem__(self, key: ResponseKey[_T], value: _T) -> None: ...

    @overload
    def __setitem__(self, key: str, value: Any) -> None: ...

    def __setitem__(self, key: Union[str, ResponseKey[Any]], value: Any) -> None:
        if self._state is None:
            self._state = {}
        self._state[key] = value

    def __delitem__(self, key: Union[str, ResponseKey[Any]]) -> None:
        if self._state is None:
            raise KeyError(key)
        del self._state[key]

    def __len__(self) -> int:
        return 0 if self._state is None else len(self._state)

    def __iter__(self) -> Iterator[Union[str, ResponseKey[Any]]]:
        return iter(() if self._state is None else self._state)

    def get(self, key: Union[str, ResponseKey[Any]], default: Any = None) -> Any:
        """The stored value for ``key``, or ``default``."""
        return default if self._state is None else self._state.get(key, default)

    def __contains__(self, key: object) -> bool:
        return self._state is not None and key in self._state

    def __hash__(self) -> int:
        return hash(id(self))

    def __eq__(self, other: object) -> bool:
        return self is other

    def __bool__(self) -> bool:
        return True


class Response(StreamResponse):
    """A response with its whole body known up front.

    ``body`` is bytes (or a ``MultipartWriter``, rendered when set); ``text``
    is encoded with ``charset`` (default utf-8) and implies ``text/plain``.
    Responses default to CORK mode. The head and body leave in a single
    write. With ``enable_compression()`` the body
    is encoded once at ``prepare()``: inline up to ``zlib_executor_size``
    bytes (4096, aiohttp's default; None: always inline), in
    ``zlib_executor`` (None: the loop's default executor) above it.
    """

    _default_cork = True
    _compressed_body: Optional[bytes] = None  # the encoded body, once prepared
    _zlib_executor_size: Optional[int] = ZLIB_EXECUTOR_SIZE
    _zlib_executor: Optional[Executor] = None

    def __init__(
        self,
        *,
        body: Any = None,
        status: int = 200,
        reason: Optional[str] = None,
        text: Optional[str] = None,
        headers: Optional[LooseHeaders] = None,
        content_type: Optional[str] = None,
        charset: Optional[str] = None,
        zlib_executor_size: Optional[int] = ZLIB_EXECUTOR_SIZE,
        zlib_executor: Optional[Executor] = None,
    ) -> None:
        if body is not None and text is not None:
            raise ValueError("body and text are not allowed together")
        if content_type is not None and "charset" in content_type:
            raise ValueError("charset must not be in content_type argument; pass charset=")
        self._init_head(status, reason, headers)
        has_ctype = bool(headers) and hdrs.CONTENT_TYPE in self._headers
        if has_ctype and (content_type is not None or charset is not None):
            raise ValueError(
                "passing both Content-Type header and content_type or charset params is forbidden"
            )
        self._body: Optional[bytes] = None
        if text is not None:
            if not isinstance(text, str):
                raise TypeError(f"text argument must be str ({type(text).__name__!r})")
            if has_ctype:
                charset = self.charset or "utf-8"
            elif content_type is None and charset is None:
                # The usual case: a constant needs no CR/LF check (~0.3 us),
                # and without headers it waits for them (see _lazy_ctype).
                if headers:
                    _set_unchecked(self._headers, hdrs.CONTENT_TYPE, _TEXT_UTF8)
                else:
                    self._lazy_ctype = _TEXT_UTF8
                charset = "utf-8"
            else:
                charset = charset or "utf-8"
                self._set_ctype(_content_type_value(content_type or "text/plain", charset))
            self._body = text.encode(charset)
        else:
            if not has_ctype and (content_type is not None or charset is not None):
                ctype = _content_type_value(content_type or "application/octet-stream", charset)
                if self._hdrs is None:  # inline _set_ctype: one call less, ~400 instructions
                    self._lazy_ctype = ctype
                else:
                    self._set_ctype(ctype)
            if type(body) is bytes:  # the usual body: no property call
                self._body = body
            elif body is not None:
                self.body = body
        # Stored only when not the class default (see StreamResponse).
        if zlib_executor_size != ZLIB_EXECUTOR_SIZE:
            self._zlib_executor_size = zlib_executor_size
        if zlib_executor is not None:
            self._zlib_executor = zlib_executor

    def _set_ctype(self, value: str) -> None:
        """Set a Content-Type known to be valid, without building the headers."""
        if self._hdrs is None:
            self._lazy_ctype = value
        else:
            _set_unchecked(self._hdrs, hdrs.CONTENT_TYPE, value)

    @property
    def body(self) -> Optional[bytes]:
        """The body bytes (None when empty)."""
        return self._body

    @body.setter
    def body(self, value: Any) -> None:
        if value is None:
            self._body = None
        elif isinstance(value, bytes):
            self._body = value
        elif isinstance(value, (bytearray, memoryview)):
            self._body = bytes(value)
        elif isinstance(value, str):
            # aiohttp 3.x accepts a str body: text/plain, encoded with the charset.
            if hdrs.CONTENT_TYPE not in self._headers:
                self._headers[hdrs.CONTENT_TYPE] = "text/plain; charset=utf-8"
            self._body = value.encode(self.charset or "utf-8")
        elif isinstance(value, Payload):
            # aiohttp 3.x takes a payload (a MultipartWriter, say): its headers
            # unless set already; rendered now, so Content-Length is exact.
            for name, header in value.headers.items():
                if name not in self._headers and name.lower() != "content-length":
                    self._headers[name] = header
            self._body = b"".join(value._chunks())
        else:
            raise TypeError(f"Unsupported body type {type(value).__name__!r}")

    @property
    def text(self) -> Optional[str]:
        """The body decoded with the response charset (utf-8 by default)."""
        if self._body is None:
            return None
        return self._body.decode(self.charset or "utf-8")

    @text.setter
    def text(self, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError(f"text argument must be str ({type(value).__name__!r})")
        if hdrs.CONTENT_TYPE not in self._headers:
            self._headers[hdrs.CONTENT_TYPE] = "text/plain; charset=utf-8"
        self._body = value.encode(self.charset or "utf-8")

    @property
    def content_length(self) -> Optional[int]:
        """Length of the body (or of the Content-Length header if set)."""
        if self._chunked:
            return None
        if hdrs.CONTENT_LENGTH in self._headers:
            return int(self._headers[hdrs.CONTENT_LENGTH])
        return 0 if self._body is None else len(self._body)

    @content_length.setter
    def content_length(self, value: Optional[int]) -> None:
        raise RuntimeError("Content length is set automatically for Response")

    def _fixed_length(self) -> bool:
        return True

    def _send_head_early(self) -> bool:
        return False

    def _body_size(self) -> Optional[int]:
        body = self._compressed_body
        if body is None:
            body = self._body
        return 0 if body is None else len(body)

    async def _apply_coding(self, coding: ContentCoding, request: BaseRequest) -> None:
        """Encode the whole body once; Content-Length becomes the encoded size.

        Bodies over ``zlib_executor_size`` bytes are encoded in
        ``zlib_executor``. An empty body is sent as is.
        """
        body = self._body
        if not body:
            return
        self._compressed_body = await compress_body(
            body,
            coding,
            strategy=self._compression_strategy,
            executor_size=self._zlib_executor_size,
            executor=self._zlib_executor,
        )
        _set_unchecked(self._headers, hdrs.CONTENT_ENCODING, coding.value)

    def _send_simple(self, request: BaseRequest) -> bool:
        """Send head and body in one write without ``prepare()``'s machinery.

        Taken by the server for a response the handler returned unprepared,
        when nothing needs the slow path: no ``on_response_prepare`` hook,
        no compression, no TCP mode change, no chunking. Saves about a third
        of the per-request cost of a small response (bench/micro.py).
        """
        if (
            self._writer is not None
            or self._eof_sent
            or self._chunked
            or self._compression
            or self._tcp_cork is not None
            or self._tcp_nodelay is not None
            or request._has_prepare_hooks()
        ):
            return False
        self._req = request
        request._response_started = True
        data = self._quick_data(request)
        if data is None:
            writer = self._writer = StreamWriter(request._protocol)
            head = self._build_head(request, writer)
            body = self._body
            if not body or writer.suppress_body:
                data = head
            elif len(body) < _JOIN_BELOW:
                data = head + body
            else:
                data = [head, body]
        self._eof_sent = True
        transport = request._protocol.transport  # RequestHandler.write, without its frame
        if transport is None or transport.is_closing():
            raise ConnectionResetError("Cannot write to closing transport")
        if isinstance(data, bytes):
            self._body_length = len(data)
            transport.write(data)
        else:  # a large body beside its head
            self._body_length = len(data[0]) + len(data[1])
            transport.writelines(data)
        return True

    def _quick_data(self, request: BaseRequest) -> Union[bytes, list[bytes], None]:
        """Head and body for the commonest response, or None to build in full.

        One bytes object, or ``[head, body]`` for a body of ``_JOIN_BELOW``
        bytes or more (not copied behind the head).

        Applies when Content-Type is the only header, no cookie is set and
        the status and method carry a body. The head is one f-string; the
        headers added to it reach ``self.headers`` only if someone looks
        (``_store_late_headers``). About 4 us less than ``_build_head`` per
        response, a tenth of the whole per-request cost (bench/micro.py).
        """
        headers = self._hdrs
        status = self._status
        message = request._message
        if (
            self._cookies
            or status in _NO_BODY_STATUSES
            or status < 200
            or message.method == "HEAD"
        ):
            return None
        added: Optional[str] = None
        if headers is None:
            ctype = self._lazy_ctype
            if ctype is None:
                ctype = added = "application/octet-stream"
        elif len(headers) > 1:
            return None
        elif headers:
            ctype = headers.get(hdrs.CONTENT_TYPE)
            if ctype is None:
                return None
        else:
            ctype = added = "application/octet-stream"
        minor = message.version[1]
        reason = self._reason
        if reason is None:
            prefix = _HEAD_PREFIXES.get((minor, status, ctype)) or _head_prefix(minor, status, ctype)
        else:
            prefix = f"{status_line(minor, status, reason)}Content-Type: {ctype}\r\nContent-Length: "
        keep_alive = self._keep_alive
        if keep_alive is None:
            keep_alive = not message.should_close
        self._keep_alive = keep_alive
        body = self._body or b""
        length = len(body)
        size = str(length)
        value: Optional[str] = None
        if keep_alive and minor:
            connection = ""
        else:
            value = "keep-alive" if keep_alive else "close"
            connection = f"Connection: {value}\r\n"
        now = _time()  # date_value(), inline
        if not DATE.start <= now < DATE.end:
            DATE.refresh(now)
        date = DATE.text
        self._late_headers = (added, size, value, date)
        head = f"{prefix}{size}\r\n{connection}Date: {date}\r\nServer: {SERVER_SOFTWARE}\r\n\r\n"
        if length < _JOIN_BELOW:
            return head.encode("utf-8") + body
        return [head.encode("utf-8"), body]

    async def write_eof(self, data: bytes = b"") -> None:
        """Send head and body in one write."""
        if self._eof_sent:
            return
        body = self._compressed_body or self._body or b""
        await super().write_eof(body + data if data else body)


def json_response(
    data: Any = _SENTINEL,
    *,
    text: Optional[str] = None,
    body: Optional[bytes] = None,
    status: int = 200,
    reason: Optional[str] = None,
    headers: Optional[LooseHeaders] = None,
    content_type: str = "application/json",
    dumps: JSONEncoder = json.dumps,
) -> Response:
    """A ``Response`` holding ``dumps(data)`` (``json_response(None)`` sends ``null``).

    Raises ``ValueError`` if ``data`` is given together with ``text`` or ``body``.
    """
    if data is not _SENTINEL:
        if text or body:
            raise ValueError("only one of data, text, or body should be specified")
        text = fast_dumps(dumps)(data)
        if body is None and status == 200 and reason is None and headers is None:
            if content_type == "application/json" and type(text) is str:
                return _json_text_response(text)
            # Only the arguments Response needs (~2k instructions).
            return Response(text=text, content_type=content_type)
    return Response(
        text=text, body=body, status=status, reason=reason, headers=headers, content_type=content_type
    )


_new_response = object.__new__


def _json_text_response(text: str) -> Response:
    """``Response(text=text, content_type="application/json")``, built directly.

    For ``json_response``'s usual call. Calling the class with keyword
    arguments costs about 4,000 instructions on Python 3.11 before
    ``__init__`` does anything; this sets the same state (a test compares
    the two) without that call.
    """
    response: Response = _new_response(Response)
    response._init_head(200, None, None)
    response._lazy_ctype = _JSON_UTF8
    response._body = text.encode("utf-8")
    return response
