"""Serving files: ``FileResponse`` and the static-directory ``StaticResource``.

``FileResponse(path)`` answers with a file, honouring conditional requests
(RFC 9110 section 13: ``If-Match``, ``If-Unmodified-Since``,
``If-None-Match``, ``If-Modified-Since``) and range requests (section 14:
``Range`` and ``If-Range``). The file is opened and fstat'ed once, on a
file thread (``aioweb._threads``), and served from that descriptor;
anything that is not a regular file answers 404. How files are opened and
their bytes sent (``os.sendfile`` on plain sockets of both loops, chunks
otherwise) is ``_file_io``'s business.

Pre-compressed siblings: when the client accepts ``br`` or ``gzip`` and
``<file>.br`` or ``<file>.gz`` is a regular file beside the file, the
sibling is sent instead, with ``Content-Encoding``, the file's own
``Content-Type``, ``Vary: Accept-Encoding`` and the sibling's validators;
ranges then count bytes of the encoded sibling. A response with
``enable_compression()`` and no sibling sends ``Content-Length`` and uses
the fast path unless ``StreamResponse`` negotiates a coding; then the body
goes in chunks through ``StreamResponse.write``, which encodes it (a single
range is never encoded: its ``Content-Range`` counts unencoded bytes).

Multiple ranges are answered with ``multipart/byteranges``; more than
``MAX_RANGES`` ranges, or ranges whose total exceeds the file size
(overlap amplification), make the server ignore ``Range`` and send the whole
file with 200, as RFC 9110 section 14.2 allows. A syntactically malformed
``bytes=`` range answers 416, like aiohttp; an unknown range unit is ignored.

Path confinement (``StaticResource``): a request name is rejected before
touching the file system if it holds NUL, a backslash, a ``..`` segment or an
absolute path. The joined name is then opened, and unless
``follow_symlinks=True`` the open descriptor itself must lie under the
resolved root (``_file_io.open_path``): no check-then-open race. Every
``OSError`` while opening answers 403 or 404, never 500.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import html
import mimetypes
import os
import re
import secrets
import stat
from collections.abc import Iterator, Sequence
from email.utils import formatdate
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, Optional, Union
from urllib.parse import quote

from yarl import URL

from . import _file_io, hdrs
from ._compression import add_vary
from ._file_io import Opened, accepted_codings, adopt, open_file, open_path
from ._http_writer import StreamWriter
from ._threads import run_blocking
from .typedefs import LooseHeaders, PathLike
from .web_exceptions import HTTPForbidden, HTTPNotFound
from .web_request import ETag, parse_etag
from .web_response import Response, StreamResponse
from .web_urldispatcher import PrefixResource, ResourceRoute, UrlMappingMatchInfo

if TYPE_CHECKING:
    from .web_request import BaseRequest, Request

__all__ = ("FileResponse", "StaticResource")

MAX_RANGES = 16
_RANGE_SPEC_RE = re.compile(r"(\d*)-(\d*)")
_ENCODING_TYPES = {
    "gzip": "application/gzip",
    "br": "application/x-brotli",
    "bzip2": "application/x-bzip2",
    "xz": "application/x-xz",
    "compress": "application/x-compress",
}
# (multipart prefix, start, end exclusive) of each body part
_Parts = list[tuple[bytes, int, int]]


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
    handler and prepared by hand. Guarantees: never more than two
    ``chunk_size`` chunks of the file in memory (the whole file when under
    64 KiB), the body is exactly ``Content-Length`` bytes, and the
    descriptor is closed on every path (errors and disconnects included).
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
        # As given: a Path is built only if needed (building one costs
        # ~20,000 instructions, a static file's whole answer ~500,000).
        self._path = path
        self._chunk_size = chunk_size
        self._opened: Optional[Opened] = None

    def _adopt(self, opened: Opened) -> None:
        """Serve ``opened`` (already checked) instead of opening ``path``.

        The response owns it: closed once sent, or when the response is
        collected without being sent (``__del__``).
        """
        self._opened = opened

    def __del__(self) -> None:
        # An adopted file that was never sent (a middleware replaced the
        # response, the handler raised): close it now. Cheaper per response
        # than a weakref.finalize (~11,000 instructions).
        opened = getattr(self, "_opened", None)
        if opened is not None:
            opened.close()

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
        opened, self._opened = self._opened, None
        if opened is None:
            codings = accepted_codings(request.headers.get(hdrs.ACCEPT_ENCODING))
            try:
                # A cancelled open has its file closed when it comes (run_blocking).
                opened = await run_blocking(open_file, Path(self._path), codings)
            except PermissionError:
                return await self._send_empty(request, HTTPForbidden.status_code)
            except (OSError, ValueError):
                return await self._send_empty(request, HTTPNotFound.status_code)
        try:
            return await self._respond(request, opened)
        finally:
            opened.close()

    async def _send_empty(self, request: BaseRequest, status: int) -> Optional[StreamWriter]:
        self.set_status(status)
        self._compression = False  # nothing to encode; Vary, if due, is already set
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

    def _set_validators(self, opened: Opened) -> tuple[str, int]:
        """ETag, Last-Modified, Accept-Ranges and Vary; returns (etag, mtime)."""
        st = opened.st
        mtime = int(st.st_mtime)
        etag = f"{st.st_mtime_ns:x}-{st.st_size:x}"
        if opened.coding is not None:  # never the same tag as another representation
            etag = f"{etag}-{opened.coding}"
        headers = self._headers
        headers.setdefault(hdrs.ETAG, f'"{etag}"')
        headers.setdefault(hdrs.LAST_MODIFIED, _http_date(mtime))
        headers.setdefault(hdrs.ACCEPT_RANGES, "bytes")
        if opened.coding is not None or self._compression:
            # The representation depends on Accept-Encoding (304s included).
            vary = add_vary(headers, hdrs.ACCEPT_ENCODING)
            if vary is not None:
                headers[hdrs.VARY] = vary
        if opened.coding is not None:
            self._compression = False  # already encoded: never twice
        return etag, mtime

    def _content_type(self) -> str:
        ctype = self._headers.get(hdrs.CONTENT_TYPE)
        if ctype is None:
            guessed, encoding = _guess_type(os.path.basename(os.fspath(self._path)))
            if encoding:
                guessed = _ENCODING_TYPES.get(encoding, "application/octet-stream")
            ctype = self._headers[hdrs.CONTENT_TYPE] = guessed or "application/octet-stream"
        return ctype

    async def _respond(self, request: BaseRequest, opened: Opened) -> Optional[StreamWriter]:
        etag, mtime = self._set_validators(opened)
        if self._status == 200:
            status = self._precondition_status(request, etag, mtime)
            if status is not None:
                return await self._send_empty(request, status)
        if opened.coding is not None:
            self._headers[hdrs.CONTENT_ENCODING] = opened.coding
        ctype = self._content_type()
        size = opened.st.st_size
        ranges: Optional[list[tuple[int, int]]] = None
        if self._status == 200 and self._range_applies(request, etag, mtime):
            ranges = _parse_ranges(request.headers[hdrs.RANGE], size)
            if ranges == []:
                self._headers[hdrs.CONTENT_RANGE] = f"bytes */{size}"
                return await self._send_empty(request, 416)
        parts, trailer = self._plan(ranges, size, ctype)
        body = sum(len(pre) + end - start for pre, start, end in parts)
        self.content_length = body + len(trailer)
        writer = await super().prepare(request)
        assert writer is not None
        if writer.suppress_body:
            pass
        elif self._compressor is not None:  # StreamResponse encodes: go through write()
            for prefix, start, end in parts:
                await self.write(prefix)
                await self._stream_range(opened, start, end - start)
        else:
            for prefix, start, end in parts:
                if prefix:
                    writer.write_nowait(prefix)
                await self._send_range(request, writer, opened, start, end - start)
        await self.write_eof(trailer)
        return writer

    def _plan(
        self, ranges: Optional[list[tuple[int, int]]], size: int, ctype: str
    ) -> tuple[_Parts, bytes]:
        """Body parts and trailer for no range, one range, or several."""
        if ranges is None:
            return [(b"", 0, size)], b""
        if len(ranges) == 1:
            start, end = ranges[0]
            self.set_status(206)
            self._headers[hdrs.CONTENT_RANGE] = f"bytes {start}-{end - 1}/{size}"
            return [(b"", start, end)], b""
        return self._byteranges(ranges, size, ctype)

    def _byteranges(
        self, ranges: list[tuple[int, int]], size: int, ctype: str
    ) -> tuple[_Parts, bytes]:
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
        self, request: BaseRequest, writer: StreamWriter, opened: Opened, offset: int, count: int
    ) -> None:
        """Send ``count`` bytes of the file from ``offset``."""
        if count <= 0:
            return
        if opened.data is not None:
            chunk = opened.data[offset : offset + count]
            if len(chunk) != count:
                raise ConnectionResetError("File shrank while being sent")
            await writer.write(chunk)
            return
        await _file_io.send_file(
            request.transport, writer, opened.fobj, offset, count, self._chunk_size
        )

    async def _stream_range(self, opened: Opened, offset: int, count: int) -> None:
        """Send ``count`` bytes from ``offset`` through ``write()`` (so they are encoded)."""
        if opened.data is not None:
            await self.write(opened.data[offset : offset + count])
        elif count > 0:
            await _file_io.send_chunks(opened.fobj, offset, count, self._chunk_size, self.write)


# -- static directories --


@functools.lru_cache(maxsize=1024)
def _guess_type(name: str) -> tuple[Optional[str], Optional[str]]:
    """``mimetypes.guess_type(name)``, cached (~13,000 instructions a call).

    A type added with ``mimetypes.add_type`` after a name was first served
    is not seen for that name: register types before serving.
    """
    return mimetypes.guess_type(name)


@functools.lru_cache(maxsize=1024)
def _http_date(mtime: int) -> str:
    """``Last-Modified`` text for ``mtime``; cached, as ``formatdate`` costs ~24,000 instructions."""
    return formatdate(mtime, usegmt=True)


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


def _open_static(
    root: Path, parts: list[str], confine: bool, codings: Sequence[str] = ()
) -> tuple[str, Union[Opened, int]]:
    """Open ``root/parts`` (runs on a file thread): an ``Opened`` file or a directory's fd.

    The caller owns the result (closes the ``Opened``, or the fd). Raises
    ``HTTPNotFound`` if it does not exist, escapes the root (``confine``), or
    is neither a regular file nor a directory; ``HTTPForbidden`` if
    permission is denied; never lets ``OSError`` out.
    """
    path = os.path.join(root, *parts)  # root.joinpath(): ~13,000 instructions more
    limit = root if confine else None
    try:
        fd, st = open_path(path, limit)
        if stat.S_ISDIR(st.st_mode):
            return path, fd
        return path, adopt(fd, st, path, codings, limit)
    except PermissionError:
        raise HTTPForbidden() from None
    except (OSError, ValueError):
        raise HTTPNotFound() from None


def _digest(opened: Opened) -> str:
    """URL-safe base64 SHA-256 of the file, read in 64 KiB chunks."""
    digest = hashlib.sha256()
    if opened.data is not None:
        digest.update(opened.data)
    else:
        while chunk := opened.fobj.read(64 * 1024):
            digest.update(chunk)
    return base64.urlsafe_b64encode(digest.digest()).decode("ascii")


class StaticResource(PrefixResource):
    """Files under ``directory`` served at ``prefix``; GET and HEAD only.

    ``resolve`` only checks the prefix (O(1)); the handler then opens and
    confines the name in one file-thread job (open, fstat, descriptor check,
    sibling lookup, small-file read) and hands the open file to a
    ``FileResponse``, so a bad name answers 403/404 without trying later
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
        self._versions: dict[str, tuple[int, int, str]] = {}
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
        """The content hash of ``name``; None if it is not a file under the root.

        Hashes on the calling thread, once per (path, mtime, size).
        """
        parts = _safe_parts(name)
        if parts is None:
            return None
        try:
            path, opened = _open_static(self._directory, parts, not self._follow_symlinks)
        except (HTTPNotFound, HTTPForbidden):
            return None
        if isinstance(opened, int):
            os.close(opened)
            return None
        try:
            key = (opened.st.st_mtime_ns, opened.st.st_size)
            cached = self._versions.get(path)
            if cached is not None and cached[:2] == key:
                return cached[2]
            version = _digest(opened)
        except OSError:
            return None
        finally:
            opened.close()
        self._versions[path] = (*key, version)
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
        codings = accepted_codings(request.headers.get(hdrs.ACCEPT_ENCODING))
        found = await run_blocking(self._lookup, parts, codings)
        if isinstance(found, str):
            return Response(text=found, content_type="text/html")
        path, opened = found
        response = FileResponse(path, chunk_size=self._chunk_size)
        response._adopt(opened)
        return response

    def _lookup(
        self, parts: list[str], codings: Sequence[str]
    ) -> Union[str, _Found]:
        """A directory's index page, or the opened file (runs on a file thread)."""
        path, opened = _open_static(self._directory, parts, not self._follow_symlinks, codings)
        if not isinstance(opened, int):
            return _Found(path, opened)
        try:
            if not self._show_index:
                raise HTTPForbidden()
            return self._index_page(opened, "/".join(parts))
        finally:
            os.close(opened)

    def _index_page(self, fd: int, relative: str) -> str:
        """An HTML list of the entries of the open directory ``fd``; names escaped, links quoted."""
        base = self._prefix + "/" + (relative + "/" if relative else "")
        title = html.escape(f"Index of {base}")
        target: Union[int, Path] = fd
        if os.scandir not in os.supports_fd:
            target = self._directory.joinpath(relative)
        try:
            with os.scandir(target) as it:
                entries = sorted(it, key=lambda entry: entry.name)
        except OSError:
            raise HTTPForbidden() from None
        items = []
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


class _Found(NamedTuple):
    """A static file found and opened: its path (for the content type) and descriptor."""

    path: str
    opened: Opened

    def close(self) -> None:
        self.opened.close()
