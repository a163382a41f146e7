"""Class-based views: dispatch by method, 405 with Allow, registration paths."""

from __future__ import annotations

from typing import Any

from aioweb import web
from aioweb.test_utils import make_mocked_request


class ItemView(web.View):
    async def get(self) -> web.Response:
        return web.Response(text="get " + self.request.match_info.get("id", "-"))

    async def post(self) -> web.Response:
        body = await self.request.text()
        return web.Response(text="post " + body)


async def test_view_dispatches_by_method_with_self_request(aioweb_client: Any) -> None:
    app = web.Application()
    app.router.add_route("*", "/items/{id}", ItemView)
    client = await aioweb_client(app)
    assert await (await client.get("/items/5")).text() == "get 5"
    assert await (await client.post("/items/5", content=b"data")).text() == "post data"


async def test_missing_method_is_405_with_allow_listing_the_class_methods(aioweb_client: Any) -> None:
    app = web.Application()
    app.router.add_view("/items", ItemView)
    client = await aioweb_client(app)
    for method in ("PUT", "DELETE", "PATCH"):
        resp = await client.request(method, "/items")
        assert resp.status == 405, method
        assert resp.headers["Allow"] == "GET,POST"


async def test_unknown_method_on_a_view_is_405() -> None:
    request = make_mocked_request("PROPFIND", "/")
    try:
        await ItemView(request)
    except web.HTTPMethodNotAllowed as exc:
        assert exc.allowed_methods == {"GET", "POST"}
        assert exc.method == "PROPFIND"
    else:
        raise AssertionError("expected 405")


async def test_add_view_and_view_routedef_register_any_method() -> None:
    app = web.Application()
    route = app.router.add_view("/a", ItemView)
    (route_b,) = app.add_routes([web.view("/b", ItemView)])
    assert route.method == route_b.method == "*"
    info = await app.router.resolve(make_mocked_request("POST", "/b"))
    assert info.route is route_b
    assert info.handler is ItemView


async def test_route_table_view_decorator(aioweb_client: Any) -> None:
    routes = web.RouteTableDef()

    @routes.view("/dec")
    class Decorated(web.View):
        async def get(self) -> web.Response:
            return web.Response(text="decorated")

    app = web.Application()
    app.add_routes(routes)
    client = await aioweb_client(app)
    assert issubclass(Decorated, web.View)
    assert await (await client.get("/dec")).text() == "decorated"
    assert (await client.delete("/dec")).headers["Allow"] == "GET"


def test_view_is_importable_from_the_dispatcher_module() -> None:
    from aioweb.web_urldispatcher import View

    assert View is web.View
