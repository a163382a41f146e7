"""Building ``multipart/*`` bodies: ``MultipartWriter`` and its parts (``Payload``).

The API is aiohttp 3.x's where it is cheap: ``append(obj, headers)``,
``append_json``, ``append_form``, ``set_content_disposition`` on the part
``append`` returns, ``size``, nested writers, ``await write(writer)``, and
``web.Response(body=writer)``. A part's body is bytes, text, a file object
(read when the body is written, from the position it had when appended) or
another ``MultipartWriter``.

Outside ``form-data`` a part may ask for ``Content-Encoding`` (gzip, deflate)
and ``Content-Transfer-Encoding`` (base64, quoted-printable); such parts are
encoded while written, and their size is unknown beforehand (``size`` is then
None), as in aiohttp. ``form-data`` parts (RFC 7578) may carry neither, nor
Content-Length; each gets a ``name`` by default.

This module imports nothing from the server, so ``web_response`` can accept a
writer as a body without an import cycle.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import mimetypes
import os
import re
import uuid
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, Optional, Union
from urllib.parse import quote, urlencode

from multidict import CIMultiDict

from . import hdrs

__all__ = ("MultipartWriter", "Payload")

_CHUNK = 64 * 1024
_TOKEN_RE = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_QTEXT_SPECIALS_RE = re.compile(r'["\\]')
_PRINTABLE_7BIT = re.compile(r"[\t\x20-\x7e]*")
_BAD_BOUNDARY_RE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_CHARSET_RE = re.compile(r";\s*charset=\"?([^\";\s]+)", re.IGNORECASE)

Headers = Union[Mapping[str, str], Iterable[tuple[str, str]]]


def content_disposition_header(
    disptype: str, quote_fields: bool = True, _charset: str = "utf-8", **params: str
) -> str:
    """A MIME ``Content-Disposition`` value (RFC 2183, RFC 7578 4.2).

    With ``quote_fields`` a ``filename`` is percent-encoded in ``_charset``;
    another parameter is a quoted string when it is printable 7-bit text,
    else an RFC 5987 ``key*=charset''...`` value. Without it values are only
    escaped (for recipients that take 8-bit values). Raises ``ValueError``
    for a type or parameter name that is not a token.
    """
    if not _TOKEN_RE.fullmatch(disptype or ""):
        raise ValueError(f"bad content disposition type {disptype!r}")
    items = [disptype]
    for key, value in params.items():
        if not _TOKEN_RE.fullmatch(key or ""):
            raise ValueError(f"bad content disposition parameter {key!r}={value!r}")
        if not quote_fields:
            items.append(f'{key}="{_escape(value)}"')
        elif key.lower() == "filename":
            items.append(f'{key}="{quote(value, "", encoding=_charset)}"')
        elif _PRINTABLE_7BIT.fullmatch(value):
            items.append(f'{key}="{_escape(value)}"')
        else:
            items.append(f"{key}*={_charset}''{quote(value, '', encoding=_charset)}")
    return "; ".join(items)


def _escape(value: str) -> str:
    """Backslash-escape ``"`` and ``\\`` for a quoted string."""
    return _QTEXT_SPECIALS_RE.sub(r"\\\g<0>", value)


def _safe_header(text: str) -> str:
    if "\r" in text or "\n" in text:
        raise ValueError(f"newline in a multipart header: {text!r}")
    return text


