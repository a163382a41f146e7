"""Streaming ``multipart/*`` bodies: ``MultipartReader``, ``BodyPartReader``, ``read_form``.

Theory of operation. A ``MultipartReader`` pulls bytes from anything with an
``async read(n) -> bytes`` (a request's ``StreamReader``, or an enclosing
part for nested multipart) into one small buffer. A part's body is whatever
precedes the next ``CRLF--boundary``; ``read_chunk`` hands out bytes as soon
as they cannot be the start of that delimiter, so memory stays within one
read size plus the delimiter, whatever the part size. Moving to the next part
discards what the handler left unread of the current one.

Limits: header lines of a part are at most ``MAX_LINE`` bytes and at most
``MAX_HEADERS`` per part; decoded (``Content-Encoding``) part bodies at most
``MAX_DECOMPRESSED`` bytes. ``read_form`` additionally counts every body byte
against ``request.client_max_size`` (413). Every malformation (no boundary,
bad header line, body ending before the closing boundary) raises
``MultipartError``: an ``HTTPBadRequest`` (400 if unhandled) that is also a
``ValueError``. The body ending early is an error, never a wait.

``MultipartWriter`` (building bodies) lives in ``_multipart_writer`` and is
re-exported here, aiohttp's home for it.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import tempfile
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, Optional, Protocol, Union
from urllib.parse import parse_qsl, unquote

from multidict import CIMultiDict, CIMultiDictProxy, MultiDict, MultiDictProxy

from . import hdrs
from ._multipart_writer import MultipartWriter, Payload
from .web_exceptions import HTTPBadRequest, HTTPRequestEntityTooLarge
from .web_request import FileField

if TYPE_CHECKING:
    from .web_request import BaseRequest

__all__ = (
    "BodyPartReader",
    "MultipartError",
    "MultipartReader",
    "MultipartWriter",
    "Payload",
    "parse_content_disposition",
    "content_disposition_filename",
    "read_form",
)

MAX_LINE = 8190
MAX_HEADERS = 100
MAX_DECOMPRESSED = 16 * 1024 * 1024
SPOOL_MAX_SIZE = 256 * 1024
_READ_SIZE = 64 * 1024
_TOKEN = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_HEADER_NAME_RE = re.compile(_TOKEN)
_PARAM_RE = re.compile(rf'\s*({_TOKEN})\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)\s*(?:;|$)')


class MultipartError(HTTPBadRequest, ValueError):
    """A malformed multipart body: answers 400 if unhandled, catchable as ``ValueError``."""


class _Readable(Protocol):
    async def read(self, n: int = -1) -> bytes: ...


def parse_header_params(value: str) -> tuple[str, dict[str, str]]:
    """Split ``type; a=1; b="x y"`` into (lower-cased type, params with lower-cased keys)."""
    main, sep, rest = value.partition(";")
    params: dict[str, str] = {}
    pos = 0
    while sep and pos < len(rest):
        match = _PARAM_RE.match(rest, pos)
        if match is None:
            nxt = rest.find(";", pos)
            if nxt < 0:
                break
            pos = nxt + 1
            continue
        key, val = match.group(1).lower(), match.group(2).strip()
        if val.startswith('"') and val.endswith('"') and len(val) >= 2:
            val = re.sub(r"\\(.)", r"\1", val[1:-1])
        params.setdefault(key, val)
        pos = match.end()
    return main.strip().lower(), params


def parse_content_disposition(header: Optional[str]) -> tuple[Optional[str], dict[str, str]]:
    """Disposition type and parameters; RFC 5987 ``name*=`` values are decoded."""
    if not header:
        return None, {}
    disptype, params = parse_header_params(header)
    if not disptype or not _HEADER_NAME_RE.fullmatch(disptype):
        return None, {}
    for key in [k for k in params if k.endswith("*")]:
        charset, sep, rest = params[key].partition("'")
        _lang, sep2, encoded = rest.partition("'")
        if sep and sep2:
            try:
                params[key] = unquote(encoded, encoding=charset or "utf-8", errors="strict")
            except (LookupError, UnicodeDecodeError):
                del params[key]
    return disptype, params


def content_disposition_filename(params: Mapping[str, str], name: str) -> Optional[str]:
    """The value of ``name`` (``name*`` preferred), or None."""
    value = params.get(name + "*")
    return value if value is not None else params.get(name)


class _Source:
    """A pushback buffer over ``read(n)``: lines and delimiter-bounded reads."""

    __slots__ = ("_read", "_buf", "_eof")

    def __init__(self, read: Callable[[int], Awaitable[bytes]]) -> None:
        self._read = read
        self._buf = bytearray()
        self._eof = False

    async def _fill(self) -> bool:
        if self._eof:
            return False
        chunk = await self._read(_READ_SIZE)
        if not chunk:
            self._eof = True
            return False
        self._buf += chunk
        return True

    async def readline(self) -> bytes:
        """The next line with its ``\\n``; raises ``MultipartError`` past ``MAX_LINE``."""
        start = 0
        while True:
            pos = self._buf.find(b"\n", start)
            if pos >= 0:
                line = bytes(self._buf[: pos + 1])
                del self._buf[: pos + 1]
                return line
            if len(self._buf) > MAX_LINE:
                raise MultipartError(text="Multipart line too long")
            start = len(self._buf)
            if not await self._fill():
                line = bytes(self._buf)
                self._buf.clear()
                return line

    async def read_until(self, delim: bytes, size: int) -> tuple[bytes, bool]:
        """Up to ``size`` bytes before ``delim``, and whether ``delim`` is next.

        The delimiter stays buffered. Raises ``MultipartError`` if the input
        ends first.
        """
        while True:
            buf = self._buf
            pos = buf.find(delim)
            if 0 <= pos <= size:
                data = bytes(buf[:pos])
                del buf[:pos]
                return data, True
            safe = len(buf) - len(delim) + 1 if pos < 0 else pos
            if safe > 0:
                safe = min(safe, size)
                data = bytes(buf[:safe])
                del buf[:safe]
                return data, False
            if not await self._fill():
                raise MultipartError(text="Multipart body ended before its closing boundary")

    def skip(self, n: int) -> None:
        del self._buf[:n]


class BodyPartReader:
    """One part of a multipart body, read as a stream.

    ``headers`` are the part's headers; ``name`` and ``filename`` come from
    its Content-Disposition. ``read_chunk`` streams raw bytes; ``read``,
    ``text``, ``json`` and ``form`` read the whole part (decoding
    Content-Transfer-Encoding and Content-Encoding when asked).
    """

    chunk_size = 8192

    def __init__(self, boundary: bytes, headers: CIMultiDictProxy[str], source: _Source) -> None:
        self.headers = headers
        self._delim = b"\r\n--" + boundary
        self._source = source
        self._at_eof = False
        self._unread = b""
        _disp, self._disp_params = parse_content_disposition(headers.get(hdrs.CONTENT_DISPOSITION))

    def __repr__(self) -> str:
        return f"<BodyPartReader name={self.name!r} filename={self.filename!r}>"

    @property
    def name(self) -> Optional[str]:
        """The ``name`` parameter of Content-Disposition."""
        return content_disposition_filename(self._disp_params, "name")

    @property
    def filename(self) -> Optional[str]:
        """The ``filename`` parameter of Content-Disposition, as the client sent it."""
        return content_disposition_filename(self._disp_params, "filename")

    def at_eof(self) -> bool:
        """True once the whole part has been read."""
        return self._at_eof and not self._unread

    async def read_chunk(self, size: int = chunk_size) -> bytes:
        """Up to ``size`` raw bytes of the part; ``b""`` at its end."""
        if self._unread:
            data, self._unread = self._unread[:size], self._unread[size:]
            return data
        if self._at_eof:
            return b""
        data, found = await self._source.read_until(self._delim, size)
        if found:
            self._at_eof = True
        return data

    async def readline(self) -> bytes:
        """The next line of the part (with its ``\\n``), ``b""`` at its end."""
        line = b""
        while b"\n" not in line:
            chunk = await self.read_chunk()
            if not chunk:
                break
            line += chunk
            if len(line) > MAX_LINE and b"\n" not in line:
                raise MultipartError(text="Multipart line too long")
        pos = line.find(b"\n")
        if pos >= 0:
            line, self._unread = line[: pos + 1], line[pos + 1 :] + self._unread
        return line

    async def read(self, *, decode: bool = False) -> bytearray:
        """The rest of the part; with ``decode``, transfer and content encodings undone."""
        data = bytearray()
        while True:
            chunk = await self.read_chunk(_READ_SIZE)
            if not chunk:
                break
            data += chunk
        return bytearray(self.decode(bytes(data))) if decode else data

    async def release(self) -> None:
        """Discard the rest of the part."""
        while await self.read_chunk(_READ_SIZE):
            pass

    def decode(self, data: bytes) -> bytes:
        """Undo Content-Transfer-Encoding, then Content-Encoding.

        Raises ``MultipartError`` for an unknown or broken encoding, and when
        decompression exceeds ``MAX_DECOMPRESSED`` bytes.
        """
        cte = self.headers.get(hdrs.CONTENT_TRANSFER_ENCODING, "").strip().lower()
        try:
            if cte == "base64":
                data = base64.b64decode(data)
            elif cte == "quoted-printable":
                data = binascii.a2b_qp(data)
            elif cte not in ("", "binary", "7bit", "8bit"):
                raise MultipartError(text=f"Unknown Content-Transfer-Encoding {cte!r}")
        except binascii.Error:
            raise MultipartError(text=f"Part body is not valid {cte}") from None
        encoding = self.headers.get(hdrs.CONTENT_ENCODING, "").strip().lower()
        if encoding in ("", "identity"):
            return data
        wbits = {"gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}.get(encoding)
        if wbits is None:
            raise MultipartError(text=f"Unknown Content-Encoding {encoding!r}")
        if encoding == "deflate" and data[:1] and data[0] & 0x0F != 8:
            wbits = -zlib.MAX_WBITS  # raw deflate, no zlib header
        decomp = zlib.decompressobj(wbits)
        try:
            out = decomp.decompress(data, MAX_DECOMPRESSED)
        except zlib.error:
            raise MultipartError(text=f"Part body is not valid {encoding}") from None
        if decomp.unconsumed_tail:
            raise MultipartError(text="Decompressed part body is too large")
        return out

    def get_charset(self, default: str) -> str:
        """The ``charset`` parameter of the part's Content-Type, else ``default``."""
        _ctype, params = parse_header_params(self.headers.get(hdrs.CONTENT_TYPE, ""))
        return params.get("charset", default)

    async def text(self, *, encoding: Optional[str] = None) -> str:
        """The part decoded as text (its charset, else utf-8)."""
        data = await self.read(decode=True)
        encoding = encoding or self.get_charset("utf-8")
        try:
            return data.decode(encoding)
        except (LookupError, UnicodeDecodeError):
            raise MultipartError(text=f"Part is not valid {encoding} text") from None

    async def json(self, *, encoding: Optional[str] = None) -> Any:
        """The part parsed as JSON; None for an empty part."""
        data = await self.read(decode=True)
        if not data:
            return None
        try:
            return json.loads(data.decode(encoding or self.get_charset("utf-8")))
        except (LookupError, ValueError):
            raise MultipartError(text="Part is not valid JSON") from None

    async def form(self, *, encoding: Optional[str] = None) -> list[tuple[str, str]]:
        """The part parsed as ``application/x-www-form-urlencoded``."""
        text = await self.text(encoding=encoding)
        return parse_qsl(text, keep_blank_values=True, encoding=encoding or "utf-8")

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._chunks()

    async def _chunks(self) -> AsyncIterator[bytes]:
        while True:
            chunk = await self.read_chunk()
            if not chunk:
                return
            yield chunk


