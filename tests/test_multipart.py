"""Multipart: the streaming reader (bytes-fed) and form uploads over real sockets."""

from __future__ import annotations

import asyncio
import email.parser
import email.policy
import gzip
import io
import json
import os
from typing import Any

import pytest
from multidict import CIMultiDict, MultiDict

from aioweb import web
from aioweb.multipart import (
    BodyPartReader,
    MultipartError,
    MultipartReader,
    MultipartWriter,
    parse_content_disposition,
)
from aioweb.streams import StreamReader

CT = {"Content-Type": "multipart/form-data; boundary=XyZ"}


class Chunked:
    """A body fed ``step`` bytes per read: every split point gets exercised."""

    def __init__(self, data: bytes, step: int) -> None:
        self._data = data
        self._step = step

    async def read(self, n: int = -1) -> bytes:
        size = min(self._step, n if n > 0 else self._step)
        chunk, self._data = self._data[:size], self._data[size:]
        return chunk


def body(*parts: tuple[str, bytes], boundary: str = "XyZ", preamble: bytes = b"") -> bytes:
    out = preamble
    for headers, payload in parts:
        out += f"--{boundary}\r\n{headers}\r\n\r\n".encode() + payload + b"\r\n"
    return out + f"--{boundary}--\r\n".encode()


SAMPLE = body(
    ('Content-Disposition: form-data; name="a"', b"first"),
    ('Content-Disposition: form-data; name="f"; filename="x.bin"\r\nContent-Type: application/octet-stream', b"\r\n--Xy\r\n-\x00\r" * 50),
    ('Content-Disposition: form-data; name="j"\r\nContent-Type: application/json', b'{"k": [1, 2]}'),
    preamble=b"ignored preamble\r\n",
)


@pytest.mark.parametrize("step", [1, 2, 3, 7, 64, 100_000])
async def test_reader_parts_any_split(step: int) -> None:
    reader = MultipartReader(CT, Chunked(SAMPLE, step))
    parts = []
    async for part in reader:
        assert isinstance(part, BodyPartReader)
        parts.append(part)
        if part.name == "a":
            assert await part.text() == "first"
        elif part.name == "f":
            assert part.filename == "x.bin"
            assert part.headers["Content-Type"] == "application/octet-stream"
            assert await part.read() == b"\r\n--Xy\r\n-\x00\r" * 50
        else:
            assert await part.json() == {"k": [1, 2]}
    assert [p.name for p in parts] == ["a", "f", "j"]
    assert reader.at_eof()
    assert await reader.next() is None


async def test_unread_parts_are_skipped_and_read_chunk_streams() -> None:
    reader = MultipartReader(CT, Chunked(SAMPLE, 5))
    first = await reader.next()
    assert isinstance(first, BodyPartReader)
    second = await reader.next()  # 'a' left unread
    assert isinstance(second, BodyPartReader) and second.name == "f"
    chunks = []
    while chunk := await second.read_chunk(16):
        assert len(chunk) <= 16
        chunks.append(chunk)
    assert second.at_eof()
    assert b"".join(chunks) == b"\r\n--Xy\r\n-\x00\r" * 50
    third = await reader.next()
    assert isinstance(third, BodyPartReader) and third.name == "j"
    assert await reader.next() is None


async def test_readline_and_form() -> None:
    data = body(
        ("Content-Type: text/plain", b"line1\nline2\nend"),
        ("Content-Type: application/x-www-form-urlencoded", b"a=1&b=%C3%A9&c="),
    )
    reader = MultipartReader(CT, Chunked(data, 4))
    part = await reader.next()
    assert isinstance(part, BodyPartReader)
    assert await part.readline() == b"line1\n"
    assert await part.readline() == b"line2\n"
    assert await part.readline() == b"end"
    assert await part.readline() == b""
    part = await reader.next()
    assert isinstance(part, BodyPartReader)
    assert await part.form() == [("a", "1"), ("b", "é"), ("c", "")]


