"""Request body stream with back-pressure.

The protocol feeds body bytes in as they arrive; the handler reads them out.
When more than ``high_water`` bytes are buffered the transport is paused, and
it resumes once the handler has drained the buffer below half of that, so a
slow handler never makes the server hold an unbounded body in memory.
Not thread-safe: use from the event loop that owns the connection.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Protocol

__all__ = ("EMPTY_PAYLOAD", "EofStream", "StreamReader")

DEFAULT_HIGH_WATER = 256 * 1024


class EofStream(Exception):
    """Raised internally when a stream has ended."""


class _ReadingControl(Protocol):
    def pause_reading(self) -> None: ...

    def resume_reading(self) -> None: ...


class StreamReader:
    """An asynchronous byte stream fed by the protocol.

    Every read method returns ``b""`` (or raises ``asyncio.IncompleteReadError``
    for ``readexactly``) once the stream is at EOF. If the connection failed,
    the stored exception is raised to the reader instead.
    """

    __slots__ = (
        "_buffer",
        "_head",
        "_size",
        "_eof",
        "_waiter",
        "_exception",
        "_control",
        "_high_water",
        "_paused",
        "total_bytes",
        "_loop",
    )

    def __init__(
        self,
        control: _ReadingControl | None = None,
        *,
        high_water: int = DEFAULT_HIGH_WATER,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        # Unread chunks are _buffer[_head:]; _size counts their bytes, and
        # every chunk kept is non-empty, so _size == 0 means nothing buffered.
        # A list with a read index, not a deque: an empty deque takes 760
        # bytes, a list 56, and a body's reader lives from its head until the
        # handler runs, so 256 bodies in flight held 175 KiB more (about 150
        # instructions each too, bench/RESULTS.md, tenth session). _pop_chunk
        # keeps taking from the front amortised O(1).
        self._buffer: list[bytes] = []
        self._head = 0
        self._size = 0
        self._eof = False
        self._waiter: asyncio.Future[None] | None = None
        self._exception: BaseException | None = None
        self._control = control
        self._high_water = high_water
        self._paused = False
        self._loop = loop
        self.total_bytes = 0

    def __repr__(self) -> str:
        state = "eof" if self._eof else f"{self._size} bytes buffered"
        return f"<StreamReader {state}>"

    # -- producer side (the protocol) --

    def feed_data(self, data: bytes) -> None:
        """Append ``data``; pause the transport above the high-water mark."""
        if not data:
            return
        self._buffer.append(data)
        self._size += len(data)
        self.total_bytes += len(data)
        if self._waiter is not None:  # a reader waits rarely: no call otherwise
            self._wake()
        if self._size > self._high_water and not self._paused and self._control:
            self._paused = True
            self._control.pause_reading()

    def feed_eof(self) -> None:
        """Mark the end of the body."""
        self._eof = True
        if self._waiter is not None:
            self._wake()

    def set_exception(self, exc: BaseException) -> None:
        """Fail pending and future reads with ``exc`` (e.g. the peer went away)."""
        self._exception = exc
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_exception(exc)

    def exception(self) -> BaseException | None:
        """The exception set on the stream, if any."""
        return self._exception

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)

    # -- consumer side (the handler) --

    def is_eof(self) -> bool:
        """True once the producer has signalled the end of the body."""
        return self._eof

    def at_eof(self) -> bool:
        """True when EOF was fed and every buffered byte has been read."""
        return self._eof and not self._size

    async def wait_eof(self) -> None:
        """Wait until the producer signals EOF, without consuming data."""
        while not self._eof:
            await self._wait()

    async def _wait(self) -> None:
        if self._exception is not None:
            raise self._exception
        loop = self._loop or asyncio.get_running_loop()
        self._waiter = waiter = loop.create_future()
        try:
            await waiter
        finally:
            self._waiter = None

    def _consumed(self, n: int) -> None:
        self._size -= n
        if self._paused and self._size <= self._high_water // 2 and self._control:
            self._paused = False
            self._control.resume_reading()

    def _pop_chunk(self) -> bytes:
        """Take the first unread chunk: amortised O(1).

        The list is cut down once the read index passes half of it, so each
        chunk is moved at most once more, however small the chunks.
        """
        buf = self._buffer
        head = self._head
        chunk = buf[head]
        head += 1
        if head == len(buf):
            buf.clear()
            head = 0
        elif head >= 32 and head * 2 >= len(buf):
            del buf[:head]
            head = 0
        else:
            buf[head - 1] = b""  # release the chunk now, not at the next cut
        self._head = head
        return chunk

    def _take_all(self) -> bytes:
        buf = self._buffer
        head = self._head
        data = buf[head] if len(buf) - head == 1 else b"".join(buf[head:] if head else buf)
        buf.clear()
        self._head = 0
        return data

    def _take(self, n: int) -> bytes:
        """Pop up to ``n`` buffered bytes (``n < 0``: everything buffered)."""
        if n < 0 or n >= self._size:
            data = self._take_all()
        else:
            parts = []
            need = n
            buf = self._buffer
            while need:
                chunk = buf[self._head]
                if len(chunk) <= need:
                    parts.append(self._pop_chunk())
                    need -= len(chunk)
                else:
                    parts.append(chunk[:need])
                    buf[self._head] = chunk[need:]
                    need = 0
            data = parts[0] if len(parts) == 1 else b"".join(parts)
        self._consumed(len(data))
        return data

    def take_complete(self, limit: int = 0) -> bytes | None:
        """Everything left, if EOF was fed and it is at most ``limit`` bytes (0: any).

        None otherwise (nothing is consumed then). Lets a reader of a body
        that has fully arrived skip the read loop: ~3k instructions less for
        a 1 KiB request body (bench/micro.py).
        """
        size = self._size
        if not self._eof or self._exception is not None or (limit and size > limit):
            return None
        if not size:
            return b""
        # The usual body, one chunk: taken here, without _take's three calls
        # (with the waiter checks in feed_data and feed_eof, 2,500 instructions
        # less per 1 KiB POST, bench/RESULTS.md, eleventh session).
        buf = self._buffer
        if len(buf) - self._head != 1 or self._paused:
            return self._take(-1)
        data = buf[-1]
        buf.clear()
        self._head = 0
        self._size = 0
        return data

    async def read(self, n: int = -1) -> bytes:
        """Read up to ``n`` bytes; ``n < 0`` reads to EOF. ``b""`` means EOF."""
        if self._exception is not None:
            raise self._exception
        if n == 0:
            return b""
        if n < 0:
            # Drain as it arrives: waiting for EOF with the buffer full would
            # wait forever, since a full buffer pauses the transport.
            parts = []
            while True:
                if self._size:
                    parts.append(self._take(-1))
                if self._eof:
                    break
                await self._wait()
            return parts[0] if len(parts) == 1 else b"".join(parts)
        while not self._size and not self._eof:
            await self._wait()
        return self._take(n) if self._size else b""

    async def readany(self) -> bytes:
        """Return the next buffered chunk as soon as any data is available."""
        if self._exception is not None:
            raise self._exception
        while not self._size and not self._eof:
            await self._wait()
        if not self._size:
            return b""
        data = self._pop_chunk()
        self._consumed(len(data))
        return data

    async def readchunk(self) -> tuple[bytes, bool]:
        """``(data, False)`` as soon as any data is available; ``(b"", False)`` at EOF.

        HTTP chunk boundaries are not tracked, so the flag is always False.
        """
        return await self.readany(), False

    def read_nowait(self, n: int = -1) -> bytes:
        """Return up to ``n`` buffered bytes (all with ``n < 0``) without waiting."""
        if self._exception is not None:
            raise self._exception
        return self._take(n) if self._size and n else b""

    async def readexactly(self, n: int) -> bytes:
        """Read exactly ``n`` bytes or raise ``asyncio.IncompleteReadError``."""
        if self._exception is not None:
            raise self._exception
        while self._size < n and not self._eof:
            await self._wait()
        if self._size < n:
            partial = self._take(-1) if self._size else b""
            raise asyncio.IncompleteReadError(partial, n)
        return self._take(n)

    async def readline(self, *, max_line_length: int = 2**16) -> bytes:
        """Read through the next ``b"\\n"`` (or to EOF).

        Raises ``ValueError`` if no newline appears within ``max_line_length``.
        """
        return await self.readuntil(b"\n", max_line_length=max_line_length)

    async def readuntil(self, separator: bytes = b"\n", *, max_line_length: int = 2**16) -> bytes:
        """Read through the next ``separator`` (or to EOF).

        Raises ``ValueError`` for an empty separator, or if the separator does
        not appear within ``max_line_length`` bytes.
        """
        if not separator:
            raise ValueError("Separator should be at least one-byte string")
        if self._exception is not None:
            raise self._exception
        end = len(separator)
        while True:
            joined = self._take_all() if self._size else b""
            pos = joined.find(separator)
            if pos >= 0:
                if pos + end < len(joined):
                    self._buffer.append(joined[pos + end :])
                self._consumed(pos + end)
                return joined[: pos + end]
            if joined:
                self._buffer.append(joined)
            if len(joined) > max_line_length:
                raise ValueError("Line is too long")
            if self._eof:
                return self._take(-1) if self._size else b""
            await self._wait()

    async def iter_chunked(self, n: int) -> AsyncIterator[bytes]:
        """Yield chunks of at most ``n`` bytes until EOF."""
        while True:
            data = await self.read(n)
            if not data:
                return
            yield data

    async def iter_chunks(self) -> AsyncIterator[tuple[bytes, bool]]:
        """Yield ``readchunk()`` results until EOF."""
        while True:
            data, end = await self.readchunk()
            if not data:
                return
            yield data, end

    async def iter_any(self) -> AsyncIterator[bytes]:
        """Yield chunks as they arrive until EOF."""
        while True:
            data = await self.readany()
            if not data:
                return
            yield data

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._iter_lines()

    async def _iter_lines(self) -> AsyncIterator[bytes]:
        while True:
            line = await self.readline()
            if not line:
                return
            yield line

    def unread_data(self, data: bytes) -> None:
        """Push ``data`` back to the front of the stream."""
        if data:
            buf = self._buffer
            if self._head:
                self._head -= 1
                buf[self._head] = data
            else:
                buf.insert(0, data)
            self._size += len(data)


class EmptyStreamReader(StreamReader):
    """The body of a request that has none: always at EOF."""

    __slots__ = ()

    def __init__(self) -> None:
        super().__init__()
        self._eof = True

    def feed_data(self, data: bytes) -> None:
        raise RuntimeError("EMPTY_PAYLOAD is read-only")

    def unread_data(self, data: bytes) -> None:
        raise RuntimeError("EMPTY_PAYLOAD is read-only")

    def set_exception(self, exc: BaseException) -> None:
        """Ignored: the shared empty body never fails."""


EMPTY_PAYLOAD = EmptyStreamReader()