class MultipartReader:
    """Parts of a ``multipart/*`` body, one at a time (``await next()`` or ``async for``).

    ``content`` is anything with ``async read(n)``. A nested multipart part
    comes back as a ``MultipartReader`` confined to that part. Raises
    ``MultipartError`` at construction if Content-Type has no boundary.
    """

    part_reader_cls = BodyPartReader

    def __init__(self, headers: Mapping[str, str], content: _Readable) -> None:
        self.headers = headers
        ctype, params = parse_header_params(headers.get(hdrs.CONTENT_TYPE, ""))
        boundary = params.get("boundary", "")
        if not ctype.startswith("multipart/") or not boundary:
            raise MultipartError(text="Multipart Content-Type has no boundary parameter")
        if len(boundary) > 200 or any(c in boundary for c in "\r\n\x00"):
            raise MultipartError(text="Invalid multipart boundary")
        self._boundary = boundary.encode("latin-1", "replace")
        self._source = _Source(content.read)
        self._started = False
        self._at_eof = False
        self._current: Optional[BodyPartReader] = None

    def __aiter__(self) -> MultipartReader:
        return self

    async def __anext__(self) -> Union[BodyPartReader, MultipartReader]:
        part = await self.next()
        if part is None:
            raise StopAsyncIteration
        return part

    def at_eof(self) -> bool:
        """True once the closing boundary was read."""
        return self._at_eof

    async def next(self) -> Optional[Union[BodyPartReader, MultipartReader]]:
        """The next part, or None after the closing boundary."""
        if self._at_eof:
            return None
        if self._current is not None:
            await self._current.release()
            self._current = None
        if not self._started:
            self._started = True
            await self._skip_preamble()
        else:
            await self._after_delimiter()
        if self._at_eof:
            return None
        headers = await self._read_headers()
        part = self.part_reader_cls(self._boundary, headers, self._source)
        self._current = part
        if parse_header_params(headers.get(hdrs.CONTENT_TYPE, ""))[0].startswith("multipart/"):
            return type(self)(headers, _PartContent(part))
        return part

    async def release(self) -> None:
        """Read and discard every remaining part."""
        while True:
            part = await self.next()
            if part is None:
                return
            await part.release()

    def _boundary_kind(self, line: bytes) -> Optional[bool]:
        """True for the close delimiter, False for a part delimiter, None otherwise."""
        line = line.rstrip(b"\r\n").rstrip(b" \t")
        dash = b"--" + self._boundary
        if line == dash:
            return False
        if line == dash + b"--":
            return True
        return None

    async def _skip_preamble(self) -> None:
        while True:
            line = await self._source.readline()
            if not line:
                raise MultipartError(text="Multipart body has no boundary line")
            kind = self._boundary_kind(line)
            if kind is not None:
                self._at_eof = kind
                return

    async def _after_delimiter(self) -> None:
        self._source.skip(2)  # the CRLF before "--boundary", left by the last part
        line = await self._source.readline()
        kind = self._boundary_kind(line)
        if kind is None:
            raise MultipartError(text="Malformed multipart boundary line")
        self._at_eof = kind

    async def _read_headers(self) -> CIMultiDictProxy[str]:
        headers: CIMultiDict[str] = CIMultiDict()
        while True:
            line = await self._source.readline()
            if not line.endswith(b"\n"):
                raise MultipartError(text="Multipart body ended inside part headers")
            line = line.rstrip(b"\r\n")
            if not line:
                return CIMultiDictProxy(headers)
            if len(headers) >= MAX_HEADERS:
                raise MultipartError(text="Too many headers in a multipart part")
            name, sep, value = line.decode("utf-8", "replace").partition(":")
            if not sep or not _HEADER_NAME_RE.fullmatch(name):
                raise MultipartError(text="Invalid header line in a multipart part")
            headers.add(name, value.strip(" \t"))


