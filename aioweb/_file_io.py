"""The operating-system half of serving files: opening them safely, sending their bytes.

Opening (blocking; callers run it on the file threads of ``aioweb._threads``):

* ``open_path`` opens first and checks second. With a ``root``, the path the
  kernel reports for the *open descriptor* (``/proc/self/fd/N``) must lie
  under it, so a name swapped for a symlink between a check and the open
  cannot make the server send a file outside the root: what was checked is
  what is sent. Where the kernel cannot name a descriptor, the resolved name
  must lie under the root and still be the inode that was opened (a narrower
  race). Opening uses ``O_NONBLOCK``, so a FIFO cannot block a worker thread.
* ``open_file`` keeps regular files only, and prefers a pre-compressed
  sibling (``<name>.br``, ``<name>.gz``) in the client's order of preference.
  Siblings are opened with ``O_NOFOLLOW`` (a symlinked sibling is never
  used), must be regular files and pass the same root check.

Sending (``send_file``, on the loop), by transport:

* plain TCP and Unix socket transports of asyncio and uvloop: ``os.sendfile``
  straight onto the transport's socket, but only while the transport's
  write buffer is empty, so bytes can never be reordered. When the socket
  is full, ``_NUDGE`` bytes of the file go through ``transport.write`` with
  the high-water mark at 0: the drain that follows ends exactly when the
  loop has flushed them, that is when the socket is writable again. Only
  the loop's own machinery waits on the descriptor (uvloop's ``add_writer``
  refuses a transport's descriptor, and uvloop has no ``loop.sendfile``).
  asyncio's ``loop.sendfile`` is not used: on Python 3.11 a transport
  aborted mid-transfer (server shutdown, a stalled client) leaves its
  future pending forever, so the handler hangs and its file stays open.
  Serving 256 MiB over loopback to a fast reader (best of 10, two shared
  cores): uvloop 180-220 ms before (chunks), 70-80 ms now, with about 2% of
  the bytes copied by nudges; asyncio 85-100 ms with ``loop.sendfile``,
  75-90 ms now; the chunked fallback 210-235 ms.
* anything else (TLS, an encoding response, ``AIOWEB_NOSENDFILE=1``):
  ``chunk_size`` chunks read on the file threads, the next read overlapping the
  current write, each write awaiting the transport's drain.
"""

from __future__ import annotations

import asyncio
import errno
import os
import re
import stat
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, NamedTuple, Optional

from ._threads import run_blocking

if TYPE_CHECKING:
    from ._http_writer import StreamWriter

__all__ = (
    "Opened",
    "accepted_codings",
    "adopt",
    "open_file",
    "open_path",
    "send_chunks",
    "send_file",
)

# Below this size, reading the file in the opening thread job and sending
# it with the head in one write beats a second thread hop or a sendfile
# call (one syscall and one packet instead of two of each).
SMALL_FILE = 64 * 1024
NOSENDFILE = bool(os.environ.get("AIOWEB_NOSENDFILE"))
# Bytes copied through the transport each time the socket fills up under
# uvloop: small against the socket buffer that sendfile fills in between.
_NUDGE = 64 * 1024
_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NONBLOCK", 0)
    | getattr(os, "O_BINARY", 0)
    | getattr(os, "O_CLOEXEC", 0)
)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_PROC_FD = os.path.isdir("/proc/self/fd")
# Content codings with a sibling suffix, in server preference on equal q.
SIBLINGS = (("br", ".br"), ("gzip", ".gz"))
_QVALUE = re.compile(r"0(?:\.\d{0,3})?|1(?:\.0{0,3})?")
_ALIASES = {"x-gzip": "gzip"}  # RFC 9110 section 8.4.1.3
_UVLOOP_TRANSPORTS = frozenset({"TCPTransport", "UnixTransport"})
_HAVE_SENDFILE = hasattr(os, "sendfile")
# os.sendfile refusing this file or socket (before sending anything).
_NO_SENDFILE_ERRNOS = frozenset(
    getattr(errno, name) for name in ("EINVAL", "ENOSYS", "EOPNOTSUPP", "ENOTSUP", "ENOTSOCK")
    if hasattr(errno, name)
)


class Opened(NamedTuple):
    """An open regular file: its stat, its bytes when small, its content coding."""

    fobj: BinaryIO
    st: os.stat_result
    data: Optional[bytes]
    coding: Optional[str]

    def close(self) -> None:
        """Close the file; idempotent."""
        self.fobj.close()


# -- choosing a coding --


