"""Routing: resources, routes, match info, reverse URLs, sub-apps and the index."""

from __future__ import annotations

from typing import Any, Optional

import pytest
from yarl import URL

from aioweb import web
from aioweb.test_utils import make_mocked_request
from aioweb.web_urldispatcher import (
    Domain,
    DynamicResource,
    MatchInfoError,
    PlainResource,
    SystemRoute,
    UrlDispatcher,
)


async def ok(request: web.Request) -> web.Response:
    return web.Response(text="ok")


def named(text: str) -> Any:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(text=text)

    return handler


async def resolve(router: UrlDispatcher, method: str, target: str, **kw: Any) -> Any:
    return await router.resolve(make_mocked_request(method, target, **kw))


# -- registration and method matching --


async def test_add_route_resolves_with_match_info_attributes() -> None:
    router = UrlDispatcher()
    route = router.add_route("GET", "/", ok)
    info = await resolve(router, "GET", "/")
    assert info.route is route
    assert info.handler is ok
    assert info.http_exception is None
    assert info.expect_handler == route.handle_expect_header
    assert info.get_info() == {"path": "/"}


async def test_wildcard_method_route_serves_every_method() -> None:
    router = UrlDispatcher()
    route = router.add_route("*", "/any", ok)
    for method in ("GET", "POST", "DELETE", "PROPFIND"):
        assert (await resolve(router, method, "/any")).route is route


@pytest.mark.parametrize(
    "adder, method",
    [
        ("add_post", "POST"),
        ("add_put", "PUT"),
        ("add_patch", "PATCH"),
        ("add_delete", "DELETE"),
        ("add_head", "HEAD"),
        ("add_options", "OPTIONS"),
    ],
)
async def test_method_shortcuts_route_only_their_method(adder: str, method: str) -> None:
    router = UrlDispatcher()
    route = getattr(router, adder)("/x", ok)
    assert route.method == method
    assert (await resolve(router, method, "/x")).route is route
    other = "GET" if method != "GET" else "POST"
    missed = await resolve(router, other, "/x")
    assert missed.http_exception.status == 405
    assert missed.http_exception.allowed_methods == {method}


async def test_add_get_routes_head_too_unless_allow_head_false() -> None:
    router = UrlDispatcher()
    router.add_get("/with", ok)
    router.add_get("/without", ok, allow_head=False)
    assert (await resolve(router, "HEAD", "/with")).route.method == "HEAD"
    info = await resolve(router, "HEAD", "/without")
    assert info.http_exception.status == 405
    assert info.http_exception.allowed_methods == {"GET"}


async def test_add_resource_then_add_route() -> None:
    router = UrlDispatcher()
    resource = router.add_resource("/r", name="r")
    get_route = resource.add_route("GET", ok)
    post_route = resource.add_route("post", ok)
    assert post_route.method == "POST"
    assert (await resolve(router, "POST", "/r")).route is post_route
    assert list(resource) == [get_route, post_route]
    assert len(resource) == 2


def test_seed_slip_add_route_with_only_a_path_returns_the_resource() -> None:
    router = UrlDispatcher()
    resource = router.add_route("/{name}")
    assert isinstance(resource, DynamicResource)
    resource.add_route("GET", ok)
    assert len(router.routes()) == 1


def test_same_method_twice_on_a_resource_is_rejected() -> None:
    router = UrlDispatcher()
    router.add_get("/x", ok)
    with pytest.raises(RuntimeError, match="already registered"):
        router.add_route("GET", "/x", ok)
    router.add_route("*", "/y", ok)
    with pytest.raises(RuntimeError):
        router.add_route("POST", "/y", ok)


@pytest.mark.parametrize("method", ["GET POST", "", "G(ET"])
def test_bad_method_is_rejected(method: str) -> None:
    with pytest.raises(ValueError):
        UrlDispatcher().add_route(method, "/", ok)


def test_non_callable_handler_and_sync_expect_handler_are_rejected() -> None:
    router = UrlDispatcher()
    with pytest.raises(TypeError):
        router.add_route("GET", "/", "not callable")
    with pytest.raises(TypeError):
        router.add_route("GET", "/e", ok, expect_handler=lambda r: None)  # type: ignore[arg-type,return-value]


def test_path_must_start_with_slash() -> None:
    with pytest.raises(ValueError):
        UrlDispatcher().add_get("x", ok)


# -- variable resources --


