"""Content codings, Accept-Encoding negotiation and encoders, without sockets."""

from __future__ import annotations

import asyncio
import gzip
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Optional

import pytest
from multidict import CIMultiDict

from aioweb import _compression, web
from aioweb._compression import (
    ZLIB_EXECUTOR_SIZE,
    Compressor,
    ContentCoding,
    add_vary,
    coerce_force,
    compress_body,
    compress_whole,
    select_coding,
)

BR = ContentCoding.br
GZ = ContentCoding.gzip
DF = ContentCoding.deflate

TEXT = b"".join(b"line %d of a fairly repetitive body\n" % i for i in range(2000))


def decode(coding: ContentCoding, data: bytes) -> bytes:
    if coding is GZ:
        return gzip.decompress(data)
    if coding is DF:
        return zlib.decompress(data)
    brotli = pytest.importorskip("brotli")
    return brotli.decompress(data)  # type: ignore[no-any-return]


@pytest.fixture
def no_brotli(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Act as if the brotli package were not installed."""
    _compression._select_cached.cache_clear()
    monkeypatch.setattr(_compression, "_brotli", lambda: None)
    yield
    _compression._select_cached.cache_clear()


@pytest.fixture
def with_brotli() -> None:
    pytest.importorskip("brotli")


class CountingExecutor(ThreadPoolExecutor):
    """A thread pool that counts the jobs it was given."""

    def __init__(self) -> None:
        super().__init__(max_workers=1)
        self.submitted = 0

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        self.submitted += 1
        return super().submit(fn, *args, **kwargs)


@pytest.fixture
def executor() -> Iterator[CountingExecutor]:
    pool = CountingExecutor()
    yield pool
    pool.shutdown(wait=True)


# -- the enum --


def test_content_coding_is_aiohttps_enum_plus_br() -> None:
    assert [c.value for c in ContentCoding] == ["deflate", "gzip", "identity", "br"]
    assert ContentCoding("gzip") is GZ
    assert web.ContentCoding is ContentCoding


# -- Accept-Encoding --

NEGOTIATION_WITH_BROTLI = [
    (None, None),
    ("", None),
    ("gzip", GZ),
    ("GZIP", GZ),
    ("deflate", DF),
    ("gzip, deflate", GZ),
    ("deflate, gzip", GZ),
    ("gzip, deflate, br", BR),
    ("gzip, deflate, br, zstd", BR),
    ("Br", BR),
    ("gzip;q=1.0, br;q=0.5", GZ),
    ("deflate;q=0.9, gzip;q=0.5", DF),
    ("br;q=0, gzip", GZ),
    ("gzip;q=0", None),
    ("gzip;q=0.000", None),
    ("gzip;Q=0", None),
    (" gzip ; q=0.5 ", GZ),
    ("gzip;q=0.5;level=1", GZ),
    ("gzip;foo", GZ),
    ("x-gzip", GZ),
    ("*", BR),
    ("*;q=0", None),
    ("*, br;q=0", GZ),
    ("*, br;q=0, gzip;q=0", DF),
    ("gzip;q=0.5, *;q=0.8", BR),
    ("identity", None),
    ("identity;q=0", None),
    ("identity;q=0, gzip", GZ),
    ("identity, gzip;q=0.5", None),
    ("identity;q=0.5, gzip", GZ),
    ("identity, gzip", GZ),
    ("compress, zstd", None),
    ("gzip, gzip;q=0", None),
    # malformed elements are ignored, never raised on
    ("gzip;q=abc", None),
    ("gzip;q=abc, deflate", DF),
    ("gzip;q=2", None),
    ("gzip;q=-1", None),
    ("gzip;q=nan", None),
    ("gzip;q=1e0", None),
    ("gzip;q=", None),
    ("gzip;q", None),
    (",,, ;q=1, gzip", GZ),
    (";;;", None),
    ("\x00gzip", None),
    ("gzip;q=0.5" + ", x" * 200, GZ),  # longer than the cached size
]


@pytest.mark.parametrize(("header", "expected"), NEGOTIATION_WITH_BROTLI)
def test_select_coding_with_brotli(
    with_brotli: None, header: Optional[str], expected: Optional[ContentCoding]
) -> None:
    assert select_coding(header) is expected


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("br", None),
        ("br, gzip;q=0.1", GZ),
        ("gzip, deflate, br", GZ),
        ("*", GZ),
        ("*;q=0.5, gzip;q=0.1", DF),
    ],
)
def test_select_coding_never_offers_br_without_brotli(
    no_brotli: None, header: str, expected: Optional[ContentCoding]
) -> None:
    assert select_coding(header) is expected


def test_select_coding_answers_repeated_values_from_cache(with_brotli: None) -> None:
    _compression._select_cached.cache_clear()
    for _ in range(3):
        assert select_coding("gzip, deflate, br") is BR
    info = _compression._select_cached.cache_info()
    assert (info.hits, info.misses) == (2, 1)


# -- Vary --


@pytest.mark.parametrize(
    ("existing", "expected"),
    [
        ([], "Accept-Encoding"),
        (["Origin"], "Origin, Accept-Encoding"),
        (["Origin, Cookie"], "Origin, Cookie, Accept-Encoding"),
        (["Origin", "Cookie"], "Origin, Cookie, Accept-Encoding"),
        (["origin, accept-encoding"], None),
        (["ACCEPT-ENCODING"], None),
        (["*"], None),
        ([""], "Accept-Encoding"),
    ],
)
def test_add_vary_merges_without_duplicates(existing: list[str], expected: Optional[str]) -> None:
    headers: CIMultiDict[str] = CIMultiDict()
    for value in existing:
        headers.add("vary", value)
    assert add_vary(headers, "Accept-Encoding") == expected


# -- force --


def test_coerce_force_accepts_codings_and_names() -> None:
    assert coerce_force(None) is None
    assert coerce_force(GZ) is GZ
    assert coerce_force("deflate") is DF
    assert coerce_force("GZIP") is GZ
    assert coerce_force("identity") is ContentCoding.identity


@pytest.mark.parametrize(("flag", "expected"), [(True, DF), (False, ContentCoding.identity)])
def test_coerce_force_bool_is_deprecated(flag: bool, expected: ContentCoding) -> None:
    with pytest.warns(DeprecationWarning, match="bool"):
        assert coerce_force(flag) is expected


def test_coerce_force_rejects_misuse() -> None:
    with pytest.raises(ValueError, match="zstd"):
        coerce_force("zstd")
    with pytest.raises(TypeError):
        coerce_force(1)


def test_forcing_br_without_brotli_raises(no_brotli: None) -> None:
    with pytest.raises(RuntimeError, match="brotli"):
        coerce_force(BR)
    with pytest.raises(RuntimeError, match="brotli"):
        Compressor(BR)


# -- encoders --


@pytest.fixture(params=[GZ, DF, BR], ids=lambda c: c.value)
def coding(request: pytest.FixtureRequest) -> ContentCoding:
    if request.param is BR:
        pytest.importorskip("brotli")
    return request.param  # type: ignore[no-any-return]


def test_compressor_round_trips_many_pieces(coding: ContentCoding) -> None:
    compressor = Compressor(coding)
    pieces = [TEXT[i : i + 777] for i in range(0, len(TEXT), 777)]
    out = b"".join(compressor.compress(piece) for piece in pieces) + compressor.flush()
    assert decode(coding, out) == TEXT
    assert len(out) < len(TEXT) // 5


def test_compressor_accepts_bytearray_and_memoryview(coding: ContentCoding) -> None:
    compressor = Compressor(coding)
    out = compressor.compress(bytearray(b"abc")) + compressor.compress(memoryview(b"def"))
    assert decode(coding, out + compressor.flush()) == b"abcdef"


def test_empty_stream_is_still_valid(coding: ContentCoding) -> None:
    assert decode(coding, Compressor(coding).flush()) == b""


def test_sync_flush_makes_everything_so_far_decodable() -> None:
    compressor = Compressor(GZ)
    partial = compressor.compress(b"event: one\n\n") + compressor.flush(final=False)
    decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
    assert decoder.decompress(partial) == b"event: one\n\n"
    rest = compressor.compress(b"event: two\n\n") + compressor.flush()
    assert decoder.decompress(rest) == b"event: two\n\n"
    assert decoder.eof


def test_brotli_sync_flush_makes_everything_so_far_decodable(with_brotli: None) -> None:
    import brotli

    compressor = Compressor(BR)
    partial = compressor.compress(b"event: one\n\n") + compressor.flush(final=False)
    decoder = brotli.Decompressor()
    assert decoder.process(partial) == b"event: one\n\n"


def test_nothing_may_follow_the_final_flush() -> None:
    compressor = Compressor(GZ)
    compressor.flush()
    with pytest.raises(RuntimeError, match="ended"):
        compressor.compress(b"x")
    with pytest.raises(RuntimeError):
        compressor.flush()


def test_identity_is_not_an_encoder() -> None:
    with pytest.raises(ValueError):
        Compressor(ContentCoding.identity)


@pytest.mark.parametrize("strategy", [zlib.Z_FILTERED, zlib.Z_HUFFMAN_ONLY, zlib.Z_RLE])
def test_zlib_strategy_is_applied(strategy: int) -> None:
    out = compress_whole(TEXT, GZ, strategy)
    assert gzip.decompress(out) == TEXT
    if strategy == zlib.Z_HUFFMAN_ONLY:  # no string matching: far weaker
        assert len(out) > len(compress_whole(TEXT, GZ)) * 2


def test_executor_threshold_is_aiohttps_default() -> None:
    assert ZLIB_EXECUTOR_SIZE == 4096


async def test_compress_body_small_runs_inline(executor: CountingExecutor) -> None:
    body = TEXT[:ZLIB_EXECUTOR_SIZE]
    out = await compress_body(body, GZ, executor=executor)
    assert gzip.decompress(out) == body
    assert executor.submitted == 0


async def test_compress_body_large_runs_in_executor(
    coding: ContentCoding, executor: CountingExecutor
) -> None:
    out = await compress_body(TEXT, coding, executor=executor)
    assert decode(coding, out) == TEXT
    assert executor.submitted == 1


async def test_compress_body_without_threshold_stays_inline(executor: CountingExecutor) -> None:
    out = await compress_body(TEXT, DF, executor_size=None, executor=executor)
    assert zlib.decompress(out) == TEXT
    assert executor.submitted == 0


async def test_compress_async_offloads_only_large_pieces(executor: CountingExecutor) -> None:
    compressor = Compressor(GZ)
    out = await compressor.compress_async(b"small", executor=executor)
    assert executor.submitted == 0
    out += await compressor.compress_async(TEXT, executor=executor)
    assert executor.submitted == 1
    assert gzip.decompress(out + compressor.flush()) == b"small" + TEXT


async def test_interrupted_compress_async_refuses_further_use() -> None:
    compressor = Compressor(GZ)
    with ThreadPoolExecutor(max_workers=1) as pool:
        task = asyncio.ensure_future(compressor.compress_async(TEXT * 20, executor=pool))
        await asyncio.sleep(0)  # the job is in the pool now
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    with pytest.raises(RuntimeError, match="interrupted"):
        compressor.compress(b"x")
    with pytest.raises(RuntimeError, match="interrupted"):
        compressor.flush()
