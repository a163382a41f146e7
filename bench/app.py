"""One benchmark application, served by aioweb or aiohttp.

The only framework-specific line is the import of ``web``; every handler,
route and setting below is shared. Usage::

    python bench/app.py --framework aioweb --loop uvloop --port 8080
    BENCH_FRAMEWORK=aiohttp BENCH_LOOP=asyncio python bench/app.py

Endpoints (all GET unless noted):

- ``/``           text ``Hello, world``
- ``/json``       ``json_response({"message": "Hello, world"})``
- ``/user/{id}``  text, registered AFTER ``--routes`` (default 1,000) other
                  routes (plain and variable, spread over many first
                  segments), so the lookup cost of a big route table shows
- ``POST /echo``  returns the request body

Stops cleanly on SIGTERM or SIGINT. Listens on 127.0.0.1 only, no access log.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import signal
import sys


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument(
        "--framework",
        choices=("aioweb", "aiohttp"),
        default=os.environ.get("BENCH_FRAMEWORK", "aioweb"),
    )
    p.add_argument(
        "--loop", choices=("uvloop", "asyncio"), default=os.environ.get("BENCH_LOOP", "uvloop")
    )
    p.add_argument("--port", type=int, default=int(os.environ.get("BENCH_PORT", "8080")))
    p.add_argument(
        "--routes",
        type=int,
        default=int(os.environ.get("BENCH_ROUTES", "1000")),
        help="number of filler routes registered before /user/{id} (default 1000)",
    )
    return p.parse_args(argv)


ARGS = parse_args()

# The one line that differs between the two frameworks.
if ARGS.framework == "aioweb":
    from aioweb import web
else:
    from aiohttp import web

# aiohttp exports the runners from ``web``; fall back to the same-named
# ``web_runner`` module (which both packages have) if a facade lacks them.
if hasattr(web, "AppRunner") and hasattr(web, "TCPSite"):
    _runners = web
else:
    _runners = importlib.import_module(ARGS.framework + ".web_runner")
    print(
        f"bench/app.py: {ARGS.framework}.web has no AppRunner/TCPSite; "
        f"using {ARGS.framework}.web_runner",
        file=sys.stderr,
        flush=True,
    )


async def hello(request: web.Request) -> web.Response:
    return web.Response(text="Hello, world")


async def hello_json(request: web.Request) -> web.Response:
    return web.json_response({"message": "Hello, world"})


async def user(request: web.Request) -> web.Response:
    return web.Response(text="user " + request.match_info["id"])


async def echo(request: web.Request) -> web.Response:
    body = await request.read()
    return web.Response(body=body, content_type="application/octet-stream")


async def filler(request: web.Request) -> web.Response:
    return web.Response(text="filler")


# First segments for filler routes: many different ones, none of them "user",
# and no catch-all (a filler never matches /user/123).
_PREFIXES = ("api", "v1", "admin", "static", "shop", "blog", "docs", "auth", "users", "u")


def filler_paths(n: int) -> list[str]:
    """``n`` distinct paths: 40 % plain, 60 % with one or two variables."""
    paths = []
    for i in range(n):
        head = f"{_PREFIXES[i % len(_PREFIXES)]}{i % 97}"
        kind = i % 5
        if kind == 0:
            paths.append(f"/{head}/items/{{item_id}}/r{i}")
        elif kind == 1:
            paths.append(f"/{head}/r{i}/{{name}}")
        elif kind == 2:
            paths.append(f"/{head}/r{i}/static/page")
        elif kind == 3:
            paths.append(f"/{head}/r{i}")
        else:
            paths.append(f"/{head}/r{i}/{{a}}/x/{{b}}")
    return paths


def make_app(n_routes: int) -> web.Application:
    app = web.Application()
    app.router.add_get("/", hello)
    app.router.add_get("/json", hello_json)
    app.router.add_post("/echo", echo)
    for path in filler_paths(n_routes):
        app.router.add_get(path, filler)
    app.router.add_get("/user/{id}", user)
    return app


async def serve(port: int, n_routes: int) -> None:
    runner = _runners.AppRunner(make_app(n_routes), access_log=None)
    await runner.setup()
    site = _runners.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(
        f"bench/app.py: {ARGS.framework} on {ARGS.loop}, {n_routes} filler routes, "
        f"http://127.0.0.1:{port}/ (pid {os.getpid()})",
        flush=True,
    )
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def main() -> None:
    if ARGS.loop == "uvloop":
        import uvloop

        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as r:
            r.run(serve(ARGS.port, ARGS.routes))
    else:
        asyncio.run(serve(ARGS.port, ARGS.routes))


if __name__ == "__main__":
    main()
