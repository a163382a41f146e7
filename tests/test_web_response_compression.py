"""Compressed responses over real loopback sockets (httpx and raw sockets)."""

from __future__ import annotations

import asyncio
import gzip
import zlib
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Optional

import httpx
import pytest

from aioweb import web
from aioweb.test_utils import make_mocked_request

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

TEXT = b"".join(b"line %d of a fairly repetitive body\n" % i for i in range(2000))
SMALL = b"hello hello hello hello hello hello hello"


def decode(coding: str, data: bytes) -> bytes:
    if coding == "gzip":
        return gzip.decompress(data)
    if coding == "deflate":
        return zlib.decompress(data)
    assert coding == "br"
    brotli = pytest.importorskip("brotli")
    return brotli.decompress(data)  # type: ignore[no-any-return]


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


@pytest.fixture
def serve(aioweb_server: Any) -> Callable[..., Awaitable[int]]:
    """``port = await serve(handler)``: the handler answers every path."""

    async def start(handler: Handler, app: Optional[web.Application] = None) -> int:
        app = app or web.Application()
        app.router.add_route("*", "/{tail:.*}", handler)
        server = await aioweb_server(app)
        return int(server.port)

    return start


async def fetch_raw(
    port: int, path: str = "/", method: str = "GET", **headers: str
) -> tuple[httpx.Response, bytes]:
    """The response and its body exactly as sent (not decoded)."""
    hdrs = {k.replace("_", "-"): v for k, v in headers.items()}
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
        async with client.stream(method, path, headers=hdrs) as resp:
            raw = b"".join([chunk async for chunk in resp.aiter_raw()])
    return resp, raw


def split_response(data: bytes) -> tuple[str, dict[str, str], bytes]:
    head, _, body = data.partition(b"\r\n\r\n")
    status, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers, body


# -- Response: the whole body, encoded once --


@pytest.mark.parametrize("coding", ["gzip", "deflate", "br"])
async def test_response_is_compressed_with_the_accepted_coding(serve: Any, coding: str) -> None:
    if coding == "br":
        pytest.importorskip("brotli")

    async def handler(request: web.Request) -> web.Response:
        resp = web.Response(body=TEXT, content_type="text/plain")
        resp.enable_compression()
        return resp

    port = await serve(handler)
    resp, raw = await fetch_raw(port, accept_encoding=coding)
    assert resp.headers["Content-Encoding"] == coding
    assert resp.headers["Vary"] == "Accept-Encoding"
    assert int(resp.headers["Content-Length"]) == len(raw) < len(TEXT) // 5
    assert "Transfer-Encoding" not in resp.headers
    assert decode(coding, raw) == TEXT


async def test_httpx_decodes_the_preferred_coding(serve: Any) -> None:
    async def handler(request: web.Request) -> web.Response:
        resp = web.json_response({"text": TEXT.decode()})
        resp.enable_compression()
        return resp

    port = await serve(handler)
    async with httpx.AsyncClient() as client:
        resp = await client.get(
            f"http://127.0.0.1:{port}/", headers={"Accept-Encoding": "deflate;q=0.5, gzip"}
        )
    assert resp.headers["Content-Encoding"] == "gzip"
    assert resp.json() == {"text": TEXT.decode()}


@pytest.mark.parametrize("accept", ["", "identity", "gzip;q=0", "compress"])
async def test_unacceptable_codings_send_the_body_as_is(serve: Any, accept: str) -> None:
    async def handler(request: web.Request) -> web.Response:
        resp = web.Response(body=TEXT)
        resp.enable_compression()
        return resp

    port = await serve(handler)
    resp, raw = await fetch_raw(port, accept_encoding=accept)
    assert raw == TEXT
    assert "Content-Encoding" not in resp.headers
    assert resp.headers["Vary"] == "Accept-Encoding"  # the answer still depended on it
    assert resp.headers["Content-Length"] == str(len(TEXT))


async def test_no_accept_encoding_means_no_compression(serve: Any, raw_connect: Any) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        if request.path == "/stream":
            return await stream_handler([SMALL])(request)
        resp = web.Response(body=TEXT)
        resp.enable_compression()
        return resp

    port = await serve(handler)
    conn = await raw_connect(port)
    await conn.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /stream HTTP/1.1\r\nHost: x\r\n\r\n")
    _, headers, body = await conn.read_response()
    assert body == TEXT and "content-encoding" not in headers
    _, headers, body = await conn.read_response()
    assert body == SMALL and "content-encoding" not in headers