class Payload:
    """One part of a ``MultipartWriter``: headers and a body.

    ``headers`` always hold a Content-Type (the body's default, overridden by
    the headers given to ``append``). ``size`` is the body length in bytes,
    or None when it is unknown before writing (a file that cannot seek).
    """

    def __init__(
        self,
        value: Any,
        headers: Optional[Headers] = None,
        *,
        content_type: Optional[str] = None,
        filename: Optional[str] = None,
    ) -> None:
        self._value = value
        self._filename = filename
        self._headers: CIMultiDict[str] = CIMultiDict()
        if content_type is None and filename is not None:
            content_type = mimetypes.guess_type(filename)[0]
        self._headers[hdrs.CONTENT_TYPE] = content_type or "application/octet-stream"
        if headers:
            self._headers.update(headers)
        self._start: Optional[int] = None
        if value is not None and not isinstance(value, bytes):
            try:
                self._start = value.tell()
            except (AttributeError, OSError):
                pass

    @property
    def headers(self) -> CIMultiDict[str]:
        """The part's headers (mutable until the body is written)."""
        return self._headers

    @property
    def content_type(self) -> str:
        """The part's Content-Type."""
        return self._headers[hdrs.CONTENT_TYPE]

    @property
    def filename(self) -> Optional[str]:
        """The file name the part was made from (a file's base name), or None."""
        return self._filename

    @property
    def size(self) -> Optional[int]:
        """Body length in bytes; None when unknown before writing."""
        if isinstance(self._value, bytes):
            return len(self._value)
        if self._start is None or isinstance(self._value, io.TextIOBase):
            return None
        # Measured by seeking, not fstat: fileno() would move a spooled
        # temporary file to disk.
        try:
            end = self._value.seek(0, io.SEEK_END)
            self._value.seek(self._start)
            return max(int(end) - self._start, 0)
        except (AttributeError, OSError):
            return None

    def set_content_disposition(
        self, disptype: str, quote_fields: bool = True, _charset: str = "utf-8", **params: str
    ) -> None:
        """Set Content-Disposition, e.g. ``("form-data", name="f", filename="a.mp3")``.

        See ``content_disposition_header`` for the quoting; raises
        ``ValueError`` for names that are not tokens.
        """
        self._headers[hdrs.CONTENT_DISPOSITION] = content_disposition_header(
            disptype, quote_fields=quote_fields, _charset=_charset, **params
        )

    def _binary_headers(self) -> bytes:
        lines = "".join(
            f"{_safe_header(k)}: {_safe_header(v)}\r\n" for k, v in self._headers.items()
        )
        return (lines + "\r\n").encode("utf-8")

    def _chunks(self) -> Iterator[bytes]:
        """The body, from its start each time (files read synchronously, 64 KiB at a time)."""
        value = self._value
        if isinstance(value, bytes):
            yield value
            return
        if self._start is not None:
            value.seek(self._start)
        charset = _charset_of(self.content_type)
        while True:
            chunk = value.read(_CHUNK)
            if not chunk:
                return
            yield chunk.encode(charset) if isinstance(chunk, str) else bytes(chunk)

    def decode(self, encoding: str = "utf-8", errors: str = "strict") -> str:
        """The body as text (reads a file synchronously)."""
        return b"".join(self._chunks()).decode(encoding, errors)

    async def as_bytes(self, encoding: str = "utf-8", errors: str = "strict") -> bytes:
        """The body as bytes (reads a file synchronously)."""
        return b"".join(self._chunks())

    async def write(self, writer: Any) -> None:
        """Write the body with ``await writer.write(bytes)``."""
        for chunk in self._chunks():
            await writer.write(chunk)


def _charset_of(content_type: str, default: str = "utf-8") -> str:
    match = _CHARSET_RE.search(content_type)
    return match.group(1) if match else default


def _payload_for(obj: Any, headers: Optional[Headers]) -> Payload:
    """Wrap ``obj`` as aiohttp's payload registry would; raises ``TypeError`` otherwise."""
    if isinstance(obj, (bytes, bytearray, memoryview)):
        return Payload(bytes(obj), headers)
    if isinstance(obj, str):
        given = CIMultiDict(headers or {}).get(hdrs.CONTENT_TYPE)
        charset = _charset_of(given) if given else "utf-8"
        return Payload(obj.encode(charset), headers, content_type=f"text/plain; charset={charset}")
    if isinstance(obj, io.StringIO):
        return _payload_for(obj.read(), headers)
    if isinstance(obj, io.TextIOBase):
        return Payload(obj, headers, content_type="text/plain; charset=utf-8")
    if isinstance(obj, io.IOBase) or callable(getattr(obj, "read", None)):
        name = getattr(obj, "name", None)  # a path; not an fd number, nor "<stdin>"
        filename = None
        if isinstance(name, (str, bytes)) and name:
            name = os.fsdecode(name)
            if not (name.startswith("<") and name.endswith(">")):
                filename = os.path.basename(name)
        return Payload(obj, headers, filename=filename)
    raise TypeError(f"Cannot create a multipart part from {type(obj).__name__!r}")