@pytest.mark.parametrize(
    "pattern, path, expected",
    [
        ("/{name}", "/john", {"name": "john"}),
        ("/a/{name}/c", "/a/etc/c", {"name": "etc"}),
        (r"/{name:\d+}", "/123", {"name": "123"}),
        (r"/{name:\d+}", "/abc", None),
        (r"/id/{id:\d{3}}", "/id/123", {"id": "123"}),
        (r"/id/{id:\d{3}}", "/id/1234", None),
        ("/{a}-{b}.txt", "/x-y.txt", {"a": "x", "b": "y"}),
        ("/{name}", "/a/b", None),
        ("/{name}", "/", None),
        ("/f/{tail:.*}", "/f/a/b/c", {"tail": "a/b/c"}),
        ("/{x}/b", "//b", None),
    ],
)
async def test_variable_resource_matching(
    pattern: str, path: str, expected: Optional[dict[str, str]]
) -> None:
    router = UrlDispatcher()
    router.add_get(pattern, ok)
    info = await resolve(router, "GET", path)
    if expected is None:
        assert info.http_exception.status == 404
    else:
        assert dict(info) == expected


@pytest.mark.parametrize(
    "pattern", ["/{", "/}", "/{x", "/x}", "/{1x}", "/{x}/{x}", "/{class}", "/{x:}", "/{x:(}"]
)
def test_invalid_patterns_raise_value_error(pattern: str) -> None:
    with pytest.raises(ValueError):
        UrlDispatcher().add_get(pattern, ok)


def test_canonical_and_raw_match() -> None:
    router = UrlDispatcher()
    resource = router.add_resource(r"/u/{id:\d+}/{name}")
    assert resource.canonical == "/u/{id}/{name}"
    assert resource.raw_match(r"/u/{id:\d+}/{name}")
    assert router.add_resource(r"/u/{id:\d+}/{name}") is resource


# -- unmatched: 404 and 405 --


async def test_unknown_path_404_and_wrong_method_405_with_allow(aioweb_client: Any) -> None:
    app = web.Application()
    app.router.add_get("/x", ok)
    app.router.add_post("/x/{id}", ok)
    app.router.add_put("/x/{id}", ok)
    client = await aioweb_client(app)
    assert (await client.get("/nope")).status == 404
    resp = await client.delete("/x/1")
    assert resp.status == 405
    assert resp.headers["Allow"] == "POST,PUT"
    resp = await client.post("/x")
    assert resp.status == 405
    assert resp.headers["Allow"] == "GET,HEAD"


async def test_405_merges_methods_of_every_matching_resource() -> None:
    router = UrlDispatcher()
    router.add_get("/m/{id}", ok)
    router.add_post(r"/m/{id:\d+}", ok)
    info = await resolve(router, "PUT", "/m/1")
    assert isinstance(info, MatchInfoError)
    assert isinstance(info.http_exception, web.HTTPMethodNotAllowed)
    assert info.http_exception.allowed_methods == {"GET", "HEAD", "POST"}
    assert isinstance(info.route, SystemRoute)
    assert info.route.status == 405


# -- handler shapes --


class SeedHandler:
    """The seed's "Organizing Handlers in Classes" example."""

    def handle_intro(self, request: web.Request) -> web.Response:
        return web.Response(body=b"Hello, world")

    async def handle_greeting(self, request: web.Request) -> web.Response:
        name = request.match_info.get("name", "Anonymous")
        return web.Response(text=f"Hello, {name}")


class AsyncCallable:
    async def __call__(self, request: web.Request) -> web.Response:
        return web.Response(text="callable")


class GreetView(web.View):
    async def get(self) -> web.Response:
        return web.Response(text="view " + self.request.match_info["who"])


def plain_function(request: web.Request) -> web.Response:
    return web.Response(text="plain")


async def test_every_handler_shape_is_served(aioweb_client: Any) -> None:
    handler = SeedHandler()
    app = web.Application()
    app.router.add_route("GET", "/intro", handler.handle_intro)
    app.router.add_route("GET", "/greet/{name}", handler.handle_greeting)
    app.router.add_route("GET", "/plain", plain_function)
    app.router.add_route("GET", "/callable", AsyncCallable())
    app.router.add_route("*", "/view/{who}", GreetView)
    client = await aioweb_client(app)
    assert await (await client.get("/intro")).text() == "Hello, world"
    assert await (await client.get("/greet/ann")).text() == "Hello, ann"
    assert await (await client.get("/plain")).text() == "plain"
    assert await (await client.get("/callable")).text() == "callable"
    assert await (await client.get("/view/bob")).text() == "view bob"