def _weights(header: str) -> dict[str, float]:
    """Coding -> q; malformed elements are skipped, a repeated coding keeps its lowest q."""
    weights: dict[str, float] = {}
    for item in header.split(","):
        name, _, params = item.partition(";")
        name = _ALIASES.get(name.strip().lower(), name.strip().lower())
        weight: Optional[float] = 1.0
        for param in params.split(";") if params else ():
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                value = value.strip()
                weight = float(value) if _QVALUE.fullmatch(value) else None
        if name and weight is not None:
            weights[name] = min(weight, weights.get(name, weight))
    return weights


def accepted_codings(header: Optional[str]) -> tuple[str, ...]:
    """The sibling codings (``br``, ``gzip``) an Accept-Encoding value accepts, best first.

    The rules of ``_compression.select_coding`` (RFC 9110 section 12.5.3),
    except that br needs no ``brotli`` package here: a coding is accepted
    when named with q > 0, or covered by ``*`` with q > 0; ties keep the
    server's order (br, then gzip); an ``identity`` weighted above every
    accepted coding wins. No header accepts nothing. O(length of the value).
    """
    if not header:
        return ()
    weights = _weights(header)
    star = weights.get("*", 0.0)
    ranked = sorted(
        ((weights.get(coding, star), -i, coding) for i, (coding, _) in enumerate(SIBLINGS)),
        reverse=True,
    )
    accepted = tuple(coding for weight, _, coding in ranked if weight > 0)
    if accepted and weights.get("identity", 0.0) > ranked[0][0]:
        return ()
    return accepted


# -- opening --


def _descriptor_path(fd: int) -> Optional[str]:
    if not _PROC_FD:
        return None
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return None


def _under(real: str, root: str) -> bool:
    """True if ``real`` is ``root`` or below it; both absolute and normalized.

    A string test, component-wise because the prefix ends with a separator
    (``/srv/ab`` is not under ``/srv/a``). ``Path(real).is_relative_to(root)``
    gives the same answer for ~46,000 instructions more per call.
    """
    real, root = os.path.normcase(real), os.path.normcase(root)
    prefix = root if root.endswith(os.sep) else root + os.sep
    return real == root or real.startswith(prefix)


def _inside(fd: int, path: str, st: os.stat_result, root: Path) -> bool:
    """True if the open descriptor ``fd`` (opened as ``path``) lies under ``root``."""
    real = _descriptor_path(fd)
    if real is None:
        try:
            real = os.path.realpath(path, strict=True)
            now = os.stat(real)
        except OSError:
            return False
        if (now.st_dev, now.st_ino) != (st.st_dev, st.st_ino):
            return False
    return _under(real, os.fspath(root))


def open_path(path: str, root: Optional[Path], flags: int = 0) -> tuple[int, os.stat_result]:
    """Open ``path`` read-only and fstat it; with ``root``, confine the descriptor.

    Returns a raw descriptor the caller must close. Raises ``OSError`` as
    ``os.open`` does, and ``FileNotFoundError`` when the descriptor lies
    outside ``root``; nothing leaks on any error.
    """
    fd = os.open(path, _FLAGS | flags)
    try:
        st = os.fstat(fd)
        if root is not None and not _inside(fd, path, st, root):
            raise FileNotFoundError(f"{path} is outside the root")
    except BaseException:
        os.close(fd)
        raise
    return fd, st


def _open_sibling(
    path: str, codings: Sequence[str], root: Optional[Path]
) -> Optional[tuple[int, os.stat_result, str]]:
    suffixes = dict(SIBLINGS)
    for coding in codings:
        try:
            fd, st = open_path(path + suffixes[coding], root, _NOFOLLOW)
        except (OSError, ValueError):
            continue
        if stat.S_ISREG(st.st_mode):
            return fd, st, coding
        os.close(fd)
    return None


def adopt(
    fd: int, st: os.stat_result, path: str, codings: Sequence[str], root: Optional[Path]
) -> Opened:
    """Turn an open descriptor of ``path`` into ``Opened``, taking ownership of ``fd``.

    Raises ``FileNotFoundError`` unless it is a regular file (a directory,
    FIFO or device is never served). A sibling in ``codings`` replaces it.
    """
    coding: Optional[str] = None
    try:
        if not stat.S_ISREG(st.st_mode):
            raise FileNotFoundError(f"{path} is not a regular file")
        sibling = _open_sibling(path, codings, root) if codings else None
        if sibling is not None:
            os.close(fd)
            fd, st, coding = sibling
        fobj = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    try:
        data = fobj.read(st.st_size) if st.st_size <= SMALL_FILE else None
    except BaseException:
        fobj.close()
        raise
    return Opened(fobj, st, data, coding)


