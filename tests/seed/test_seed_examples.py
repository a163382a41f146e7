"""Every core example of the seed chapter, run on aioweb over real sockets.

The examples live in ``examples/seed/`` (``seed_*.py``), copied from
``http-server-usage.txt`` (a copy of the seed, beside them) with ``aiohttp`` -> ``aioweb``;
lines marked ``# support`` (with the block or statement they open) fill what
the seed leaves out; a line marked ``# frame`` wraps seed lines in a function.
``test_examples_are_verbatim`` keeps them honest. Each test loads a fresh copy
of its module, so module-level applications are never shared between tests.
"""

from __future__ import annotations

import asyncio
import importlib.util
import itertools
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed

import aioweb
from aioweb import web
from aioweb.multipart import SPOOL_MAX_SIZE

SEED_DIR = Path(__file__).resolve().parents[2] / "examples" / "seed"
SEED_TEXT = SEED_DIR / "http-server-usage.txt"  # a copy of /work/shared/seed/http-server-usage.txt
SEED_MODULES = sorted(p.stem for p in SEED_DIR.glob("seed_*.py"))
# Modules made of support code only: the seed names the API without an example.
SUPPORT_ONLY = {"seed_flow_control"}
_counter = itertools.count()


def load(name: str) -> ModuleType:
    """Execute ``tests/seed/<name>.py`` into a brand-new module object."""
    spec = importlib.util.spec_from_file_location(f"_{name}_{next(_counter)}", SEED_DIR / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# -- the examples are the seed's code ---------------------------------------


def _code_lines(source: str) -> list[str]:
    """Lines of ``source`` that claim to be the seed's: not support, comments or docstrings."""
    lines = source.splitlines()
    kept: list[str] = []
    skip_indent: int | None = None
    depth = 0  # open brackets of a support statement still being continued
    in_docstring = False
    pending_def = False  # a support decorator marks the def below it
    for line in lines:
        stripped = line.strip()
        indent = len(line) - len(line.lstrip())
        if in_docstring:
            in_docstring = '"""' not in stripped
            continue
        if stripped.startswith('"""'):
            in_docstring = stripped.count('"""') == 1
            continue
        if skip_indent is not None:
            if not stripped or indent > skip_indent:
                continue
            skip_indent = None
        if depth > 0:
            depth += line.count("(") + line.count("[") - line.count(")") - line.count("]")
            continue
        if not stripped or stripped.startswith("#"):
            continue
        if "# frame" in line:  # support code around seed lines: only this line
            continue
        if "# support" in line or pending_def:
            code = line.split("#", 1)[0]
            depth = code.count("(") + code.count("[") - code.count(")") - code.count("]")
            pending_def = stripped.startswith("@")
            if code.rstrip().endswith(":"):
                skip_indent = indent
            continue
        kept.append(stripped)
    return kept


@pytest.mark.parametrize("name", sorted(set(SEED_MODULES) - SUPPORT_ONLY))
def test_examples_are_verbatim(name: str) -> None:
    seed_lines = {line.strip().replace("aiohttp", "aioweb") for line in SEED_TEXT.read_text().splitlines()}
    source = (SEED_DIR / f"{name}.py").read_text()
    foreign = [line for line in _code_lines(source) if line not in seed_lines]
    assert foreign == [], f"{name}.py has code not in the seed (mark it '# support')"


# -- Run a Simple Web Server -------------------------------------------------


async def test_hello_world(aioweb_client: Any) -> None:
    seed = load("seed_hello")
    client = await aioweb_client(seed.app)
    resp = await client.get("/")
    assert resp.status == 200
    assert await resp.read() == b"Hello, world"


def _wait_for_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            out, err = proc.communicate()
            raise AssertionError(f"server exited with {proc.returncode}:\n{out.decode()}\n{err.decode()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"nothing listens on port {port} after {timeout}s")


def _stop(proc: subprocess.Popen[bytes]) -> tuple[int, str, str]:
    """SIGINT (Ctrl+C) the process; return its exit code and output."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
    try:
        out, err = proc.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError(f"did not stop on SIGINT:\n{out.decode()}\n{err.decode()}")
    return proc.returncode, out.decode(), err.decode()


def _spawn(*args: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SEED_DIR), os.environ.get("PYTHONPATH", "")])}
    return subprocess.Popen(
        [sys.executable, "-u", *args], cwd=SEED_DIR, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )


def _get(port: int, path: str = "/") -> httpx.Response:
    with httpx.Client(trust_env=False, timeout=5.0) as client:
        return client.get(f"http://127.0.0.1:{port}{path}")


def _port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("0.0.0.0", port))
        except OSError:
            return False
    return True


def test_run_app_serves_on_8080_until_ctrl_c() -> None:
    if not _port_is_free(8080):
        pytest.skip("port 8080 is taken; the seed's run_app(app) needs it")
    proc = _spawn("seed_hello.py")
    try:
        _wait_for_port(8080, proc)
        resp = _get(8080)
        assert (resp.status_code, resp.content) == (200, b"Hello, world")
    finally:
        code, out, err = _stop(proc)
    assert code == 0, err


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_cli_serves_init_function() -> None:
    port = _free_port()
    proc = _spawn(
        "-m", "aioweb.web", "-n", "127.0.0.1", "-p", str(port), "seed_cli.init_function", "--extra-flag"
    )
    try:
        _wait_for_port(port, proc)
        resp = _get(port)
        assert resp.status_code == 200
        assert resp.text == "CLI args: ['--extra-flag']"
    finally:
        code, out, err = _stop(proc)
    assert code == 0, err


# -- Handler -----------------------------------------------------------------


async def test_coroutine_handler(aioweb_client: Any) -> None:
    client = await aioweb_client(load("seed_handlers").app)
    resp = await client.get("/")
    assert resp.status == 200
    assert await resp.read() == b""


async def test_plain_function_handler(aioweb_client: Any) -> None:
    client = await aioweb_client(load("seed_handlers").plain_app)
    resp = await client.get("/")
    assert resp.status == 200
    assert await resp.read() == b""


async def test_post_and_put_routes(aioweb_client: Any) -> None:
    client = await aioweb_client(load("seed_handlers").app)
    assert await (await client.post("/post", data=b"x")).text() == "posted x"
    assert await (await client.put("/put", data=b"y")).text() == "put y"
    assert (await client.get("/post")).status == 405
    assert (await client.post("/")).status == 405


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
async def test_wildcard_method_route(aioweb_client: Any, method: str) -> None:
    client = await aioweb_client(load("seed_handlers").app)
    resp = await client.request(method, "/path")
    assert resp.status == 200
    assert await resp.text() == method


# -- Resources and Routes ----------------------------------------------------


async def test_add_route_is_add_resource_plus_resource_add_route(aioweb_client: Any) -> None:
    seed = load("seed_resources")
    app = web.Application()
    hello = load("seed_hello").hello
    route = seed.add_route_pair(app, "GET", "/pair", hello, name="pair")
    assert isinstance(route, web.AbstractRoute)
    assert route.method == "GET"
    assert route.handler is hello
    assert route.resource is app.router["pair"]
    assert list(app.router.resources()) == [route.resource]
    client = await aioweb_client(app)
    assert await (await client.get("/pair")).read() == b"Hello, world"


async def test_variable_resource_from_path_only_add_route(aioweb_client: Any) -> None:
    seed = load("seed_variable_resources")
    resources = list(seed.variable_app.router.resources())
    assert len(resources) == 1
    assert isinstance(resources[0], web.Resource)
    client = await aioweb_client(seed.variable_app)
    resp = await client.get("/john")
    assert (resp.status, await resp.text()) == (200, "Hello, john")
    assert (await client.get("/a/b")).status == 404


async def test_variable_resource_with_regex(aioweb_client: Any) -> None:
    client = await aioweb_client(load("seed_variable_resources").regex_app)
    resp = await client.get("/123")
    assert (resp.status, await resp.text()) == (200, "Hello, 123")
    assert (await client.get("/abc")).status == 404


def test_reverse_url_with_query_mapping() -> None:
    router = load("seed_resources").named_app.router
    assert router["root"].url(query={"a": "b", "c": "d"}) == "/root?a=b&c=d"
    assert router.named_resources()["root"].url(query={"a": "b", "c": "d"}) == "/root?a=b&c=d"


@pytest.mark.parametrize("query", ["?a=b", "a=b", {"a": "b"}])
def test_reverse_url_with_parts_and_query(query: Any) -> None:
    router = load("seed_resources").named_app.router
    assert router["user-info"].url(parts={"user": "john_doe"}, query=query) == "/john_doe/info?a=b"


async def test_reverse_urls_inside_handlers(aioweb_client: Any) -> None:
    client = await aioweb_client(load("seed_resources").named_app)
    assert await (await client.get("/root")).text() == "/root?a=b&c=d"
    assert await (await client.get("/someone/info")).text() == "/john_doe/info?a=b"


# -- Organizing Handlers in Classes ------------------------------------------


async def test_handler_class_bound_methods(aioweb_client: Any) -> None:
    client = await aioweb_client(load("seed_classes").app)
    assert await (await client.get("/")).read() == b"Hello, world"
    assert await (await client.get("/intro")).read() == b"Hello, world"
    resp = await client.get("/greet/Andrew")
    assert (resp.status, await resp.text()) == (200, "Hello, Andrew")
    assert resp.content_type == "text/plain"


# -- Class Based Views, Resource Views ---------------------------------------


async def test_class_based_view(aioweb_client: Any) -> None:
    client = await aioweb_client(load("seed_views").app)
    assert await (await client.get("/path/to")).text() == "GET /path/to"
    assert await (await client.post("/path/to", data=b"body")).text() == "POST body"
    for method in ("PUT", "DELETE", "PATCH"):
        resp = await client.request(method, "/path/to")
        assert resp.status == 405, method
        assert set(resp.headers["Allow"].split(",")) == {"GET", "POST"}


def test_resource_views(capsys: pytest.CaptureFixture[str]) -> None:
    seed = load("seed_views")
    router = seed.app.router
    resources = list(router.resources())
    assert len(resources) == len(router.resources()) == 4
    assert dict(router.named_resources()) == {"plain": router["plain"], "user": router["user"]}
    seed.print_resources(seed.app)
    out = capsys.readouterr().out.splitlines()
    assert out[:4] == [str(r) for r in resources]
    assert out[4:] == [f"plain {router['plain']}", f"user {router['user']}"]
    for line, path in zip(out[:4], ["/path/to", "/plain", "/users/{user}", "/anonymous/{id}"], strict=True):
        assert path in line


# -- Custom Routing Criteria -------------------------------------------------


@pytest.mark.parametrize(
    ("accept", "status", "body"),
    [
        ([("Accept", "application/json")], 200, '{"format": "json"}'),
        ([("Accept", "application/xml")], 200, "<format>xml</format>"),
        ([("Accept", "text/html"), ("Accept", "application/xml")], 200, "<format>xml</format>"),
        ([("Accept", "text/html")], 406, None),
        ([("Accept", "*/*")], 406, None),
    ],
)
async def test_accept_chooser(aioweb_client: Any, accept: list[tuple[str, str]], status: int, body: str | None) -> None:
    client = await aioweb_client(load("seed_accept").app)
    resp = await client.get("/", headers=accept)
    assert resp.status == status
    if body is not None:
        assert await resp.text() == body


# -- File Uploads ------------------------------------------------------------

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def _fake_mp3(size: int) -> bytes:
    """An ID3 header and frame-sync bytes, then noise: enough of an MP3 for an upload."""
    return (b"ID3\x04\x00\x00\x00\x00\x00\x00" + b"\xff\xfb\x90\x64" + os.urandom(size))[:size]


def _record_uploads(app: web.Application) -> list[tuple[str, str, int, bool]]:
    """What the server received: read after the seed's handler ran (``request.post()`` is cached)."""
    seen: list[tuple[str, str, int, bool]] = []

    @web.middleware
    async def record(request: web.Request, handler: Any) -> web.StreamResponse:
        resp = await handler(request)
        if request.method == "POST":
            upload = (await request.post())["mp3"]
            spilled = upload.file._rolled  # moved from memory to a temporary file
            seen.append((upload.filename, upload.content_type, upload.file.tell(), spilled))
        return resp

    app.middlewares.append(record)
    return seen


def test_upload_form_is_the_seeds() -> None:
    assert load("seed_file_uploads").FORM.strip() in SEED_TEXT.read_text()


@pytest.mark.parametrize("size", [2 * 1024, 3 * SPOOL_MAX_SIZE // 2])  # in memory; spilled to disk
async def test_file_upload_echoes_the_mp3(aioweb_server: Any, size: int) -> None:
    app = load("seed_file_uploads").app
    seen = _record_uploads(app)
    server = await aioweb_server(app)
    mp3 = _fake_mp3(size)
    async with httpx.AsyncClient(trust_env=False, timeout=10.0) as client:
        resp = await client.post(
            f"http://127.0.0.1:{server.port}/store/mp3",
            files={"mp3": ("song.mp3", mp3, "audio/mpeg")},
        )
    assert resp.status_code == 200
    assert resp.content == mp3
    assert resp.headers["Content-Length"] == str(size)
    assert resp.headers["Content-Disposition"] == 'attachment; filename="song.mp3"'
    assert seen == [("song.mp3", "audio/mpeg", size, size > SPOOL_MAX_SIZE)]


async def test_file_upload_form_page(aioweb_server: Any) -> None:
    server = await aioweb_server(load("seed_file_uploads").app)
    async with httpx.AsyncClient(trust_env=False, timeout=10.0) as client:
        resp = await client.get(f"http://127.0.0.1:{server.port}/")
    assert resp.headers["Content-Type"] == "text/html; charset=utf-8"
    assert 'enctype="multipart/form-data"' in resp.text
    assert '<input id="mp3" name="mp3" type="file" value="" />' in resp.text


@pytest.mark.browser
async def test_file_upload_from_a_browser(aioweb_server: Any, tmp_path: Path) -> None:
    """Chromium fills the seed's form, submits it, and saves the echo as a download."""
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("Debian's chromium is not on PATH (scripts/check installs it with apt-get)")
    playwright_api = pytest.importorskip("playwright.async_api")
    app = load("seed_file_uploads").app
    seen = _record_uploads(app)
    server = await aioweb_server(app)
    mp3 = _fake_mp3(SPOOL_MAX_SIZE + 50_000)
    async with playwright_api.async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, headless=True)
        try:
            page = await browser.new_page(accept_downloads=True)
            await page.goto(f"http://127.0.0.1:{server.port}/")
            await page.set_input_files(
                "#mp3", files=[{"name": "song.mp3", "mimeType": "audio/mpeg", "buffer": mp3}]
            )
            async with page.expect_download(timeout=20_000) as info:
                await page.click("input[type=submit]")
            download = await info.value
            saved = tmp_path / "echo.mp3"
            await download.save_as(saved)
            suggested = download.suggested_filename
        finally:
            await browser.close()
    assert seen == [("song.mp3", "audio/mpeg", len(mp3), True)]
    # The echo is what the server read from the upload; the name is its Content-Disposition.
    assert saved.read_bytes() == mp3
    assert suggested == "song.mp3"


# -- WebSockets --------------------------------------------------------------


async def test_websocket_echo_answers(aioweb_server: Any, capsys: pytest.CaptureFixture[str]) -> None:
    server = await aioweb_server(load("seed_websocket").app)
    async with ws_connect(f"ws://127.0.0.1:{server.port}/ws") as ws:
        for text in ("hello", "world"):
            await ws.send(text)
            assert await ws.recv() == text + "/answer"
        await ws.send("close")
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 5)
        assert ws.close_code == 1000
    for _ in range(100):
        if "websocket connection closed" in capsys.readouterr().out:
            break
        await asyncio.sleep(0.01)
    else:
        raise AssertionError("the handler did not finish")


async def test_websocket_error_is_reported(aioweb_server: Any, raw_connect: Any, capsys: pytest.CaptureFixture[str]) -> None:
    from aioweb._websocket import FrameReader, WSMsgType, build_frame

    server = await aioweb_server(load("seed_websocket").app)
    conn = await raw_connect(server.port)
    await conn.send(
        b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    status, _, _ = await conn.read_response()
    assert status == b"HTTP/1.1 101 Switching Protocols"
    await conn.send(build_frame(WSMsgType.TEXT, b"unmasked"))  # a client must mask
    [close] = FrameReader(0, is_server=False).feed(await conn.read_until_closed())
    assert (close.type, close.data) == (WSMsgType.CLOSE, 1002)
    out = ""
    for _ in range(100):
        out += capsys.readouterr().out
        if "websocket connection closed" in out:
            break
        await asyncio.sleep(0.01)
    assert "ws connection closed with exception client frames must be masked" in out


# -- Exceptions --------------------------------------------------------------


@pytest.mark.parametrize("path", ["/return", "/raise"])
async def test_returned_and_raised_exceptions_are_the_same(aioweb_client: Any, path: str) -> None:
    client = await aioweb_client(load("seed_exceptions").app)
    resp = await client.get(path, allow_redirects=False)
    assert resp.status == 302
    assert resp.headers["Location"] == "/redirect"
    followed = await client.get(path)
    assert (followed.status, await followed.text()) == (200, "redirected")
    assert followed.url.path == "/redirect"


async def test_method_not_allowed_constructor(aioweb_client: Any) -> None:
    client = await aioweb_client(load("seed_exceptions").app)
    resp = await client.delete("/not-allowed")
    assert resp.status == 405
    assert set(resp.headers["Allow"].split(",")) == {"GET", "POST"}
    exc = web.HTTPMethodNotAllowed("DELETE", ["GET", "POST"], reason="No way", text="nope")
    assert (exc.status, exc.method, exc.reason, exc.text) == (405, "DELETE", "No way", "nope")
    assert set(exc.allowed_methods) == {"GET", "POST"}


def _seed_hierarchy() -> list[tuple[str, str, int | None]]:
    """(class, parent, status) rows of the seed's "HTTP Exception hierarchy chart"."""
    text = SEED_TEXT.read_text()
    chart = text.split("HTTP Exception hierarchy chart:", 1)[1].split("All HTTP exceptions", 1)[0]
    rows: list[tuple[str, str, int | None]] = []
    stack: list[tuple[int, str]] = []
    for line in chart.splitlines():
        match = re.match(r"^( *)(?:\* (\d{3}) - )?(\w+)$", line)
        if not match:
            continue
        indent, status, name = len(match[1]), match[2], match[3]
        while stack and stack[-1][0] >= indent:
            stack.pop()
        if stack:
            rows.append((name, stack[-1][1], int(status) if status else None))
        stack.append((indent, name))
    return rows


def test_exception_hierarchy_matches_the_seed_chart() -> None:
    rows = _seed_hierarchy()
    assert len(rows) > 50
    for name, parent, status in rows:
        cls = getattr(web, name)
        assert issubclass(cls, getattr(web, parent) if parent != "Exception" else Exception), name
        if status is not None:
            assert cls.status_code == status, name
    assert issubclass(web.HTTPException, web.Response)


def test_exception_constructor_signatures() -> None:
    exc = web.HTTPNotFound(headers={"X-Why": "gone"}, reason="Lost", text="not here")
    assert (exc.status, exc.reason, exc.text, exc.headers["X-Why"]) == (404, "Lost", "not here", "gone")
    exc = web.HTTPNotFound(body=b"raw", content_type="application/octet-stream")
    assert (exc.body, exc.content_type) == (b"raw", "application/octet-stream")
    for cls in (web.HTTPMultipleChoices, web.HTTPMovedPermanently, web.HTTPFound,
                web.HTTPSeeOther, web.HTTPUseProxy, web.HTTPTemporaryRedirect):
        moved = cls("/elsewhere", headers={"X-A": "1"}, reason="Moved on", text="bye")
        assert moved.location == "/elsewhere"
        assert moved.headers["Location"] == "/elsewhere"
        assert (moved.reason, moved.text, moved.headers["X-A"]) == ("Moved on", "bye", "1")


# -- Data Sharing ------------------------------------------------------------


async def test_data_sharing(aioweb_client: Any) -> None:
    seed = load("seed_data_sharing")
    assert seed.app["my_private_key"] == "app-wide value"
    client = await aioweb_client(seed.app)
    assert await (await client.get("/app")).text() == "app-wide value"
    assert await (await client.get("/request")).text() == "data"
    other = await aioweb_client(seed.middleware_app)
    assert await (await other.get("/")).text() == "from middleware"


# -- Middlewares -------------------------------------------------------------


async def test_old_style_middleware_factories_in_order(aioweb_client: Any) -> None:
    client = await aioweb_client(load("seed_middlewares").app)
    for _ in range(2):  # the chain is the same on every request
        assert await (await client.get("/")).text() == "1,2"


async def test_old_and_new_style_middlewares_mix(aioweb_client: Any) -> None:
    client = await aioweb_client(load("seed_middlewares").mixed_app)
    resp = await client.get("/")
    assert (resp.status, await resp.text()) == (200, "new,1")
    assert resp.headers["X-New-Style"] == "yes"
    assert (await client.get("/secret")).status == 403
    resp = await client.get("/missing")
    assert (resp.status, await resp.text()) == (404, "custom 404 for /missing")
    resp = await client.post("/")
    assert (resp.status, await resp.text()) == (405, "custom 405, allowed: GET")


async def test_trivial_middleware_factory_passes_through(aioweb_client: Any) -> None:
    seed = load("seed_middlewares")
    app = web.Application(middlewares=[seed.middleware_factory])
    app.router.add_route("GET", "/", load("seed_hello").hello)
    client = await aioweb_client(app)
    assert await (await client.get("/")).read() == b"Hello, world"


# -- Signals -----------------------------------------------------------------


@pytest.mark.parametrize(("path", "status"), [("/plain", 200), ("/streamed", 200), ("/failing", 404), ("/nowhere", 404)])
async def test_on_response_prepare_adds_header(aioweb_client: Any, path: str, status: int) -> None:
    client = await aioweb_client(load("seed_signals").app)
    resp = await client.get(path)
    assert resp.status == status
    assert resp.headers["My-Header"] == "value"


async def test_on_response_prepare_runs_for_websockets(aioweb_server: Any) -> None:
    seed = load("seed_signals")
    seed.app.router.add_route("GET", "/ws", load("seed_websocket").websocket_handler)
    server = await aioweb_server(seed.app)
    async with ws_connect(f"ws://127.0.0.1:{server.port}/ws") as ws:
        assert ws.response is not None
        assert ws.response.headers["My-Header"] == "value"
        await ws.send("x")
        assert await ws.recv() == "x/answer"


# -- Flow control ------------------------------------------------------------


async def test_flow_control_defaults(aioweb_client: Any) -> None:
    client = await aioweb_client(load("seed_flow_control").app)
    modes = await (await client.get("/defaults")).json()
    assert modes == {
        "response": [True, False],  # Response: CORK
        "stream": [False, True],  # StreamResponse: NODELAY
        "exception": [True, False],  # HTTP exceptions are Responses
    }


async def test_set_tcp_nodelay_on_response(aioweb_client: Any) -> None:
    client = await aioweb_client(load("seed_flow_control").app)
    modes = await (await client.get("/nodelay")).json()
    assert modes["props"] == [False, True]
    assert modes["socket"]["nodelay"] is True
    assert modes["socket"].get("cork", False) is False


async def test_set_tcp_cork_then_nodelay_on_stream(aioweb_client: Any) -> None:
    client = await aioweb_client(load("seed_flow_control").app)
    modes = await (await client.get("/stream-cork")).json()
    assert modes["corked"]["props"] == [True, False]
    assert modes["corked"]["socket"]["nodelay"] is False
    if hasattr(socket, "TCP_CORK"):
        assert modes["corked"]["socket"]["cork"] is True
    assert modes["nodelay"]["props"] == [False, True]
    assert modes["nodelay"]["socket"]["nodelay"] is True
    assert modes["nodelay"]["socket"].get("cork", False) is False


# -- Expect Header -----------------------------------------------------------


def _expect_request(expect: str, *, auth: bool, version: str = "1.1") -> bytes:
    head = f"GET / HTTP/{version}\r\nHost: x\r\nContent-Length: 4\r\nExpect: {expect}\r\n"
    if auth:
        head += "Authorization: Basic dXNlcjpwYXNz\r\n"
    return (head + "\r\n").encode()


async def test_expect_continue_with_authorization(aioweb_server: Any, raw_connect: Any) -> None:
    server = await aioweb_server(load("seed_expect").app)
    conn = await raw_connect(server.port)
    await conn.send(_expect_request("100-continue", auth=True))
    interim = await asyncio.wait_for(conn.reader.readuntil(b"\r\n\r\n"), 5)
    assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
    await conn.send(b"body")
    status, headers, body = await conn.read_response()
    assert (status, body) == (b"HTTP/1.1 200 OK", b"Hello, world")


async def test_expect_continue_without_authorization_is_forbidden(aioweb_server: Any, raw_connect: Any) -> None:
    server = await aioweb_server(load("seed_expect").app)
    conn = await raw_connect(server.port)
    await conn.send(_expect_request("100-continue", auth=False))
    status, _, _ = await conn.read_response()
    assert status == b"HTTP/1.1 403 Forbidden"


async def test_unknown_expectation_fails(aioweb_server: Any, raw_connect: Any) -> None:
    server = await aioweb_server(load("seed_expect").app)
    conn = await raw_connect(server.port)
    await conn.send(_expect_request("something-else", auth=True))
    status, _, body = await conn.read_response()
    assert status == b"HTTP/1.1 417 Expectation Failed"
    assert body == b"Unknown Expect: something-else"


async def test_expect_handler_skips_http10(aioweb_server: Any, raw_connect: Any) -> None:
    server = await aioweb_server(load("seed_expect").app)
    conn = await raw_connect(server.port)
    await conn.send(_expect_request("100-continue", auth=False, version="1.0") + b"body")
    status, _, body = await conn.read_response()
    assert status.startswith(b"HTTP/1.") and status.endswith(b" 200 OK")
    assert body == b"Hello, world"


def test_expect_example_uses_the_seed_names() -> None:
    assert aioweb.HttpVersion11 == (1, 1)
    assert load("seed_expect").HTTPExpectationFailed is web.HTTPExpectationFailed


# -- Graceful shutdown -------------------------------------------------------


@pytest.mark.skipif(
    sys.version_info >= (3, 12),
    reason="asyncio.Server.wait_closed() waits for open connections since 3.12; "
    "the seed's order (wait_closed before finish_connections) then blocks on keep-alive clients",
)
async def test_graceful_shutdown_sequence_in_process(raw_connect: Any) -> None:
    """The seed's finalization calls, awaited instead of run_until_complete."""
    events: list[str] = []

    async def slow(request: web.Request) -> web.Response:
        events.append("slow started")
        await asyncio.sleep(0.3)
        return web.Response(text="finished")

    async def on_shutdown(app: web.Application) -> None:
        events.append("shutdown")

    async def on_cleanup(app: web.Application) -> None:
        events.append("cleanup")

    app = web.Application()
    app.router.add_route("GET", "/slow", slow)
    app.router.add_route("GET", "/", load("seed_hello").hello)
    app.on_shutdown.append(on_shutdown)
    app.on_cleanup.append(on_cleanup)

    loop = asyncio.get_running_loop()
    handler = app.make_handler()
    f = loop.create_server(handler, "127.0.0.1", 0)
    srv = await f
    port = srv.sockets[0].getsockname()[1]
    idle = await raw_connect(port)
    await idle.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert (await idle.read_response())[2] == b"Hello, world"
    busy = await raw_connect(port)
    await busy.send(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
    while "slow started" not in events:
        await asyncio.sleep(0.01)

    srv.close()
    await asyncio.wait_for(srv.wait_closed(), 5)
    await asyncio.wait_for(app.shutdown(), 5)
    await asyncio.wait_for(handler.finish_connections(60.0), 5)
    await asyncio.wait_for(app.cleanup(), 5)

    assert events == ["slow started", "shutdown", "cleanup"]
    status, headers, body = await busy.read_response()
    assert (status, body) == (b"HTTP/1.1 200 OK", b"finished")
    assert await busy.read_until_closed() == b""
    assert await idle.read_until_closed() == b""
    assert handler.connections == []


def test_graceful_shutdown_script_on_ctrl_c() -> None:
    port = _free_port()
    proc = _spawn("seed_graceful_shutdown.py", str(port))
    try:
        _wait_for_port(port, proc)
        resp = _get(port)
        assert (resp.status_code, resp.content) == (200, b"Hello, world")
    finally:
        code, out, err = _stop(proc)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == f"serving on ('127.0.0.1', {port})"
    assert lines[1:] == ["shutdown signal", "cleanup signal", "closed"]



async def test_graceful_shutdown_closes_open_websockets() -> None:
    """The seed's ``on_shutdown`` closes ``app['websockets']`` with code 999 (1001 on the wire)."""
    port = _free_port()
    proc = _spawn("seed_graceful_shutdown.py", str(port))
    try:
        await asyncio.to_thread(_wait_for_port, port, proc)
        async with ws_connect(f"ws://127.0.0.1:{port}/ws") as ws:
            await ws.send("registered?")
            assert await ws.recv() == "registered?"
            # Ctrl+C raises KeyboardInterrupt wherever the server is: let its
            # handler get back to waiting, or the interrupt may land inside it.
            await asyncio.sleep(0.1)
            proc.send_signal(signal.SIGINT)
            with pytest.raises(ConnectionClosed):
                await asyncio.wait_for(ws.recv(), 10)
            assert (ws.close_code, ws.close_reason) == (1001, "Server shutdown")
        out_b, err_b = await asyncio.to_thread(proc.communicate, timeout=15)
    finally:
        if proc.poll() is None:
            _stop(proc)
    assert proc.returncode == 0, err_b.decode()
    lines = out_b.decode().splitlines()
    assert "websocket open" in lines and "websocket closed 999" in lines
    seed_lines = [line for line in lines[1:] if not line.startswith("websocket")]
    assert seed_lines == ["shutdown signal", "cleanup signal", "closed"]
