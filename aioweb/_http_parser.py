"""HTTP/1.x request parsing: httptools (llhttp) callbacks feeding a sink.

Theory of operation: llhttp does the byte-level work and already refuses the
classic smuggling shapes (Content-Length with Transfer-Encoding, duplicate or
malformed Content-Length, a Transfer-Encoding whose last coding is not
``chunked``, bare LF, obs-fold). This module adds what llhttp leaves to the
application: size limits on the request line and header block, a strict
``Transfer-Encoding: chunked`` spelling (and none at all on HTTP/1.0), and the
versions we speak (1.0/1.1). Callbacks only append; the message is assembled
once, at headers-complete. Every error is an ``HttpProcessingError`` carrying
the status to answer with.

llhttp buffers a header or trailer line until it ends and reports nothing
meanwhile, so a line sent without CRLF would grow without bound. ``feed``
therefore counts the bytes of consecutive reads in which the parser completed
neither a head nor body bytes, and refuses more than a whole head may take
(``max_head_size`` plus the request line and per-field separators) with 431.
A line that starts inside a read that did complete something is counted from
the next read, so what llhttp can hold is bounded by one transport read plus
that limit.

Trailer fields of a chunked body are accepted and dropped; they count towards
the same limits as the head, and per-message state is reset when the next
message begins so nothing in them can leak into the next request.
"""

from __future__ import annotations

import os
from typing import Protocol

import httptools

from .http_exceptions import (
    BadHttpMessage,
    HeadersTooLarge,
    HttpProcessingError,
    LineTooLong,
    TransferEncodingError,
    VersionNotSupported,
)

__all__ = ("PyRequestParser", "RawRequestMessage", "RequestParser", "UpgradeRequest")

# Interned method names: decoding per request cost more than this lookup.
_METHODS = {
    m.encode(): m
    for m in ("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE")
}
_VERSIONS = {"1.1": (1, 1), "1.0": (1, 0)}


class RawRequestMessage:
    """A parsed request head. ``path`` is the raw request target as a str.

    The compiled parser fills the slots of a new instance without calling
    ``__init__`` (see ``_http_parser_c``): keep ``__init__`` to plain
    assignments of its arguments to the slots of the same names.
    """

    __slots__ = (
        "method",
        "path",
        "version",
        "raw_headers",
        "should_close",
        "upgrade",
        "chunked",
        "content_length",
        "expect",
    )

    def __init__(
        self,
        method: str,
        path: str,
        version: tuple[int, int],
        raw_headers: tuple[tuple[bytes, bytes], ...],
        should_close: bool,
        upgrade: bool,
        chunked: bool,
        content_length: int | None,
        expect: bytes | None,
    ) -> None:
        self.method = method
        self.path = path
        self.version = version
        self.raw_headers = raw_headers
        self.should_close = should_close
        self.upgrade = upgrade
        self.chunked = chunked
        self.content_length = content_length
        self.expect = expect

    @property
    def has_body(self) -> bool:
        """True when the framing announces body bytes."""
        return self.chunked or bool(self.content_length)

    def __repr__(self) -> str:
        return f"<RawRequestMessage {self.method} {self.path} HTTP/{self.version[0]}.{self.version[1]}>"


class UpgradeRequest(Exception):
    """llhttp stopped at an Upgrade/CONNECT boundary; ``tail`` is what follows."""

    def __init__(self, tail: bytes) -> None:
        super().__init__("upgrade")
        self.tail = tail


class ParserSink(Protocol):
    """What the parser reports to: the connection protocol."""

    def on_head(self, message: RawRequestMessage) -> None: ...

    def on_body(self, data: bytes) -> None: ...

    def on_message_complete(self) -> None:
        """The body of the message whose head came last has ended.

        Called only for a message that has a body (chunked, or a
        Content-Length above 0): one without ends with its ``on_head``, and
        the call cost about 600 instructions per GET (bench/micro.py).
        """


