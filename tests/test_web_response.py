"""Responses: header validation, cookies, entity headers, flow control, one-write output."""

from __future__ import annotations

import datetime
import json
import socket
from collections.abc import Callable
from typing import Any

import pytest
from multidict import CIMultiDict

from aioweb import web
from aioweb._flow_control import CORK
from aioweb._http_writer import StreamWriter
from aioweb.test_utils import make_mocked_request
from aioweb.web_request import ETag, _parse_cookie_header
from aioweb.web_response import Headers

BAD = ["a\rb", "a\nb", "a\x00b", "a\r\nX-Evil: 1"]

MUTATIONS: dict[str, Callable[[Headers, str, str], object]] = {
    "setitem": lambda h, k, v: h.__setitem__(k, v),
    "add": lambda h, k, v: h.add(k, v),
    "extend-list": lambda h, k, v: h.extend([(k, v)]),
    "extend-kwargs": lambda h, k, v: h.extend(**{k: v}),
    "update-dict": lambda h, k, v: h.update({k: v}),
    "update-kwargs": lambda h, k, v: h.update(**{k: v}),
    "setdefault": lambda h, k, v: h.setdefault(k, v),
    "merge": lambda h, k, v: h.merge({k: v}),
    "constructor": lambda h, k, v: Headers({k: v}),
    "constructor-pairs": lambda h, k, v: Headers([(k, v)]),
    "copy-then-set": lambda h, k, v: h.copy().__setitem__(k, v),
    "response": lambda h, k, v: web.Response(headers={k: v}),
    "stream-response": lambda h, k, v: web.StreamResponse(headers=CIMultiDict({k: v})),
    "exception": lambda h, k, v: web.HTTPNotFound(headers={k: v}),
    "json-response": lambda h, k, v: web.json_response({}, headers={k: v}),
}


@pytest.mark.parametrize("path", sorted(MUTATIONS))
@pytest.mark.parametrize("bad", BAD, ids=repr)
def test_crlf_nul_in_header_value_is_refused_on_every_path(path: str, bad: str) -> None:
    headers = Headers({"X-Ok": "1"})
    with pytest.raises(ValueError, match="forbidden character"):
        MUTATIONS[path](headers, "X-Test", bad)
    assert "X-Test" not in headers


@pytest.mark.parametrize("path", sorted(MUTATIONS))
@pytest.mark.parametrize("bad", BAD, ids=repr)
def test_crlf_nul_in_header_name_is_refused_on_every_path(path: str, bad: str) -> None:
    with pytest.raises(ValueError):
        MUTATIONS[path](Headers(), bad, "v")


def test_headers_accept_normal_values_and_ints() -> None:
    headers = Headers({"A": "1"})
    headers["B"] = 2  # type: ignore[assignment]
    headers.add("a", "3")
    assert headers.getall("A") == ["1", "3"] and headers["B"] == "2"


@pytest.mark.parametrize("reason", ["Ok\r\nX: 1", "Ok\n", "Ok\x00"])
def test_reason_with_control_chars_is_refused(reason: str) -> None:
    with pytest.raises(ValueError):
        web.Response(reason=reason)
    resp = web.StreamResponse()
    with pytest.raises(ValueError):
        resp.set_status(200, reason)


def test_status_is_validated() -> None:
    with pytest.raises(ValueError):
        web.Response(status=42)
    assert web.Response(status=404).reason == "Not Found"
    assert web.Response(status=599).reason == ""


def test_response_text_and_body() -> None:
    resp = web.Response(text="héllo")
    assert resp.body == "héllo".encode() and resp.text == "héllo"
    assert resp.content_type == "text/plain" and resp.charset == "utf-8"
    assert resp.content_length == len("héllo".encode())
    resp = web.Response(text="x", content_type="text/html", charset="latin-1")
    assert resp.headers["Content-Type"] == "text/html; charset=latin-1"
    resp = web.Response(body=b"\x00\x01")
    assert resp.body == b"\x00\x01" and resp.content_type == "application/octet-stream"
    with pytest.raises(ValueError):
        web.Response(body=b"x", text="y")
    with pytest.raises(ValueError):
        web.Response(text="x", headers={"Content-Type": "a/b"}, content_type="c/d")
    with pytest.raises(ValueError):
        web.Response(text="x", content_type="text/html; charset=utf-8")
    with pytest.raises(TypeError):
        web.Response(text=b"x")  # type: ignore[arg-type]
    with pytest.raises(RuntimeError):
        web.Response().content_length = 5