async def test_nested_multipart() -> None:
    inner = body(("Content-Type: text/plain", b"in1"), ("Content-Type: text/plain", b"in2"), boundary="inner")
    data = body(
        ("Content-Type: multipart/mixed; boundary=inner", inner),
        ('Content-Disposition: form-data; name="after"', b"tail"),
    )
    for step in (1, 9, 10_000):
        reader = MultipartReader(CT, Chunked(data, step))
        nested = await reader.next()
        assert isinstance(nested, MultipartReader)
        texts = []
        async for part in nested:
            assert isinstance(part, BodyPartReader)
            texts.append(await part.text())
        assert texts == ["in1", "in2"]
        last = await reader.next()
        assert isinstance(last, BodyPartReader) and await last.text() == "tail"
        # An unread nested reader is skipped whole, too.
        reader = MultipartReader(CT, Chunked(data, step))
        await reader.next()
        last = await reader.next()
        assert isinstance(last, BodyPartReader) and last.name == "after"


async def test_decode_transfer_and_content_encoding() -> None:
    data = body(
        ("Content-Transfer-Encoding: base64", b"aGVsbG8="),
        ("Content-Transfer-Encoding: quoted-printable", b"caf=C3=A9"),
        ("Content-Encoding: gzip", gzip.compress(b"zipped")),
    )
    reader = MultipartReader(CT, Chunked(data, 1000))
    got = []
    async for part in reader:
        assert isinstance(part, BodyPartReader)
        got.append(bytes(await part.read(decode=True)))
    assert got == [b"hello", "café".encode(), b"zipped"]


def test_content_disposition_parsing() -> None:
    assert parse_content_disposition('form-data; name="a;b"; filename="c \\"d\\".txt"') == (
        "form-data",
        {"name": "a;b", "filename": 'c "d".txt'},
    )
    disp, params = parse_content_disposition("attachment; filename*=UTF-8''%E2%82%AC.txt; filename=x")
    assert disp == "attachment" and params["filename*"] == "€.txt"
    assert parse_content_disposition(None) == (None, {})


MALFORMED = [
    (b"no boundary line at all\r\n", "no boundary line"),
    (b"--XyZ\r\nContent-Type text/plain\r\n\r\nx\r\n--XyZ--\r\n", "Invalid header line"),
    (b"--XyZ\r\nContent-Type: text/plain\r\n", "inside part headers"),
    (b"--XyZ\r\n\r\nbody that never ends", "closing boundary"),
    (b"--XyZ\r\n\r\nx\r\n--XyZgarbage\r\n", "boundary line"),
    (b"--XyZ\r\n" + b"X-Long: " + b"a" * 10_000 + b"\r\n\r\n\r\n--XyZ--\r\n", "too long"),
    (b"--XyZ\r\n" + b"X: y\r\n" * 200 + b"\r\n\r\n--XyZ--\r\n", "Too many headers"),
]


@pytest.mark.parametrize(("data", "message"), MALFORMED)
async def test_malformed_bodies_raise_not_hang(data: bytes, message: str) -> None:
    reader = MultipartReader(CT, Chunked(data, 3))
    with pytest.raises(MultipartError) as info:
        async with asyncio.timeout(2):
            await reader.release()
    assert message in (info.value.text or "")
    assert isinstance(info.value, ValueError) and info.value.status == 400


def test_missing_boundary_raises() -> None:
    for ctype in ("multipart/form-data", "text/plain; boundary=x", ""):
        with pytest.raises(MultipartError):
            MultipartReader({"Content-Type": ctype}, Chunked(b"", 1))


async def test_reader_over_stream_reader() -> None:
    stream = StreamReader()
    stream.feed_data(SAMPLE[:50])
    reader = MultipartReader(CT, stream)

    async def feed() -> None:
        await asyncio.sleep(0.01)
        stream.feed_data(SAMPLE[50:])
        stream.feed_eof()

    task = asyncio.create_task(feed())
    names = [part.name async for part in reader]  # type: ignore[union-attr]
    await task
    assert names == ["a", "f", "j"]


async def test_writer_round_trips_through_reader() -> None:
    writer = MultipartWriter("form-data")
    writer.append("text é").set_content_disposition("form-data", name="t")
    writer.append(b"\x00\x01", {"X-Extra": "1"}).set_content_disposition("form-data", name="b", filename="b.bin")
    writer.append_json({"a": 1})
    nested = MultipartWriter("mixed")
    nested.append("inner")
    writer.append(nested)
    data = writer.render()
    assert writer.size == len(data)
    reader = MultipartReader(writer.headers, Chunked(data, 5))
    parts: list[Any] = [part async for part in reader]
    assert len(parts) == 4
    assert parts[0].name == "t"
    assert parts[1].filename == "b.bin"


