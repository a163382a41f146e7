"""Peer: bench/app.py's four endpoints as raw RSGI and ASGI apps on granian.

    python bench/peer_granian.py --interface rsgi --port 8080
    python bench/peer_granian.py --interface asgi --loop asyncio --port 8080 --routes 10

Served by granian with 1 worker process, 1 Rust runtime thread, HTTP/1 only
(aioweb speaks nothing else, and ``auto`` would sniff every connection for
HTTP/2), the chosen event loop (uvloop by default), no access log, on
127.0.0.1. Granian picks its runtime mode itself (single-threaded for RSGI,
multi-threaded for ASGI). The process started here is granian's supervisor;
it spawns the worker, so stop the whole process group.

``--backpressure N`` passes granian's limit of requests in flight per
worker (default: backlog / workers = 1,024). Granian holds a permit per open
connection, so with the default a 1,025th connection is not served until
another closes; bench/idle_memory.py raises it to hold 5,000 connections.
bench/run.py keeps granian's default (its 64 or 256 connections are below it).

Endpoints, byte for byte the bodies of bench/app.py: ``GET /`` ->
``Hello, world`` (text/plain), ``GET /json`` -> ``json.dumps`` of
``{"message": "Hello, world"}`` per request (application/json),
``GET /user/{id}`` -> ``user <id>``, ``POST /echo`` -> the request body;
anything else 404.

Routing (no framework, so the equivalent honest work is done by hand): the
``--routes`` filler paths are bench/app.py's own (its ``filler_paths`` and
``_PREFIXES`` are loaded from its source, so the route tables cannot drift
apart), registered before ``/user/{id}``. Paths without variables go into
one dict keyed by (method, path); paths with variables are compiled to
regexes and indexed by their first segment, so a lookup is one dict probe,
then one dict probe for the first segment and a scan of the patterns under
it. This is the same shape as aiohttp's resource index; it is not the
linear scan Starlette does.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
HOST = "127.0.0.1"

TEXT = "text/plain; charset=utf-8"
JSON = "application/json; charset=utf-8"
OCTETS = "application/octet-stream"
_CT_BYTES = {ct: ct.encode() for ct in (TEXT, JSON, OCTETS)}

Result = tuple[int, str, bytes]  # status, content type, body
Handler = Callable[[dict[str, str], bytes], Result]


def load_filler_paths() -> Callable[[int], list[str]]:
    """bench/app.py's ``filler_paths``, taken from its source without running it.

    app.py parses its command line and imports a framework at import time,
    so only the ``_PREFIXES`` assignment and the ``filler_paths`` function are
    compiled and executed.
    """
    path = BENCH / "app.py"
    tree = ast.parse(path.read_text(), str(path))
    wanted = [
        node
        for node in tree.body
        if (isinstance(node, ast.FunctionDef) and node.name == "filler_paths")
        or (
            isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "_PREFIXES" for t in node.targets)
        )
    ]
    if len(wanted) != 2:
        raise RuntimeError(f"{path}: _PREFIXES or filler_paths not found")
    namespace: dict[str, Any] = {}
    exec(compile(ast.Module(wanted, type_ignores=[]), str(path), "exec"), namespace)
    return namespace["filler_paths"]  # type: ignore[no-any-return]


filler_paths = load_filler_paths()


# ------------------------------------------------------------------ router

_VAR = re.compile(r"\{(\w+)\}")


def compile_path(path: str) -> re.Pattern[str]:
    """``/a/{x}/b`` -> ``^/a/(?P<x>[^/]+)/b$`` (literal parts escaped)."""
    parts = _VAR.split(path)  # literal, name, literal, name, ..., literal
    rx = "".join(re.escape(p) if i % 2 == 0 else f"(?P<{p}>[^/]+)" for i, p in enumerate(parts))
    return re.compile(f"^{rx}$")


class Router:
    """Exact paths in a dict; variable paths as regexes indexed by first segment."""

    def __init__(self) -> None:
        self.plain: dict[tuple[str, str], Handler] = {}
        self.by_head: dict[str, list[tuple[str, re.Pattern[str], Handler]]] = {}

    def add(self, method: str, path: str, handler: Handler) -> None:
        if "{" not in path:
            self.plain[(method, path)] = handler
        else:
            head = path.split("/", 2)[1]
            self.by_head.setdefault(head, []).append((method, compile_path(path), handler))

    def dispatch(self, method: str, path: str, body: bytes) -> Result:
        handler = self.plain.get((method, path))
        if handler is not None:
            return handler({}, body)
        head = path.split("/", 2)[1] if path[:1] == "/" else ""
        for m, rx, handler in self.by_head.get(head, ()):
            if m == method and (match := rx.match(path)):
                return handler(match.groupdict(), body)
        return 404, TEXT, b"404: Not Found"


def hello(params: dict[str, str], body: bytes) -> Result:
    return 200, TEXT, b"Hello, world"


def hello_json(params: dict[str, str], body: bytes) -> Result:
    return 200, JSON, json.dumps({"message": "Hello, world"}).encode()


def user(params: dict[str, str], body: bytes) -> Result:
    return 200, TEXT, ("user " + params["id"]).encode()


def echo(params: dict[str, str], body: bytes) -> Result:
    return 200, OCTETS, body


def filler(params: dict[str, str], body: bytes) -> Result:
    return 200, TEXT, b"filler"


def make_router(n_routes: int) -> Router:
    """The routes of bench/app.py's ``make_app``, in the same order."""
    router = Router()
    router.add("GET", "/", hello)
    router.add("GET", "/json", hello_json)
    router.add("POST", "/echo", echo)
    for path in filler_paths(n_routes):
        router.add("GET", path, filler)
    router.add("GET", "/user/{id}", user)
    return router


