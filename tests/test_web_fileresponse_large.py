"""Large transfers: a 1 GiB file, ranges past 4 GiB, a 200 MiB upload under a memory bound.

The files are sparse (``truncate``), so they cost no disk: zeros with a few
markers written at known offsets, and every body byte is compared with what
the file must hold there. Clients run in a thread with blocking sockets, so
the server's loop (asyncio or uvloop) has the event loop to itself.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import select
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aioweb import _file_io, web
from aioweb.test_utils import TestServer, unused_port

GIB = 1 << 30
BLOCK = 4 << 20
ZEROS = bytes(BLOCK)
MARKERS = {0: b"START", 4095: b"page-edge", GIB // 2 + 12345: b"middle", GIB - 7: b"THE-END"}
HUGE = 5 * GIB + 3
HUGE_MARKERS = {
    2**31 - 3: b"around-2^31",
    2**32 - 2: b"around-2^32",
    HUGE - (64 << 20): b"64-MiB-before-the-end",
    HUGE - 9: b"last-nine",
}


class Content:
    """What a sparse file holds: zeros, and ``markers`` at their offsets."""

    def __init__(self, size: int, markers: dict[int, bytes]) -> None:
        self.size = size
        self.markers = markers

    def block(self, start: int, n: int) -> bytes:
        """The bytes at ``start:start + n``."""
        hits = [(o, m) for o, m in self.markers.items() if o < start + n and o + len(m) > start]
        if not hits and n == BLOCK:
            return ZEROS
        buf = bytearray(n)
        for offset, marker in hits:
            lo, hi = max(offset, start), min(offset + len(marker), start + n)
            buf[lo - start : hi - start] = marker[lo - offset : hi - offset]
        return bytes(buf)


def make_sparse(path: Path, content: Content) -> Path:
    with open(path, "wb") as f:
        f.truncate(content.size)
        for offset, marker in content.markers.items():
            os.pwrite(f.fileno(), marker, offset)
    if os.stat(path).st_blocks * 512 > 64 << 20:
        path.unlink()
        pytest.skip("the temporary file system does not keep files sparse")
    return path


@pytest.fixture(scope="module")
def sparse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, tuple[Path, Content]]]:
    where = tmp_path_factory.mktemp("sparse")
    gib, huge = Content(GIB, MARKERS), Content(HUGE, HUGE_MARKERS)
    files = {"gib": (make_sparse(where / "gib.bin", gib), gib), "huge": (make_sparse(where / "huge.bin", huge), huge)}
    yield files
    for path, _ in files.values():
        path.unlink()


class Client:
    """A blocking HTTP/1.1 client for one keep-alive connection (runs in a thread)."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.pending = bytearray()

    def request(self, target: str, method: str = "GET", **headers: str) -> tuple[int, dict[str, str]]:
        lines = "".join(f"{k.replace('_', '-')}: {v}\r\n" for k, v in headers.items())
        self.sock.sendall(f"{method} {target} HTTP/1.1\r\nHost: x\r\n{lines}\r\n".encode())
        while b"\r\n\r\n" not in self.pending:
            data = self.sock.recv(65536)
            if not data:
                raise EOFError("connection closed before the head")
            self.pending += data
        head, _, rest = bytes(self.pending).partition(b"\r\n\r\n")
        self.pending = bytearray(rest)
        status, *fields = head.decode("latin-1").split("\r\n")
        parsed = {}
        for field in fields:
            name, _, value = field.partition(":")
            parsed[name.strip().lower()] = value.strip()
        return int(status.split()[1]), parsed

    def read_into(self, view: memoryview) -> None:
        got = min(len(self.pending), len(view))
        view[:got] = self.pending[:got]
        del self.pending[:got]
        while got < len(view):
            k = self.sock.recv_into(view[got:])
            if not k:
                raise EOFError(f"connection closed {len(view) - got} bytes early")
            got += k

    def read(self, n: int) -> bytes:
        buf = bytearray(n)
        self.read_into(memoryview(buf))
        return bytes(buf)

    def check_body(self, length: int, content: Content, start: int) -> None:
        """Read ``length`` body bytes and compare each with the file's at ``start``."""
        buf = bytearray(BLOCK)
        view = memoryview(buf)
        pos = 0
        while pos < length:
            n = min(BLOCK, length - pos)
            self.read_into(view[:n])
            got = buf if n == BLOCK else buf[:n]
            assert got == content.block(start + pos, n), f"wrong bytes in {start + pos}..{start + pos + n}"
            pos += n

    def close(self) -> None:
        self.sock.close()


