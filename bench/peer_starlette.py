"""Peer: bench/app.py's four endpoints as a Starlette app on uvicorn.

    python bench/peer_starlette.py --port 8080
    python bench/peer_starlette.py --port 8080 --routes 10

Routes, in bench/app.py's order: ``GET /`` -> ``PlainTextResponse("Hello,
world")``; ``GET /json`` -> ``JSONResponse({"message": "Hello, world"})``
(Starlette's compact separators: ``{"message":"Hello, world"}``);
``POST /echo`` -> the request body; then the ``--routes`` (default 1,000)
filler ``Route`` objects, bench/app.py's own paths (loaded from its source by
bench/peer_granian.py's ``load_filler_paths``); then ``GET /user/{id}`` ->
``user <id>``. Starlette tries routes in order, so ``/user/123`` is matched
after every filler pattern: that is Starlette's real cost, not a handicap
added here.

Served by uvicorn in this process: httptools parser, uvloop, 1 process, no
access log, log level warning, 127.0.0.1. ``timeout_keep_alive`` is 75 s
(aiohttp's and aioweb's default) instead of uvicorn's 5 s, so connections
held open by bench/idle_memory.py are not closed while it counts them; it
changes nothing under wrk, whose connections are never idle. Stops on
SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import os

import uvicorn
from peer_granian import HOST, filler_paths
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route


async def hello(request: Request) -> Response:
    return PlainTextResponse("Hello, world")


async def hello_json(request: Request) -> Response:
    return JSONResponse({"message": "Hello, world"})


async def user(request: Request) -> Response:
    return PlainTextResponse("user " + request.path_params["id"])


async def echo(request: Request) -> Response:
    return Response(await request.body(), media_type="application/octet-stream")


async def filler(request: Request) -> Response:
    return PlainTextResponse("filler")


def make_app(n_routes: int) -> Starlette:
    routes = [
        Route("/", hello),
        Route("/json", hello_json),
        Route("/echo", echo, methods=["POST"]),
    ]
    routes += [Route(path, filler) for path in filler_paths(n_routes)]
    routes.append(Route("/user/{id}", user))
    return Starlette(routes=routes)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--port", type=int, default=int(os.environ.get("BENCH_PORT", "8080")))
    p.add_argument("--routes", type=int, default=int(os.environ.get("BENCH_ROUTES", "1000")))
    args = p.parse_args()
    config = uvicorn.Config(
        make_app(args.routes),
        host=HOST,
        port=args.port,
        loop="uvloop",
        http="httptools",
        ws="none",
        workers=1,
        access_log=False,
        log_level="warning",
        timeout_keep_alive=75,
    )
    print(
        f"bench/peer_starlette.py: starlette on uvicorn (httptools, uvloop), {args.routes} "
        f"filler routes, http://{HOST}:{args.port}/ (pid {os.getpid()})",
        flush=True,
    )
    uvicorn.Server(config).run()


if __name__ == "__main__":
    main()