class Collector:
    """Anything with ``async write(bytes)``: what ``MultipartWriter.write`` needs."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []

    async def write(self, data: bytes) -> None:
        self.chunks.append(data)


@pytest.mark.parametrize(
    ("boundary", "content_type"),
    [
        ("abc", "multipart/mixed; boundary=abc"),
        ("a b:c", 'multipart/mixed; boundary="a b:c"'),
        ('a"b\\c', 'multipart/mixed; boundary="a\\"b\\\\c"'),
    ],
)
def test_writer_boundary_quoted_only_when_needed(boundary: str, content_type: str) -> None:
    writer = MultipartWriter(boundary=boundary)
    assert writer.headers["Content-Type"] == writer.content_type == content_type
    assert writer.boundary == boundary


@pytest.mark.parametrize("boundary", ["", "ünï", "a\r\nb", "a\x00"])
def test_writer_rejects_bad_boundaries(boundary: str) -> None:
    with pytest.raises(ValueError, match="boundary"):
        MultipartWriter(boundary=boundary)


@pytest.mark.parametrize(
    ("args", "kwargs", "header"),
    [
        (("form-data",), {"name": "a"}, 'form-data; name="a"'),
        (("form-data",), {"name": 'say "hi"'}, 'form-data; name="say \\"hi\\""'),
        (("form-data",), {"name": "zoé"}, "form-data; name*=utf-8''zo%C3%A9"),
        (("attachment",), {"filename": "my song.mp3"}, 'attachment; filename="my%20song.mp3"'),
        (("attachment", False), {"filename": 'é "x"'}, 'attachment; filename="é \\"x\\""'),
        (("inline",), {}, "inline"),
    ],
)
def test_set_content_disposition_quoting(args: tuple[Any, ...], kwargs: dict[str, str], header: str) -> None:
    part = MultipartWriter().append(b"x")
    part.set_content_disposition(*args, **kwargs)
    assert part.headers["Content-Disposition"] == header


@pytest.mark.parametrize(("disptype", "params"), [("bad type", {}), ("form-data", {"bad key": "x"})])
def test_set_content_disposition_rejects_non_tokens(disptype: str, params: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="content disposition"):
        MultipartWriter().append(b"x").set_content_disposition(disptype, **params)


def test_append_gives_aiohttps_default_headers(tmp_path: Any) -> None:
    song = tmp_path / "song.mp3"
    song.write_bytes(b"\xff\xfb" * 100)
    writer = MultipartWriter("mixed")
    with open(song, "rb") as f:
        f.read(10)  # a file part starts where the file stands
        parts = [
            writer.append(b"raw"),
            writer.append("é"),
            writer.append("é", {"Content-Type": "text/plain; charset=latin-1"}),
            writer.append(f),
            writer.append_json({"a": [1, 2]}),
            writer.append_form([("q", "a b"), ("q", "c")]),
            writer.append_form({"k": ["1", "2"]}),
        ]
        assert [p.content_type for p in parts] == [
            "application/octet-stream",
            "text/plain; charset=utf-8",
            "text/plain; charset=latin-1",
            "audio/mpeg",
            "application/json",
            "application/x-www-form-urlencoded",
            "application/x-www-form-urlencoded",
        ]
        assert [p.headers["Content-Length"] for p in parts] == ["3", "2", "1", "190", "13", "9", "7"]
        assert parts[3].filename == "song.mp3"
        assert parts[3].headers["Content-Disposition"] == 'attachment; filename="song.mp3"'
        assert [p.decode("latin-1") for p in parts[4:]] == ['{"a": [1, 2]}', "q=a+b&q=c", "k=1&k=2"]
        assert parts[2].decode("latin-1") == "é"
        data = writer.render()
        assert writer.render() == data  # files are re-read from their start
        assert writer.size == len(data)
    assert len(writer) == 7 and bool(MultipartWriter())
    assert [(p, e, te) for p, e, te in writer] == [(p, None, None) for p in parts]


def test_append_rejects_other_objects() -> None:
    writer = MultipartWriter()
    with pytest.raises(TypeError, match="int"):
        writer.append(42)
    with pytest.raises(TypeError, match="mapping"):
        writer.append_form("a=b")  # type: ignore[arg-type]


def test_form_data_parts_get_names_and_refuse_encodings() -> None:
    writer = MultipartWriter("form-data")
    first = writer.append(b"a")
    named = writer.append("b")
    named.set_content_disposition("form-data", name="b")
    assert first.headers["Content-Disposition"] == 'form-data; name="section-0"'
    assert "Content-Length" not in first.headers  # RFC 7578 4.8
    for header in ("Content-Encoding", "Content-Length", "Content-Transfer-Encoding"):
        with pytest.raises(ValueError, match=header):
            writer.append(b"x", {header: "gzip"})
    writer.append(b"c").set_content_disposition("attachment")
    with pytest.raises(ValueError, match="name"):
        writer.render()


@pytest.mark.parametrize(("header", "value"), [("Content-Encoding", "br"), ("Content-Transfer-Encoding", "uu")])
def test_unknown_part_encodings_raise(header: str, value: str) -> None:
    with pytest.raises(ValueError, match=header):
        MultipartWriter().append(b"x", {header: value})


def test_header_injection_is_refused() -> None:
    writer = MultipartWriter()
    writer.append(b"x", {"X-Evil": "a\r\nInjected: 1"})
    with pytest.raises(ValueError, match="newline"):
        writer.render()


@pytest.mark.parametrize(
    "headers",
    [
        {"Content-Encoding": "gzip"},
        {"Content-Encoding": "deflate"},
        {"Content-Transfer-Encoding": "base64"},
        {"Content-Transfer-Encoding": "quoted-printable"},
        {"Content-Encoding": "gzip", "Content-Transfer-Encoding": "base64"},
        {"Content-Encoding": "identity", "Content-Transfer-Encoding": "binary"},
    ],
)
async def test_encoded_parts_round_trip(headers: dict[str, str]) -> None:
    payload = ("caf\xe9 " * 5000).encode("latin-1") + os.urandom(70_000)
    writer = MultipartWriter("mixed")
    writer.append(io.BytesIO(payload), headers)
    plain = "identity" in headers.values()
    assert writer.size == (len(writer.render()) if plain else None)
    collector = Collector()
    await writer.write(collector)
    data = b"".join(collector.chunks)
    assert data == writer.render()
    reader = MultipartReader(writer.headers, Chunked(data, 4096))
    part = await reader.next()
    assert isinstance(part, BodyPartReader)
    assert await part.read(decode=True) == payload
    assert await reader.next() is None


async def test_write_without_close_boundary() -> None:
    writer = MultipartWriter(boundary="B")
    writer.append(b"x")
    collector = Collector()
    await writer.write(collector, close_boundary=False)
    data = b"".join(collector.chunks)
    assert data.startswith(b"--B\r\n") and data.endswith(b"\r\nx\r\n")
    assert data + b"--B--\r\n" == writer.render()


async def test_nested_writers_round_trip_and_measure() -> None:
    outer = MultipartWriter("mixed", boundary="outer")
    inner = MultipartWriter("related", boundary="inner")
    inner.append("one")
    inner.append_json([1])
    assert outer.append(inner, {"X-Nested": "yes"}) is inner
    outer.append(b"after")
    data = outer.render()
    assert outer.size == len(data)
    assert inner.headers["Content-Length"] == str(inner.size)
    parts: list[Any] = [part async for part in MultipartReader(outer.headers, Chunked(data, 7))]
    assert isinstance(parts[0], MultipartReader)
    assert parts[0].headers["X-Nested"] == "yes"


def _email_parts(content_type: str, data: bytes) -> list[Any]:
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + data
    )
    assert message.is_multipart() and not message.defects
    return list(message.iter_parts())  # type: ignore[attr-defined]


def test_email_parser_reads_the_writer() -> None:
    writer = MultipartWriter("form-data")
    writer.append("zoé").set_content_disposition("form-data", name="who")
    writer.append(b"\x00\x01\xff").set_content_disposition("form-data", name="f", filename="a.bin")
    parts = _email_parts(writer.content_type, writer.render())
    assert [p.get_param("name", header="content-disposition") for p in parts] == ["who", "f"]
    assert parts[0].get_content() == "zoé"
    assert parts[1].get_filename() == "a.bin"
    assert parts[1].get_payload(decode=True) == b"\x00\x01\xff"


async def test_writer_as_response_body_over_a_socket(aioweb_client: Any, tmp_path: Any) -> None:
    report = tmp_path / "report.pdf"
    report.write_bytes(os.urandom(100_000))

    async def handler(request: web.Request) -> web.Response:
        writer = MultipartWriter("mixed")
        writer.append("hello")
        writer.append_json({"ok": True})
        writer.append_form({"a": "1"})
        nested = MultipartWriter("alternative")
        nested.append("plain")
        nested.append("<p>html</p>", {"Content-Type": "text/html"})
        with open(report, "rb") as f:
            writer.append(f)
            writer.append(nested)
            resp = web.Response(body=writer)  # rendered here: the file may close after
        assert resp.content_type == "multipart/mixed"
        return resp

    client = await aioweb_client(_app(handler))
    resp = await client.get("/")
    assert resp.status == 200
    data = await resp.read()
    ctype = resp.headers["Content-Type"]
    assert ctype.startswith("multipart/mixed; boundary=")
    assert resp.headers["Content-Length"] == str(len(data))
    texts: list[str] = []
    inner: list[str] = []
    files: list[tuple[str, bytes]] = []
    async for part in MultipartReader(resp.headers, Chunked(data, 65536)):
        if isinstance(part, MultipartReader):
            inner = [await p.text() async for p in part]  # type: ignore[union-attr]
        elif part.filename:
            files.append((part.filename, bytes(await part.read())))
        else:
            texts.append(await part.text())
    assert texts == ["hello", '{"ok": true}', "a=1"]
    assert inner == ["plain", "<p>html</p>"]
    assert files == [("report.pdf", report.read_bytes())]
    email_parts = _email_parts(ctype, data)
    assert email_parts[3].get_filename() == "report.pdf"
    assert email_parts[4].get_content_type() == "multipart/alternative"


def _app(handler: Any) -> web.Application:
    app = web.Application()
    app.router.add_get("/", handler)
    return app


async def test_writer_streams_into_a_stream_response(aioweb_client: Any) -> None:
    writer = MultipartWriter("mixed", boundary="s")
    writer.append(b"x" * 200_000)

    async def handler(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": writer.content_type})
        await resp.prepare(request)
        await writer.write(resp)
        return resp

    client = await aioweb_client(_app(handler))
    resp = await client.get("/")
    assert await resp.read() == writer.render()


def test_response_keeps_its_own_content_type() -> None:
    writer = MultipartWriter("mixed", boundary="b")
    resp = web.Response(body=writer, headers={"Content-Type": "multipart/related; boundary=b"})
    assert resp.headers["Content-Type"] == "multipart/related; boundary=b"
    assert resp.body == b"--b--\r\n"
    assert resp.content_length == 7


# -- forms over real sockets --


async def store_mp3_handler(request: web.Request) -> web.Response:
    """The seed's File Uploads example (its header slip read as intended)."""
    data = await request.post()
    mp3 = data["mp3"]
    filename = mp3.filename
    mp3_file = data["mp3"].file
    content = mp3_file.read()
    return web.Response(
        body=content,
        headers=MultiDict({"CONTENT-DISPOSITION": f'attachment; filename="{filename}"'}),
    )


