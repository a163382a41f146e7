"""Static directories: serving, index pages, url_for, and path confinement."""

from __future__ import annotations

import asyncio
import gc
import gzip
import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from aioweb import web

SECRET = b"TOP-SECRET-6f1c2b"


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """``tmp/secret.txt`` (with ``.gz``/``.br`` siblings) beside the static root ``tmp/static``."""
    for name in ("secret.txt", "secret.txt.gz", "secret.txt.br"):
        (tmp_path / name).write_bytes(SECRET)
    root = tmp_path / "static"
    (root / "sub").mkdir(parents=True)
    (root / "a.txt").write_bytes(b"hello")
    os.symlink(tmp_path / "secret.txt.gz", root / "a.txt.gz")  # a sibling leading out
    (root / "sub" / "b.css").write_bytes(b"body{}")
    (root / "sub" / "b.css.gz").write_bytes(gzip.compress(b"body{}"))
    (root / "<odd> & name.txt").write_bytes(b"odd")
    os.symlink(tmp_path / "secret.txt", root / "link_out")
    os.symlink(tmp_path, root / "dirlink")
    os.symlink(root / "a.txt", root / "link_in")
    # A directory whose name starts with the root's: a link into it leads out.
    (tmp_path / "static-private").mkdir()
    (tmp_path / "static-private" / "secret.txt").write_bytes(SECRET)
    os.symlink(tmp_path / "static-private" / "secret.txt", root / "prefix_twin")
    return tmp_path


def static_app(root: Path, **kwargs: Any) -> web.Application:
    app = web.Application()
    app.router.add_static("/static", root, name="static", **kwargs)
    return app


async def test_serves_files_and_head(aioweb_client: Any, tree: Path) -> None:
    client = await aioweb_client(static_app(tree / "static"))
    resp = await client.get("/static/a.txt")
    assert resp.status == 200
    assert await resp.read() == b"hello"
    resp = await client.get("/static/sub/b.css")
    assert resp.headers["Content-Type"].startswith("text/css")
    resp = await client.head("/static/a.txt")
    assert resp.status == 200 and resp.headers["Content-Length"] == "5"
    assert (await client.get("/static/%3Codd%3E%20%26%20name.txt")).status == 200


async def test_symlink_inside_root_is_served(aioweb_client: Any, tree: Path) -> None:
    client = await aioweb_client(static_app(tree / "static"))
    assert await (await client.get("/static/link_in")).read() == b"hello"


async def test_methods_other_than_get_head_are_405(aioweb_client: Any, tree: Path) -> None:
    client = await aioweb_client(static_app(tree / "static"))
    resp = await client.post("/static/a.txt")
    assert resp.status == 405
    assert set(resp.headers["Allow"].split(",")) == {"GET", "HEAD"}


async def test_directory_without_index_is_403(aioweb_client: Any, tree: Path) -> None:
    client = await aioweb_client(static_app(tree / "static"))
    assert (await client.get("/static/sub")).status == 403
    assert (await client.get("/static/")).status == 403
    assert (await client.get("/static/missing.txt")).status == 404


async def test_index_page_escapes_names(aioweb_client: Any, tree: Path) -> None:
    client = await aioweb_client(static_app(tree / "static", show_index=True))
    resp = await client.get("/static/")
    assert resp.status == 200
    text = (await resp.read()).decode()
    assert resp.headers["Content-Type"].startswith("text/html")
    assert "&lt;odd&gt; &amp; name.txt" in text
    assert "<odd>" not in text
    assert 'href="/static/%3Codd%3E%20%26%20name.txt"' in text
    assert 'href="/static/sub/"' in text
    sub = await (await client.get("/static/sub")).read()
    assert b'href="/static/sub/b.css"' in sub


async def test_follow_symlinks_allows_links_out(aioweb_client: Any, tree: Path) -> None:
    client = await aioweb_client(static_app(tree / "static", follow_symlinks=True))
    assert await (await client.get("/static/link_out")).read() == SECRET
    resp = await client.get("/static/..%2fsecret.txt")  # still no '..'
    assert resp.status in (403, 404)


