"""Requests: lazy head parsing, conditional headers, body reading, limits, clone()."""

from __future__ import annotations

import datetime
import json
import types
from typing import Any, Optional

import pytest
from multidict import CIMultiDictProxy, MultiDict, MultiDictProxy

import aioweb
from aioweb import HttpVersion, HttpVersion10, HttpVersion11, web
from aioweb.streams import StreamReader
from aioweb.test_utils import make_mocked_request
from aioweb.web_request import ETag, InvalidJSONBody


def body_request(
    body: bytes,
    headers: Optional[dict[str, str]] = None,
    *,
    method: str = "POST",
    declare_length: bool = True,
    **kwargs: Any,
) -> web.Request:
    payload = StreamReader()
    payload.feed_data(body)
    payload.feed_eof()
    all_headers = dict(headers or {})
    if declare_length:
        all_headers.setdefault("Content-Length", str(len(body)))
    return make_mocked_request(method, "/", headers=all_headers, payload=payload, **kwargs)


# -- the request line and URL --


def test_request_line_and_url_parts() -> None:
    req = make_mocked_request("get", "/p%20a/th?a=1&a=2&b=%C3%A9", headers={"Host": "ex.org:81"})
    assert req.method == "GET"
    assert req.version == HttpVersion11 and isinstance(req.version, HttpVersion)
    assert req.path == "/p a/th"
    assert req.raw_path == "/p%20a/th?a=1&a=2&b=%C3%A9"
    assert req.query_string == "a=1&a=2&b=é"
    assert isinstance(req.query, MultiDictProxy)
    assert req.query.getall("a") == ["1", "2"] and req.query["b"] == "é"
    assert str(req.rel_url) == "/p%20a/th?a=1&a=2&b=%C3%A9"
    assert str(req.url) == "http://ex.org:81/p%20a/th?a=1&a=2&b=%C3%A9"
    assert req.host == "ex.org:81"
    assert req.scheme == "http" and not req.secure
    assert req.remote == "127.0.0.1"
    assert req.keep_alive
    assert repr(req) == "<Request GET /p a/th >"


@pytest.mark.parametrize("target", ["/a?x=1#f?g", "/a#f?g"])
def test_a_fragment_is_neither_path_nor_query(target: str) -> None:
    req = make_mocked_request("GET", target)
    assert req.path == req.rel_url.path == "/a"
    assert req.query_string == ("x=1" if "?x" in target else "")
    assert req.rel_url.fragment == "f?g"


def test_version_10_and_keep_alive() -> None:
    req = make_mocked_request("GET", "/", version=HttpVersion10)
    assert req.version == HttpVersion10 and not req.keep_alive
    assert not make_mocked_request("GET", "/", closing=True).keep_alive


def test_secure_when_tls() -> None:
    req = make_mocked_request("GET", "/", sslcontext=object())
    assert req.scheme == "https" and req.secure
    assert str(req.url).startswith("https://")


def test_bad_host_header_is_a_400_not_a_500() -> None:
    req = make_mocked_request("GET", "/", headers={"Host": "h:notaport"})
    with pytest.raises(web.HTTPBadRequest):
        req.url  # noqa: B018


def test_headers_are_read_only_case_insensitive_and_raw_kept() -> None:
    req = make_mocked_request("GET", "/", headers={"X-One": "1", "Accept": "a/b"})
    assert isinstance(req.headers, CIMultiDictProxy)
    assert req.headers["x-one"] == "1"
    assert (b"X-One", b"1") in req.raw_headers
    with pytest.raises(TypeError):
        req.headers["X-Two"] = "2"  # type: ignore[index]


def test_head_is_parsed_lazily_and_at_most_once() -> None:
    req = make_mocked_request(
        "GET",
        "/x?q=1",
        headers={
            "Cookie": "a=1",
            "Forwarded": "for=1.2.3.4",
            "If-Match": '"t"',
            "Content-Type": "text/plain",
            "Host": "h",
        },
    )
    assert req._headers is None and req._query is None and req._cookies is None
    assert req._cache is None and req._ctype is None
    for name in (
        "headers", "query", "cookies", "url", "rel_url", "forwarded", "if_match",
        "if_none_match", "if_modified_since", "host",
    ):  # fmt: skip
        assert getattr(req, name) is getattr(req, name), name
    assert req.content_type == "text/plain"
    assert req._ctype is not None and req._content_type() is req._content_type()