def serve(path: Path, loop_name: str, check: Any) -> None:
    """Serve ``path`` at /f on the named loop and run ``check(port)`` in a thread."""

    async def handler(request: web.Request) -> web.StreamResponse:
        return web.FileResponse(path)

    async def main() -> None:
        app = web.Application()
        app.router.add_get("/f", handler)
        async with TestServer(app) as server:
            await asyncio.to_thread(check, server.port)

    factory = None
    if loop_name == "uvloop":
        factory = pytest.importorskip("uvloop").new_event_loop
    with asyncio.Runner(loop_factory=factory) as runner:
        runner.run(main())


@pytest.mark.parametrize(("loop_name", "nosendfile"), [("asyncio", False), ("uvloop", False), ("uvloop", True)])
def test_gib_file_byte_for_byte(
    sparse: dict[str, tuple[Path, Content]], monkeypatch: pytest.MonkeyPatch, loop_name: str, nosendfile: bool
) -> None:
    monkeypatch.setattr(_file_io, "NOSENDFILE", nosendfile)
    path, content = sparse["gib"]

    def check(port: int) -> None:
        client = Client(port)
        try:
            status, headers = client.request("/f")
            assert status == 200 and int(headers["content-length"]) == GIB
            client.check_body(GIB, content, 0)
            etag, modified = headers["etag"], headers["last-modified"]
            assert client.request("/f", If_None_Match=etag)[0] == 304
            assert client.request("/f", If_Modified_Since=modified)[0] == 304
            status, headers = client.request("/f", If_Match='"stale"')
            assert status == 412 and client.read(int(headers.get("content-length", 0))) == b""
            status, headers = client.request("/f", Range="bytes=-20", If_Range=etag)
            assert status == 206 and headers["content-range"] == f"bytes {GIB - 20}-{GIB - 1}/{GIB}"
            client.check_body(20, content, GIB - 20)
            status, headers = client.request("/f", "HEAD")
            assert status == 200 and headers["content-length"] == str(GIB)
        finally:
            client.close()

    serve(path, loop_name, check)


@pytest.mark.parametrize("loop_name", ["asyncio", "uvloop"])
def test_ranges_past_4_gib(sparse: dict[str, tuple[Path, Content]], loop_name: str) -> None:
    path, content = sparse["huge"]
    singles = [(2**31 - 10, 2**31 + 20), (2**32 - 5, 2**32 + 5), (HUGE - 9, HUGE), (HUGE - (64 << 20), HUGE)]

    def check(port: int) -> None:
        client = Client(port)
        try:
            for start, end in singles:
                status, headers = client.request("/f", Range=f"bytes={start}-{end - 1}")
                assert status == 206
                assert headers["content-range"] == f"bytes {start}-{end - 1}/{HUGE}"
                client.check_body(end - start, content, start)
            status, headers = client.request("/f", Range=f"bytes=2147483640-2147483650,{2**32 - 2}-{2**32 + 20},-9")
            assert status == 206
            boundary = headers["content-type"].split("boundary=")[1].encode()
            body = client.read(int(headers["content-length"]))
            parts = [chunk.partition(b"\r\n\r\n") for chunk in body.split(b"--" + boundary)[1:-1]]
            for (head, _, payload), (start, end) in zip(parts, [(2147483640, 2147483651), (2**32 - 2, 2**32 + 21), (HUGE - 9, HUGE)], strict=True):
                assert f"Content-Range: bytes {start}-{end - 1}/{HUGE}".encode() in head
                assert payload[:-2] == content.block(start, end - start)
            etag = client.request("/f", "HEAD")[1]["etag"]
            assert client.request("/f", If_None_Match=etag, Range="bytes=0-0")[0] == 304
            status, headers = client.request("/f", If_Unmodified_Since="Thu, 01 Jan 1970 00:00:00 GMT")
            assert status == 412
        finally:
            client.close()

    serve(path, loop_name, check)