def test_url_for_and_append_version(tree: Path) -> None:
    app = static_app(tree / "static")
    resource = app.router["static"]
    assert str(resource.url_for(filename="sub/b.css")) == "/static/sub/b.css"
    assert str(resource.url_for(filename="a b.txt")) == "/static/a%20b.txt"
    versioned = resource.url_for(filename="a.txt", append_version=True)
    assert versioned.path == "/static/a.txt"
    assert len(versioned.query["v"]) == 44
    assert resource.url(parts={"filename": "a.txt"}) == "/static/a.txt"
    # Unknown or escaping names get no version rather than an error.
    assert "v" not in resource.url_for(filename="missing", append_version=True).query
    assert "v" not in resource.url_for(filename="../secret.txt", append_version=True).query
    default_on = static_app(tree / "static", append_version=True).router["static"]
    assert "v" in default_on.url_for(filename="a.txt").query


def test_bad_directory_raises_value_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        web.Application().router.add_static("/s", tmp_path / "missing")
    (tmp_path / "f").write_bytes(b"")
    with pytest.raises(ValueError):
        web.Application().router.add_static("/s", tmp_path / "f")


def traversal_targets(secret: Path) -> list[bytes]:
    abs_secret = str(secret).encode()
    return [
        b"/static/../secret.txt",
        b"/static/./../secret.txt",
        b"/static/sub/../../secret.txt",
        b"/static/a.txt/../../secret.txt",
        b"/static/..%2fsecret.txt",
        b"/static/..%2Fsecret.txt",
        b"/static/%2e%2e/secret.txt",
        b"/static/%2E%2E%2Fsecret.txt",
        b"/static/.%2e/secret.txt",
        b"/static/%2e./secret.txt",
        b"/static/sub/%2e%2e%2f%2e%2e%2fsecret.txt",
        b"/static/..%5csecret.txt",
        b"/static/%5c..%5csecret.txt",
        b"/static/..%252fsecret.txt",
        b"/static/%c0%ae%c0%ae/secret.txt",
        b"/static/..;/secret.txt",
        b"/static/" + abs_secret,
        b"/static/%2f" + abs_secret.lstrip(b"/"),
        b"/static/%00../secret.txt",
        b"/static/a.txt%00/../../secret.txt",
        b"/static/link_out",
        b"/static/prefix_twin",
        b"/static/../static-private/secret.txt",
        b"/static/dirlink/secret.txt",
        b"/static/dirlink/static/../secret.txt",
        b"/static/" + b"x" * 4000,
        b"/static/a.txt/x",
        b"/static/sub/..%2f..%2f..%2f..%2f..%2f..%2fetc/passwd",
        b"http://x/static/../secret.txt",
        b"/static/%2e%2e%5csecret.txt",
        # names of pre-compressed siblings
        b"/static/a.txt.gz",
        b"/static/../secret.txt.gz",
        b"/static/%2e%2e/secret.txt.br",
        b"/static/dirlink/secret.txt.gz",
        b"/static/link_out.gz",
    ]


@pytest.mark.parametrize("accept", [b"", b"Accept-Encoding: gzip, br\r\n"])
async def test_traversal_table(aioweb_server: Any, raw_connect: Any, tree: Path, accept: bytes) -> None:
    server = await aioweb_server(static_app(tree / "static"))
    targets = traversal_targets(tree / "secret.txt")
    assert len(targets) >= 20
    control = await raw_connect(server.port)
    await control.send(b"GET /static/a.txt HTTP/1.1\r\nHost: x\r\n\r\n")
    status, _headers, body = await control.read_response()
    assert status.startswith(b"HTTP/1.1 200") and body == b"hello"
    for target in targets:
        conn = await raw_connect(server.port)
        await conn.send(b"GET " + target + b" HTTP/1.1\r\nHost: x\r\n" + accept + b"Connection: close\r\n\r\n")
        raw = await conn.read_until_closed()
        status = raw.split(b"\r\n", 1)[0]
        assert SECRET not in raw, target
        assert status.split(b" ")[1] in (b"403", b"404"), (target, status)
        conn.close()


async def test_unreadable_file_is_403_or_404_never_500(aioweb_client: Any, tree: Path) -> None:
    locked = tree / "static" / "locked"
    locked.mkdir()
    (locked / "f.txt").write_bytes(b"x")
    locked.chmod(0)
    try:
        client = await aioweb_client(static_app(tree / "static"))
        resp = await client.get("/static/locked/f.txt")
        # root ignores permissions and reads it; anyone else gets 403.
        assert resp.status in (200, 403, 404)
    finally:
        locked.chmod(0o755)