class _PartContent:
    """A part's bytes as ``read(n)``: what a nested reader reads from."""

    __slots__ = ("_part",)

    def __init__(self, part: BodyPartReader) -> None:
        self._part = part

    async def read(self, n: int = -1) -> bytes:
        return await self._part.read_chunk(n if n > 0 else _READ_SIZE)


class _LimitedContent:
    """Counts body bytes against ``limit``; raises 413 past it."""

    def __init__(self, content: _Readable, limit: int) -> None:
        self._content = content
        self._limit = limit
        self._count = 0

    async def read(self, n: int = -1) -> bytes:
        data = await self._content.read(n)
        self._count += len(data)
        if self._limit and self._count > self._limit:
            raise HTTPRequestEntityTooLarge(max_size=self._limit, actual_size=self._count)
        return data


class _SpooledUpload(tempfile.SpooledTemporaryFile):  # type: ignore[type-arg]
    """An upload's file: closed when garbage-collected, without a ResourceWarning."""

    def __del__(self) -> None:
        self.close()


async def _spool(part: BodyPartReader) -> Any:
    # Writes after the rollover go to a disk file synchronously: chunks are
    # at most 64 KiB and land in the page cache, cheaper than an executor hop.
    spooled = _SpooledUpload(max_size=SPOOL_MAX_SIZE)
    try:
        while True:
            chunk = await part.read_chunk(_READ_SIZE)
            if not chunk:
                break
            spooled.write(chunk)
        if hdrs.CONTENT_TRANSFER_ENCODING in part.headers:
            spooled.seek(0)
            decoded = part.decode(spooled.read())
            spooled.seek(0)
            spooled.truncate()
            spooled.write(decoded)
    except BaseException:
        spooled.close()
        raise
    spooled.seek(0)
    return spooled