async def test_custom_expect_handler_runs_before_the_handler(aioweb_server: Any, raw_connect: Any) -> None:
    async def deny(request: web.Request) -> None:
        raise web.HTTPForbidden()

    app = web.Application()
    app.router.add_route("POST", "/", ok, expect_handler=deny)
    server = await aioweb_server(app)
    conn = await raw_connect(server.port)
    # The first request composes the route's chain; the later ones take the
    # cached chain, and the expect handler must still run before it.
    await conn.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc")
    status, _, _ = await conn.read_response()
    assert status.startswith(b"HTTP/1.1 200")
    for _ in range(2):
        conn = await raw_connect(server.port)
        await conn.send(
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n"
        )
        status, _, _ = await conn.read_response()
        assert status.startswith(b"HTTP/1.1 403")


# -- views and names --


def test_resources_routes_and_named_resources_views() -> None:
    router = UrlDispatcher()
    root = router.add_resource("/root", name="root")
    root.add_route("GET", ok)
    other = router.add_resource("/other")
    other.add_route("POST", ok)
    info = router.add_resource("/{user}/info", name="user-info")
    info.add_route("GET", ok)
    assert list(router.resources()) == [root, other, info]
    assert len(router.resources()) == 3
    assert other in router.resources()
    assert [r.method for r in router.routes()] == ["GET", "POST", "GET"]
    assert len(router.routes()) == 3
    assert dict(router.named_resources()) == {"root": root, "user-info": info}
    assert router["root"] is root
    assert "user-info" in router
    assert "other" not in router
    assert len(router) == 2
    assert sorted(router) == ["root", "user-info"]
    with pytest.raises(TypeError):
        router.named_resources()["x"] = root  # type: ignore[index]


def test_duplicate_route_name_is_a_clear_value_error() -> None:
    router = UrlDispatcher()
    router.add_get("/a", ok, name="page")
    with pytest.raises(ValueError, match="Duplicate route name 'page'"):
        router.add_get("/b", ok, name="page")


def test_same_path_and_name_reuses_the_resource() -> None:
    router = UrlDispatcher()
    router.add_get("/a", ok, name="page")
    router.add_post("/a", ok, name="page")
    assert len(router.resources()) == 1


@pytest.mark.parametrize("name", ["with space", "1abc", "class", "a..b", "a/b", ""])
def test_invalid_route_names_are_rejected(name: str) -> None:
    with pytest.raises(ValueError, match="Incorrect route name"):
        UrlDispatcher().add_get("/a", ok, name=name)


@pytest.mark.parametrize("name", ["a.b", "a:b", "a-b", "_x1"])
def test_dotted_colon_and_dash_names_are_accepted(name: str) -> None:
    router = UrlDispatcher()
    router.add_get("/a", ok, name=name)
    assert name in router


def test_frozen_router_rejects_registration() -> None:
    router = UrlDispatcher()
    router.freeze()
    with pytest.raises(RuntimeError, match="frozen"):
        router.add_get("/", ok)


# -- reverse URLs --


def test_seed_url_with_query_mapping_and_string() -> None:
    router = UrlDispatcher()
    router.add_resource("/root", name="root")
    router.add_resource(r"/{user}/info", name="user-info")
    assert router["root"].url(query={"a": "b", "c": "d"}) == "/root?a=b&c=d"
    info = router["user-info"]
    assert info.url(parts={"user": "john_doe"}, query="?a=b") == "/john_doe/info?a=b"
    assert info.url(parts={"user": "john_doe"}, query="a=b") == "/john_doe/info?a=b"
    assert info.url(parts={"user": "x"}, query=[("k", "1"), ("k", "2")]) == "/x/info?k=1&k=2"
    assert router.named_resources()["root"].url() == "/root"


def test_url_for_returns_quoted_yarl_urls() -> None:
    router = UrlDispatcher()
    plain = router.add_resource("/caf\u00e9", name="cafe")
    dyn = router.add_resource("/u/{name}", name="user")
    tail = router.add_resource("/f/{path:.*}", name="file")
    url = dyn.url_for(name="a b/c?d")
    assert isinstance(url, URL)
    assert url.raw_path == "/u/a%20b%2Fc%3Fd"
    assert str(tail.url_for(path="dir/x y.txt")) == "/f/dir/x%20y.txt"
    assert plain.url_for().raw_path == "/caf%C3%A9"
    assert str(dyn.url_for(name="x").with_query(q="1")) == "/u/x?q=1"
    with pytest.raises(KeyError):
        dyn.url_for()
    with pytest.raises(ValueError):
        plain.url_for(x="1")


