"""Seed, "Command Line Interface (CLI)": an importable init_func.

Served by ``python -m aioweb.web -n HOST -p PORT seed_cli.init_function``.
"""
# ruff: noqa: I001
from aioweb import web


async def index_handler(request):  # support: the seed leaves it undefined
    return web.Response(text=f"CLI args: {request.app['args']!r}")


def init_function(args):
    app = web.Application()
    app.router.add_route("GET", "/", index_handler)
    app["args"] = args  # support: lets the test see the non-parsed arguments
    return app