async def read_form(request: BaseRequest) -> MultiDictProxy[Any]:
    """Parse a ``multipart/form-data`` body into fields (str) and ``FileField`` s.

    A part with a non-empty ``filename`` becomes a ``FileField`` whose
    ``.file`` is a ``SpooledTemporaryFile`` positioned at 0 (in memory up to
    ``SPOOL_MAX_SIZE``, then on disk); other parts are decoded text (bytes if
    their Content-Type is not ``text/*``). The whole body counts against
    ``request.client_max_size`` (413); malformed bodies raise
    ``MultipartError`` (400).
    """
    limit = request.client_max_size
    declared = request.content_length
    if limit and declared is not None and declared > limit:
        raise HTTPRequestEntityTooLarge(max_size=limit, actual_size=declared)
    reader = MultipartReader(request.headers, _LimitedContent(request.content, limit))
    fields: MultiDict[Any] = MultiDict()
    charset = "utf-8"
    async for part in reader:
        if isinstance(part, MultipartReader):
            raise MultipartError(text="Nested multipart is not supported in form data")
        name = part.name
        if name is None:
            raise MultipartError(text="Form-data part without a name")
        ctype = part.headers.get(hdrs.CONTENT_TYPE)
        if part.filename:
            spooled = await _spool(part)
            fields.add(
                name,
                FileField(
                    name, part.filename, spooled, ctype or "application/octet-stream", part.headers
                ),
            )
            continue
        value = await part.read(decode=True)
        if ctype is None or ctype.lower().startswith("text/"):
            encoding = part.get_charset(charset)
            try:
                text = value.decode(encoding)
            except (LookupError, UnicodeDecodeError):
                raise MultipartError(text=f"Form field {name!r} is not valid {encoding}") from None
            if name == "_charset_":
                charset = text.strip() or charset
            fields.add(name, text)
        else:
            fields.add(name, bytes(value))
    return MultiDictProxy(fields)