def test_str_body_is_encoded_as_aiohttp_does() -> None:
    resp = web.Response(body="hé")
    assert resp.body == "hé".encode() and resp.content_type == "text/plain"


def test_json_response() -> None:
    resp = web.json_response({"a": [1, 2]})
    assert json.loads(resp.text or "") == {"a": [1, 2]}
    assert resp.headers["Content-Type"] == "application/json; charset=utf-8"
    assert web.json_response(None).text == "null"
    assert web.json_response().body is None
    assert web.json_response(text='"t"', status=201).status == 201
    assert web.json_response([1], dumps=lambda d: "[7]").text == "[7]"
    with pytest.raises(TypeError, match="text argument must be str"):
        web.json_response([1], dumps=lambda d: b"[7]")  # type: ignore[arg-type,return-value]
    with pytest.raises(ValueError):
        web.json_response({"a": 1}, text="{}")
    with pytest.raises(ValueError, match="body and text"):
        web.json_response({"a": 1}, body=b"")  # an empty body is still a body


def test_json_response_arguments_beside_data() -> None:
    resp = web.json_response({"a": 1}, status=202, reason="Queued", headers={"X-A": "1"})
    assert (resp.status, resp.reason, resp.headers["X-A"]) == (202, "Queued", "1")
    assert resp.text == '{"a": 1}'
    resp = web.json_response({"a": 1}, content_type="application/problem+json")
    assert resp.headers["Content-Type"] == "application/problem+json; charset=utf-8"


@pytest.mark.parametrize("data", [{"message": "Hello, world"}, ["é", 1.5, None], "x"])
def test_json_response_state_is_that_of_the_response_it_stands_for(data: Any) -> None:
    built = web.json_response(data)
    called = web.Response(text=json.dumps(data), content_type="application/json")
    assert type(built) is web.Response
    assert vars(built) == vars(called)
    assert list(built.headers.items()) == list(called.headers.items())


def test_content_type_and_charset_properties() -> None:
    resp = web.StreamResponse()
    assert resp.content_type == "application/octet-stream" and resp.charset is None
    with pytest.raises(RuntimeError):
        resp.charset = "utf-8"
    resp.content_type = "text/html"
    resp.charset = "UTF-8"
    assert resp.headers["Content-Type"] == "text/html; charset=utf-8"
    resp.content_type = "text/plain"
    assert resp.headers["Content-Type"] == "text/plain; charset=utf-8"
    resp.charset = None
    assert resp.headers["Content-Type"] == "text/plain"


def test_content_length_and_chunking_are_exclusive() -> None:
    resp = web.StreamResponse()
    resp.content_length = 10
    assert resp.content_length == 10
    with pytest.raises(RuntimeError):
        resp.enable_chunked_encoding()
    assert not resp.chunked
    resp.content_length = None
    resp.enable_chunked_encoding()
    assert resp.chunked
    with pytest.raises(RuntimeError):
        resp.content_length = 1


def test_last_modified_and_etag() -> None:
    resp = web.StreamResponse()
    resp.last_modified = 0
    assert resp.headers["Last-Modified"] == "Thu, 01 Jan 1970 00:00:00 GMT"
    when = datetime.datetime(2020, 5, 17, 10, 30, tzinfo=datetime.timezone.utc)
    resp.last_modified = when
    assert resp.last_modified == when
    resp.last_modified = None
    assert resp.last_modified is None
    resp.etag = "abc"
    assert resp.headers["ETag"] == '"abc"'
    assert web.StreamResponse(headers={"ETag": '"abc"'}).etag == ETag("abc")
    resp.etag = ETag("w", is_weak=True)
    assert resp.headers["ETag"] == 'W/"w"' and resp.etag == ETag("w", True)
    with pytest.raises(ValueError):
        resp.etag = 'a"b'