def open_file(path: Path, codings: Sequence[str] = (), root: Optional[Path] = None) -> Opened:
    """Open a regular file (or its best sibling in ``codings``), reading it if small."""
    name = os.fspath(path)
    fd, st = open_path(name, root)
    return adopt(fd, st, name, codings, root)


# -- sending --


def _plain_socket_fd(transport: Any) -> Optional[int]:
    """The socket descriptor of a plain (not TLS) asyncio or uvloop socket transport.

    asyncio marks its plain socket transports with ``_sendfile_compatible``
    ``TRY_NATIVE`` (its TLS transport has no such marker); uvloop's are
    known by class. Anything else gets None: bytes must go through it.
    """
    kind = type(transport)
    mode = getattr(transport, "_sendfile_compatible", None)
    if getattr(mode, "name", "") != "TRY_NATIVE" and (
        kind.__module__ != "uvloop.loop" or kind.__name__ not in _UVLOOP_TRANSPORTS
    ):
        return None
    sock = transport.get_extra_info("socket")
    return None if sock is None else int(sock.fileno())


async def send_file(
    transport: Optional[asyncio.Transport],
    writer: StreamWriter,
    fobj: BinaryIO,
    offset: int,
    count: int,
    chunk_size: int,
) -> None:
    """Send ``count`` bytes of ``fobj`` from ``offset`` as the body (see module doc).

    Raises ``ConnectionResetError`` if the connection goes, or if the file
    shrinks under the transfer; the caller closes ``fobj``.
    """
    if transport is None or transport.is_closing():
        raise ConnectionResetError("Connection lost")
    sock_fd = None if NOSENDFILE or not _HAVE_SENDFILE else _plain_socket_fd(transport)
    if sock_fd is not None:
        sent = await _direct_sendfile(transport, writer, sock_fd, fobj.fileno(), offset, count)
        offset, count = offset + sent, count - sent
    if count > 0:
        await send_chunks(fobj, offset, count, chunk_size, writer.write)


async def _direct_sendfile(
    transport: asyncio.Transport,
    writer: StreamWriter,
    sock_fd: int,
    file_fd: int,
    offset: int,
    count: int,
) -> int:
    """``os.sendfile`` onto the transport's socket while its write buffer is empty.

    Returns the bytes sent; fewer than ``count`` only if the file system
    refuses sendfile (the rest then goes in chunks). Between the
    ``is_closing()`` check and each ``os.sendfile`` nothing yields, so the
    descriptor is still the transport's own socket, never a reused number.
    """
    done = 0
    low, high = transport.get_write_buffer_limits()
    transport.set_write_buffer_limits(high=0)  # drain() now ends on an empty buffer
    try:
        while done < count:
            await writer.drain()  # sends the head first
            if transport.is_closing():
                raise ConnectionResetError("Connection lost")
            if transport.get_write_buffer_size():  # not expected after drain()
                await asyncio.sleep(0.001)
                continue
            try:
                sent = os.sendfile(sock_fd, file_fd, offset + done, count - done)
            except BlockingIOError:
                # Socket full: let the loop wait for it, holding a few bytes.
                data = os.pread(file_fd, min(_NUDGE, count - done), offset + done)
                if not data:
                    raise ConnectionResetError("File shrank while being sent") from None
                writer.write_nowait(data)
                done += len(data)
                continue
            except OSError as exc:
                if exc.errno in _NO_SENDFILE_ERRNOS:
                    return done
                raise ConnectionResetError(str(exc)) from exc  # EPIPE, ECONNRESET
            if not sent:
                raise ConnectionResetError("File shrank while being sent")
            done += sent
            writer.buffer_size += sent
            writer.output_size += sent
            await asyncio.sleep(0)  # a fast reader must not starve the loop
    finally:
        if not transport.is_closing():
            transport.set_write_buffer_limits(high=high, low=low)
    return done


async def send_chunks(
    fobj: BinaryIO,
    offset: int,
    count: int,
    chunk_size: int,
    write: Callable[[bytes], Awaitable[None]],
) -> None:
    """Read ``chunk_size`` chunks on the file threads and ``await write()`` each.

    The next read runs while the current chunk is written: at most two
    chunks in memory. Raises ``ConnectionResetError`` if the file shrinks.
    """
    fd = fobj.fileno()
    pending = run_blocking(os.pread, fd, min(chunk_size, count), offset)
    try:
        while True:
            chunk = await pending
            if not chunk:
                raise ConnectionResetError("File shrank while being sent")
            offset += len(chunk)
            count -= len(chunk)
            if count > 0:
                pending = run_blocking(os.pread, fd, min(chunk_size, count), offset)
            await write(chunk)
            if count <= 0:
                return
    finally:
        pending.add_done_callback(_retrieve)  # a read left behind is discarded


def _retrieve(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()
