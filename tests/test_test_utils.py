"""aioweb.test_utils: TestServer, RawTestServer, TestClient, make_mocked_request."""

from __future__ import annotations

import asyncio
import json
import socket

import pytest
from multidict import CIMultiDict, MultiDict
from yarl import URL

from aioweb import HttpVersion10, WSMsgType, web
from aioweb.test_utils import (
    RawTestServer,
    TestClient,
    TestServer,
    WSServerHandshakeError,
    make_mocked_request,
    unused_port,
)


async def echo(request: web.Request) -> web.Response:
    body = await request.read()
    return web.json_response(
        {
            "method": request.method,
            "path": request.path,
            "query": list(request.query.items()),
            "headers": {k: v for k, v in request.headers.items() if k.lower().startswith("x-")},
            "content_type": request.content_type,
            "body": body.decode("latin-1"),
        }
    )


async def set_cookie(request: web.Request) -> web.Response:
    resp = web.Response(text="set")
    resp.set_cookie("token", request.query.get("value", "abc"))
    return resp


async def show_cookie(request: web.Request) -> web.Response:
    return web.Response(text=request.cookies.get("token", "<none>"))


async def redirect(request: web.Request) -> web.Response:
    raise web.HTTPFound("/target")


async def target(request: web.Request) -> web.Response:
    return web.Response(text="target")


def make_app() -> web.Application:
    app = web.Application()
    app.router.add_route("*", "/echo", echo)
    app.router.add_route("GET", "/set", set_cookie)
    app.router.add_route("GET", "/show", show_cookie)
    app.router.add_route("GET", "/redirect", redirect)
    app.router.add_route("GET", "/target", target)
    app.router.add_route("GET", "/text", lambda r: web.Response(text="héllo", charset="latin-1"))
    app.router.add_route("GET", "/json-as-text", lambda r: web.Response(text='{"a": 1}'))
    app.router.add_route("GET", "/empty-json", lambda r: web.Response(content_type="application/json"))
    return app


@pytest.fixture
async def client():
    async with TestClient(TestServer(make_app())) as client:
        yield client


# -- TestServer / RawTestServer ---------------------------------------------


async def test_test_server_serves_on_loopback_free_port() -> None:
    server = TestServer(make_app())
    assert not server.started
    async with server:
        assert server.started
        assert server.host == "127.0.0.1"
        assert isinstance(server.port, int) and server.port > 0
        url = server.make_url("/echo?a=1")
        assert url == URL(f"http://127.0.0.1:{server.port}/echo?a=1")
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"GET /target HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = await asyncio.wait_for(reader.read(), 5)
        writer.close()
        await writer.wait_closed()
        assert data.startswith(b"HTTP/1.1 200 OK\r\n")
        assert data.endswith(b"\r\n\r\ntarget")
    assert not server.started
    with socket.socket() as sock:  # the port is released
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", server.port))


async def test_test_server_start_is_idempotent_and_close_twice_is_safe() -> None:
    server = TestServer(make_app())
    await server.start_server()
    port = server.port
    await server.start_server()
    assert server.port == port
    await server.close()
    await server.close()


async def test_test_server_runs_startup_and_cleanup_signals() -> None:
    events: list[str] = []
    app = make_app()

    async def on_startup(app: web.Application) -> None:
        events.append("startup")

    async def on_cleanup(app: web.Application) -> None:
        events.append("cleanup")

    app.on_startup.append(on_startup)
    app.on_cleanup.append(on_cleanup)
    async with TestServer(app):
        assert events == ["startup"]
    assert events == ["startup", "cleanup"]


async def test_test_server_on_a_chosen_port() -> None:
    port = unused_port()
    async with TestServer(make_app(), port=port) as server:
        assert server.port == port


async def test_make_url_refuses_absolute_urls() -> None:
    server = TestServer(make_app())
    with pytest.raises(RuntimeError, match="not started"):
        server.make_url("/")
    async with server:
        with pytest.raises(ValueError, match="relative"):
            server.make_url("http://example.com/")


async def test_client_needs_a_started_server() -> None:
    client = TestClient(TestServer(make_app()))
    with pytest.raises(RuntimeError, match="start_server"):
        await client.get("/")
    await client.close()


async def test_raw_test_server_serves_a_plain_handler() -> None:
    async def handler(request: web.BaseRequest) -> web.Response:
        return web.Response(text=f"raw {request.method} {request.path}")

    async with TestClient(RawTestServer(handler)) as client:
        assert client.app is None
        resp = await client.post("/anything")
        assert (resp.status, await resp.text()) == (200, "raw POST /anything")


# -- TestClient --------------------------------------------------------------


