"""Route definitions (``web.get`` ...) and ``RouteTableDef``."""

from __future__ import annotations

import pathlib
from typing import Any

import pytest

from aioweb import web
from aioweb.test_utils import make_mocked_request
from aioweb.web_routedef import RouteDef, StaticDef


async def handler(request: web.Request) -> web.Response:
    return web.Response(text=request.method)


@pytest.mark.parametrize(
    "factory, method",
    [
        (web.post, "POST"),
        (web.put, "PUT"),
        (web.patch, "PATCH"),
        (web.delete, "DELETE"),
        (web.head, "HEAD"),
        (web.options, "OPTIONS"),
    ],
)
async def test_definition_registers_its_method(factory: Any, method: str) -> None:
    definition = factory("/x", handler)
    assert isinstance(definition, RouteDef)
    assert definition.method == method
    app = web.Application()
    (route,) = app.add_routes([definition])
    assert route.method == method
    assert (await app.router.resolve(make_mocked_request(method, "/x"))).route is route


def test_get_definition_adds_head_unless_disabled() -> None:
    app = web.Application()
    app.router.add_routes([web.get("/a", handler), web.get("/b", handler, allow_head=False)])
    methods = [(r.resource.canonical, r.method) for r in app.router.routes()]  # type: ignore[union-attr]
    assert methods == [("/a", "HEAD"), ("/a", "GET"), ("/b", "GET")]


async def test_route_definition_with_wildcard_and_name() -> None:
    app = web.Application()
    (route,) = app.add_routes([web.route("*", "/any/{id}", handler, name="any")])
    assert route.method == "*"
    assert str(app.router["any"].url_for(id="1")) == "/any/1"
    info = await app.router.resolve(make_mocked_request("PROPFIND", "/any/2"))
    assert info.route is route


def test_route_def_repr_and_fields() -> None:
    definition = web.post("/p", handler, name="p")
    assert definition.kwargs == {"name": "p"}
    assert repr(definition) == "<RouteDef POST /p -> 'handler', name='p'>"


async def test_route_table_decorators_register_and_return_the_handler(aioweb_client: Any) -> None:
    routes = web.RouteTableDef()

    @routes.get("/g")
    async def g(request: web.Request) -> web.Response:
        return web.Response(text="g")

    @routes.post("/p")
    async def p(request: web.Request) -> web.Response:
        return web.Response(text="p")

    routes.put("/u")(handler)
    routes.patch("/u")(handler)
    routes.delete("/u")(handler)
    routes.head("/h")(handler)
    routes.options("/o")(handler)
    routes.route("*", "/star", name="star")(handler)

    assert g.__name__ == "g"
    assert len(routes) == 8
    assert [d.method for d in routes] == [  # type: ignore[attr-defined]
        "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "*"
    ]
    assert routes[0].handler is g  # type: ignore[attr-defined]
    assert [d.path for d in routes[1:3]] == ["/p", "/u"]  # type: ignore[attr-defined]
    assert routes[1] in routes
    assert repr(routes) == "<RouteTableDef count=8>"

    app = web.Application()
    registered = app.add_routes(routes)
    assert len(registered) == 8
    assert "star" in app.router
    client = await aioweb_client(app)
    assert await (await client.get("/g")).text() == "g"
    assert (await client.head("/g")).status == 200
    assert await (await client.post("/p")).text() == "p"
    assert await (await client.patch("/u")).text() == "PATCH"
    assert await (await client.request("OPTIONS", "/o")).text() == "OPTIONS"
    assert await (await client.request("PURGE", "/star")).text() == "PURGE"
    resp = await client.get("/u")
    assert resp.status == 405
    assert resp.headers["Allow"] == "DELETE,PATCH,PUT"


def test_router_add_routes_accepts_a_plain_list() -> None:
    router = web.UrlDispatcher()
    routes = router.add_routes([web.get("/", handler), web.post("/", handler)])
    assert [r.method for r in routes] == ["GET", "POST"]
    assert [r.method for r in router.routes()] == ["HEAD", "GET", "POST"]
    assert len(router.resources()) == 1


async def test_static_definitions_serve_files(aioweb_client: Any, tmp_path: pathlib.Path) -> None:
    (tmp_path / "hello.txt").write_text("hello static")
    routes = web.RouteTableDef()
    routes.static("/dec", tmp_path, name="dec")
    definition = web.static("/fn/", tmp_path)
    assert isinstance(definition, StaticDef)
    assert isinstance(routes[0], StaticDef)
    app = web.Application()
    registered = app.add_routes([*routes, definition])
    assert sorted(r.method for r in registered) == ["GET", "GET", "HEAD", "HEAD"]
    assert str(app.router["dec"].url_for(filename="hello.txt")) == "/dec/hello.txt"
    client = await aioweb_client(app)
    assert await (await client.get("/dec/hello.txt")).text() == "hello static"
    assert await (await client.get("/fn/hello.txt")).text() == "hello static"
    assert (await client.get("/fn/missing.txt")).status == 404


async def test_add_static_is_indexed_and_keeps_registration_order() -> None:
    router = web.UrlDispatcher()
    early = router.add_get("/files/special", handler)
    static = router.add_static("/files", pathlib.Path(__file__).parent)
    late = router.add_get("/files/{name}", handler)
    assert router._segments.candidates("files") == [static, late.resource]
    info = await router.resolve(make_mocked_request("GET", "/files/special"))
    assert info.route is early
    info = await router.resolve(make_mocked_request("GET", "/files/conftest.py"))
    assert info.route.resource is static
    assert info["filename"] == "conftest.py"
