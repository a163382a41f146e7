"""FileResponse over real sockets: bodies, ranges, conditional requests, siblings, loops, TLS."""

from __future__ import annotations

import asyncio
import gzip
import os
import socket
import ssl
import struct
import threading
import time
from collections.abc import Awaitable, Callable
from email.utils import formatdate
from pathlib import Path
from typing import Any

import pytest
from conftest import RawConnection

from aioweb import _file_io, web
from aioweb import web_fileresponse as wf
from aioweb._threads import run_blocking
from aioweb.test_utils import TestServer, unused_port

SMALL = b"0123456789" * 100  # 1000 bytes: the one-write path
BIG_SIZE = 3 * 1024 * 1024 + 7  # sendfile / chunked path


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    small = tmp_path / "small.txt"
    small.write_bytes(SMALL)
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(BIG_SIZE))
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    past = time.time() - 3600
    for path in (small, big, empty):
        os.utime(path, (past, past))
    return {"small": small, "big": big, "empty": empty, "dir": tmp_path}


def file_app(path: Path, **kwargs: Any) -> web.Application:
    async def handler(request: web.Request) -> web.StreamResponse:
        return web.FileResponse(path, **kwargs)

    async def manual(request: web.Request) -> web.StreamResponse:
        resp = web.FileResponse(path, **kwargs)
        await resp.prepare(request)
        return resp

    app = web.Application()
    app.router.add_get("/f", handler)
    app.router.add_get("/manual", manual)
    return app


@pytest.mark.parametrize("which", ["small", "big"])
@pytest.mark.parametrize("route", ["/f", "/manual"])
async def test_whole_file_returned_or_prepared(aioweb_client: Any, files: dict[str, Path], which: str, route: str) -> None:
    client = await aioweb_client(file_app(files[which]))
    resp = await client.get(route)
    body = await resp.read()
    assert resp.status == 200
    assert body == files[which].read_bytes()
    assert resp.headers["Content-Length"] == str(len(body))
    assert resp.headers["Accept-Ranges"] == "bytes"
    assert resp.headers["ETag"].startswith('"')
    assert "Last-Modified" in resp.headers


@pytest.mark.parametrize("nosendfile", [False, True])
async def test_big_file_both_transfer_paths(
    aioweb_client: Any, files: dict[str, Path], monkeypatch: pytest.MonkeyPatch, nosendfile: bool
) -> None:
    monkeypatch.setattr(_file_io, "NOSENDFILE", nosendfile)
    client = await aioweb_client(file_app(files["big"], chunk_size=100_000))
    for _ in range(2):  # keep-alive: the connection stays sane after sendfile
        resp = await client.get("/f")
        assert await resp.read() == files["big"].read_bytes()


async def test_content_type_guessed(aioweb_client: Any, tmp_path: Path) -> None:
    for name, expected in [("a.html", "text/html"), ("a.tar.gz", "application/gzip"), ("noext", "application/octet-stream")]:
        (tmp_path / name).write_bytes(b"x")
        client = await aioweb_client(file_app(tmp_path / name))
        resp = await client.get("/f")
        assert resp.headers["Content-Type"].split(";")[0] == expected


async def test_explicit_content_type_kept(aioweb_client: Any, files: dict[str, Path]) -> None:
    client = await aioweb_client(file_app(files["small"], headers={"Content-Type": "x/y"}))
    resp = await client.get("/f")
    assert resp.headers["Content-Type"] == "x/y"


