"""Middlewares: both styles, order, routing errors, path normalisation, caching."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from aioweb import web

_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


async def echo(request: web.Request) -> web.Response:
    return web.Response(text=f"{request.path}?{request.query_string}")


def tracing(name: str, trace: list[str]) -> Any:
    @web.middleware
    async def mw(request: web.Request, handler: _Handler) -> web.StreamResponse:
        trace.append(f"{name}>")
        resp = await handler(request)
        trace.append(f"<{name}")
        return resp

    return mw


def old_style(name: str, trace: list[str], made: list[str] | None = None) -> Any:
    async def factory(app: web.Application, handler: _Handler) -> _Handler:
        if made is not None:
            made.append(name)

        async def mw_handler(request: web.Request) -> web.StreamResponse:
            trace.append(f"{name}>")
            resp = await handler(request)
            trace.append(f"<{name}")
            return resp

        return mw_handler

    return factory


async def test_first_listed_new_style_is_outermost(aioweb_client: Any) -> None:
    trace: list[str] = []
    app = web.Application(middlewares=[tracing("a", trace), tracing("b", trace)])
    app.router.add_get("/", echo)
    client = await aioweb_client(app)
    assert (await client.get("/")).status == 200
    assert trace == ["a>", "b>", "<b", "<a"]


async def test_seed_old_style_factories_in_seed_order(aioweb_client: Any) -> None:
    trace: list[str] = []
    app = web.Application(middlewares=[old_style("f1", trace), old_style("f2", trace)])
    app.router.add_get("/", echo)
    client = await aioweb_client(app)
    assert (await client.get("/")).status == 200
    assert trace == ["f1>", "f2>", "<f2", "<f1"]


async def test_unmarked_new_style_and_mixed_styles(aioweb_client: Any) -> None:
    trace: list[str] = []

    async def unmarked(request: web.Request, handler: _Handler) -> web.StreamResponse:
        trace.append("u>")
        return await handler(request)

    app = web.Application(middlewares=[old_style("old", trace), unmarked, tracing("new", trace)])
    app.router.add_get("/", echo)
    client = await aioweb_client(app)
    assert (await client.get("/")).status == 200
    assert trace == ["old>", "u>", "new>", "<new", "<old"]


async def test_middleware_can_render_a_custom_404(aioweb_client: Any) -> None:
    @web.middleware
    async def custom_404(request: web.Request, handler: _Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except web.HTTPNotFound:
            return web.Response(status=404, text="nothing here, friend")

    app = web.Application(middlewares=[custom_404])
    app.router.add_get("/", echo)
    client = await aioweb_client(app)
    resp = await client.get("/nope")
    assert resp.status == 404
    assert await resp.text() == "nothing here, friend"


async def test_old_style_factory_sees_route_errors(aioweb_client: Any) -> None:
    seen: list[int] = []

    async def factory(app: web.Application, handler: _Handler) -> _Handler:
        async def catcher(request: web.Request) -> web.StreamResponse:
            try:
                return await handler(request)
            except web.HTTPException as exc:
                seen.append(exc.status)
                raise

        return catcher

    app = web.Application(middlewares=[factory])
    app.router.add_get("/", echo)
    client = await aioweb_client(app)
    assert (await client.get("/missing")).status == 404
    resp = await client.post("/")
    assert resp.status == 405
    assert "GET" in resp.headers["Allow"]
    assert seen == [404, 405]


async def test_chain_is_composed_once_per_route(aioweb_client: Any) -> None:
    trace: list[str] = []
    made: list[str] = []
    app = web.Application(middlewares=[old_style("f", trace, made)])
    app.router.add_get("/a", echo)
    app.router.add_get("/b", echo)
    client = await aioweb_client(app)
    for _ in range(3):
        assert (await client.get("/a")).status == 200
        assert (await client.get("/b")).status == 200
    assert made == ["f", "f"]
    assert len(trace) == 12


async def test_app_without_middlewares_calls_handler_directly(aioweb_client: Any) -> None:
    app = web.Application()
    app.router.add_get("/", echo)
    client = await aioweb_client(app)
    assert (await client.get("/")).status == 200
    route = next(r for r in app.router.routes() if r.method == "GET")
    assert route._chain is not None
    assert route._chain[1] is route.handler


async def test_subapp_middlewares_run_inside_parent_ones(aioweb_client: Any) -> None:
    trace: list[str] = []
    parent = web.Application(middlewares=[tracing("parent", trace)])
    child = web.Application(middlewares=[tracing("child", trace)])
    child.router.add_get("/x", echo)
    parent.router.add_get("/y", echo)
    parent.add_subapp("/c", child)
    client = await aioweb_client(parent)
    assert (await client.get("/c/x")).status == 200
    assert trace == ["parent>", "child>", "<child", "<parent"]
    trace.clear()
    assert (await client.get("/y")).status == 200
    assert trace == ["parent>", "<parent"]


async def test_middleware_may_answer_without_calling_handler(aioweb_client: Any) -> None:
    @web.middleware
    async def deny(request: web.Request, handler: _Handler) -> web.StreamResponse:
        raise web.HTTPForbidden()

    app = web.Application(middlewares=[deny])
    app.router.add_get("/", echo)
    client = await aioweb_client(app)
    assert (await client.get("/")).status == 403


# -- normalize_path_middleware --


def normalizing_app(**kwargs: Any) -> web.Application:
    app = web.Application(middlewares=[web.normalize_path_middleware(**kwargs)])
    app.router.add_get("/slash/", echo)
    app.router.add_get("/plain", echo)
    app.router.add_get("/a/b", echo)
    app.router.add_get("/evil.com/", echo)
    return app


@pytest.mark.parametrize(
    ("kwargs", "path", "status", "location"),
    [
        ({}, "/slash", 308, "/slash/"),
        ({}, "/slash?x=1&y=2", 308, "/slash/?x=1&y=2"),
        ({}, "/slash/", 200, None),
        ({}, "//a///b", 308, "/a/b"),
        ({}, "//slash", 308, "/slash/"),
        ({}, "/plain/", 404, None),
        ({"append_slash": False, "remove_slash": True}, "/plain/?q=a", 308, "/plain?q=a"),
        ({"append_slash": False, "remove_slash": True}, "/slash/", 200, None),
        ({"merge_slashes": False}, "//a//b", 404, None),
        ({"redirect_class": web.HTTPMovedPermanently}, "/slash", 301, "/slash/"),
        ({}, "/absent", 404, None),
        ({}, "//evil.com", 308, "/evil.com/"),
        ({"merge_slashes": False}, "//evil.com", 308, "/evil.com/"),
    ],
)
async def test_normalize_path(
    aioweb_server: Any,
    raw_connect: Any,
    kwargs: dict[str, Any],
    path: str,
    status: int,
    location: str | None,
) -> None:
    server = await aioweb_server(normalizing_app(**kwargs))
    conn = await raw_connect(server.port)
    await conn.send(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    status_line, headers, _ = await conn.read_response()
    assert status_line.split()[1] == str(status).encode()
    assert headers.get("location") == location


def test_normalize_path_rejects_both_slash_modes() -> None:
    with pytest.raises(ValueError):
        web.normalize_path_middleware(append_slash=True, remove_slash=True)


async def test_parent_middleware_sees_parent_app_and_handler_sees_subapp(aioweb_client) -> None:
    seen: list[str] = []

    @web.middleware
    async def parent_mw(request: web.Request, handler):  # type: ignore[no-untyped-def]
        seen.append(request.app["name"])
        return await handler(request)

    @web.middleware
    async def child_mw(request: web.Request, handler):  # type: ignore[no-untyped-def]
        seen.append(request.app["name"])
        return await handler(request)

    async def handler(request: web.Request) -> web.Response:
        seen.append(request.app["name"])
        return web.Response(text="ok")

    parent = web.Application(middlewares=[parent_mw])
    parent["name"] = "parent"
    child = web.Application(middlewares=[child_mw])
    child["name"] = "child"
    child.router.add_get("/x", handler)
    parent.add_subapp("/sub", child)
    client = await aioweb_client(parent)
    resp = await client.get("/sub/x")
    assert resp.status == 200
    assert seen == ["parent", "child", "child"]