async def test_client_response_shape(client: TestClient) -> None:
    resp = await client.get("/echo")
    assert resp.status == 200
    assert resp.reason == "OK"
    assert resp.ok
    assert resp.headers["Content-Type"] == "application/json; charset=utf-8"
    assert resp.content_type == "application/json"
    assert resp.url == client.make_url("/echo")
    assert (await resp.json())["method"] == "GET"
    assert json.loads(await resp.text()) == json.loads(await resp.read())
    assert "200" in repr(resp)


async def test_client_text_uses_the_charset(client: TestClient) -> None:
    resp = await client.get("/text")
    assert await resp.read() == "héllo".encode("latin-1")
    assert await resp.text() == "héllo"
    assert resp.charset == "latin-1"


async def test_client_json_checks_content_type(client: TestClient) -> None:
    resp = await client.get("/json-as-text")
    with pytest.raises(ValueError, match="mimetype"):
        await resp.json()
    assert await resp.json(content_type=None) == {"a": 1}
    assert await (await client.get("/empty-json")).json() is None


async def test_client_async_with(client: TestClient) -> None:
    async with client.get("/target") as resp:
        assert resp.status == 200
        assert await resp.text() == "target"


async def test_unawaited_request_sends_nothing(client: TestClient) -> None:
    client.get("/set")  # dropped: no request, no "never awaited" warning
    assert await (await client.get("/show")).text() == "<none>"


async def test_client_all_methods(client: TestClient) -> None:
    for name in ("get", "post", "put", "patch", "delete", "options"):
        resp = await getattr(client, name)("/echo")
        assert (await resp.json())["method"] == name.upper()
    resp = await client.head("/echo")
    assert resp.status == 200
    assert await resp.read() == b""
    resp = await client.request("PROPFIND", "/echo")
    assert (await resp.json())["method"] == "PROPFIND"


@pytest.mark.parametrize(
    ("data", "body", "content_type"),
    [
        (b"raw bytes", "raw bytes", "application/octet-stream"),
        ("some text", "some text", None),
        ({"a": "1", "b": "x y"}, "a=1&b=x+y", "application/x-www-form-urlencoded"),
    ],
)
async def test_client_data(client: TestClient, data: object, body: str, content_type: str | None) -> None:
    got = await (await client.post("/echo", data=data)).json()
    assert got["body"] == body
    if content_type is not None:
        assert got["content_type"] == content_type


async def test_client_json(client: TestClient) -> None:
    got = await (await client.post("/echo", json={"k": [1, 2]})).json()
    assert json.loads(got["body"]) == {"k": [1, 2]}
    assert got["content_type"] == "application/json"


@pytest.mark.parametrize(
    "params",
    [{"a": "1", "b": "2"}, [("a", "1"), ("b", "2")], MultiDict([("a", "1"), ("b", "2")])],
)
async def test_client_params(client: TestClient, params: object) -> None:
    got = await (await client.get("/echo", params=params)).json()
    assert got["query"] == [["a", "1"], ["b", "2"]]


async def test_client_params_keep_repeated_keys(client: TestClient) -> None:
    got = await (await client.get("/echo", params=MultiDict([("a", "1"), ("a", "2")]))).json()
    assert got["query"] == [["a", "1"], ["a", "2"]]


async def test_client_params_join_a_query_in_the_path(client: TestClient) -> None:
    got = await (await client.get("/echo?x=0", params={"a": "1"})).json()
    assert got["query"] == [["x", "0"], ["a", "1"]]


async def test_client_headers(client: TestClient) -> None:
    got = await (await client.get("/echo", headers={"X-One": "1"})).json()
    assert got["headers"] == {"X-One": "1"}
    got = await (await client.get("/echo", headers=CIMultiDict({"X-Two": "2"}))).json()
    assert got["headers"] == {"X-Two": "2"}


async def test_client_follows_redirects_by_default(client: TestClient) -> None:
    resp = await client.get("/redirect")
    assert (resp.status, await resp.text()) == (200, "target")
    assert resp.url.path == "/target"
    assert [r.status for r in resp.history] == [302]


async def test_client_allow_redirects_false(client: TestClient) -> None:
    resp = await client.get("/redirect", allow_redirects=False)
    assert resp.status == 302
    assert resp.headers["Location"] == "/target"
    assert resp.history == ()


async def test_client_keeps_cookies(client: TestClient) -> None:
    assert await (await client.get("/show")).text() == "<none>"
    resp = await client.get("/set", params={"value": "s3cret"})
    assert resp.cookies["token"] == "s3cret"
    assert await (await client.get("/show")).text() == "s3cret"
    assert await (await client.get("/show")).text() == "s3cret"