@pytest.mark.parametrize(
    ("force", "expected"),
    [(web.ContentCoding.gzip, "gzip"), ("deflate", "deflate"), (web.ContentCoding.identity, None)],
)
async def test_forced_coding_ignores_accept_encoding(
    serve: Any, force: Any, expected: Optional[str]
) -> None:
    async def handler(request: web.Request) -> web.Response:
        resp = web.Response(body=TEXT)
        resp.enable_compression(force)
        return resp

    port = await serve(handler)
    resp, raw = await fetch_raw(port, accept_encoding="identity")
    assert resp.headers.get("Content-Encoding") == expected
    assert "Vary" not in resp.headers  # the body does not depend on the request
    assert (decode(expected, raw) if expected else raw) == TEXT


async def test_large_body_is_compressed_in_the_given_executor(
    serve: Any, executor: CountingExecutor
) -> None:
    async def handler(request: web.Request) -> web.Response:
        size = int(request.query["size"])
        resp = web.Response(body=TEXT[:size], zlib_executor=executor)
        resp.enable_compression()
        return resp

    port = await serve(handler)
    resp, raw = await fetch_raw(port, "/?size=4096", accept_encoding="gzip")
    assert gzip.decompress(raw) == TEXT[:4096]
    assert executor.submitted == 0  # at the threshold: inline
    resp, raw = await fetch_raw(port, "/?size=4097", accept_encoding="gzip")
    assert gzip.decompress(raw) == TEXT[:4097]
    assert executor.submitted == 1
    assert int(resp.headers["Content-Length"]) == len(raw)


async def test_zlib_executor_size_sets_the_threshold(
    serve: Any, executor: CountingExecutor
) -> None:
    async def handler(request: web.Request) -> web.Response:
        size = None if request.query["limit"] == "none" else int(request.query["limit"])
        resp = web.Response(body=TEXT, zlib_executor=executor, zlib_executor_size=size)
        resp.enable_compression()
        return resp

    port = await serve(handler)
    _, raw = await fetch_raw(port, "/?limit=none", accept_encoding="gzip")
    assert gzip.decompress(raw) == TEXT
    assert executor.submitted == 0
    _, raw = await fetch_raw(port, f"/?limit={len(TEXT) - 1}", accept_encoding="gzip")
    assert executor.submitted == 1


@pytest.mark.parametrize(
    ("vary", "expected"),
    [
        ("Origin", "Origin, Accept-Encoding"),
        ("origin, accept-encoding", "origin, accept-encoding"),
        ("*", "*"),
    ],
)
async def test_vary_is_merged_without_duplicates(serve: Any, vary: str, expected: str) -> None:
    async def handler(request: web.Request) -> web.Response:
        resp = web.Response(body=TEXT, headers={"Vary": vary})
        resp.enable_compression()
        return resp

    port = await serve(handler)
    resp, raw = await fetch_raw(port, accept_encoding="gzip")
    assert resp.headers.get_list("Vary") == [expected]
    assert gzip.decompress(raw) == TEXT


async def test_already_encoded_body_is_sent_untouched(serve: Any) -> None:
    encoded = gzip.compress(TEXT)

    async def handler(request: web.Request) -> web.Response:
        resp = web.Response(body=encoded, headers={"Content-Encoding": "gzip"})
        resp.enable_compression()
        return resp

    port = await serve(handler)
    resp, raw = await fetch_raw(port, accept_encoding="gzip, deflate, br")
    assert raw == encoded
    assert resp.headers.get_list("Content-Encoding") == ["gzip"]


async def test_ranges_are_never_compressed(serve: Any) -> None:
    async def handler(request: web.Request) -> web.Response:
        resp = web.Response(
            status=206, body=TEXT[:100], headers={"Content-Range": f"bytes 0-99/{len(TEXT)}"}
        )
        resp.enable_compression()
        return resp

    port = await serve(handler)
    resp, raw = await fetch_raw(port, accept_encoding="gzip")
    assert raw == TEXT[:100] and "Content-Encoding" not in resp.headers


async def test_empty_body_is_not_encoded(serve: Any) -> None:
    async def handler(request: web.Request) -> web.Response:
        resp = web.Response()
        resp.enable_compression()
        return resp

    port = await serve(handler)
    resp, raw = await fetch_raw(port, accept_encoding="gzip")
    assert raw == b"" and resp.headers["Content-Length"] == "0"
    assert "Content-Encoding" not in resp.headers


@pytest.mark.parametrize("status", [204, 304])
async def test_bodyless_statuses_are_not_encoded(serve: Any, raw_connect: Any, status: int) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        if request.path == "/next":
            return web.Response(text="next")
        resp = web.Response(status=status, body=None if status == 204 else b"")
        resp.enable_compression()
        return resp

    port = await serve(handler)
    conn = await raw_connect(port)
    await conn.send(
        b"GET / HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n"
        b"GET /next HTTP/1.1\r\nHost: x\r\n\r\n"
    )
    line, headers, body = await conn.read_response()
    assert line.startswith(b"HTTP/1.1 %d" % status)
    assert "content-encoding" not in headers and body == b""
    if status == 304:  # a 304 carries the Vary its 200 would have
        assert headers["vary"] == "Accept-Encoding"
    else:
        assert "vary" not in headers
    assert (await conn.read_response())[2] == b"next"