# -- a streamed upload, with the server's memory measured from outside --

UPLOAD_SERVER = textwrap.dedent(
    """
    import hashlib, sys
    from aioweb import web

    PORT, TARGET = int(sys.argv[1]), sys.argv[2]

    async def store(chunks):
        digest, size = hashlib.sha256(), 0
        with open(TARGET, "wb") as f:
            async for chunk in chunks:
                f.write(chunk)
                digest.update(chunk)
                size += len(chunk)
        return web.json_response({"size": size, "sha256": digest.hexdigest()})

    async def content(request):
        return await store(request.content.iter_chunked(256 * 1024))

    async def multipart(request):
        reader = await request.multipart()
        part = await reader.next()

        async def chunks():
            while chunk := await part.read_chunk(256 * 1024):
                yield chunk
        return await store(chunks())

    async def ping(request):
        return web.Response(text="pong")

    app = web.Application()
    app.router.add_post("/content", content)
    app.router.add_post("/multipart", multipart)
    app.router.add_get("/ping", ping)
    web.run_app(app, host="127.0.0.1", port=PORT, print=lambda *a: print(*a, flush=True))
    """
)
UPLOAD_SIZE = 200 << 20
MIB = 1 << 20


def memory(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of ``pid``, in bytes."""
    values = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                values[name] = int(value.split()[0]) * 1024
    return values


def upload(port: int, target: str, body_parts: list[bytes], blocks: int, block: bytes, headers: str) -> dict[str, Any]:
    """POST ``body_parts[0] + blocks x block (varied) + body_parts[1]``; the JSON answer."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=60)
    try:
        length = len(body_parts[0]) + blocks * len(block) + len(body_parts[1])
        sock.sendall(f"POST {target} HTTP/1.1\r\nHost: x\r\n{headers}Content-Length: {length}\r\n\r\n".encode() + body_parts[0])
        view = bytearray(block)
        for i in range(blocks):
            view[:8] = i.to_bytes(8, "big")
            sock.sendall(view)
        sock.sendall(body_parts[1])
        sock.shutdown(socket.SHUT_WR)
        raw = b""
        while chunk := sock.recv(65536):
            raw += chunk
    finally:
        sock.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head
    return dict(json.loads(body))


def expected_sha256(blocks: int, block: bytes) -> str:
    digest = hashlib.sha256()
    view = bytearray(block)
    for i in range(blocks):
        view[:8] = i.to_bytes(8, "big")
        digest.update(view)
    return digest.hexdigest()


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="needs /proc/<pid>/status")
def test_200_mib_upload_keeps_server_memory_flat(tmp_path: Path) -> None:
    script = tmp_path / "upload_server.py"
    script.write_text(UPLOAD_SERVER)
    target = tmp_path / "stored.bin"
    port = unused_port()
    proc = subprocess.Popen(
        [sys.executable, "-u", str(script), str(port), str(target)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], 15)
        assert ready and "Running on" in proc.stdout.readline()
        warm = Client(port)  # the first request imports what requests need
        assert warm.request("/ping")[0] == 200
        warm.close()
        baseline = memory(proc.pid)["VmRSS"]
        block = os.urandom(MIB)
        blocks = UPLOAD_SIZE // MIB
        want = expected_sha256(blocks, block)
        answer = upload(port, "/content", [b"", b""], blocks, block, "")
        assert answer == {"size": UPLOAD_SIZE, "sha256": want}
        boundary = "aioweb-upload-boundary"
        parts = [
            f'--{boundary}\r\nContent-Disposition: form-data; name="f"; filename="f.bin"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n".encode(),
            f"\r\n--{boundary}--\r\n".encode(),
        ]
        content_type = f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
        answer = upload(port, "/multipart", parts, blocks, block, content_type)
        assert answer == {"size": UPLOAD_SIZE, "sha256": want}
        grown = memory(proc.pid)["VmHWM"] - baseline
        assert grown < 50 * MIB, f"server RSS peaked {grown / MIB:.1f} MiB above its idle size"
    finally:
        proc.terminate()
        try:
            proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
        target.unlink(missing_ok=True)