async def test_client_per_request_cookies_are_not_stored(client: TestClient) -> None:
    assert await (await client.get("/show", cookies={"token": "once"})).text() == "once"
    assert await (await client.get("/show")).text() == "<none>"
    await client.get("/set")
    assert await (await client.get("/show", cookies={"other": "1"})).text() == "abc"


async def test_client_form_with_repeated_keys(client: TestClient) -> None:
    got = await (await client.post("/echo", data=MultiDict([("a", "1"), ("a", "2")]))).json()
    assert got["body"] == "a=1&a=2"


async def test_client_cookies_do_not_leak_between_clients() -> None:
    async with TestClient(TestServer(make_app())) as first:
        await first.get("/set")
        assert await (await first.get("/show")).text() == "abc"
    async with TestClient(TestServer(make_app())) as second:
        assert await (await second.get("/show")).text() == "<none>"


async def test_client_raise_for_status(client: TestClient) -> None:
    resp = await client.get("/missing")
    assert resp.status == 404
    assert not resp.ok
    with pytest.raises(Exception, match="404"):
        resp.raise_for_status()
    (await client.get("/target")).raise_for_status()


async def test_client_absolute_url_and_url_object(client: TestClient) -> None:
    resp = await client.get(client.make_url("/target"))
    assert await resp.text() == "target"
    resp = await client.get(URL("/target"))
    assert await resp.text() == "target"