def test_response_is_a_per_response_store() -> None:
    resp = web.Response()
    assert len(resp) == 0 and list(resp) == []
    with pytest.raises(KeyError):
        resp["k"]
    resp["k"] = 1
    assert resp["k"] == 1 and len(resp) == 1
    del resp["k"]
    assert len(resp) == 0


def test_flow_control_defaults_follow_the_seed() -> None:
    resp = web.Response()
    assert resp.tcp_cork and not resp.tcp_nodelay
    assert web.HTTPNotFound().tcp_cork
    stream = web.StreamResponse()
    assert stream.tcp_nodelay and not stream.tcp_cork
    stream.set_tcp_cork(True)
    assert stream.tcp_cork and not stream.tcp_nodelay
    stream.set_tcp_nodelay(True)
    assert stream.tcp_nodelay and not stream.tcp_cork
    stream.set_tcp_nodelay(False)
    assert not stream.tcp_nodelay and not stream.tcp_cork  # Nagle's mode


# -- cookies --


def _set_cookie_headers(resp: web.StreamResponse) -> list[str]:
    req = make_mocked_request("GET", "/")
    resp._build_head(req, StreamWriter(req.protocol))
    return resp.headers.getall("Set-Cookie", [])


def test_set_cookie_attributes() -> None:
    resp = web.Response()
    resp.set_cookie(
        "sid",
        "abc",
        expires="Wed, 21 Oct 2099 07:28:00 GMT",
        domain="example.org",
        max_age=60,
        path="/app",
        secure=True,
        httponly=True,
        samesite="Lax",
        partitioned=True,
    )
    (line,) = _set_cookie_headers(resp)
    parts = [p.strip() for p in line.split(";")]
    assert parts[0] == "sid=abc"
    for attr in (
        "expires=Wed, 21 Oct 2099 07:28:00 GMT",
        "Domain=example.org",
        "Max-Age=60",
        "Path=/app",
        "Secure",
        "HttpOnly",
        "SameSite=Lax",
        "Partitioned",
    ):
        assert attr in parts


@pytest.mark.parametrize("value", ['a b', 'a"b', "a;b", "x; Domain=evil.com", "a\r\nb", "a\\b"])
def test_cookie_value_is_quoted_and_cannot_add_attributes(value: str) -> None:
    resp = web.Response()
    resp.set_cookie("c", value)
    (line,) = _set_cookie_headers(resp)
    assert line.startswith('c="') and line.endswith("; Path=/")
    assert "\r" not in line and "\n" not in line
    assert [p for p in line.split("; ") if p.startswith("Domain")] == []
    # The quoted value parses back to the original.
    parsed: dict[str, str] = {}
    _parse_cookie_header(line.split("; Path=")[0], parsed)
    assert parsed == {"c": value}


