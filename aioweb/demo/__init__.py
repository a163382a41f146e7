"""The demo application served by ``python -m aioweb.web aioweb.demo:init_app``."""

from __future__ import annotations

from aioweb import web


async def index(request: web.Request) -> web.Response:
    """A plain greeting."""
    return web.Response(text="Hello from aioweb\n")


async def greet(request: web.Request) -> web.Response:
    """Greets the ``name`` path part."""
    return web.Response(text=f"Hello, {request.match_info['name']}\n")


async def info(request: web.Request) -> web.Response:
    """Echoes a few request facts as JSON."""
    return web.json_response(
        {"method": request.method, "path": request.path, "query": dict(request.query)}
    )


def init_app(argv: list[str] | None = None) -> web.Application:
    """Build the demo application (``argv``: unparsed CLI arguments, ignored)."""
    app = web.Application()
    app.router.add_get("/", index)
    app.router.add_get("/greet/{name}", greet)
    app.router.add_get("/info", info)
    return app