async def test_client_ignores_proxy_environment(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("ALL_PROXY", "http://127.0.0.1:9")
    async with TestClient(TestServer(make_app())) as fresh:
        assert await (await fresh.get("/target")).text() == "target"


async def test_client_close_stops_the_server() -> None:
    server = TestServer(make_app())
    client = TestClient(server)
    await client.start_server()
    assert client.server is server
    assert client.port == server.port
    assert client.host == "127.0.0.1"
    assert isinstance(client.app, web.Application)
    await client.close()
    assert not server.started
    await client.close()


async def test_client_streamed_and_chunked_response() -> None:
    async def streamed(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        for i in range(3):
            await resp.write(b"chunk%d;" % i)
        await resp.write_eof()
        return resp

    app = web.Application()
    app.router.add_route("GET", "/", streamed)
    async with TestClient(TestServer(app)) as client:
        resp = await client.get("/")
        assert await resp.read() == b"chunk0;chunk1;chunk2;"
        assert resp.headers["Transfer-Encoding"] == "chunked"


# -- ws_connect (against aioweb's WebSocketResponse) ---------------------------


async def ws_echo(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse(protocols=("chat",))
    await ws.prepare(request)
    request.app[WS_SEEN].append(("cookie", request.cookies.get("token")))
    request.app[WS_SEEN].append(("query", request.query.get("q")))
    async for msg in ws:
        if msg.type is WSMsgType.TEXT:
            if msg.data == "close-me":
                await ws.close(code=4003, message=b"as asked")
                break
            await ws.send_str("echo: " + msg.data)
        elif msg.type is WSMsgType.BINARY:
            await ws.send_bytes(msg.data[::-1])
    request.app[WS_SEEN].append(("close_code", ws.close_code))
    return ws


WS_SEEN = web.AppKey("ws_seen", list)


def make_ws_app() -> web.Application:
    app = web.Application()
    app[WS_SEEN] = []
    app.router.add_route("GET", "/ws", ws_echo)
    app.router.add_route("GET", "/set", set_cookie)
    app.router.add_route("GET", "/plain", target)
    return app


async def wait_for_seen(app: web.Application, kind: str) -> object:
    for _ in range(200):
        for key, value in app[WS_SEEN]:
            if key == kind:
                return value
        await asyncio.sleep(0.01)
    raise AssertionError(f"the handler never recorded {kind!r}")


async def test_ws_connect_awaited_echoes_text_binary_json() -> None:
    async with TestClient(TestServer(make_ws_app())) as client:
        ws = await client.ws_connect("/ws")
        await ws.send_str("hi")
        assert await ws.receive_str() == "echo: hi"
        await ws.send_bytes(b"abc")
        assert await ws.receive_bytes() == b"cba"
        await ws.send_json({"k": 1})
        assert await ws.receive_str() == 'echo: {"k": 1}'
        assert await ws.close() is True
        assert ws.close_code == 1000
        assert await wait_for_seen(client.app, "close_code") == 1000


async def test_ws_connect_as_context_manager_closes_on_exit() -> None:
    async with TestClient(TestServer(make_ws_app())) as client:
        async with client.ws_connect("/ws", protocols=("v2", "chat")) as ws:
            assert ws.protocol == "chat"
            await ws.send_str("x")
            assert await ws.receive_str() == "echo: x"
        assert ws.closed
        assert await wait_for_seen(client.app, "close_code") == 1000


async def test_ws_connect_sends_cookies_and_params() -> None:
    async with TestClient(TestServer(make_ws_app())) as client:
        await client.get("/set", params={"value": "jar"})
        async with client.ws_connect("/ws", params={"q": "v"}):
            assert await wait_for_seen(client.app, "cookie") == "jar"
            assert await wait_for_seen(client.app, "query") == "v"


async def test_ws_connect_compressed_round_trip() -> None:
    async with TestClient(TestServer(make_ws_app())) as client:
        async with client.ws_connect("/ws", compress=15) as ws:
            assert ws.compress
            payload = "zip " * 50_000
            for _ in range(3):
                await ws.send_str(payload)
                assert await ws.receive_str() == "echo: " + payload


async def test_ws_connect_sees_server_close_code() -> None:
    async with TestClient(TestServer(make_ws_app())) as client:
        ws = await client.ws_connect("/ws")
        await ws.send_str("close-me")
        msg = await ws.receive()
        assert msg.type is WSMsgType.CLOSE
        assert (msg.data, msg.extra) == (4003, "as asked")
        assert ws.closed and ws.close_code == 4003


async def test_ws_connect_client_close_code_reaches_handler() -> None:
    async with TestClient(TestServer(make_ws_app())) as client:
        ws = await client.ws_connect("/ws")
        await ws.close(code=4010, message=b"bye")
        assert await wait_for_seen(client.app, "close_code") == 4010


async def test_ws_connect_ping_is_answered_by_server() -> None:
    async with TestClient(TestServer(make_ws_app())) as client:
        async with client.ws_connect("/ws", autoping=False) as ws:
            await ws.ping(b"p")
            msg = await ws.receive(timeout=5)
            assert msg.type is WSMsgType.PONG and msg.data == b"p"


async def test_ws_connect_to_plain_route_raises_handshake_error() -> None:
    async with TestClient(TestServer(make_ws_app())) as client:
        with pytest.raises(WSServerHandshakeError) as info:
            await client.ws_connect("/plain")
        assert info.value.status == 200
        with pytest.raises(WSServerHandshakeError) as info:
            await client.ws_connect("/missing")
        assert info.value.status == 404


async def test_client_close_closes_open_websockets() -> None:
    client = TestClient(TestServer(make_ws_app()))
    await client.start_server()
    ws = await client.ws_connect("/ws")
    await client.close()
    assert ws.closed and ws.close_code == 1000


async def test_ws_connect_before_start_raises() -> None:
    client = TestClient(TestServer(make_ws_app()))
    with pytest.raises(RuntimeError, match="start_server"):
        await client.ws_connect("/ws")
    await client.close()


# -- make_mocked_request -----------------------------------------------------


def test_mocked_request_basics() -> None:
    req = make_mocked_request("get", "/path/to?x=1&x=2", headers={"X-Token": "t", "Host": "example.com"})
    assert req.method == "GET"
    assert req.path == "/path/to"
    assert req.query.getall("x") == ["1", "2"]
    assert req.headers["x-token"] == "t"
    assert req.host == "example.com"
    assert req.version == (1, 1)
    assert isinstance(req.app, web.Application)
    assert req.match_info == {}
    assert req.transport is not None


def test_mocked_request_with_app_and_match_info() -> None:
    app = web.Application()
    app["key"] = "value"
    req = make_mocked_request("POST", "/users/7", app=app, match_info={"id": "7"})
    assert req.app is app
    assert req.app["key"] == "value"
    assert req.match_info["id"] == "7"
    req["scratch"] = 1
    assert req["scratch"] == 1


def test_mocked_request_multi_headers_and_version() -> None:
    headers = CIMultiDict([("Accept", "text/html"), ("Accept", "application/json")])
    req = make_mocked_request("GET", "/", headers=headers, version=HttpVersion10)
    assert req.headers.getall("ACCEPT") == ["text/html", "application/json"]
    assert req.version == HttpVersion10
    assert not req.keep_alive


async def test_mocked_request_runs_a_handler_and_collects_the_bytes() -> None:
    req = make_mocked_request("GET", "/")
    resp = web.Response(text="mocked")
    await resp.prepare(req)
    await resp.write_eof()
    written = b"".join(req.protocol.written)
    assert written.startswith(b"HTTP/1.1 200 OK\r\n")
    assert written.endswith(b"\r\n\r\nmocked")


async def test_mocked_request_body_is_empty() -> None:
    req = make_mocked_request("POST", "/")
    assert await req.read() == b""
    assert not req.can_read_body
