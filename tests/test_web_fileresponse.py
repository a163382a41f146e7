"""FileResponse over real sockets: bodies, HEAD, conditional requests, ranges."""

from __future__ import annotations

import os
import time
from email.utils import formatdate
from pathlib import Path
from typing import Any

import pytest

from aioweb import web
from aioweb import web_fileresponse as wf

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
    monkeypatch.setattr(wf, "_NOSENDFILE", nosendfile)
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
