"""Application: storage, freezing, signals, cleanup contexts, sub-apps, debug."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from aioweb import web


async def ok(request: web.Request) -> web.Response:
    return web.Response(text="ok")


# -- construction and storage --


def test_loop_keyword_is_accepted_with_deprecation_warning() -> None:
    loop = asyncio.new_event_loop()
    try:
        with pytest.warns(DeprecationWarning, match="loop"):
            app = web.Application(loop=loop)
        assert app.loop is loop
    finally:
        loop.close()


def test_defaults() -> None:
    app = web.Application()
    assert app.debug is False
    assert app.middlewares == []
    assert not app.frozen
    assert app() is app
    assert isinstance(app.router, web.UrlDispatcher)
    assert len(app) == 0 and bool(app)


def test_storage_with_app_keys_and_strings() -> None:
    app = web.Application()
    counter = web.AppKey("counter", int)
    app[counter] = 3
    app["plain"] = "text"
    value: int = app[counter]
    assert value == 3
    assert app["plain"] == "text"
    assert set(app) == {counter, "plain"}
    del app["plain"]
    assert "plain" not in app
    assert "counter" in repr(counter) and "int" in repr(counter)


def test_non_string_key_warns() -> None:
    app = web.Application()
    with pytest.warns(UserWarning, match="AppKey"):
        app[1] = "x"  # type: ignore[index]


def test_changing_state_after_freeze_warns() -> None:
    app = web.Application()
    app.freeze()
    with pytest.warns(DeprecationWarning):
        app["late"] = 1


def test_freeze_blocks_routes_and_signals() -> None:
    app = web.Application()
    app.freeze()
    assert app.frozen
    with pytest.raises(RuntimeError):
        app.router.add_get("/", ok)
    for signal in (app.on_startup, app.on_shutdown, app.on_cleanup, app.on_response_prepare):
        with pytest.raises(RuntimeError):
            signal.append(ok)  # type: ignore[arg-type]
    with pytest.raises(RuntimeError):
        app.cleanup_ctx.append(ok)  # type: ignore[arg-type]
    with pytest.raises(RuntimeError):
        app.on_startup += [ok]  # type: ignore[misc,list-item]
    with pytest.raises(RuntimeError):
        app.on_cleanup.clear()


async def test_signals_are_frozen_once_the_app_serves(aioweb_client: Any) -> None:
    app = web.Application()
    app.router.add_get("/", ok)
    await aioweb_client(app)

    async def late(app: web.Application) -> None:
        pass

    with pytest.raises(RuntimeError):
        app.on_startup.append(late)
    with pytest.raises(RuntimeError):
        app.on_shutdown.append(late)


@pytest.mark.skipif(not hasattr(web, "get"), reason="web.get (web_routedef) not available yet")
def test_add_routes_registers_definitions() -> None:
    app = web.Application()
    app.add_routes([web.get("/a", ok), web.post("/b", ok)])  # type: ignore[attr-defined]
    assert {r.method for r in app.router.routes()} >= {"GET", "POST"}


# -- lifecycle signals --


async def test_startup_shutdown_cleanup_and_cleanup_ctx_order() -> None:
    calls: list[str] = []
    app = web.Application()

    async def on_startup(a: web.Application) -> None:
        calls.append("startup")

    async def on_shutdown(a: web.Application) -> None:
        calls.append("shutdown")

    async def on_cleanup(a: web.Application) -> None:
        calls.append("cleanup")

    async def ctx(a: web.Application) -> AsyncIterator[None]:
        calls.append("ctx-enter")
        yield
        calls.append("ctx-exit")

    app.on_startup.append(on_startup)
    app.on_shutdown.append(on_shutdown)
    app.on_cleanup.append(on_cleanup)
    app.cleanup_ctx.append(ctx)
    app.freeze()
    await app.startup()
    await app.shutdown()
    await app.cleanup()
    assert calls == ["ctx-enter", "startup", "shutdown", "ctx-exit", "cleanup"]


async def test_cleanup_ctx_errors_are_collected() -> None:
    app = web.Application()

    async def failing(name: str) -> Any:
        async def ctx(a: web.Application) -> AsyncIterator[None]:
            yield
            raise ValueError(name)

        return ctx

    app.cleanup_ctx.append(await failing("one"))
    app.cleanup_ctx.append(await failing("two"))
    await app.startup()
    with pytest.raises(web.CleanupError) as info:
        await app.cleanup()
    assert sorted(str(e) for e in info.value.exceptions) == ["one", "two"]


async def test_single_cleanup_ctx_error_is_raised_as_is() -> None:
    app = web.Application()

    async def ctx(a: web.Application) -> AsyncIterator[None]:
        yield
        raise KeyError("only")

    app.cleanup_ctx.append(ctx)
    await app.startup()
    with pytest.raises(KeyError):
        await app.cleanup()


async def test_subapp_signals_run_via_the_parent() -> None:
    calls: list[str] = []
    parent = web.Application()
    child = web.Application()

    def recorder(name: str) -> Any:
        async def record(app: web.Application) -> None:
            calls.append(f"{name}:{'parent' if app is parent else 'child'}")

        return record

    for app in (parent, child):
        app.on_startup.append(recorder("startup"))
        app.on_shutdown.append(recorder("shutdown"))
        app.on_cleanup.append(recorder("cleanup"))
    parent.add_subapp("/child", child)
    runner = web.AppRunner(parent)
    await runner.setup()
    assert child.frozen
    await runner.cleanup()
    assert calls == [
        "startup:parent",
        "startup:child",
        "shutdown:parent",
        "shutdown:child",
        "cleanup:parent",
        "cleanup:child",
    ]


# -- sub-applications and domains --


async def test_subapp_serves_under_prefix_with_its_own_storage(aioweb_client: Any) -> None:
    parent = web.Application()
    child = web.Application()
    parent["who"] = "parent"
    child["who"] = "child"

    async def who(request: web.Request) -> web.Response:
        return web.Response(text=f"{request.app['who']} {request.config_dict['who']}")

    child.router.add_get("/who", who)
    parent.router.add_get("/who", who)
    parent.add_subapp("/child/", child)
    client = await aioweb_client(parent)
    assert await (await client.get("/child/who")).text() == "child child"
    assert await (await client.get("/who")).text() == "parent parent"
    assert (await client.get("/child/missing")).status == 404


def test_add_subapp_rejects_bad_prefixes_and_frozen_apps() -> None:
    parent = web.Application()
    with pytest.raises(ValueError):
        parent.add_subapp("/", web.Application())
    frozen = web.Application()
    frozen.freeze()
    with pytest.raises(RuntimeError):
        parent.add_subapp("/x", frozen)
    parent.freeze()
    with pytest.raises(RuntimeError):
        parent.add_subapp("/y", web.Application())


async def test_add_domain_routes_by_host(aioweb_client: Any) -> None:
    parent = web.Application()
    child = web.Application()

    async def where(request: web.Request) -> web.Response:
        return web.Response(text="child")

    async def main(request: web.Request) -> web.Response:
        return web.Response(text="main")

    child.router.add_get("/", where)
    parent.add_domain("api.example.com", child)
    parent.router.add_get("/", main)
    client = await aioweb_client(parent)
    resp = await client.get("/", headers={"Host": "api.example.com"})
    assert await resp.text() == "child"
    resp = await client.get("/", headers={"Host": "other.example.com"})
    assert await resp.text() == "main"


# -- responses: signals, debug, handler_args --


async def test_on_response_prepare_adds_headers_to_plain_and_streamed(aioweb_client: Any) -> None:
    async def stream(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()
        await resp.prepare(request)
        await resp.write(b"chunk")
        return resp

    async def on_prepare(request: web.Request, response: web.StreamResponse) -> None:
        response.headers["My-Header"] = "value"

    app = web.Application()
    app.router.add_get("/plain", ok)
    app.router.add_get("/stream", stream)
    app.on_response_prepare.append(on_prepare)
    client = await aioweb_client(app)
    for path in ("/plain", "/stream", "/missing"):
        resp = await client.get(path)
        assert resp.headers["My-Header"] == "value", path


async def test_on_response_prepare_of_subapp_runs_too(aioweb_client: Any) -> None:
    parent = web.Application()
    child = web.Application()

    def tagger(tag: str) -> Any:
        async def tag_it(request: web.Request, response: web.StreamResponse) -> None:
            response.headers.add("X-Tag", tag)

        return tag_it

    parent.on_response_prepare.append(tagger("parent"))
    child.on_response_prepare.append(tagger("child"))
    child.router.add_get("/x", ok)
    parent.add_subapp("/c", child)
    client = await aioweb_client(parent)
    resp = await client.get("/c/x")
    assert resp.headers.getall("X-Tag") == ["parent", "child"]


@pytest.mark.parametrize("debug", [False, True])
async def test_traceback_in_500_only_in_debug(aioweb_client: Any, debug: bool) -> None:
    async def boom(request: web.Request) -> web.Response:
        raise ZeroDivisionError("secret detail")

    app = web.Application(debug=debug)
    app.router.add_get("/", boom)
    client = await aioweb_client(app)
    resp = await client.get("/")
    assert resp.status == 500
    body = await resp.text()
    assert ("secret detail" in body) is debug
    assert ("Traceback" in body) is debug


async def test_handler_args_reach_the_server() -> None:
    app = web.Application(handler_args={"keepalive_timeout": 1.5})
    server = app.make_handler()
    assert server.keepalive_timeout == 1.5
    assert app.frozen


async def test_named_resource_alias_builds_the_seed_reverse_url(aioweb_client) -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(text=request.app.named_resource["root"].url(query={"a": "b", "c": "d"}))

    app = web.Application()
    app.router.add_resource("/root", name="root").add_route("GET", handler)
    client = await aioweb_client(app)
    resp = await client.get("/root")
    assert await resp.text() == "/root?a=b&c=d"


async def test_an_overridden_make_request_builds_every_request(aioweb_client: Any) -> None:
    class TracedRequest(web.Request):
        __slots__ = ()

    class TracedApp(web.Application):
        def _make_request(self, message: Any, payload: Any, protocol: Any, task: Any = None) -> web.Request:
            return TracedRequest(message, payload, protocol, task, client_max_size=8)

    async def kind(request: web.Request) -> web.Response:
        return web.Response(text=type(request).__name__)

    async def echo(request: web.Request) -> web.Response:
        return web.Response(body=await request.read())

    app = TracedApp()
    app.router.add_get("/", kind)
    app.router.add_post("/echo", echo)
    client = await aioweb_client(app)
    resp = await client.get("/")
    assert await resp.text() == "TracedRequest"
    resp = await client.post("/echo", data=b"x" * 9)  # over the override's client_max_size
    assert resp.status == 413


async def test_the_stock_factory_passes_the_app_arguments(aioweb_client: Any) -> None:
    async def echo(request: web.Request) -> web.Response:
        return web.Response(body=await request.read())

    app = web.Application(client_max_size=16)
    app.router.add_post("/echo", echo)
    client = await aioweb_client(app)
    assert (await client.post("/echo", data=b"x" * 16)).status == 200
    assert (await client.post("/echo", data=b"x" * 17)).status == 413