class _Encoder:
    """Content-Encoding, then Content-Transfer-Encoding, over a part's chunks."""

    def __init__(self, encoding: Optional[str], te_encoding: Optional[str]) -> None:
        # deflate is raw (no zlib header), as aiohttp writes it.
        wbits = {"gzip": 16 + zlib.MAX_WBITS, "deflate": -zlib.MAX_WBITS}.get(encoding or "")
        self._zlib = zlib.compressobj(wbits=wbits) if wbits is not None else None
        self._te = te_encoding
        self._pending = b""  # base64 encodes whole 3-byte groups

    def feed(self, chunk: bytes) -> bytes:
        if self._zlib is not None:
            chunk = self._zlib.compress(chunk)
        return self._transfer(chunk)

    def flush(self) -> bytes:
        tail = self._transfer(self._zlib.flush()) if self._zlib is not None else b""
        if self._te == "base64" and self._pending:
            tail += base64.b64encode(self._pending)
        return tail

    def _transfer(self, chunk: bytes) -> bytes:
        if self._te == "base64":
            data = self._pending + chunk
            cut = len(data) - len(data) % 3
            self._pending = data[cut:]
            return base64.b64encode(data[:cut])
        if self._te == "quoted-printable":
            # istext=False: line breaks are data too, so binary parts round-trip.
            return binascii.b2a_qp(chunk, istext=False)
        return chunk


_Part = tuple[Payload, Optional[str], Optional[str]]


