"""Response compression: content codings, ``Accept-Encoding`` negotiation, encoders.

Sans-IO apart from one helper that may hop to an executor. Guarantees:

* gzip and deflate come from ``zlib`` (always there); ``br`` from the
  optional ``brotli`` package (extra ``compression``), imported on first use
  and never offered when it is missing;
* negotiation follows RFC 9110 section 12.5.3: codings are matched
  case-insensitively, weighted by ``q`` (``q=0`` refuses), ``*`` covers every
  coding not named, an ``identity`` preferred over all offered codings wins,
  and ties go to br, then gzip, then deflate. A malformed element is ignored
  and never raises;
* bodies larger than ``ZLIB_EXECUTOR_SIZE`` bytes (4096, aiohttp's
  ``MAX_SYNC_CHUNK_SIZE``) are compressed in an executor, so the event loop
  never compresses more than that in one go.
"""

from __future__ import annotations

import asyncio
import enum
import functools
import importlib
import re
import warnings
import zlib
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any, Optional, Union

from multidict import MultiMapping

__all__ = (
    "BROTLI_QUALITY",
    "ZLIB_EXECUTOR_SIZE",
    "Compressor",
    "ContentCoding",
    "add_vary",
    "brotli_available",
    "compress_body",
    "compress_whole",
    "coerce_force",
    "select_coding",
)

# aiohttp's threshold (compression_utils.MAX_SYNC_CHUNK_SIZE): a chunk larger
# than this is compressed off the event loop. Compressing 4 KiB at zlib level 6
# takes tens of microseconds, about the cost of the thread hop itself.
ZLIB_EXECUTOR_SIZE = 4096
# Brotli's default (11) is about 150x slower than 4 for a few percent; at 4 it
# runs at gzip's speed with a smaller output (nginx uses 6 by default).
BROTLI_QUALITY = 4

Buffer = Union[bytes, bytearray, memoryview]


class ContentCoding(enum.Enum):
    """Content codings a response can be sent with (aiohttp's enum, plus ``br``)."""

    deflate = "deflate"
    gzip = "gzip"
    identity = "identity"
    br = "br"


@functools.cache
def _brotli() -> Any:
    """The ``brotli`` module, or None if it is not installed (looked up once)."""
    try:
        return importlib.import_module("brotli")
    except ImportError:
        return None


def brotli_available() -> bool:
    """True if ``br`` can be produced (the ``brotli`` package imports)."""
    return _brotli() is not None


def coerce_force(force: object) -> Optional[ContentCoding]:
    """Validate ``enable_compression(force=...)``: a coding, its name, a bool, or None.

    ``True``/``False`` mean deflate/identity and warn with ``DeprecationWarning``
    (as aiohttp does). Raises ``ValueError`` for an unknown name, ``TypeError``
    for another type, ``RuntimeError`` for ``br`` without ``brotli``.
    """
    if force is None or isinstance(force, ContentCoding):
        coding = force
    elif isinstance(force, bool):
        warnings.warn(
            "Using a bool for force is deprecated: pass a ContentCoding",
            DeprecationWarning,
            stacklevel=3,
        )
        coding = ContentCoding.deflate if force else ContentCoding.identity
    elif isinstance(force, str):
        try:
            coding = ContentCoding(force.lower())
        except ValueError:
            raise ValueError(f"Unknown content coding {force!r}") from None
    else:
        raise TypeError(
            f"force must be a ContentCoding, str, bool or None, not {type(force).__name__}"
        )
    if coding is ContentCoding.br and not brotli_available():
        raise RuntimeError("br needs the brotli package: pip install 'aioweb[compression]'")
    return coding


# -- negotiation --

_QVALUE = re.compile(r"[01](?:\.\d*)?|\.\d+")
_ALIASES = {"x-gzip": "gzip"}  # RFC 9110 section 8.4.1.3


def _qvalue(params: str) -> Optional[float]:
    """The ``q`` parameter (1.0 when absent); None when malformed or above 1."""
    for param in params.split(";"):
        name, sep, value = param.partition("=")
        if name.strip().lower() != "q":
            continue
        value = value.strip()
        if not sep or _QVALUE.fullmatch(value) is None:
            return None
        q = float(value)
        return q if q <= 1.0 else None
    return 1.0


def _weights(accept_encoding: str) -> dict[str, float]:
    """Coding name -> q; a coding listed twice keeps its lowest q (a refusal wins)."""
    weights: dict[str, float] = {}
    for item in accept_encoding.split(","):
        name, _, params = item.partition(";")
        name = name.strip().lower()
        q = _qvalue(params) if params else 1.0
        if not name or q is None:
            continue
        name = _ALIASES.get(name, name)
        old = weights.get(name)
        weights[name] = q if old is None else min(old, q)
    return weights


def _offered() -> tuple[ContentCoding, ...]:
    """The codings this process can produce, most preferred first."""
    if brotli_available():
        return (ContentCoding.br, ContentCoding.gzip, ContentCoding.deflate)
    return (ContentCoding.gzip, ContentCoding.deflate)


@functools.lru_cache(maxsize=128)
def _select_cached(accept_encoding: str) -> Optional[ContentCoding]:
    weights = _weights(accept_encoding)
    star = weights.get("*")
    best: Optional[ContentCoding] = None
    best_q = 0.0
    for coding in _offered():
        q = weights.get(coding.value, star)
        if q is not None and q > best_q:
            best, best_q = coding, q
    identity_q = weights.get("identity")
    if identity_q is not None and identity_q > best_q:
        return None
    return best