async def test_url_for_round_trips_through_resolve() -> None:
    router = UrlDispatcher()
    resource = router.add_resource("/u/{name}/{id}")
    route = resource.add_route("GET", ok)
    url = resource.url_for(name="a/b c%", id="\u00e9")
    info = await resolve(router, "GET", str(url))
    assert info.route is route
    assert dict(info) == {"name": "a/b c%", "id": "\u00e9"}


# -- registration order, index and edge paths --


async def test_first_registered_wins_between_variable_and_plain() -> None:
    router = UrlDispatcher()
    catch_all = router.add_get("/{tail:.*}", ok)
    router.add_get("/a", ok)
    assert (await resolve(router, "GET", "/a")).route is catch_all

    router = UrlDispatcher()
    plain = router.add_get("/a/b", ok)
    router.add_get("/a/{x}", ok)
    assert (await resolve(router, "GET", "/a/b")).route is plain

    router = UrlDispatcher()
    dyn = router.add_get("/a/{x}", ok)
    router.add_get("/a/b", ok)
    assert (await resolve(router, "GET", "/a/b")).route is dyn


async def test_order_kept_across_segment_bucket_and_variable_first_segment() -> None:
    router = UrlDispatcher()
    first = router.add_get("/a/{x}", ok)
    second = router.add_get("/{y}/{x}", ok)
    third = router.add_get("/b/{x}", ok)
    assert (await resolve(router, "GET", "/a/1")).route is first
    assert (await resolve(router, "GET", "/b/1")).route is second
    assert (await resolve(router, "GET", "/c/1")).route is second
    assert third.resource is not None


async def test_later_resource_with_same_plain_path_serves_other_methods() -> None:
    router = UrlDispatcher()
    router.add_get("/same", ok)
    router.add_get("/between", ok)
    post = router.add_post("/same", ok)
    assert (await resolve(router, "POST", "/same")).route is post
    info = await resolve(router, "PUT", "/same")
    assert info.http_exception.allowed_methods == {"GET", "HEAD", "POST"}


async def test_percent_encoded_paths() -> None:
    router = UrlDispatcher()
    cafe = router.add_get("/caf\u00e9", ok)
    one = router.add_get("/files/{name}", ok)
    router.add_get("/files/{a}/{b}", ok)
    assert (await resolve(router, "GET", "/caf%C3%A9")).route is cafe
    assert (await resolve(router, "GET", "/caf\u00e9")).route is cafe
    info = await resolve(router, "GET", "/files/a%2Fb")
    assert info.route is one
    assert info["name"] == "a/b"
    assert dict(await resolve(router, "GET", "/files/50%25")) == {"name": "50%"}
    assert dict(await resolve(router, "GET", "/files/x%20y?q=%2F")) == {"name": "x y"}


async def test_percent_encoded_path_over_a_socket(aioweb_server: Any, raw_connect: Any) -> None:
    async def echo(request: web.Request) -> web.Response:
        return web.Response(text=request.match_info["name"])

    app = web.Application()
    app.router.add_get("/files/{name}", echo)
    server = await aioweb_server(app)
    conn = await raw_connect(server.port)
    await conn.send(b"GET /files/a%2Fb%20c HTTP/1.1\r\nHost: x\r\n\r\n")
    status, _, body = await conn.read_response()
    assert status == b"HTTP/1.1 200 OK"
    assert body == b"a/b c"


async def test_query_and_fragment_never_reach_routing_over_a_socket(
    aioweb_server: Any, raw_connect: Any
) -> None:
    async def show(request: web.Request) -> web.Response:
        return web.Response(text=f"{request.method} {request.path} {request.query_string}")

    app = web.Application()
    app.router.add_get("/a", show)
    app.router.add_route("PATCH", "/a", show)
    app.router.add_get("/u/{name}", show)
    server = await aioweb_server(app)
    conn = await raw_connect(server.port)
    for target, method, expected in [
        ("/a?x=/b", "GET", b"GET /a x=/b"),
        ("/a#frag", "GET", b"GET /a "),
        ("/a?x=1#frag", "PATCH", b"PATCH /a x=1"),
        ("/u/bob?#", "GET", b"GET /u/bob "),
        ("/a/?x=1", "GET", b"404"),
        ("/a", "PUT", b"405"),
    ]:
        await conn.send(f"{method} {target} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n".encode())
        status, _, body = await conn.read_response()
        if expected in (b"404", b"405"):
            assert status.split()[1] == expected, target
        else:
            assert (status, body) == (b"HTTP/1.1 200 OK", expected), target