def test_transport_match_info_app_and_config_dict() -> None:
    app = web.Application()
    app["k"] = "v"
    req = make_mocked_request("GET", "/", app=app, match_info={"name": "x"})
    assert req.transport is req.protocol.transport
    assert req.match_info["name"] == "x"
    assert req.app is app
    assert req.config_dict["k"] == "v"


def test_request_is_per_request_storage() -> None:
    req = make_mocked_request("GET", "/")
    req["my_private_key"] = "data"
    assert req["my_private_key"] == "data" and len(req) == 1 and list(req) == ["my_private_key"]
    del req["my_private_key"]
    assert "my_private_key" not in req
    assert req == req and hash(req) == hash(req) and req


# -- header-derived attributes --


def test_forwarded_elements() -> None:
    req = make_mocked_request(
        "GET",
        "/",
        headers={"Forwarded": 'for=192.0.2.60;proto=https;by="[2001:db8::1]", for="a\\"b";bad'},
    )
    first, second = req.forwarded
    assert first == {"for": "192.0.2.60", "proto": "https", "by": "[2001:db8::1]"}
    assert second == {"for": 'a"b'}
    assert make_mocked_request("GET", "/").forwarded == ()


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("a=1; b=2", {"a": "1", "b": "2"}),
        ("a=hello world; c=d", {"a": "hello world", "c": "d"}),
        ('a="x;y"; b=2', {"a": "x;y", "b": "2"}),
        ('j={"k":1}; b=2', {"j": '{"k":1}', "b": "2"}),
        ("path=/; expires=never", {"path": "/", "expires": "never"}),
        ("junk; a=1;;=x; b = 2 ", {"a": "1", "b": "2"}),
        ('q="a\\"b\\073c"', {"q": 'a"b;c'}),
        ("a=1; a=2", {"a": "2"}),
        ("", {}),
    ],
)
def test_cookies_are_parsed_leniently(header: str, expected: dict[str, str]) -> None:
    req = make_mocked_request("GET", "/", headers={"Cookie": header})
    assert dict(req.cookies) == expected
    with pytest.raises(TypeError):
        req.cookies["x"] = "y"  # type: ignore[index]


def test_content_type_charset_and_length() -> None:
    req = make_mocked_request(
        "POST", "/", headers={"Content-Type": 'Text/HTML; Charset="UTF-8"', "Content-Length": "7"}
    )
    assert req.content_type == "text/html"
    assert req.charset == "UTF-8"
    assert req.content_length == 7
    plain = make_mocked_request("GET", "/")
    assert plain.content_type == "application/octet-stream"
    assert plain.charset is None and plain.content_length is None


def test_conditional_headers() -> None:
    req = make_mocked_request(
        "GET",
        "/",
        headers={
            "If-Modified-Since": "Sun, 17 May 2020 10:30:00 GMT",
            "If-Unmodified-Since": "garbage",
            "If-Match": '"a", W/"b", junk',
            "If-None-Match": "*",
            "If-Range": "Sun, 17 May 2020 10:30:00 GMT",
        },
    )
    when = datetime.datetime(2020, 5, 17, 10, 30, tzinfo=datetime.timezone.utc)
    assert req.if_modified_since == when
    assert req.if_unmodified_since is None
    assert req.if_match == (ETag("a"), ETag("b", is_weak=True))
    assert req.if_none_match == (ETag("*"),)
    assert req.if_range == when
    bare = make_mocked_request("GET", "/")
    assert bare.if_match is None and bare.if_modified_since is None and bare.if_range is None


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, slice(None, None)),
        ("bytes=0-499", slice(0, 500)),
        ("bytes=500-", slice(500, None)),
        ("bytes=-500", slice(-500, None)),
        ("bytes=0-0", slice(0, 1)),
    ],
)
def test_http_range(header: Optional[str], expected: slice) -> None:
    headers = {} if header is None else {"Range": header}
    assert make_mocked_request("GET", "/", headers=headers).http_range == expected