@pytest.mark.parametrize("size", [10, 300 * 1024])  # in memory, and spilled to disk
async def test_seed_file_upload(aioweb_client: Any, size: int) -> None:
    app = web.Application(client_max_size=4 * 1024 * 1024)
    app.router.add_route("POST", "/store/mp3", store_mp3_handler)
    client = await aioweb_client(app)
    payload = os.urandom(size)
    resp = await client.post("/store/mp3", files={"mp3": ("song.mp3", payload, "audio/mpeg")})
    assert resp.status == 200
    assert await resp.read() == payload
    assert resp.headers["Content-Disposition"] == 'attachment; filename="song.mp3"'


async def test_form_fields_and_files(aioweb_client: Any) -> None:
    seen: dict[str, Any] = {}

    async def handler(request: web.Request) -> web.Response:
        data = await request.post()
        upload = data["up"]
        assert isinstance(upload, web.FileField)
        seen.update(
            name=data["name"],
            tags=data.getall("tag"),
            filename=upload.filename,
            ctype=upload.content_type,
            content=upload.file.read(),
            header=upload.headers["Content-Disposition"],
        )
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/", handler)
    client = await aioweb_client(app)
    resp = await client.post(
        "/",
        data={"name": "zoé", "tag": "x"},
        files={"up": ("r.txt", b"report", "text/plain")},
    )
    assert resp.status == 200
    assert seen["name"] == "zoé" and seen["tags"] == ["x"]
    assert seen["filename"] == "r.txt" and seen["ctype"] == "text/plain"
    assert seen["content"] == b"report"
    assert 'filename="r.txt"' in seen["header"]