# Built at import: granian's worker imports this module by name.
ROUTER = make_router(int(os.environ.get("BENCH_ROUTES", "1000")))


# -------------------------------------------------------------------- apps


async def rsgi_app(scope: Any, proto: Any) -> None:
    """RSGI: the body is read only for POST; one ``response_bytes``."""
    if scope.proto != "http":
        return
    method = scope.method
    body = await proto() if method == "POST" else b""
    status, ctype, out = ROUTER.dispatch(method, scope.path, body)
    proto.response_bytes(status, [("content-type", ctype)], out)


async def asgi_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """ASGI 3: lifespan acknowledged; body read only for POST; two sends."""
    if scope["type"] == "lifespan":
        await lifespan(receive, send)
        return
    if scope["type"] != "http":
        return
    method = scope["method"]
    body = await read_body(receive) if method == "POST" else b""
    status, ctype, out = ROUTER.dispatch(method, scope["path"], body)
    headers = [(b"content-type", _CT_BYTES[ctype]), (b"content-length", b"%d" % len(out))]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": out})


async def read_body(receive: Any) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":  # http.disconnect
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    return b"".join(chunks)


async def lifespan(receive: Any, send: Any) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


# -------------------------------------------------------------------- main


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--interface", choices=("rsgi", "asgi"), default="rsgi")
    p.add_argument("--loop", choices=("uvloop", "asyncio"), default="uvloop")
    p.add_argument("--port", type=int, default=int(os.environ.get("BENCH_PORT", "8080")))
    p.add_argument("--routes", type=int, default=int(os.environ.get("BENCH_ROUTES", "1000")))
    p.add_argument("--backpressure", type=int, help="granian's default if not given")
    return p.parse_args()


def main() -> None:
    """Serve until SIGTERM/SIGINT (granian's supervisor stops its worker)."""
    from granian.constants import HTTPModes, Interfaces, Loops
    from granian.log import LogLevels
    from granian.server import Server

    args = parse_args()
    os.environ["BENCH_ROUTES"] = str(args.routes)  # read by the worker's import
    print(
        f"bench/peer_granian.py: granian {args.interface} on {args.loop}, "
        f"{args.routes} filler routes, http://{HOST}:{args.port}/ (pid {os.getpid()})",
        flush=True,
    )
    Server(
        f"peer_granian:{args.interface}_app",
        address=HOST,
        port=args.port,
        interface=Interfaces(args.interface),
        workers=1,
        runtime_threads=1,
        loop=Loops(args.loop),
        http=HTTPModes.http1,
        websockets=False,
        log_level=LogLevels.warning,
        log_access=False,
        working_dir=BENCH,
        backpressure=args.backpressure,
    ).serve()


if __name__ == "__main__":
    main()