@pytest.mark.parametrize("header", ["bytes=5-1", "bytes=-", "items=0-1", "bytes=a-b"])
def test_bad_http_range_raises_value_error(header: str) -> None:
    with pytest.raises(ValueError):
        make_mocked_request("GET", "/", headers={"Range": header}).http_range  # noqa: B018


# -- the body --


async def test_read_text_json_cached() -> None:
    req = body_request(b'{"a": [1, "\xc3\xa9"]}', {"Content-Type": "application/json"})
    assert req.body_exists and req.can_read_body
    assert await req.json() == {"a": [1, "é"]}
    assert await req.read() is await req.read()
    assert await req.text() == '{"a": [1, "é"]}'
    assert not req.can_read_body


async def test_text_uses_the_declared_charset() -> None:
    req = body_request("héllo".encode("latin-1"), {"Content-Type": "text/plain; charset=latin-1"})
    assert await req.text() == "héllo"


async def test_unknown_charset_is_415_with_a_clear_message() -> None:
    req = body_request(b"x", {"Content-Type": "text/plain; charset=no-such-codec"})
    with pytest.raises(web.HTTPUnsupportedMediaType) as info:
        await req.text()
    assert "no-such-codec" in (info.value.text or "")


async def test_undecodable_body_is_400() -> None:
    req = body_request(b"\xff\xfe", {"Content-Type": "text/plain"})
    with pytest.raises(web.HTTPBadRequest) as info:
        await req.text()
    assert "utf-8" in (info.value.text or "")


async def test_invalid_json_is_a_400_and_still_a_json_decode_error() -> None:
    req = body_request(b"{nope", {"Content-Type": "application/json"})
    with pytest.raises(json.JSONDecodeError) as info:
        await req.json()
    exc = info.value
    assert isinstance(exc, InvalidJSONBody) and isinstance(exc, web.HTTPBadRequest)
    assert isinstance(exc, ValueError)
    assert exc.status == 400 and exc.pos == 1 and exc.lineno == 1
    assert (exc.text or "").startswith("Invalid JSON body: ")


async def test_json_custom_loads_and_content_type_check() -> None:
    req = body_request(b"[1]", {"Content-Type": "application/json"})
    assert await req.json(loads=lambda s: ("custom", s)) == ("custom", "[1]")
    other = body_request(b"[1]", {"Content-Type": "text/plain"})
    with pytest.raises(web.HTTPBadRequest):
        await other.json(content_type="application/json")
    assert other.can_read_body  # refused before reading


async def test_body_over_declared_limit_is_413() -> None:
    req = body_request(b"x" * 11, client_max_size=10)
    with pytest.raises(web.HTTPRequestEntityTooLarge) as info:
        await req.read()
    assert info.value.status == 413


async def test_body_over_limit_without_length_is_413() -> None:
    req = body_request(b"x" * 11, {"Transfer-Encoding": "chunked"}, declare_length=False)
    req._client_max_size = 10
    with pytest.raises(web.HTTPRequestEntityTooLarge):
        await req.read()


async def test_body_at_the_limit_is_fine() -> None:
    assert await body_request(b"x" * 10, client_max_size=10).read() == b"x" * 10


async def test_content_stream_methods() -> None:
    req = body_request(b"line1\nline2\nrest")
    assert isinstance(req.content, StreamReader)
    assert await req.content.readline() == b"line1\n"
    assert await req.content.read(3) == b"lin"
    chunks = [c async for c in req.content.iter_chunked(2)]
    assert b"".join(chunks) == b"e2\nrest" and max(map(len, chunks)) <= 2
    req = body_request(b"abc")
    assert b"".join([c async for c in req.content.iter_any()]) == b"abc"
    req = body_request(b"abc")
    assert await req.content.readany() == b"abc"


def test_no_body() -> None:
    req = make_mocked_request("GET", "/")
    assert not req.body_exists and not req.can_read_body


async def test_post_urlencoded() -> None:
    req = body_request(
        b"a=1&a=2&b=%C3%A9&empty=",
        {"Content-Type": "application/x-www-form-urlencoded"},
    )
    form = await req.post()
    assert isinstance(form, MultiDictProxy)
    assert form.getall("a") == ["1", "2"] and form["b"] == "é" and form["empty"] == ""
    assert await req.post() is form