async def test_head_has_length_but_no_body(aioweb_server: Any, raw_connect: Any, files: dict[str, Path]) -> None:
    server = await aioweb_server(file_app(files["big"]))
    conn = await raw_connect(server.port)
    await conn.send(b"HEAD /f HTTP/1.1\r\nHost: x\r\n\r\nGET /f HTTP/1.1\r\nHost: x\r\nRange: bytes=0-3\r\n\r\n")
    head = await conn.reader.readuntil(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    assert f"Content-Length: {BIG_SIZE}".encode() in head
    status, headers, body = await conn.read_response()  # the next response follows at once
    assert status.startswith(b"HTTP/1.1 206")
    assert body == files["big"].read_bytes()[:4]


async def test_missing_file_is_404(aioweb_client: Any, tmp_path: Path) -> None:
    client = await aioweb_client(file_app(tmp_path / "nope"))
    assert (await client.get("/f")).status == 404
    client = await aioweb_client(file_app(tmp_path))  # a directory is not a file
    assert (await client.get("/f")).status == 404


async def test_if_none_match_and_if_modified_since_give_304(aioweb_client: Any, files: dict[str, Path]) -> None:
    client = await aioweb_client(file_app(files["small"]))
    first = await client.get("/f")
    etag, last_modified = first.headers["ETag"], first.headers["Last-Modified"]
    for headers in (
        {"If-None-Match": etag},
        {"If-None-Match": f'"other", W/{etag}'},
        {"If-None-Match": "*"},
        {"If-Modified-Since": last_modified},
        {"If-Modified-Since": formatdate(time.time(), usegmt=True)},
    ):
        resp = await client.get("/f", headers=headers)
        assert resp.status == 304, headers
        assert await resp.read() == b""
        assert resp.headers["ETag"] == etag
    for headers in (
        {"If-None-Match": '"other"'},
        {"If-Modified-Since": formatdate(time.time() - 7200, usegmt=True)},
        {"If-None-Match": '"other"', "If-Modified-Since": last_modified},  # INM wins
    ):
        resp = await client.get("/f", headers=headers)
        assert resp.status == 200, headers
        assert await resp.read() == SMALL


async def test_if_match_and_if_unmodified_since_give_412(aioweb_client: Any, files: dict[str, Path]) -> None:
    client = await aioweb_client(file_app(files["small"]))
    etag = (await client.get("/f")).headers["ETag"]
    for headers in (
        {"If-Match": '"other"'},
        {"If-Match": f"W/{etag}"},  # If-Match uses the strong comparison
        {"If-Unmodified-Since": formatdate(time.time() - 7200, usegmt=True)},
    ):
        resp = await client.get("/f", headers=headers)
        assert resp.status == 412, headers
    for headers in (
        {"If-Match": etag},
        {"If-Match": "*"},
        {"If-Unmodified-Since": formatdate(time.time(), usegmt=True)},
    ):
        resp = await client.get("/f", headers=headers)
        assert resp.status == 200, headers


RANGE_CASES = [
    ("bytes=0-9", 0, 10),
    ("bytes=10-", 10, 1000),
    ("bytes=-5", 995, 1000),
    ("bytes=990-5000", 990, 1000),
    ("bytes=-5000", 0, 1000),
    ("bytes= 3-4", 3, 5),
]


@pytest.mark.parametrize(("header", "start", "end"), RANGE_CASES)
async def test_single_range_gives_206(aioweb_client: Any, files: dict[str, Path], header: str, start: int, end: int) -> None:
    client = await aioweb_client(file_app(files["small"]))
    resp = await client.get("/f", headers={"Range": header})
    assert resp.status == 206
    assert await resp.read() == SMALL[start:end]
    assert resp.headers["Content-Range"] == f"bytes {start}-{end - 1}/1000"


async def test_range_on_big_file(aioweb_client: Any, files: dict[str, Path]) -> None:
    client = await aioweb_client(file_app(files["big"]))
    resp = await client.get("/f", headers={"Range": "bytes=1000000-2999999"})
    assert resp.status == 206
    assert await resp.read() == files["big"].read_bytes()[1000000:3000000]


@pytest.mark.parametrize("header", ["bytes=1000-", "bytes=5000-6000", "bytes=-0", "bytes=5-2", "bytes=abc", "bytes=-"])
async def test_unsatisfiable_or_malformed_range_gives_416(aioweb_client: Any, files: dict[str, Path], header: str) -> None:
    client = await aioweb_client(file_app(files["small"]))
    resp = await client.get("/f", headers={"Range": header})
    assert resp.status == 416
    assert resp.headers["Content-Range"] == "bytes */1000"


async def test_any_range_of_empty_file_is_416(aioweb_client: Any, files: dict[str, Path]) -> None:
    client = await aioweb_client(file_app(files["empty"]))
    resp = await client.get("/f", headers={"Range": "bytes=0-"})
    assert resp.status == 416
    assert resp.headers["Content-Range"] == "bytes */0"


async def test_unknown_unit_and_head_ignore_range(aioweb_client: Any, files: dict[str, Path]) -> None:
    client = await aioweb_client(file_app(files["small"]))
    resp = await client.get("/f", headers={"Range": "items=0-5"})
    assert resp.status == 200
    resp = await client.head("/f", headers={"Range": "bytes=0-5"})
    assert resp.status == 200
    assert resp.headers["Content-Length"] == "1000"


@pytest.mark.parametrize("which", ["small", "big"])
async def test_multiple_ranges_give_multipart_byteranges(aioweb_client: Any, files: dict[str, Path], which: str) -> None:
    data = files[which].read_bytes()
    client = await aioweb_client(file_app(files[which]))
    resp = await client.get("/f", headers={"Range": "bytes=0-9, 20-29,-3"})
    assert resp.status == 206
    ctype = resp.headers["Content-Type"]
    assert ctype.startswith("multipart/byteranges; boundary=")
    boundary = ctype.split("boundary=")[1].encode()
    body = await resp.read()
    assert resp.headers["Content-Length"] == str(len(body))
    chunks = body.split(b"--" + boundary)
    assert chunks[0] == b"" and chunks[-1] == b"--\r\n"
    parts = []
    for chunk in chunks[1:-1]:
        head, _, payload = chunk.partition(b"\r\n\r\n")
        assert payload.endswith(b"\r\n")
        parts.append((head, payload[:-2]))
    size = len(data)
    assert [p for _, p in parts] == [data[0:10], data[20:30], data[-3:]]
    assert f"Content-Range: bytes {size - 3}-{size - 1}/{size}".encode() in parts[2][0]


async def test_amplifying_or_too_many_ranges_send_whole_file(aioweb_client: Any, files: dict[str, Path]) -> None:
    client = await aioweb_client(file_app(files["small"]))
    many = "bytes=" + ",".join(f"{i}-{i}" for i in range(wf.MAX_RANGES + 1))
    overlapping = "bytes=" + ",".join("0-999" for _ in range(3))
    for header in (many, overlapping):
        resp = await client.get("/f", headers={"Range": header})
        assert resp.status == 200
        assert await resp.read() == SMALL


async def test_if_range(aioweb_client: Any, files: dict[str, Path]) -> None:
    client = await aioweb_client(file_app(files["small"]))
    first = await client.get("/f")
    etag, last_modified = first.headers["ETag"], first.headers["Last-Modified"]
    cases = [
        (etag, 206),
        (last_modified, 206),
        ('"stale"', 200),
        (f"W/{etag}", 200),  # weak validators never satisfy If-Range
        (formatdate(time.time() - 7200, usegmt=True), 200),
        ("garbage", 200),
    ]
    for if_range, status in cases:
        resp = await client.get("/f", headers={"Range": "bytes=0-1", "If-Range": if_range})
        assert resp.status == status, if_range
        assert await resp.read() == (SMALL[:2] if status == 206 else SMALL)


async def test_error_status_kept_without_preconditions(aioweb_client: Any, files: dict[str, Path]) -> None:
    client = await aioweb_client(file_app(files["small"], status=404))
    resp = await client.get("/f", headers={"Range": "bytes=0-1"})
    assert resp.status == 404
    assert await resp.read() == SMALL


def test_parse_ranges_table() -> None:
    assert wf._parse_ranges("bytes=0-0", 10) == [(0, 1)]
    assert wf._parse_ranges("bytes=0-1,,5-6", 10) == [(0, 2), (5, 7)]
    assert wf._parse_ranges("BYTES=2-", 10) == [(2, 10)]
    assert wf._parse_ranges("bytes=10-", 10) == []
    assert wf._parse_ranges("bytes=1-2,10-", 10) == [(1, 3)]
    assert wf._parse_ranges("lines=1-2", 10) is None
    assert wf._parse_ranges("bytes", 10) is None
    assert wf._parse_ranges("bytes=x-1", 10) == []


# -- pre-compressed siblings --

CODING_CASES = [
    (None, ()),
    ("", ()),
    ("gzip", ("gzip",)),
    ("GZIP", ("gzip",)),
    ("x-gzip", ("gzip",)),
    ("gzip, br", ("br", "gzip")),
    ("br;q=0.5, gzip", ("gzip", "br")),
    ("br;q=0, gzip;q=0", ()),
    ("*", ("br", "gzip")),
    ("*;q=0", ()),
    ("*, br;q=0", ("gzip",)),
    ("identity", ()),
    ("deflate, compress", ()),
    ("gzip;q=bogus", ()),  # a malformed element is skipped
    ("gzip;q=1.5, *", ("br", "gzip")),
    ("gzip ; q=0.001", ("gzip",)),
    ("gzip, gzip;q=0", ()),  # a repeated coding keeps its lowest q
    ("gzip;q=0.5, identity", ()),  # identity preferred over every sibling
    ("gzip, identity;q=0.5", ("gzip",)),
]


@pytest.mark.parametrize(("header", "expected"), CODING_CASES)
def test_accepted_codings_table(header: str | None, expected: tuple[str, ...]) -> None:
    assert _file_io.accepted_codings(header) == expected


PLAIN_JS = b"console.log('plain');\n" * 50
GZ_JS = gzip.compress(PLAIN_JS)
BR_JS = b"not really brotli, only its bytes matter here"


@pytest.fixture
def page(tmp_path: Path) -> Path:
    """``page.js`` with ``.gz`` and ``.br`` siblings."""
    path = tmp_path / "page.js"
    path.write_bytes(PLAIN_JS)
    (tmp_path / "page.js.gz").write_bytes(GZ_JS)
    (tmp_path / "page.js.br").write_bytes(BR_JS)
    return path


async def raw_get(conn: Any, target: str = "/f", **headers: str) -> tuple[int, dict[str, str], bytes]:
    lines = "".join(f"{name.replace('_', '-')}: {value}\r\n" for name, value in headers.items())
    await conn.send(f"GET {target} HTTP/1.1\r\nHost: x\r\n{lines}\r\n".encode())
    status, got, body = await conn.read_response()
    return int(status.split()[1]), got, body


@pytest.mark.parametrize(
    ("accept", "body", "coding"),
    [("gzip", GZ_JS, "gzip"), ("br, gzip", BR_JS, "br"), ("br;q=0.1, gzip", GZ_JS, "gzip"), ("identity", PLAIN_JS, None)],
)
async def test_sibling_served_when_accepted(
    aioweb_server: Any, raw_connect: Any, page: Path, accept: str, body: bytes, coding: str | None
) -> None:
    server = await aioweb_server(file_app(page))
    conn = await raw_connect(server.port)
    status, headers, got = await raw_get(conn, Accept_Encoding=accept)
    assert status == 200 and got == body
    assert headers["content-length"] == str(len(body))
    assert headers["content-type"].startswith("text/javascript")
    assert headers.get("content-encoding") == coding
    assert (headers.get("vary") == "Accept-Encoding") == (coding is not None)


async def test_sibling_has_its_own_validators_and_ranges(aioweb_server: Any, raw_connect: Any, page: Path) -> None:
    server = await aioweb_server(file_app(page))
    conn = await raw_connect(server.port)
    _, plain, _ = await raw_get(conn)
    _, gz, _ = await raw_get(conn, Accept_Encoding="gzip")
    assert gz["etag"] != plain["etag"]
    status, headers, body = await raw_get(conn, Accept_Encoding="gzip", Range="bytes=2-5")
    assert status == 206 and body == GZ_JS[2:6]
    assert headers["content-range"] == f"bytes 2-5/{len(GZ_JS)}"
    assert headers["content-encoding"] == "gzip"
    status, headers, body = await raw_get(conn, Accept_Encoding="gzip", If_None_Match=gz["etag"])
    assert status == 304 and body == b"" and headers["vary"] == "Accept-Encoding"
    status, _, body = await raw_get(conn, If_None_Match=gz["etag"])  # identity: another tag
    assert status == 200 and body == PLAIN_JS


async def test_sibling_never_a_symlink_or_special_file(aioweb_server: Any, raw_connect: Any, tmp_path: Path) -> None:
    (tmp_path / "elsewhere.gz").write_bytes(b"SYMLINKED")
    for name in ("link.txt", "dir.txt", "fifo.txt"):
        (tmp_path / name).write_bytes(b"plain")
    os.symlink(tmp_path / "elsewhere.gz", tmp_path / "link.txt.gz")
    (tmp_path / "dir.txt.gz").mkdir()
    os.mkfifo(tmp_path / "fifo.txt.gz")
    app = web.Application()
    for name in ("link.txt", "dir.txt", "fifo.txt", "missing.txt"):
        app.router.add_get("/" + name, lambda r, p=tmp_path / name: web.FileResponse(p))
    (tmp_path / "missing.txt.gz").write_bytes(b"no original")
    server = await aioweb_server(app)
    conn = await raw_connect(server.port)
    for name in ("link.txt", "dir.txt", "fifo.txt"):
        status, headers, body = await raw_get(conn, "/" + name, Accept_Encoding="gzip")
        assert (status, body) == (200, b"plain") and "content-encoding" not in headers
    status, _, _ = await raw_get(conn, "/missing.txt", Accept_Encoding="gzip")
    assert status == 404  # a sibling alone is never served


async def test_sibling_not_compressed_twice(aioweb_server: Any, raw_connect: Any, page: Path) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        resp = web.FileResponse(page)
        resp.enable_compression()
        return resp

    app = web.Application()
    app.router.add_get("/f", handler)
    server = await aioweb_server(app)
    conn = await raw_connect(server.port)
    status, headers, body = await raw_get(conn, Accept_Encoding="gzip")
    assert status == 200 and body == GZ_JS and headers["content-encoding"] == "gzip"


# -- both loops, both transfer paths, TLS --

LOOPS = ["asyncio", "uvloop"]


def run_on(loop_name: str, main: Callable[[], Awaitable[None]]) -> None:
    """Run ``main()`` on a fresh loop of the named kind."""
    factory = None
    if loop_name == "uvloop":
        factory = pytest.importorskip("uvloop").new_event_loop
    with asyncio.Runner(loop_factory=factory) as runner:
        runner.run(main())


async def fetch(port: int, request: bytes, ssl_context: ssl.SSLContext | None = None) -> list[tuple[bytes, dict[str, str], bytes]]:
    """Send ``request`` (maybe several, pipelined) and read one response per request line."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=ssl_context)
    conn = RawConnection(reader, writer)
    try:
        await conn.send(request)
        return [await conn.read_response() for _ in range(request.count(b" HTTP/1.1\r\n"))]
    finally:
        conn.close()
        await writer.wait_closed()


@pytest.mark.parametrize("loop_name", LOOPS)
@pytest.mark.parametrize("nosendfile", [False, True])
def test_big_file_on_both_loops(files: dict[str, Path], monkeypatch: pytest.MonkeyPatch, loop_name: str, nosendfile: bool) -> None:
    monkeypatch.setattr(_file_io, "NOSENDFILE", nosendfile)
    data = files["big"].read_bytes()

    async def main() -> None:
        async with TestServer(file_app(files["big"], chunk_size=100_000)) as server:
            assert server.port is not None
            get = b"GET /f HTTP/1.1\r\nHost: x\r\n"
            pipelined = get + b"\r\n" + get + b"Range: bytes=5-9,-4,2000000-2999999\r\n\r\n" + get + b"\r\n"
            whole, ranges, again = await fetch(server.port, pipelined)
            assert whole[2] == data and again[2] == data
            assert ranges[0].startswith(b"HTTP/1.1 206")
            for part in (data[5:10], data[-4:], data[2000000:3000000]):
                assert part in ranges[2]

    run_on(loop_name, main)


@pytest.mark.parametrize("loop_name", LOOPS)
def test_unix_socket_takes_the_sendfile_path(files: dict[str, Path], tmp_path: Path, loop_name: str) -> None:
    data = files["big"].read_bytes()

    async def main() -> None:
        runner = web.AppRunner(file_app(files["big"]))
        await runner.setup()
        path = str(tmp_path / "s.sock")
        await web.UnixSite(runner, path).start()
        try:
            reader, writer = await asyncio.open_unix_connection(path)
            conn = RawConnection(reader, writer)
            await conn.send(b"GET /f HTTP/1.1\r\nHost: x\r\n\r\nGET /f HTTP/1.1\r\nHost: x\r\nRange: bytes=-7\r\n\r\n")
            assert (await conn.read_response())[2] == data
            assert (await conn.read_response())[2] == data[-7:]
            conn.close()
            await writer.wait_closed()
        finally:
            await runner.cleanup()

    run_on(loop_name, main)


@pytest.mark.parametrize("loop_name", LOOPS)
def test_tls_takes_the_chunked_path(files: dict[str, Path], tls: tuple[ssl.SSLContext, ssl.SSLContext], loop_name: str, caplog: pytest.LogCaptureFixture) -> None:
    data = files["big"].read_bytes()

    async def main() -> None:
        runner = web.AppRunner(file_app(files["big"]))
        await runner.setup()
        port = unused_port()
        await web.TCPSite(runner, "127.0.0.1", port, ssl_context=tls[0]).start()
        try:
            get = b"GET /f HTTP/1.1\r\nHost: x\r\n"
            whole, ranged = await fetch(port, get + b"\r\n" + get + b"Range: bytes=-1000\r\n\r\n", tls[1])
            assert whole[2] == data
            assert ranged[0].startswith(b"HTTP/1.1 206") and ranged[2] == data[-1000:]
        finally:
            # At once, while the client's TLS connection may be half-closed.
            await runner.cleanup()

    run_on(loop_name, main)
    assert "eof_received" not in caplog.text  # TLS cannot stay half-open: not asked to
    assert "Traceback" not in caplog.text


# -- descriptors are never leaked --


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


async def settle(before: int, timeout: float = 5.0) -> int:
    """Wait until the descriptor count is back to ``before`` (or the timeout)."""
    deadline = time.monotonic() + timeout
    while open_fds() > before and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    return open_fds()


async def abort_download(port: int, reset: bool) -> None:
    """Start a download with a small receive buffer, read a little, then go away."""
    loop = asyncio.get_running_loop()
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32 * 1024)
    sock.setblocking(False)
    await loop.sock_connect(sock, ("127.0.0.1", port))
    reader, writer = await asyncio.open_connection(sock=sock)
    writer.write(b"GET /f HTTP/1.1\r\nHost: x\r\n\r\n")
    await reader.readexactly(100_000)
    if reset:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.close()
    await writer.wait_closed()


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc/self/fd")
@pytest.mark.parametrize("loop_name", LOOPS)
@pytest.mark.parametrize(("nosendfile", "cancellation"), [(False, False), (True, False), (False, True)])
def test_aborted_downloads_leak_no_descriptor(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, loop_name: str, nosendfile: bool, cancellation: bool
) -> None:
    monkeypatch.setattr(_file_io, "NOSENDFILE", nosendfile)
    big = tmp_path / "big.bin"
    with open(big, "wb") as f:
        f.truncate(64 * 1024 * 1024)  # sparse: larger than any socket buffer

    async def main() -> None:
        async with TestServer(file_app(big), handler_cancellation=cancellation, shutdown_timeout=0.3) as server:
            assert server.port is not None
            await fetch(server.port, b"GET /f HTTP/1.1\r\nHost: x\r\nRange: bytes=0-9\r\n\r\n")
            before = await settle(open_fds(), 0.2)
            for i in range(20):
                await abort_download(server.port, reset=bool(i % 2))
            assert await settle(before) <= before
            # Stalled readers cut off by shutdown release their files too.
            stalled = [await asyncio.open_connection("127.0.0.1", server.port) for _ in range(3)]
            for _, writer in stalled:
                writer.write(b"GET /f HTTP/1.1\r\nHost: x\r\n\r\n")
            await asyncio.sleep(0.2)
        for _, writer in stalled:
            writer.close()
        assert await settle(before) <= before

    run_on(loop_name, main)


async def test_open_cancelled_in_flight_is_closed_later() -> None:
    closed = threading.Event()

    class Handle:
        def close(self) -> None:
            closed.set()

    def slow_open() -> Handle:
        time.sleep(0.2)
        return Handle()

    task = asyncio.ensure_future(run_blocking(slow_open))
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await asyncio.get_running_loop().run_in_executor(None, closed.wait, 5)


# -- enable_compression() --


def compressing_app(path: Path) -> web.Application:
    async def handler(request: web.Request) -> web.StreamResponse:
        resp = web.FileResponse(path, chunk_size=64 * 1024)
        resp.enable_compression()
        return resp

    app = web.Application()
    app.router.add_get("/f", handler)
    return app


@pytest.mark.parametrize("size", [1000, 3 * 1024 * 1024 + 7])
async def test_compression_streams_encoded_chunks(aioweb_server: Any, raw_connect: Any, tmp_path: Path, size: int) -> None:
    path = tmp_path / "text.txt"
    data = (b"all work and no play makes jack a dull boy\n" * (size // 43 + 1))[:size]
    path.write_bytes(data)
    server = await aioweb_server(compressing_app(path))
    conn = await raw_connect(server.port)
    status, headers, body = await raw_get(conn, Accept_Encoding="gzip")
    assert status == 200 and headers["content-encoding"] == "gzip"
    assert headers["transfer-encoding"] == "chunked" and "content-length" not in headers
    assert "Accept-Encoding" in headers["vary"]
    assert gzip.decompress(body) == data and len(body) < size
    # Not accepted: the identity body, with its length, on the fast path.
    status, headers, body = await raw_get(conn)
    assert status == 200 and body == data and headers["content-length"] == str(size)
    assert "content-encoding" not in headers
    # A single range counts unencoded bytes: never encoded.
    status, headers, body = await raw_get(conn, Accept_Encoding="gzip", Range="bytes=10-19")
    assert status == 206 and body == data[10:20] and "content-encoding" not in headers
    etag = headers["etag"]
    status, headers, body = await raw_get(conn, Accept_Encoding="gzip", If_None_Match=etag)
    assert status == 304 and "Accept-Encoding" in headers["vary"]
    # Several ranges make a multipart body, which may be encoded as a whole.
    status, headers, body = await raw_get(conn, Accept_Encoding="gzip", Range="bytes=0-4,-5")
    assert status == 206 and headers["content-encoding"] == "gzip"
    parts = gzip.decompress(body)
    assert data[:5] in parts and data[-5:] in parts and parts.endswith(b"--\r\n")