async def test_asterisk_and_absolute_form_targets() -> None:
    router = UrlDispatcher()
    plain = router.add_get("/a/b", ok)
    router.add_route("*", "/{tail:.*}", ok)
    assert (await resolve(router, "OPTIONS", "*")).http_exception.status == 404
    assert (await resolve(router, "GET", "http://example.com/a/b")).route is plain


async def test_trailing_slashes_and_empty_segments_are_distinct() -> None:
    router = UrlDispatcher()
    router.add_get("/a", ok)
    router.add_get("/a/b", ok)
    router.add_get("/d/{x}", ok)
    for path in ("/a/", "/a//b", "//a/b", "/a/b/", "/d/", "/d//"):
        assert (await resolve(router, "GET", path)).http_exception.status == 404, path
    assert (await resolve(router, "GET", "/a")).http_exception is None


async def test_thousand_routes_resolve_correctly() -> None:
    router = UrlDispatcher()
    plain = [router.add_get(f"/plain/{i}", ok) for i in range(500)]
    dynamic = [router.add_get(f"/s{i}/{{id:\\d+}}/item", ok) for i in range(500)]
    assert len(router.routes()) == 2000
    for i in range(0, 500, 7):
        assert (await resolve(router, "GET", f"/plain/{i}")).route is plain[i]
        info = await resolve(router, "GET", f"/s{i}/{i * 3}/item")
        assert info.route is dynamic[i]
        assert info["id"] == str(i * 3)
        assert (await resolve(router, "GET", f"/s{i}/x/item")).http_exception.status == 404


class CountingResource(DynamicResource):
    calls: list[str] = []

    async def resolve(self, request: web.Request) -> Any:
        CountingResource.calls.append(self.canonical)
        return await super().resolve(request)


async def test_only_candidates_sharing_the_first_segment_are_examined() -> None:
    CountingResource.calls = []
    router = UrlDispatcher()
    for i in range(200):
        resource = CountingResource(f"/seg{i}/{{x}}")
        router.register_resource(resource)
        resource.add_route("GET", ok)
    anywhere = CountingResource("/{first}/fixed/{x}")
    router.register_resource(anywhere)
    anywhere.add_route("GET", ok)

    info = await resolve(router, "GET", "/seg57/abc")
    assert info["x"] == "abc"
    assert CountingResource.calls == ["/seg57/{x}"]

    CountingResource.calls = []
    info = await resolve(router, "GET", "/zzz/fixed/1")
    assert CountingResource.calls == ["/{first}/fixed/{x}"]
    assert info.route.resource is anywhere

    CountingResource.calls = []
    assert (await resolve(router, "GET", "/seg3/a/b")).http_exception.status == 404
    assert CountingResource.calls == ["/seg3/{x}", "/{first}/fixed/{x}"]
    assert router._segments.candidates("seg3") == [router.resources()[3], anywhere]


async def test_plain_paths_are_a_dict_lookup() -> None:
    router = UrlDispatcher()
    for i in range(100):
        router.add_get(f"/p{i}", ok)
    assert [r.canonical for r in router._plain["/p42"]] == ["/p42"]
    assert router._segments.candidates("p42") == []


# -- sub-applications --


async def test_subapp_resolution_apps_and_prefixed_url_for(aioweb_client: Any) -> None:
    async def show(request: web.Request) -> web.Response:
        info = request.match_info
        assert info.apps == (app, sub)
        assert request.app is sub
        url = request.app.router["item"].url_for(id="7")
        return web.Response(text=f"{info['id']} {url}")

    app = web.Application()
    sub = web.Application()
    sub.router.add_get("/items/{id}", show, name="item")
    sub.router.add_get("", ok, name="root")
    resource = app.add_subapp("/api", sub)
    assert resource.canonical == "/api"
    client = await aioweb_client(app)
    resp = await client.get("/api/items/3")
    assert await resp.text() == "3 /api/items/7"
    assert (await client.get("/api")).status == 200
    assert sub.router["root"].url_for() == URL("/api")
    assert (await client.get("/items/3")).status == 404
    assert (await client.get("/apix/items/3")).status == 404