class RequestParser:
    """Feeds bytes to llhttp and reports complete heads, body bytes and ends.

    Limits: the request target may be at most ``max_line_size`` bytes (414); a
    single header line at most ``max_field_size`` bytes, the whole header block
    at most ``max_head_size`` bytes and ``max_headers`` fields (431). The cost
    of a head is O(its size); nothing is kept between requests but the limits.
    """

    __slots__ = (
        "_sink",
        "_parser",
        "_url",
        "_headers",
        "_head_size",
        "_in_head",
        "_progress",
        "_stalled",
        "_stall_limit",
        "_error",
        "_chunked",
        "_te_bad",
        "_content_length",
        "_expect",
        "max_line_size",
        "max_field_size",
        "max_headers",
        "max_head_size",
    )

    def __init__(
        self,
        sink: ParserSink,
        *,
        max_line_size: int = 8190,
        max_field_size: int = 8190,
        max_headers: int = 128,
        max_head_size: int = 65536,
    ) -> None:
        self._sink = sink
        self._parser = httptools.HttpRequestParser(self)
        self.max_line_size = max_line_size
        self.max_field_size = max_field_size
        self.max_headers = max_headers
        self.max_head_size = max_head_size
        self._in_head = False
        self._progress = False
        self._stalled = 0
        # The raw size of the largest head the field limits allow.
        self._stall_limit = max_head_size + max_line_size + 4 * max_headers + 32
        self._error: HttpProcessingError | None = None
        self._reset()

    def _reset(self) -> None:
        self._url = b""
        self._headers: list[tuple[bytes, bytes]] = []
        self._head_size = 0
        self._chunked = False
        self._te_bad = False
        self._content_length: int | None = None
        self._expect: bytes | None = None

    @property
    def in_head(self) -> bool:
        """True between the first byte of a request and its headers-complete."""
        return self._in_head

    def feed(self, data: bytes) -> None:
        """Parse ``data``; raise ``HttpProcessingError`` or ``UpgradeRequest``."""
        self._progress = False
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade as exc:
            offset = exc.args[0] if exc.args and isinstance(exc.args[0], int) else len(data)
            raise UpgradeRequest(data[offset:]) from None
        except httptools.HttpParserError as exc:
            if self._error is not None:
                raise self._error from None
            raise self._translate(exc) from None
        # See the module docstring: bounds what llhttp buffers for an open line.
        if self._progress:
            self._stalled = 0
        else:
            self._stalled += len(data)
            if self._stalled > self._stall_limit:
                raise HeadersTooLarge("Header line is too large")

    @staticmethod
    def _translate(exc: Exception) -> HttpProcessingError:
        text = str(exc) or "Malformed request"
        if "Transfer-Encoding" in text:
            return TransferEncodingError(text)
        if "HTTP version" in text:
            return VersionNotSupported(text)
        return BadHttpMessage(text)

    def _fail(self, error: HttpProcessingError) -> None:
        self._error = error
        raise error

    # -- httptools callbacks: only accumulate, never build --

    def on_message_begin(self) -> None:
        # _reset() inlined: this runs once per request.
        self._in_head = True
        self._error = None
        self._url = b""
        if self._headers:  # left by a head that failed
            self._headers.clear()
        self._head_size = 0
        self._chunked = False
        self._te_bad = False
        self._content_length = None
        self._expect = None

    def on_url(self, url: bytes) -> None:
        self._url += url
        if len(self._url) > self.max_line_size:
            self._fail(LineTooLong(f"Request target is longer than {self.max_line_size} bytes"))

    def on_header(self, name: bytes, value: bytes) -> None:
        # Per header: two size checks and one append. The field count is
        # checked once at headers-complete (the size limits already bound
        # memory), and a completed header line is not "progress" for the
        # stall counter, which therefore bounds a head's raw bytes.
        size = len(name) + len(value)
        self._head_size += size
        if size > self.max_field_size:
            self._fail(HeadersTooLarge(f"Header field is longer than {self.max_field_size} bytes"))
        if self._head_size > self.max_head_size:
            self._fail(HeadersTooLarge("Header block is too large"))
        self._headers.append((name, value))
        # Only three names need a look at parse time; the length test keeps
        # every other header to one integer comparison.
        n = len(name)
        if n == 17 and name.lower() == b"transfer-encoding":
            if value.strip().lower() == b"chunked" and not self._chunked:
                self._chunked = True
            else:
                self._te_bad = True
        elif n == 14 and name.lower() == b"content-length":
            self._content_length = int(value)
        elif n == 6 and name.lower() == b"expect":
            self._expect = value

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._progress = True
        parser = self._parser
        if len(self._headers) > self.max_headers:
            self._fail(HeadersTooLarge(f"More than {self.max_headers} header fields"))
        version = _VERSIONS.get(parser.get_http_version())
        if version is None:
            self._fail(VersionNotSupported(f"HTTP/{parser.get_http_version()} is not supported"))
            return
        if self._te_bad:
            self._fail(TransferEncodingError("Only 'Transfer-Encoding: chunked' is accepted"))
        if self._chunked and version == (1, 0):
            # RFC 9112 6.1: HTTP/1.0 framing with Transfer-Encoding is faulty.
            self._fail(TransferEncodingError("Transfer-Encoding is not allowed in HTTP/1.0"))
        method_b = parser.get_method()
        method = _METHODS.get(method_b) or method_b.decode("ascii", "surrogateescape")
        message = RawRequestMessage(
            method,
            self._url.decode("utf-8", "surrogateescape"),
            version,
            tuple(self._headers),
            not parser.should_keep_alive(),
            parser.should_upgrade(),
            self._chunked,
            self._content_length,
            self._expect,
        )
        # The message holds the fields now: an idle connection keeps none.
        self._url = b""
        self._headers.clear()
        self._sink.on_head(message)

    def on_body(self, body: bytes) -> None:
        self._progress = True
        self._sink.on_body(body)

    def on_message_complete(self) -> None:
        if self._chunked or self._content_length:  # a message without a body ends at on_head
            self._sink.on_message_complete()


# The pure-Python class stays reachable for tests and for comparison.
PyRequestParser = RequestParser

# The compiled twin (aioweb/_http_parser_c.pyx, same contract) when it was
# built: ~8,600 instead of ~22,000 instructions per small GET. Optional;
# AIOWEB_NO_EXTENSIONS=1 selects the pure class.
if not os.environ.get("AIOWEB_NO_EXTENSIONS"):
    try:
        from ._http_parser_c import RequestParser  # type: ignore[no-redef,import-not-found]  # noqa: F811
    except ImportError:  # pragma: no cover - built without a compiler
        pass