async def test_head_gets_the_get_headers_and_no_body(serve: Any, raw_connect: Any) -> None:
    async def handler(request: web.Request) -> web.Response:
        resp = web.Response(body=TEXT)
        resp.enable_compression()
        return resp

    port = await serve(handler)
    conn = await raw_connect(port)
    request = b" / HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n"
    await conn.send(b"HEAD" + request)
    head = await conn.reader.readuntil(b"\r\n\r\n")
    _, head_headers, _ = split_response(head)
    await conn.send(b"GET" + request)  # would be garbled if HEAD had sent a body
    _, get_headers, body = await conn.read_response()
    assert head_headers["content-encoding"] == get_headers["content-encoding"] == "gzip"
    assert head_headers["content-length"] == get_headers["content-length"] == str(len(body))
    assert gzip.decompress(body) == TEXT


async def test_enable_compression_after_prepare_raises(serve: Any) -> None:
    errors: list[BaseException] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()
        await resp.prepare(request)
        try:
            resp.enable_compression()
        except RuntimeError as exc:
            errors.append(exc)
        await resp.write(b"plain")
        return resp

    port = await serve(handler)
    resp, raw = await fetch_raw(port, accept_encoding="gzip")
    assert raw == b"plain" and "Content-Encoding" not in resp.headers
    assert len(errors) == 1 and "after the headers are sent" in str(errors[0])


async def test_enable_compression_on_a_prepared_response_raises() -> None:
    resp = web.Response(text="x" * 100)
    resp.enable_compression()
    assert resp.compression
    request = make_mocked_request("GET", "/", headers={"Accept-Encoding": "gzip"})
    await resp.prepare(request)
    with pytest.raises(RuntimeError):
        resp.enable_compression()
    assert resp.headers["Content-Encoding"] == "gzip"
    assert resp.content_length == len(gzip.compress(b"x" * 100, mtime=0))


def test_uncompressed_responses_store_no_compression_state() -> None:
    # The class holds the defaults: the common path pays nothing for them.
    # ``_compression`` alone is stored: every send reads it, and a stored
    # value reads faster than a class default.
    for resp in (web.Response(text="x"), web.StreamResponse()):
        stored = {name for name in vars(resp) if "compress" in name or "coding" in name}
        assert stored == {"_compression"}
        assert resp.compression is False


def test_enable_compression_with_a_bool_is_deprecated() -> None:
    resp = web.StreamResponse()
    with pytest.warns(DeprecationWarning):
        resp.enable_compression(True)
    assert resp.compression
    with pytest.raises(ValueError):
        resp.enable_compression("zstd")


async def test_on_response_prepare_may_enable_compression(serve: Any) -> None:
    async def compress_all(request: web.Request, response: web.StreamResponse) -> None:
        response.enable_compression()

    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=TEXT)

    app = web.Application()
    app.on_response_prepare.append(compress_all)
    port = await serve(handler, app)
    resp, raw = await fetch_raw(port, accept_encoding="deflate")
    assert resp.headers["Content-Encoding"] == "deflate"
    assert zlib.decompress(raw) == TEXT


# -- StreamResponse: every write encoded --


def stream_handler(pieces: list[bytes], *, length: Optional[int] = None) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()
        if length is not None:
            resp.content_length = length
        resp.enable_compression()
        await resp.prepare(request)
        for piece in pieces:
            await resp.write(piece)
        await resp.write_eof()
        return resp

    return handler


@pytest.mark.parametrize("coding", ["gzip", "deflate", "br"])
async def test_stream_is_chunked_and_compressed(serve: Any, coding: str) -> None:
    if coding == "br":
        pytest.importorskip("brotli")
    pieces = [b"%d: %s\n" % (i, SMALL) for i in range(500)]
    port = await serve(stream_handler(pieces))
    resp, raw = await fetch_raw(port, accept_encoding=coding)
    assert resp.headers["Content-Encoding"] == coding
    assert resp.headers["Transfer-Encoding"] == "chunked"
    assert "Content-Length" not in resp.headers
    assert decode(coding, raw) == b"".join(pieces)
    assert len(raw) < len(b"".join(pieces)) // 5


async def test_stream_drops_a_preset_content_length(serve: Any) -> None:
    port = await serve(stream_handler([TEXT], length=len(TEXT)))
    resp, raw = await fetch_raw(port, accept_encoding="gzip")
    assert "Content-Length" not in resp.headers
    assert resp.headers["Transfer-Encoding"] == "chunked"
    assert gzip.decompress(raw) == TEXT