def select_coding(accept_encoding: Optional[str]) -> Optional[ContentCoding]:
    """The coding to send for an ``Accept-Encoding`` value; None means identity.

    No header, an empty one, or nothing acceptable gives None (the body is
    then sent as is, which RFC 9110 allows even when identity is refused).
    The answers for the 128 most recent short values are cached: browsers
    send the same few values again and again. O(length of the value).
    """
    if not accept_encoding:
        return None
    if len(accept_encoding) > 256:  # keep the cache small; such values are rare
        return _select_cached.__wrapped__(accept_encoding)
    return _select_cached(accept_encoding)


def add_vary(headers: MultiMapping[str], field: str) -> Optional[str]:
    """The ``Vary`` value naming ``field``, or None if it is already covered.

    Existing ``Vary`` lines are merged into one value; ``*`` or ``field``
    (any case) already present means nothing needs to change.
    """
    values = headers.getall("Vary", ())
    wanted = field.lower()
    for value in values:
        for token in value.split(","):
            token = token.strip().lower()
            if token == wanted or token == "*":
                return None
    merged = ", ".join(v.strip() for v in values if v.strip())
    return f"{merged}, {field}" if merged else field


# -- encoders --


class Compressor:
    """Incremental encoder for one body: ``compress()`` pieces, then ``flush()``.

    Output may lag input (the encoder buffers for a better ratio);
    ``flush(final=False)`` forces out what it holds, ``flush()`` ends the
    stream. ``strategy`` and ``level`` go to ``zlib.compressobj`` (ignored for
    ``br``, which uses quality ``BROTLI_QUALITY``). Raises ``ValueError`` for
    ``identity`` and ``RuntimeError`` for ``br`` without ``brotli``.
    """

    __slots__ = ("coding", "_process", "_sync", "_finish", "_closed")

    def __init__(
        self,
        coding: ContentCoding,
        *,
        strategy: Optional[int] = None,
        level: Optional[int] = None,
    ) -> None:
        self.coding = coding
        self._closed: Optional[str] = None  # why no more input is taken
        if coding is ContentCoding.br:
            module = _brotli()
            if module is None:
                raise RuntimeError("br needs the brotli package: pip install 'aioweb[compression]'")
            encoder = module.Compressor(quality=BROTLI_QUALITY)
            self._process: Callable[[Buffer], bytes] = encoder.process
            self._sync: Callable[[], bytes] = encoder.flush
            self._finish: Callable[[], bytes] = encoder.finish
            return
        if coding is ContentCoding.gzip:
            wbits = 16 + zlib.MAX_WBITS
        elif coding is ContentCoding.deflate:
            wbits = zlib.MAX_WBITS  # RFC 9110 "deflate" is the zlib format
        else:
            raise ValueError(f"Cannot compress with {coding!r}")
        obj = zlib.compressobj(
            zlib.Z_DEFAULT_COMPRESSION if level is None else level,
            zlib.DEFLATED,
            wbits,
            zlib.DEF_MEM_LEVEL,
            zlib.Z_DEFAULT_STRATEGY if strategy is None else strategy,
        )
        self._process = obj.compress
        self._sync = functools.partial(obj.flush, zlib.Z_SYNC_FLUSH)
        self._finish = obj.flush

    def _check_open(self) -> None:
        if self._closed is not None:
            raise RuntimeError(self._closed)

    def compress(self, data: Buffer) -> bytes:
        """Feed ``data``; return whatever encoded bytes are ready (maybe none).

        Raises ``RuntimeError`` after the final ``flush()`` or an interrupted
        ``compress_async()``.
        """
        self._check_open()
        return self._process(data)

    def flush(self, final: bool = True) -> bytes:
        """Return the buffered output; ``final`` ends the stream (no more input)."""
        self._check_open()
        if final:
            self._closed = "The compressed stream has ended"
            return self._finish()
        return self._sync()

    async def compress_async(
        self,
        data: Buffer,
        executor_size: Optional[int] = ZLIB_EXECUTOR_SIZE,
        executor: Optional[Executor] = None,
    ) -> bytes:
        """``compress()``, in ``executor`` when ``data`` is over ``executor_size`` bytes.

        ``executor_size=None`` always compresses inline; ``executor=None``
        is the loop's default executor. If the caller is cancelled while
        the executor works, the encoder's state is lost: every later call
        raises ``RuntimeError`` rather than emit a corrupt stream.
        """
        if executor_size is None or len(data) <= executor_size:
            return self.compress(data)
        self._check_open()
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(executor, self._process, data)
        except BaseException:
            self._closed = "The compressor was interrupted; its stream is lost"
            raise


def compress_whole(data: Buffer, coding: ContentCoding, strategy: Optional[int] = None) -> bytes:
    """``data`` encoded as one complete stream (runs where it is called)."""
    compressor = Compressor(coding, strategy=strategy)
    return compressor.compress(data) + compressor.flush()


async def compress_body(
    data: Buffer,
    coding: ContentCoding,
    *,
    strategy: Optional[int] = None,
    executor_size: Optional[int] = ZLIB_EXECUTOR_SIZE,
    executor: Optional[Executor] = None,
) -> bytes:
    """``compress_whole()``, in ``executor`` when ``data`` is over ``executor_size`` bytes.

    ``executor_size=None`` always compresses inline (aiohttp's meaning);
    ``executor=None`` is the loop's default executor. Cancel-safe: the
    encoder belongs to this call alone.
    """
    if executor_size is None or len(data) <= executor_size:
        return compress_whole(data, coding, strategy)
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(executor, compress_whole, data, coding, strategy)