async def test_form_over_client_max_size_is_413(aioweb_client: Any) -> None:
    async def handler(request: web.Request) -> web.Response:
        await request.post()
        return web.Response(text="unreachable")

    app = web.Application(client_max_size=1024)
    app.router.add_post("/", handler)
    client = await aioweb_client(app)
    resp = await client.post("/", files={"f": ("a", b"x" * 5000)})
    assert resp.status == 413


async def test_form_over_limit_without_length_is_413(aioweb_server: Any, raw_connect: Any) -> None:
    async def handler(request: web.Request) -> web.Response:
        await request.post()
        return web.Response(text="unreachable")

    app = web.Application(client_max_size=1024)
    app.router.add_post("/", handler)
    server = await aioweb_server(app)
    conn = await raw_connect(server.port)
    data = body(('Content-Disposition: form-data; name="f"; filename="a"', b"x" * 5000))
    chunk = b"%x\r\n%b\r\n0\r\n\r\n" % (len(data), data)
    await conn.send(
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
        b"Content-Type: multipart/form-data; boundary=XyZ\r\n\r\n" + chunk
    )
    status, _headers, _body = await conn.read_response()
    assert status.startswith(b"HTTP/1.1 413")


@pytest.mark.parametrize(
    "ctype, data",
    [
        ("multipart/form-data", b"--XyZ\r\n\r\nx\r\n--XyZ--\r\n"),
        ("multipart/form-data; boundary=XyZ", b"--XyZ\r\nContent-Disposition: form-data; name=a\r\n\r\ntruncated"),
        ("multipart/form-data; boundary=XyZ", b"--XyZ\r\nbad header\r\n\r\nx\r\n--XyZ--\r\n"),
        ("multipart/form-data; boundary=XyZ", b"--XyZ\r\nContent-Type: text/plain\r\n\r\nno name\r\n--XyZ--\r\n"),
    ],
)
async def test_malformed_form_is_400(aioweb_server: Any, raw_connect: Any, ctype: str, data: bytes) -> None:
    async def handler(request: web.Request) -> web.Response:
        await request.post()
        return web.Response(text="unreachable")

    app = web.Application()
    app.router.add_post("/", handler)
    server = await aioweb_server(app)
    conn = await raw_connect(server.port)
    await conn.send(
        f"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: {ctype}\r\n"
        f"Content-Length: {len(data)}\r\n\r\n".encode() + data
    )
    status, _headers, text = await conn.read_response()
    assert status.startswith(b"HTTP/1.1 400"), text