async def test_prefix_root_and_other_routes_coexist(aioweb_client: Any, tree: Path) -> None:
    async def hello(request: web.Request) -> web.Response:
        return web.Response(text="hi")

    app = web.Application()
    app.router.add_get("/hello", hello)
    app.router.add_static("/", tree / "static")
    client = await aioweb_client(app)
    assert await (await client.get("/a.txt")).read() == b"hello"
    assert await (await client.get("/hello")).read() == b"hi"


async def test_siblings_served_only_from_inside_the_root(aioweb_server: Any, raw_connect: Any, tree: Path) -> None:
    server = await aioweb_server(static_app(tree / "static"))
    conn = await raw_connect(server.port)
    await conn.send(b"GET /static/sub/b.css HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n")
    status, headers, body = await conn.read_response()
    assert status.startswith(b"HTTP/1.1 200") and gzip.decompress(body) == b"body{}"
    assert headers["content-encoding"] == "gzip" and headers["content-type"].startswith("text/css")
    assert headers["vary"] == "Accept-Encoding"
    # a.txt.gz is a symlink to a file outside: the plain file is sent instead.
    await conn.send(b"GET /static/a.txt HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n")
    status, headers, body = await conn.read_response()
    assert status.startswith(b"HTTP/1.1 200") and body == b"hello"
    assert "content-encoding" not in headers


async def test_directory_swapped_for_symlink_never_leaks(aioweb_server: Any, raw_connect: Any, tree: Path) -> None:
    """A directory inside the root flips to a symlink leading out while requests run."""
    root = tree / "static"
    real, parked = root / "flip", root / "flip.parked"
    real.mkdir()
    (real / "x.txt").write_bytes(b"inside")
    (tree / "outside").mkdir()
    (tree / "outside" / "x.txt").write_bytes(SECRET)
    stop = threading.Event()

    def flipper() -> None:
        while not stop.is_set():
            os.rename(real, parked)
            os.symlink(tree / "outside", real)
            os.unlink(real)
            os.rename(parked, real)

    server = await aioweb_server(static_app(root))
    conn = await raw_connect(server.port)
    thread = threading.Thread(target=flipper)
    thread.start()
    statuses: set[bytes] = set()
    try:
        deadline = time.monotonic() + 0.6
        while time.monotonic() < deadline:
            await conn.send(b"GET /static/flip/x.txt HTTP/1.1\r\nHost: x\r\n\r\n")
            status, _headers, body = await conn.read_response()
            assert SECRET not in body
            statuses.add(status.split(b" ")[1])
    finally:
        stop.set()
        thread.join()
    assert statuses <= {b"200", b"403", b"404"}


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc/self/fd")
async def test_file_response_dropped_unsent_closes_its_file(aioweb_client: Any, tree: Path) -> None:
    @web.middleware
    async def replace(request: web.Request, handler: Any) -> web.StreamResponse:
        await handler(request)
        return web.Response(text="replaced")

    app = static_app(tree / "static")
    app.middlewares.append(replace)
    client = await aioweb_client(app)
    assert await (await client.get("/static/a.txt")).read() == b"replaced"
    before = len(os.listdir("/proc/self/fd"))
    for _ in range(20):
        assert await (await client.get("/static/sub/b.css")).read() == b"replaced"
    gc.collect()
    await asyncio.sleep(0)
    assert len(os.listdir("/proc/self/fd")) <= before


@pytest.mark.parametrize(
    ("real", "root", "inside"),
    [
        ("/srv/www", "/srv/www", True),
        ("/srv/www/a.txt", "/srv/www", True),
        ("/srv/www/sub/b.css", "/srv/www", True),
        ("/srv/www-private/secret", "/srv/www", False),
        ("/srv/wwwx", "/srv/www", False),
        ("/srv", "/srv/www", False),
        ("/etc/passwd", "/srv/www", False),
        ("/etc/passwd", "/", True),
        ("/", "/", True),
    ],
)
def test_under_matches_path_is_relative_to(real: str, root: str, inside: bool) -> None:
    from aioweb._file_io import _under

    assert _under(real, root) is inside
    assert Path(real).is_relative_to(root) is inside