class MultipartWriter(Payload):
    """Builds a ``multipart/<subtype>`` body.

    ``headers`` hold the Content-Type to send (with the boundary, a uuid4 hex
    unless given; quoted when it is not a token). Raises ``ValueError`` for a
    boundary that is empty, not ASCII, or holds control characters. Iterating
    gives ``(part, content_encoding, transfer_encoding)`` triples, as aiohttp.
    A writer is itself a part, so ``append`` takes nested writers.
    """

    def __init__(self, subtype: str = "mixed", boundary: Optional[str] = None) -> None:
        boundary = boundary if boundary is not None else uuid.uuid4().hex
        if not boundary or not boundary.isascii() or _BAD_BOUNDARY_RE.search(boundary):
            raise ValueError(f"Invalid multipart boundary {boundary!r}")
        self._boundary = boundary
        if _TOKEN_RE.fullmatch(boundary):
            value = boundary
        else:
            value = f'"{_escape(boundary)}"'
        super().__init__(None, content_type=f"multipart/{subtype}; boundary={value}")
        self._parts: list[_Part] = []
        self._is_form_data = subtype == "form-data"

    @property
    def boundary(self) -> str:
        """The boundary string."""
        return self._boundary

    def __enter__(self) -> MultipartWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        pass

    def __len__(self) -> int:
        return len(self._parts)

    def __iter__(self) -> Iterator[_Part]:
        return iter(self._parts)

    def __bool__(self) -> bool:
        return True

    def append(self, obj: Any, headers: Optional[Headers] = None) -> Payload:
        """Add a part and return it (to set its Content-Disposition, say).

        ``obj`` is bytes, str (encoded in the charset of a given Content-Type,
        else utf-8, typed ``text/plain``), a file object (its base name gives
        ``filename`` and a guessed Content-Type), a ``Payload`` or a nested
        ``MultipartWriter``. Raises ``TypeError`` for anything else, and
        ``ValueError`` for headers the subtype forbids.
        """
        if isinstance(obj, Payload):
            if headers:
                obj.headers.update(headers)
            return self.append_payload(obj)
        return self.append_payload(_payload_for(obj, headers))

    def append_payload(self, payload: Payload) -> Payload:
        """Add a ready ``Payload`` (headers checked as for ``append``)."""
        headers = payload.headers
        encoding = te_encoding = None
        if self._is_form_data:
            forbidden = {hdrs.CONTENT_ENCODING, hdrs.CONTENT_LENGTH, hdrs.CONTENT_TRANSFER_ENCODING}
            bad = sorted(name for name in forbidden if name in headers)
            if bad:
                raise ValueError(f"form-data parts may not carry {', '.join(bad)} (RFC 7578)")
            if hdrs.CONTENT_DISPOSITION not in headers:
                name = f"section-{len(self._parts)}"
                if payload.filename is None:
                    payload.set_content_disposition("form-data", name=name)
                else:
                    payload.set_content_disposition("form-data", name=name, filename=payload.filename)
        else:
            encoding = headers.get(hdrs.CONTENT_ENCODING, "").lower() or None
            if encoding not in (None, "identity", "gzip", "deflate"):
                raise ValueError(f"Unknown Content-Encoding {encoding!r} for a multipart part")
            te_encoding = headers.get(hdrs.CONTENT_TRANSFER_ENCODING, "").lower() or None
            if te_encoding not in (None, "binary", "base64", "quoted-printable"):
                raise ValueError(
                    f"Unknown Content-Transfer-Encoding {te_encoding!r} for a multipart part"
                )
            encoding = None if encoding == "identity" else encoding
            te_encoding = None if te_encoding == "binary" else te_encoding
            if payload.filename is not None and hdrs.CONTENT_DISPOSITION not in headers:
                payload.set_content_disposition("attachment", filename=payload.filename)
            size = payload.size
            if size is not None and not (encoding or te_encoding):
                headers[hdrs.CONTENT_LENGTH] = str(size)
        self._parts.append((payload, encoding, te_encoding))
        return payload

    def append_json(self, obj: Any, headers: Optional[Headers] = None) -> Payload:
        """Add ``obj`` as an ``application/json`` part (utf-8)."""
        data = json.dumps(obj).encode("utf-8")
        return self.append_payload(Payload(data, headers, content_type="application/json"))

    def append_form(
        self,
        obj: Union[Mapping[str, Any], Sequence[tuple[str, Any]]],
        headers: Optional[Headers] = None,
    ) -> Payload:
        """Add an ``application/x-www-form-urlencoded`` part; sequence values repeat the key."""
        if not isinstance(obj, (Mapping, Sequence)) or isinstance(obj, (str, bytes)):
            raise TypeError("append_form takes a mapping or a sequence of (key, value) pairs")
        items = list(obj.items()) if isinstance(obj, Mapping) else list(obj)
        data = urlencode(items, doseq=True).encode("utf-8")
        ctype = "application/x-www-form-urlencoded"
        return self.append_payload(Payload(data, headers, content_type=ctype))

    @property
    def size(self) -> Optional[int]:
        """Length of the whole body; None if a part's is unknown or encoded."""
        dash = 2 + len(self._boundary)
        total = dash + 4  # "--boundary--\r\n"
        for part, encoding, te_encoding in self._parts:
            part_size = part.size
            if part_size is None or encoding or te_encoding:
                return None
            total += dash + 2 + len(part._binary_headers()) + part_size + 2
        return total

    def _chunks(self, close_boundary: bool = True) -> Iterator[bytes]:
        dash = b"--" + self._boundary.encode("ascii")
        for part, encoding, te_encoding in self._parts:
            if self._is_form_data and "name=" not in part.headers.get(hdrs.CONTENT_DISPOSITION, ""):
                raise ValueError("a form-data part needs a Content-Disposition with a name")
            yield dash + b"\r\n" + part._binary_headers()
            if encoding or te_encoding:
                encoder = _Encoder(encoding, te_encoding)
                for chunk in part._chunks():
                    yield encoder.feed(chunk)
                yield encoder.flush()
            else:
                yield from part._chunks()
            yield b"\r\n"
        if close_boundary:
            yield dash + b"--\r\n"

    def render(self) -> bytes:
        """The whole body as bytes (file parts are read synchronously)."""
        return b"".join(self._chunks())

    async def write(self, writer: Any, close_boundary: bool = True) -> None:
        """Write the body with ``await writer.write(bytes)``, part by part.

        File parts are read synchronously, 64 KiB at a time; empty chunks
        are not written.
        """
        for chunk in self._chunks(close_boundary):
            if chunk:
                await writer.write(chunk)