async def test_stream_without_accepted_coding_is_sent_as_is(serve: Any) -> None:
    port = await serve(stream_handler([b"a", b"b"], length=2))
    resp, raw = await fetch_raw(port, accept_encoding="identity")
    assert raw == b"ab" and resp.headers["Content-Length"] == "2"
    assert "Content-Encoding" not in resp.headers


async def test_large_stream_writes_are_compressed_off_the_loop(serve: Any) -> None:
    pool = CountingExecutor()
    asyncio.get_running_loop().set_default_executor(pool)  # shut down with the loop
    port = await serve(stream_handler([SMALL, TEXT, SMALL]))
    _, raw = await fetch_raw(port, accept_encoding="gzip")
    assert gzip.decompress(raw) == SMALL + TEXT + SMALL
    assert pool.submitted == 1  # only the piece over 4 KiB


async def test_http10_stream_is_compressed_and_close_delimited(
    serve: Any, raw_connect: Any
) -> None:
    pieces = [b"%d: %s\n" % (i, SMALL) for i in range(100)]
    port = await serve(stream_handler(pieces))
    conn = await raw_connect(port)
    await conn.send(b"GET / HTTP/1.0\r\nAccept-Encoding: gzip\r\nConnection: keep-alive\r\n\r\n")
    status, headers, body = split_response(await conn.read_until_closed())
    assert status == "HTTP/1.0 200 OK"
    assert headers["content-encoding"] == "gzip"
    assert headers["connection"] == "close"
    assert "content-length" not in headers and "transfer-encoding" not in headers
    assert gzip.decompress(body) == b"".join(pieces)


async def test_stream_head_sends_headers_only(serve: Any, raw_connect: Any) -> None:
    port = await serve(stream_handler([TEXT]))
    conn = await raw_connect(port)
    request = b" / HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n"
    await conn.send(b"HEAD" + request)
    _, head_headers, _ = split_response(await conn.reader.readuntil(b"\r\n\r\n"))
    assert head_headers["content-encoding"] == "gzip"
    assert head_headers["transfer-encoding"] == "chunked"
    await conn.send(b"GET" + request)
    _, headers, body = await conn.read_response()
    assert gzip.decompress(body) == TEXT


async def test_drain_flushes_the_encoder(serve: Any, raw_connect: Any) -> None:
    release = asyncio.Event()

    async def handler(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()
        resp.enable_compression()
        await resp.prepare(request)
        await resp.write(b"data: first\n\n")
        await resp.drain()
        await release.wait()
        await resp.write_eof(b"data: last\n\n")
        return resp

    port = await serve(handler)
    conn = await raw_connect(port)
    await conn.send(b"GET / HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n")
    await conn.reader.readuntil(b"\r\n\r\n")
    decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
    seen = b""
    while seen != b"data: first\n\n":
        size = int(await asyncio.wait_for(conn.reader.readuntil(b"\r\n"), 5), 16)
        seen += decoder.decompress((await conn.reader.readexactly(size + 2))[:-2])
    release.set()
    while not decoder.eof:
        size = int(await asyncio.wait_for(conn.reader.readuntil(b"\r\n"), 5), 16)
        assert size, "the stream ended before the encoder's trailer"
        seen += decoder.decompress((await conn.reader.readexactly(size + 2))[:-2])
    assert seen == b"data: first\n\ndata: last\n\n"
    assert await conn.reader.readexactly(5) == b"0\r\n\r\n"


async def test_keep_alive_survives_compressed_responses(serve: Any, raw_connect: Any) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        if request.path == "/stream":
            return await stream_handler([SMALL, SMALL])(request)
        resp = web.Response(body=TEXT)
        resp.enable_compression()
        return resp

    port = await serve(handler)
    conn = await raw_connect(port)
    for path in (b"/stream", b"/", b"/stream", b"/"):
        await conn.send(b"GET %s HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n" % path)
        _, headers, body = await conn.read_response()
        assert gzip.decompress(body) == (SMALL * 2 if path == b"/stream" else TEXT)


# -- FileResponse: falls back to StreamResponse.write when compressing --


async def test_file_response_is_compressed_through_the_stream_path(
    serve: Any, tmp_path: Path
) -> None:
    path = tmp_path / "big.txt"
    path.write_bytes(TEXT)

    async def handler(request: web.Request) -> web.StreamResponse:
        resp = web.FileResponse(path)
        resp.enable_compression()
        return resp

    port = await serve(handler)
    resp, raw = await fetch_raw(port, accept_encoding="gzip")
    assert resp.headers["Content-Encoding"] == "gzip"
    assert "Content-Length" not in resp.headers
    assert gzip.decompress(raw) == TEXT
    resp, raw = await fetch_raw(port, accept_encoding="identity")
    assert raw == TEXT and "Content-Encoding" not in resp.headers