async def test_request_content_readable_with_multipart_reader(aioweb_client: Any) -> None:
    async def handler(request: web.Request) -> web.Response:
        reader = MultipartReader(request.headers, request.content)
        out = []
        async for part in reader:
            assert isinstance(part, BodyPartReader)
            out.append([part.name, part.filename, len(await part.read())])
        return web.json_response(out)

    app = web.Application()
    app.router.add_post("/", handler)
    client = await aioweb_client(app)
    resp = await client.post("/", data={"a": "1"}, files={"f": ("n.bin", b"z" * 100_000)})
    assert json.loads(await resp.read()) == [["a", None, 1], ["f", "n.bin", 100_000]]


def test_headers_mapping_accepted() -> None:
    MultipartReader(CIMultiDict(CT), Chunked(b"", 1))


async def test_request_multipart_streams_parts_over_socket(aioweb_client) -> None:
    from aioweb import web

    async def handler(request: web.Request) -> web.Response:
        reader = await request.multipart()
        seen = []
        async for part in reader:
            seen.append(f"{part.name}={len(await part.read())}")
        return web.Response(text=",".join(seen))

    app = web.Application()
    app.router.add_post("/up", handler)
    client = await aioweb_client(app)
    resp = await client.post(
        "/up", data={"a": "xyz"}, files={"f": ("f.bin", b"\0" * 5000, "application/octet-stream")}
    )
    assert resp.status == 200
    assert await resp.text() == "a=3,f=5000"