async def test_subapp_404_and_405_run_child_middlewares(aioweb_client: Any) -> None:
    seen: list[tuple[str, int]] = []

    def recorder(label: str) -> Any:
        @web.middleware
        async def mw(request: web.Request, handler: Any) -> web.StreamResponse:
            try:
                response: web.StreamResponse = await handler(request)
                return response
            except web.HTTPException as exc:
                seen.append((label, exc.status))
                raise

        return mw

    app = web.Application(middlewares=[recorder("parent")])
    sub = web.Application(middlewares=[recorder("child")])
    sub.router.add_get("/only-get", ok)
    app.add_subapp("/sub", sub)
    app.router.add_get("/{tail:.*}", named("parent catch-all"))
    client = await aioweb_client(app)
    assert (await client.get("/sub/missing")).status == 404
    assert seen == [("child", 404), ("parent", 404)]
    seen.clear()
    resp = await client.post("/sub/only-get")
    assert resp.status == 405
    assert resp.headers["Allow"] == "GET,HEAD"
    assert seen == [("child", 405), ("parent", 405)]
    assert await (await client.get("/other")).text() == "parent catch-all"


async def test_middlewares_of_parent_then_child_are_applied(aioweb_client: Any) -> None:
    order: list[str] = []

    def tag(label: str) -> Any:
        @web.middleware
        async def mw(request: web.Request, handler: Any) -> web.StreamResponse:
            order.append(label)
            response: web.StreamResponse = await handler(request)
            return response

        return mw

    app = web.Application(middlewares=[tag("p1"), tag("p2")])
    sub = web.Application(middlewares=[tag("c1")])
    sub.router.add_get("/x", ok)
    app.add_subapp("/s", sub)
    app.router.add_get("/top", ok)
    client = await aioweb_client(app)
    assert (await client.get("/s/x")).status == 200
    assert order == ["p1", "p2", "c1"]
    order.clear()
    assert (await client.get("/top")).status == 200
    assert order == ["p1", "p2"]


async def test_nested_subapps_get_both_prefixes() -> None:
    app = web.Application()
    mid = web.Application()
    leaf = web.Application()
    route = leaf.router.add_get("/x/{id}", ok, name="x")
    mid.add_subapp("/b", leaf)
    app.add_subapp("/a", mid)
    assert str(leaf.router["x"].url_for(id="1")) == "/a/b/x/1"
    info = await app.router.resolve(make_mocked_request("GET", "/a/b/x/1"))
    assert info.route is route
    assert info.apps == (mid, leaf)  # the root app is added by Application._handle
    assert len(app.router.routes()) == 2


async def test_domain_subapps_exact_and_wildcard(aioweb_client: Any) -> None:
    app = web.Application()
    app.router.add_get("/", named("main"))
    exact = web.Application()
    exact.router.add_get("/", named("exact"))
    wild = web.Application()
    wild.router.add_get("/", named("wild"))
    app.add_domain("api.example.com", exact)
    app.add_domain("*.example.com", wild)
    client = await aioweb_client(app)

    async def body(host: str) -> str:
        text: str = await (await client.get("/", headers={"Host": host})).text()
        return text

    assert await body("api.example.com") == "exact"
    assert await body("API.example.com:8080") == "exact"
    assert await body("a.b.example.com") == "wild"
    assert await body("example.com") == "main"
    assert await body("other.org") == "main"


async def test_domain_match_info_apps_and_404() -> None:
    app = web.Application()
    sub = web.Application()
    route = sub.router.add_get("/x", ok)
    app.add_domain("example.com", sub)
    info = await resolve(app.router, "GET", "/x", headers={"Host": "example.com"})
    assert info.route is route
    assert info.apps == (sub,)
    assert (await resolve(app.router, "GET", "/x")).http_exception.status == 404
    missing = await resolve(app.router, "GET", "/y", headers={"Host": "example.com"})
    assert missing.http_exception.status == 404
    assert missing.apps == (sub,)


@pytest.mark.parametrize("domain", ["", "http://x.com", "a..b", "*.", "a/b", "x.*.com"])
def test_bad_domains_are_rejected(domain: str) -> None:
    with pytest.raises(ValueError):
        Domain(domain)


def test_domain_port_rule() -> None:
    rule = Domain("example.com:8080")
    assert rule.match("example.com:8080")
    assert not rule.match("example.com:9090")
    assert not rule.match("example.com")
    assert Domain("*.example.com").match("x.example.com")
    assert not Domain("*.example.com").match("example.com")


def test_plain_resource_repr_and_info() -> None:
    resource = PlainResource("/p", name="p")
    assert "PlainResource" in repr(resource)
    assert resource.get_info() == {"path": "/p"}