async def test_post_urlencoded_in_its_charset() -> None:
    req = body_request(
        b"b=%E9",
        {"Content-Type": "application/x-www-form-urlencoded; charset=latin-1"},
    )
    assert (await req.post())["b"] == "é"


@pytest.mark.parametrize(
    ("method", "ctype"),
    [("GET", "application/x-www-form-urlencoded"), ("POST", "application/json")],
)
async def test_post_is_empty_for_other_methods_and_types(method: str, ctype: str) -> None:
    req = body_request(b"a=1", {"Content-Type": ctype}, method=method)
    assert dict(await req.post()) == {}


async def test_post_multipart_is_delegated(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[web.BaseRequest] = []

    async def read_form(request: web.BaseRequest) -> MultiDictProxy[Any]:
        seen.append(request)
        return MultiDictProxy(MultiDict({"f": "v"}))

    monkeypatch.setattr(aioweb, "multipart", types.SimpleNamespace(read_form=read_form), raising=False)
    req = body_request(b"--b--\r\n", {"Content-Type": "multipart/form-data; boundary=b"})
    assert (await req.post())["f"] == "v"
    assert seen == [req]


# -- clone --


def test_clone_replaces_head_fields() -> None:
    req = make_mocked_request("GET", "/a?x=1", headers={"X-A": "1"}, match_info={"k": "v"})
    req["state"] = 1
    new = req.clone(method="post", rel_url="/b?y=2", headers={"X-B": "2"}, scheme="https",
                    host="other", remote="10.0.0.1", client_max_size=5)  # fmt: skip
    assert isinstance(new, web.Request) and new is not req
    assert new.method == "POST" and new.path == "/b" and new.query["y"] == "2"
    assert dict(new.headers) == {"X-B": "2"}
    assert (new.scheme, new.host, new.remote, new.client_max_size) == (
        "https",
        "other",
        "10.0.0.1",
        5,
    )
    assert str(new.url) == "https://other/b?y=2"
    assert new["state"] == 1 and new.match_info is req.match_info
    new["state"] = 2
    assert req["state"] == 1
    assert req.method == "GET" and req.path == "/a"
    with pytest.raises(ValueError):
        req.clone(rel_url="http://elsewhere/")


async def test_clone_after_read_is_refused() -> None:
    req = body_request(b"x")
    await req.read()
    with pytest.raises(RuntimeError):
        req.clone()


# -- over a real socket --


async def test_request_attributes_over_a_socket(aioweb_client: Any) -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.json_response(
            {
                "method": request.method,
                "version": list(request.version),
                "path": request.path,
                "query": dict(request.query),
                "host": request.host,
                "scheme": request.scheme,
                "remote": request.remote,
                "ua": request.headers.get("User-Agent"),
                "keep_alive": request.keep_alive,
                "name": request.match_info["name"],
                "transport": request.transport is not None,
            }
        )

    app = web.Application()
    app.router.add_get("/hi/{name}", handler)
    client = await aioweb_client(app)
    resp = await client.get("/hi/bob", params={"q": "1 2"}, headers={"User-Agent": "t/1"})
    data = await resp.json()
    assert data["method"] == "GET" and data["version"] == [1, 1]
    assert data["path"] == "/hi/bob" and data["query"] == {"q": "1 2"}
    assert data["host"].startswith("127.0.0.1:") and data["scheme"] == "http"
    assert data["remote"] == "127.0.0.1" and data["ua"] == "t/1"
    assert data["keep_alive"] and data["name"] == "bob" and data["transport"]


async def test_body_methods_over_a_socket(aioweb_client: Any) -> None:
    async def form(request: web.Request) -> web.Response:
        data = await request.post()
        return web.json_response({k: data.getall(k) for k in set(data.keys())})

    async def as_json(request: web.Request) -> web.Response:
        return web.json_response({"got": await request.json()})

    async def stream(request: web.Request) -> web.Response:
        total = 0
        async for chunk in request.content.iter_chunked(1000):
            total += len(chunk)
        return web.Response(text=str(total))

    app = web.Application(client_max_size=100)
    app.router.add_post("/form", form)
    app.router.add_post("/json", as_json)
    app.router.add_post("/stream", stream)
    client = await aioweb_client(app)
    resp = await client.post("/form", data={"a": "1", "b": "x y"})
    assert await resp.json() == {"a": ["1"], "b": ["x y"]}
    resp = await client.post("/json", json={"k": [1, 2]})
    assert await resp.json() == {"got": {"k": [1, 2]}}
    resp = await client.post("/json", data=b"{bad", headers={"Content-Type": "application/json"})
    assert resp.status == 400 and (await resp.text()).startswith("Invalid JSON body:")
    resp = await client.post("/form", data=b"a=" + b"x" * 200,
                             headers={"Content-Type": "application/x-www-form-urlencoded"})  # fmt: skip
    assert resp.status == 413
    resp = await client.post("/stream", data=b"z" * 5000)  # streaming ignores client_max_size
    assert await resp.text() == "5000"


async def test_per_request_storage_from_middleware(aioweb_client: Any) -> None:
    @web.middleware
    async def tag(request: web.Request, handler: Any) -> web.StreamResponse:
        request["my_private_key"] = "data"
        response: web.StreamResponse = await handler(request)
        return response

    async def handler(request: web.Request) -> web.Response:
        return web.Response(text=request["my_private_key"])

    app = web.Application(middlewares=[tag])
    app.router.add_get("/", handler)
    client = await aioweb_client(app)
    assert await (await client.get("/")).text() == "data"


async def test_seed_expect_handler_writes_through_request_transport(raw_connect: Any,
                                                                   aioweb_server: Any) -> None:  # fmt: skip
    async def check(request: web.Request) -> None:
        if request.version != aioweb.HttpVersion11:
            return
        expect = request.headers.get("EXPECT")
        if expect != "100-continue":
            raise web.HTTPExpectationFailed(text=f"Unknown Expect: {expect}")
        assert request.transport is not None
        request.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    async def hello(request: web.Request) -> web.Response:
        return web.Response(body=await request.read())

    app = web.Application()
    app.router.add_route("POST", "/", hello, expect_handler=check)
    server = await aioweb_server(app)
    conn = await raw_connect(server.port)
    await conn.send(b"POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n")
    interim = await conn.reader.readuntil(b"\r\n\r\n")
    assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
    await conn.send(b"hi")
    status, _, body = await conn.read_response()
    assert status == b"HTTP/1.1 200 OK" and body == b"hi"


def test_request_key_typed_storage() -> None:
    key = web.RequestKey("user", str)
    req = make_mocked_request("GET", "/")
    req[key] = "ann"
    assert req[key] == "ann" and key in req
    assert repr(key) == "<RequestKey(user, type=str)>"


def test_invalid_json_error_str_is_its_message() -> None:
    try:
        json.loads("[")
    except json.JSONDecodeError as exc:
        assert str(InvalidJSONBody(exc)).startswith("Invalid JSON body: Expecting value")


@pytest.mark.parametrize("cls", [web.BaseRequest, web.Request])
def test_request_builder_sets_what_the_constructor_sets(cls: type[web.BaseRequest]) -> None:
    # The server builds requests with request_builder; a field added to
    # _init but set differently by the class call would show here.
    from aioweb.web_request import request_builder

    template = make_mocked_request("GET", "/path?q=1")
    args = (template._message, template._payload, template._protocol, None)
    loop = object()
    built = request_builder(cls, loop, 123)(*args)  # type: ignore[arg-type]
    called = cls(*args, loop, client_max_size=123)  # type: ignore[arg-type]
    assert type(built) is cls
    slots = [name for klass in cls.__mro__ for name in getattr(klass, "__slots__", ())]
    assert "_client_max_size" in slots and "_match_info" in slots
    for name in slots:
        if name in ("__weakref__", "_state"):
            continue
        assert getattr(built, name) == getattr(called, name), name
    assert built._state == {} and built._state is not called._state
    assert built._loop is loop and built._client_max_size == 123
    assert built.path == "/path" and built.query["q"] == "1"