@pytest.mark.parametrize(
    "kwargs",
    [
        {"domain": "x; Secure"},
        {"path": "/\r\nX: 1"},
        {"samesite": "Lax; Domain=e"},
        {"expires": "x;y"},
        {"max_age": "1; Domain=e"},
    ],
)
def test_cookie_attribute_injection_is_refused(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        web.Response().set_cookie("c", "v", **kwargs)


@pytest.mark.parametrize("name", ["a b", "a;b", "a\r\n", "", "a=b"])
def test_invalid_cookie_name_raises_value_error(name: str) -> None:
    with pytest.raises(ValueError):
        web.Response().set_cookie(name, "v")


def test_del_cookie_expires_it() -> None:
    resp = web.Response()
    resp.set_cookie("sid", "abc", max_age=10)
    resp.del_cookie("sid", path="/app")
    (line,) = _set_cookie_headers(resp)
    assert line.startswith('sid=""')
    assert "Max-Age=0" in line and "expires=Thu, 01 Jan 1970 00:00:00 GMT" in line
    assert "Path=/app" in line


def test_set_after_del_clears_the_expiry() -> None:
    resp = web.Response()
    resp.del_cookie("sid")
    resp.set_cookie("sid", "new")
    (line,) = _set_cookie_headers(resp)
    assert line == "sid=new; Path=/"


# -- output --


async def test_small_response_is_one_write() -> None:
    req = make_mocked_request("GET", "/")
    resp = web.Response(text="hello", headers={"X-A": "1"})
    await resp._finish(req)
    written = req.protocol.written  # type: ignore[attr-defined]
    assert len(written) == 1
    head, _, body = written[0].partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK\r\n") and b"\r\nX-A: 1" in head
    assert b"Content-Length: 5" in head and body == b"hello"


LAZY_CASES: dict[str, Callable[[], web.Response]] = {
    "text": lambda: web.Response(text="hi"),
    "typed-body": lambda: web.Response(body=b"{}", content_type="application/json"),
    "untyped-body": lambda: web.Response(body=b"raw"),
    "json": lambda: web.json_response({"a": 1}),
    "text-beside-headers": lambda: web.Response(text="hi", headers={"X-A": "1"}),
}


async def _send(resp: web.Response, req: web.Request, path: str) -> None:
    """Send as the server does (``simple``: one synchronous write) or through prepare()."""
    if path == "simple":
        assert resp._send_simple(req)
    else:
        await resp._finish(req)


@pytest.mark.parametrize("path", ["simple", "prepare"])
@pytest.mark.parametrize("case", sorted(LAZY_CASES))
async def test_headers_show_what_was_sent_when_built_after_the_send(case: str, path: str) -> None:
    req = make_mocked_request("GET", "/")
    resp = LAZY_CASES[case]()
    await _send(resp, req, path)
    head = req.protocol.written[0].partition(b"\r\n\r\n")[0].decode()  # type: ignore[attr-defined]
    sent = [tuple(line.split(": ", 1)) for line in head.split("\r\n")[1:]]
    assert list(resp.headers.items()) == sent
    assert len(sent) == len({name for name, _ in sent})  # nothing sent twice


async def test_headers_built_before_the_send_start_with_the_content_type() -> None:
    resp = web.Response(text="hi", content_type="text/html")
    resp.headers["X-Late"] = "1"
    assert list(resp.headers.items()) == [
        ("Content-Type", "text/html; charset=utf-8"),
        ("X-Late", "1"),
    ]
    assert resp.content_type == "text/html" and resp.charset == "utf-8"
    req = make_mocked_request("GET", "/")
    await _send(resp, req, "prepare")
    written = req.protocol.written[0]  # type: ignore[attr-defined]
    assert b"\r\nContent-Type: text/html; charset=utf-8\r\n" in written
    assert b"\r\nX-Late: 1\r\n" in written


async def test_a_usual_response_sends_without_building_headers() -> None:
    req = make_mocked_request("GET", "/")
    resp = web.Response(text="hi")
    await _send(resp, req, "simple")
    assert resp._hdrs is None  # the saving this path exists for
    assert resp.headers["Content-Length"] == "2"


async def test_explicitly_prepared_response_is_still_one_write() -> None:
    req = make_mocked_request("GET", "/")
    resp = web.Response(body=b"abc")
    await resp.prepare(req)
    await resp.write_eof()
    assert len(req.protocol.written) == 1  # type: ignore[attr-defined]
    assert resp.prepared and resp.body_length == len(req.protocol.written[0])  # type: ignore[attr-defined]


@pytest.mark.parametrize("headers", [None, {"X-A": "1"}])
@pytest.mark.parametrize("size", [0, 100, 16383, 16384, 100_000])
async def test_simple_send_body_length_counts_head_and_body(size: int, headers: Any) -> None:
    """A large body is written beside its head, a small one behind it: same count either way."""
    req = make_mocked_request("GET", "/")
    resp = web.Response(body=b"b" * size, headers=headers)
    assert resp._send_simple(req)
    sent = b"".join(req.protocol.written)  # type: ignore[attr-defined]
    assert sent.endswith(b"\r\n\r\n" + b"b" * size)
    assert resp.body_length == len(sent)
    writes = req.protocol.transport.write.call_count + req.protocol.transport.writelines.call_count  # type: ignore[attr-defined]
    assert writes == 1


async def test_stream_response_writes_chunks() -> None:
    req = make_mocked_request("GET", "/")
    resp = web.StreamResponse()
    await resp.prepare(req)
    assert resp.prepared and resp.keep_alive
    await resp.write(b"ab")
    await resp.write_eof(b"c")
    out = b"".join(req.protocol.written)  # type: ignore[attr-defined]
    assert b"Transfer-Encoding: chunked" in out
    assert out.endswith(b"2\r\nab\r\n1\r\nc\r\n0\r\n\r\n")
    with pytest.raises(RuntimeError):
        await resp.write(b"x")
    with pytest.raises(TypeError):
        await web.StreamResponse().write("str")  # type: ignore[arg-type]


async def test_write_before_prepare_and_reuse_for_another_request() -> None:
    resp = web.StreamResponse()
    with pytest.raises(RuntimeError):
        await resp.write(b"x")
    req = make_mocked_request("GET", "/")
    await resp.prepare(req)
    assert await resp.prepare(req) is not None
    with pytest.raises(RuntimeError):
        await resp.prepare(make_mocked_request("GET", "/"))
    with pytest.raises(RuntimeError):
        resp.set_status(404)


async def test_force_close_sends_connection_close() -> None:
    req = make_mocked_request("GET", "/")
    resp = web.Response()
    resp.force_close()
    await resp._finish(req)
    assert b"Connection: close\r\n" in req.protocol.written[0]  # type: ignore[attr-defined]
    assert resp.keep_alive is False


async def test_prepared_task_is_the_request_task() -> None:
    resp = web.StreamResponse()
    assert resp.task is None
    req = make_mocked_request("GET", "/")
    await resp.prepare(req)
    assert resp.task is req.task


# -- over a real socket --


async def test_small_response_leaves_in_one_transport_write(aioweb_client: Any) -> None:
    writes: list[bytes] = []

    async def spy(request: web.Request) -> web.Response:
        transport = request.transport
        assert transport is not None
        original = transport.write

        def write(data: Any) -> None:
            writes.append(bytes(data))
            original(data)

        transport.write = write  # type: ignore[method-assign]
        return web.Response(text="spy")

    async def small(request: web.Request) -> web.Response:
        return web.Response(text="hello world", headers={"X-Custom": "1"})

    app = web.Application()
    app.router.add_get("/spy", spy)
    app.router.add_get("/small", small)
    client = await aioweb_client(app)
    await client.get("/spy")
    writes.clear()
    resp = await client.get("/small")  # same keep-alive connection
    assert await resp.text() == "hello world"
    assert len(writes) == 1
    assert writes[0].startswith(b"HTTP/1.1 200 OK\r\n")
    assert writes[0].endswith(b"\r\n\r\nhello world")


async def test_cookies_round_trip_over_a_socket(aioweb_client: Any) -> None:
    tricky = 'a b "c"; Domain=evil; d'

    async def set_(request: web.Request) -> web.Response:
        resp = web.Response(text="set")
        resp.set_cookie("plain", "v1")
        resp.set_cookie("tricky", tricky)
        return resp

    async def show(request: web.Request) -> web.Response:
        return web.json_response(dict(request.cookies))

    async def delete(request: web.Request) -> web.Response:
        resp = web.Response(text="del")
        resp.del_cookie("plain")
        return resp

    app = web.Application()
    app.router.add_get("/set", set_)
    app.router.add_get("/show", show)
    app.router.add_get("/del", delete)
    client = await aioweb_client(app)
    resp = await client.get("/set")
    set_cookies = resp.raw.headers.get_list("set-cookie")
    assert "plain=v1; Path=/" in set_cookies
    assert not any("Domain=evil" in c.split('"')[-1] for c in set_cookies)
    assert await (await client.get("/show")).json() == {"plain": "v1", "tricky": tricky}
    resp = await client.get("/del")
    (deleted,) = resp.raw.headers.get_list("set-cookie")
    assert "Max-Age=0" in deleted and "expires=Thu, 01 Jan 1970 00:00:00 GMT" in deleted
    assert await (await client.get("/show")).json() == {"tricky": tricky}


async def test_head_request_gets_length_but_no_body(raw_connect: Any, aioweb_server: Any) -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(text="12345")

    app = web.Application()
    app.router.add_get("/", handler)
    server = await aioweb_server(app)
    conn = await raw_connect(server.port)
    await conn.send(b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n")
    head = await conn.reader.readuntil(b"\r\n\r\n")  # HEAD: no body follows
    assert head.startswith(b"HTTP/1.1 200 OK") and b"Content-Length: 5\r\n" in head
    status, _, body = await conn.read_response()
    assert status == b"HTTP/1.1 200 OK" and body == b"12345"


async def test_http10_stream_without_length_closes(raw_connect: Any, aioweb_server: Any) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()
        await resp.prepare(request)
        await resp.write(b"part1-")
        await resp.write(b"part2")
        return resp

    app = web.Application()
    app.router.add_get("/", handler)
    server = await aioweb_server(app)
    conn = await raw_connect(server.port)
    await conn.send(b"GET / HTTP/1.0\r\n\r\n")
    data = await conn.read_until_closed()
    assert data.startswith(b"HTTP/1.0 200 OK\r\n")
    assert b"Transfer-Encoding" not in data and b"Connection: close" in data
    assert data.endswith(b"\r\n\r\npart1-part2")


def _sockopt(request: web.Request, option: int) -> int:
    transport = request.transport
    assert transport is not None
    return int(transport.get_extra_info("socket").getsockopt(socket.IPPROTO_TCP, option))


async def test_tcp_modes_reach_the_socket_and_are_restored(aioweb_client: Any) -> None:
    async def stream(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()
        await resp.prepare(request)
        seen = {"default_nodelay": _sockopt(request, socket.TCP_NODELAY)}
        resp.set_tcp_cork(True)
        seen["cork_nodelay"] = _sockopt(request, socket.TCP_NODELAY)
        if CORK is not None:
            seen["cork"] = _sockopt(request, CORK)
        await resp.write(json.dumps(seen).encode())
        return resp

    async def after(request: web.Request) -> web.Response:
        seen = {"nodelay": _sockopt(request, socket.TCP_NODELAY)}
        if CORK is not None:
            seen["cork"] = _sockopt(request, CORK)
        return web.json_response(seen)

    async def nagle(request: web.Request) -> web.Response:
        resp = web.Response(text="n")
        resp.set_tcp_nodelay(False)
        resp.set_tcp_cork(False)
        return resp

    app = web.Application()
    app.router.add_get("/stream", stream)
    app.router.add_get("/after", after)
    app.router.add_get("/nagle", nagle)
    client = await aioweb_client(app)
    seen = await (await client.get("/stream")).json(content_type=None)
    assert seen["default_nodelay"] == 1 and seen["cork_nodelay"] == 0
    if CORK is not None:
        assert seen["cork"] == 1
    restored = await (await client.get("/after")).json()
    assert restored["nodelay"] == 1 and restored.get("cork", 0) == 0
    assert await (await client.get("/nagle")).text() == "n"
    restored = await (await client.get("/after")).json()
    assert restored["nodelay"] == 1 and restored.get("cork", 0) == 0


async def test_same_response_object_for_two_requests_does_not_hang(aioweb_client: Any) -> None:
    shared = web.Response(text="shared")

    async def handler(request: web.Request) -> web.Response:
        return shared

    app = web.Application()
    app.router.add_get("/", handler)
    client = await aioweb_client(app)
    assert await (await client.get("/")).text() == "shared"
    with pytest.raises(Exception):  # noqa: B017 - the connection is closed, not left hanging
        await client.get("/")


def test_response_key_typed_storage() -> None:
    key = web.ResponseKey("n", int)
    resp = web.StreamResponse()
    assert key not in resp and resp.get(key, 0) == 0
    resp[key] = 3
    assert resp[key] == 3 and key in resp and resp.get(key) == 3
    assert repr(key) == "<ResponseKey(n, type=int)>"
