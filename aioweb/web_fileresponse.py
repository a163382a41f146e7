"""Serving files: ``FileResponse`` and the static-directory ``StaticResource``.

``FileResponse(path)`` answers with a file, honouring conditional requests
(RFC 9110 section 13: ``If-Match``, ``If-Unmodified-Since``,
``If-None-Match``, ``If-Modified-Since``) and range requests (section 14:
``Range`` and ``If-Range``). The file is opened and stat'ed once, in the
default executor, with ``O_NONBLOCK`` so a FIFO put in its place cannot block
a worker thread; anything that is not a regular file answers 404.

Body transfer, in order of preference:

* files up to ``_SMALL_FILE`` bytes are read in the same executor job that
  opens them and leave with the head in one write;
* on a plain TCP transport of the stock asyncio loop, ``loop.sendfile``
  (``os.sendfile``: no copy through user space);
* otherwise (TLS, uvloop, ``AIOWEB_NOSENDFILE=1``) chunks of ``chunk_size``
  read in the executor and written with back-pressure.

Multiple ranges are answered with ``multipart/byteranges``; more than
``MAX_RANGES`` ranges, or ranges whose total exceeds the file size
(overlap amplification), make the server ignore ``Range`` and send the whole
file with 200, as RFC 9110 section 14.2 allows. A syntactically malformed
``bytes=`` range answers 416, like aiohttp; an unknown range unit is ignored.

Path confinement (``StaticResource``): see ``_resolve_under_root``. A request
name is rejected before touching the file system if it holds NUL, a
backslash, a ``..`` segment or an absolute path; the joined path is then
resolved (symlinks followed) and must lie under the resolved root unless
``follow_symlinks=True``, in which case the lexically normalised path must.
Every ``OSError`` while resolving answers 403 or 404, never 500.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import html
import mimetypes
import os
import re
import secrets
import stat
from collections.abc import Iterator
from email.utils import formatdate
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, NamedTuple, Optional
from urllib.parse import quote

from yarl import URL

from . import hdrs
from ._http_writer import StreamWriter
from .typedefs import LooseHeaders, PathLike
from .web_exceptions import HTTPForbidden, HTTPNotFound
from .web_request import ETag, parse_etag
from .web_response import Response, StreamResponse
from .web_urldispatcher import PrefixResource, ResourceRoute, UrlMappingMatchInfo

if TYPE_CHECKING:
    from .web_request import BaseRequest, Request

__all__ = ("FileResponse", "StaticResource")

MAX_RANGES = 16
# Below this size, reading the file in the opening executor job and sending
# it with the head in one write beats a second executor hop or a sendfile
# call (one syscall and one packet instead of two of each).
_SMALL_FILE = 64 * 1024
_NOSENDFILE = bool(os.environ.get("AIOWEB_NOSENDFILE"))
_RANGE_SPEC_RE = re.compile(r"(\d*)-(\d*)")
_ENCODING_TYPES = {
    "gzip": "application/gzip",
    "br": "application/x-brotli",
    "bzip2": "application/x-bzip2",
    "xz": "application/x-xz",
    "compress": "application/x-compress",
}


class _Opened(NamedTuple):
    """An open regular file, its stat, and its bytes when small."""

    fobj: BinaryIO
    st: os.stat_result
    data: Optional[bytes]


def _open_file(path: Path) -> _Opened:
    """Open ``path`` read-only if it is a regular file (runs in the executor).

    Raises ``FileNotFoundError`` for anything else (directory, FIFO, device),
    so the caller cannot be made to block on or serve a special file.
    """
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise FileNotFoundError(f"{path} is not a regular file")
        fobj = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    data = fobj.read() if st.st_size <= _SMALL_FILE else None
    return _Opened(fobj, st, data)


def _parse_ranges(value: str, size: int) -> Optional[list[tuple[int, int]]]:
    """Satisfiable ``(start, end_exclusive)`` ranges of a Range header.

    Returns None when the header must be ignored (unknown unit, too many or
    amplifying ranges), an empty list when nothing is satisfiable or the
    ``bytes=`` value is malformed (both answer 416).
    """
    unit, sep, specs = value.partition("=")
    if not sep or unit.strip().lower() != "bytes":
        return None
    ranges: list[tuple[int, int]] = []
    count = 0
    for spec in specs.split(","):
        spec = spec.strip()
        if not spec:
            continue
        count += 1
        match = _RANGE_SPEC_RE.fullmatch(spec)
        if match is None or count > MAX_RANGES:
            return [] if match is None else None
        first, last = match.groups()
        if not first:
            if not last:
                return []
            suffix = int(last)
            if suffix and size:
                ranges.append((max(0, size - suffix), size))
            continue
        start = int(first)
        if last and int(last) < start:
            return []
        if start < size:
            ranges.append((start, size if not last else min(int(last) + 1, size)))
    if sum(end - start for start, end in ranges) > max(size, 1) and len(ranges) > 1:
        return None
    return ranges


def _etag_matches(tags: tuple[ETag, ...], etag: str, *, weak: bool) -> bool:
    for tag in tags:
        if tag.value == "*" or (tag.value == etag and (weak or not tag.is_weak)):
            return True
    return False


class FileResponse(StreamResponse):
    """A response sending the file at ``path``, with conditional and range support.

    The file is opened at ``prepare()``; a missing file answers 404 and an
    unreadable one 403, with an empty body. ``prepare()`` sends the whole
    response (head and body), so the object works both returned from a
    handler and prepared by hand. Guarantees: never more than ``chunk_size``
    bytes of the file in memory (``_SMALL_FILE`` for small files), and the
    body is exactly ``Content-Length`` bytes.
    """

    _default_cork = True  # the seed: static file handlers work in CORK mode

    def __init__(
        self,
        path: PathLike,
        chunk_size: int = 256 * 1024,
        status: int = 200,
        reason: Optional[str] = None,
        headers: Optional[LooseHeaders] = None,
    ) -> None:
        super().__init__(status=status, reason=reason, headers=headers)
        self._path = Path(path)
        self._chunk_size = chunk_size

    def _send_head_early(self) -> bool:
        return False

    def _fixed_length(self) -> bool:
        return True

    async def _finish(self, request: BaseRequest) -> None:
        if not self._eof_sent:
            await self.prepare(request)
        await super()._finish(request)

    async def prepare(self, request: BaseRequest) -> Optional[StreamWriter]:
        """Open the file, evaluate preconditions and ranges, send everything."""
        if self._eof_sent or self._writer is not None:
            return await super().prepare(request)
        loop = asyncio.get_running_loop()
        try:
            opened = await loop.run_in_executor(None, _open_file, self._path)
        except PermissionError:
            return await self._send_empty(request, HTTPForbidden.status_code)
        except (OSError, ValueError):
            return await self._send_empty(request, HTTPNotFound.status_code)
        try:
            return await self._respond(request, opened)
        finally:
            opened.fobj.close()

    async def _send_empty(self, request: BaseRequest, status: int) -> Optional[StreamWriter]:
        self.set_status(status)
        self.content_length = 0
        writer = await super().prepare(request)
        await self.write_eof()
        return writer

    def _precondition_status(self, request: BaseRequest, etag: str, mtime: int) -> Optional[int]:
        """412 or 304 per RFC 9110 section 13.2.2, else None."""
        if_match = request.if_match
        if if_match is not None:
            if not _etag_matches(if_match, etag, weak=False):
                return 412
        else:
            unmodified = request.if_unmodified_since
            if unmodified is not None and mtime > unmodified.timestamp():
                return 412
        if_none_match = request.if_none_match
        if if_none_match is not None:
            if _etag_matches(if_none_match, etag, weak=True):
                return 304 if request.method in ("GET", "HEAD") else 412
        elif request.method in ("GET", "HEAD"):
            modified = request.if_modified_since
            if modified is not None and mtime <= modified.timestamp():
                return 304
        return None

    def _range_applies(self, request: BaseRequest, etag: str, mtime: int) -> bool:
        """True if a Range header should be honoured (GET, If-Range satisfied)."""
        if request.method != "GET" or hdrs.RANGE not in request.headers:
            return False
        if_range = request.headers.get(hdrs.IF_RANGE)
        if if_range is None:
            return True
        tag = parse_etag(if_range.strip())
        if tag is not None:
            return not tag.is_weak and tag.value == etag
        date = request.if_range
        return date is not None and int(date.timestamp()) == mtime

    async def _respond(self, request: BaseRequest, opened: _Opened) -> Optional[StreamWriter]:
        st = opened.st
        size = st.st_size
        mtime = int(st.st_mtime)
        etag = f"{st.st_mtime_ns:x}-{size:x}"
        headers = self._headers
        headers.setdefault(hdrs.ETAG, f'"{etag}"')
        headers.setdefault(hdrs.LAST_MODIFIED, formatdate(mtime, usegmt=True))
        headers.setdefault(hdrs.ACCEPT_RANGES, "bytes")
        if self._status == 200:
            status = self._precondition_status(request, etag, mtime)
            if status is not None:
                return await self._send_empty(request, status)
        ctype = headers.get(hdrs.CONTENT_TYPE)
        if ctype is None:
            guessed, encoding = mimetypes.guess_type(self._path.name)
            if encoding:
                guessed = _ENCODING_TYPES.get(encoding, "application/octet-stream")
            ctype = guessed or "application/octet-stream"
            headers[hdrs.CONTENT_TYPE] = ctype
        ranges: Optional[list[tuple[int, int]]] = None
        if self._status == 200 and self._range_applies(request, etag, mtime):
            ranges = _parse_ranges(request.headers[hdrs.RANGE], size)
        if ranges is None:
            parts = [(b"", 0, size)]
            trailer = b""
        elif not ranges:
            headers[hdrs.CONTENT_RANGE] = f"bytes */{size}"
            return await self._send_empty(request, 416)
        elif len(ranges) == 1:
            start, end = ranges[0]
            self.set_status(206)
            headers[hdrs.CONTENT_RANGE] = f"bytes {start}-{end - 1}/{size}"
            parts = [(b"", start, end)]
            trailer = b""
        else:
            parts, trailer = self._byteranges(ranges, size, ctype)
        self.content_length = sum(len(pre) + end - start for pre, start, end in parts) + len(
            trailer
        )
        writer = await super().prepare(request)
        assert writer is not None
        if not writer.suppress_body:
            for prefix, start, end in parts:
                if prefix:
                    writer.write_nowait(prefix)
                await self._send_range(request, writer, opened, start, end - start)
        await self.write_eof(trailer)
        return writer

    def _byteranges(
        self, ranges: list[tuple[int, int]], size: int, ctype: str
    ) -> tuple[list[tuple[bytes, int, int]], bytes]:
        boundary = secrets.token_hex(16)
        self.set_status(206)
        self._headers[hdrs.CONTENT_TYPE] = f"multipart/byteranges; boundary={boundary}"
        parts = []
        for i, (start, end) in enumerate(ranges):
            lead = "\r\n" if i else ""
            prefix = (
                f"{lead}--{boundary}\r\nContent-Type: {ctype}\r\n"
                f"Content-Range: bytes {start}-{end - 1}/{size}\r\n\r\n"
            )
            parts.append((prefix.encode("latin-1"), start, end))
        return parts, f"\r\n--{boundary}--\r\n".encode("latin-1")

    async def _send_range(
        self, request: BaseRequest, writer: StreamWriter, opened: _Opened, offset: int, count: int
    ) -> None:
        """Send ``count`` bytes of the file from ``offset``."""
        if count <= 0:
            return
        if opened.data is not None:
            await writer.write(opened.data[offset : offset + count])
            return
        loop = asyncio.get_running_loop()
        transport = request.transport
        if transport is None or transport.is_closing():
            raise ConnectionResetError("Connection lost")
        # Only the stock selector transport sends natively; uvloop and TLS
        # transports lack the marker and take the chunked path.
        mode = getattr(transport, "_sendfile_compatible", None)
        if not _NOSENDFILE and getattr(mode, "name", "") == "TRY_NATIVE":
            writer.flush_head()
            try:
                sent = await loop.sendfile(transport, opened.fobj, offset, count, fallback=False)
            except asyncio.SendfileNotAvailableError:
                pass  # raised only before the first byte: fall through
            else:
                writer.buffer_size += sent
                writer.output_size += sent
                return
        await self._send_chunks(writer, opened.fobj, offset, count)

    async def _send_chunks(self, writer: StreamWriter, fobj: BinaryIO, offset: int, count: int) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, fobj.seek, offset)
        while count > 0:
            chunk = await loop.run_in_executor(None, fobj.read, min(self._chunk_size, count))
            if not chunk:
                raise ConnectionResetError("File shrank while being sent")
            count -= len(chunk)
            await writer.write(chunk)


# -- static directories --


def _safe_parts(filename: str) -> Optional[list[str]]:
    """Path segments of a request name, or None if the name is hostile.

    Hostile: NUL, backslash, a ``..`` segment, or an absolute path. Empty and
    ``.`` segments are dropped.
    """
    if "\x00" in filename or "\\" in filename or filename.startswith("/"):
        return None
    parts = [part for part in filename.split("/") if part not in ("", ".")]
    if ".." in parts:
        return None
    return parts


def _resolve_under_root(root: Path, parts: list[str], follow_symlinks: bool) -> Path:
    """Resolve ``root/parts`` to an existing path under ``root`` (runs in the executor).

    Raises ``HTTPNotFound`` if it does not exist or escapes the root, and
    ``HTTPForbidden`` if permission is denied; never lets ``OSError`` out.
    """
    joined = root.joinpath(*parts)
    try:
        if follow_symlinks:
            if not Path(os.path.normpath(joined)).is_relative_to(root):
                raise HTTPNotFound()
            resolved = joined.resolve(strict=True)
        else:
            resolved = joined.resolve(strict=True)
            if not resolved.is_relative_to(root):
                raise HTTPNotFound()
    except PermissionError:
        raise HTTPForbidden() from None
    except (OSError, RuntimeError, ValueError):
        raise HTTPNotFound() from None
    return resolved


class StaticResource(PrefixResource):
    """Files under ``directory`` served at ``prefix``; GET and HEAD only.

    ``resolve`` only checks the prefix (O(1)); the name is confined when the
    route's handler runs, so a bad name answers 403/404 without trying later
    resources. ``url_for(filename=...)`` builds links, with ``?v=<sha256>``
    of the content when ``append_version`` (computed once per mtime and size).
    """

    VERSION_KEY = "v"

    def __init__(
        self,
        prefix: str,
        directory: PathLike,
        *,
        name: Optional[str] = None,
        expect_handler: Any = None,
        chunk_size: int = 256 * 1024,
        show_index: bool = False,
        follow_symlinks: bool = False,
        append_version: bool = False,
    ) -> None:
        if prefix.endswith("/"):
            prefix = prefix[:-1]
        if prefix and not prefix.startswith("/"):
            raise ValueError(f"Static prefix {prefix!r} must start with '/'")
        super().__init__(prefix, name=name)
        try:
            root = Path(directory).expanduser().resolve(strict=True)
        except (OSError, RuntimeError) as exc:
            raise ValueError(f"No directory exists at '{directory}'") from exc
        if not root.is_dir():
            raise ValueError(f"No directory exists at '{root}'")
        self._directory = root
        self._chunk_size = chunk_size
        self._show_index = show_index
        self._follow_symlinks = follow_symlinks
        self._append_version = append_version
        self._versions: dict[Path, tuple[int, int, str]] = {}
        self._routes = {
            method: ResourceRoute(method, self._handle, expect_handler=expect_handler, resource=self)
            for method in (hdrs.METH_GET, hdrs.METH_HEAD)
        }
        self._allowed = set(self._routes)

    def __repr__(self) -> str:
        name = f"'{self.name}' " if self.name is not None else ""
        return f"<StaticResource {name}{self._prefix} -> {self._directory!r}>"

    def __len__(self) -> int:
        return len(self._routes)

    def __iter__(self) -> Iterator[ResourceRoute]:
        return iter(self._routes.values())

    def get_info(self) -> dict[str, Any]:
        return {"directory": self._directory, "prefix": self._prefix, "routes": self._routes}

    def set_options_route(self, handler: Any) -> None:
        """Route OPTIONS (used by CORS); raises ``RuntimeError`` if already set."""
        if hdrs.METH_OPTIONS in self._routes:
            raise RuntimeError("OPTIONS route was set already")
        self._routes[hdrs.METH_OPTIONS] = ResourceRoute(hdrs.METH_OPTIONS, handler, resource=self)
        self._allowed.add(hdrs.METH_OPTIONS)

    def url_for(  # type: ignore[override]
        self, *, filename: PathLike, append_version: Optional[bool] = None
    ) -> URL:
        """The URL of ``filename`` under the prefix, optionally with ``?v=<hash>``."""
        if append_version is None:
            append_version = self._append_version
        name = str(filename).replace("\\", "/").lstrip("/")
        url = URL.build(path=self._prefix + "/" + quote(name, safe="/@:!$&'()*+,;=-._~"), encoded=True)
        if append_version:
            version = self._version_of(name)
            if version is not None:
                url = url.with_query({self.VERSION_KEY: version})
        return url

    def _version_of(self, name: str) -> Optional[str]:
        parts = _safe_parts(name)
        if parts is None:
            return None
        try:
            path = _resolve_under_root(self._directory, parts, self._follow_symlinks)
            st = path.stat()
            if not stat.S_ISREG(st.st_mode):
                return None
            cached = self._versions.get(path)
            if cached is not None and cached[:2] == (st.st_mtime_ns, st.st_size):
                return cached[2]
            digest = hashlib.sha256(path.read_bytes()).digest()
        except (HTTPNotFound, HTTPForbidden, OSError):
            return None
        version = base64.urlsafe_b64encode(digest).decode("ascii")
        self._versions[path] = (st.st_mtime_ns, st.st_size, version)
        return version

    async def resolve(
        self, request: Request
    ) -> tuple[Optional[UrlMappingMatchInfo], set[str]]:
        # Routing form: decoded except %2F and %25, so the prefix test cannot
        # be fooled by an encoded slash; the name then decodes those two.
        path = request.rel_url.path_safe if "%" in request.raw_path else request.path
        if not path.startswith(self._prefix2):
            return None, set()
        route = self._routes.get(request.method)
        if route is None:
            return None, self._allowed
        name = path[len(self._prefix2) :]
        if "%" in name:
            name = name.replace("%2F", "/").replace("%2f", "/").replace("%25", "%")
        return UrlMappingMatchInfo({"filename": name}, route), self._allowed

    async def _handle(self, request: Request) -> StreamResponse:
        filename = request.match_info["filename"]
        parts = _safe_parts(filename)
        if parts is None:
            raise HTTPForbidden()
        loop = asyncio.get_running_loop()
        path, is_dir = await loop.run_in_executor(None, self._locate, parts)
        if is_dir:
            if not self._show_index:
                raise HTTPForbidden()
            page = await loop.run_in_executor(None, self._index_page, path, "/".join(parts))
            return Response(text=page, content_type="text/html")
        return FileResponse(path, chunk_size=self._chunk_size)

    def _locate(self, parts: list[str]) -> tuple[Path, bool]:
        path = _resolve_under_root(self._directory, parts, self._follow_symlinks)
        try:
            return path, path.is_dir()
        except OSError:
            raise HTTPNotFound() from None

    def _index_page(self, directory: Path, relative: str) -> str:
        """An HTML list of ``directory``'s entries; names escaped, links quoted."""
        base = self._prefix + "/" + (relative + "/" if relative else "")
        title = html.escape(f"Index of {base}")
        items = []
        try:
            entries = sorted(directory.iterdir(), key=lambda p: p.name)
        except OSError:
            raise HTTPForbidden() from None
        for entry in entries:
            try:
                suffix = "/" if entry.is_dir() else ""
            except OSError:
                continue
            href = html.escape(quote(base + entry.name + suffix), quote=True)
            items.append(f'<li><a href="{href}">{html.escape(entry.name + suffix)}</a></li>')
        return (
            f"<html>\n<head>\n<title>{title}</title>\n</head>\n<body>\n<h1>{title}</h1>\n"
            f"<ul>\n{chr(10).join(items)}\n</ul>\n</body>\n</html>"
        )
