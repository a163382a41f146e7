"""Static files and a multipart upload, served by aioweb or aiohttp.

The only framework-specific line is the import of ``web``; every handler,
route and setting below is shared. Usage::

    python bench/static_app.py --framework aioweb --loop uvloop --port 8080 --root /tmp/files

Endpoints:

- ``GET /static/<name>``  ``app.router.add_static("/static", --root)``
- ``POST /upload``        a ``multipart/form-data`` body, streamed part by part
                          with ``await request.multipart()`` and
                          ``read_chunk(65536)`` into a temporary file (deleted
                          afterwards); the answer is the number of part-body
                          bytes written, as text. With ``?hash=1`` the answer is
                          ``<count> <sha256 hex>`` (used by the driver's
                          correctness check only, never under load).

Stops cleanly on SIGTERM or SIGINT. Listens on 127.0.0.1 only, no access log.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import importlib
import os
import signal
import sys
import tempfile

CHUNK = 64 * 1024


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--framework", choices=("aioweb", "aiohttp"), default="aioweb")
    p.add_argument("--loop", choices=("uvloop", "asyncio"), default="uvloop")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--root", required=True, help="directory served at /static")
    p.add_argument(
        "--tmp-dir", default=None, help="where uploads are written (default: tempfile's choice)"
    )
    return p.parse_args(argv)


ARGS = parse_args()

# The one line that differs between the two frameworks.
if ARGS.framework == "aioweb":
    from aioweb import web
else:
    from aiohttp import web

if hasattr(web, "AppRunner") and hasattr(web, "TCPSite"):
    _runners = web
else:  # same fallback as bench/app.py
    _runners = importlib.import_module(ARGS.framework + ".web_runner")
    print(f"bench/static_app.py: using {ARGS.framework}.web_runner", file=sys.stderr, flush=True)


async def upload(request: web.Request) -> web.Response:
    want_hash = request.query.get("hash") == "1"
    digest = hashlib.sha256() if want_hash else None
    total = 0
    reader = await request.multipart()
    with tempfile.TemporaryFile(dir=ARGS.tmp_dir) as f:
        while True:
            part = await reader.next()
            if part is None:
                break
            while True:
                chunk = await part.read_chunk(CHUNK)
                if not chunk:
                    break
                f.write(chunk)
                total += len(chunk)
                if digest is not None:
                    digest.update(chunk)
    text = str(total) if digest is None else f"{total} {digest.hexdigest()}"
    return web.Response(text=text)


def make_app(root: str) -> web.Application:
    app = web.Application()
    app.router.add_static("/static", root)
    app.router.add_post("/upload", upload)
    return app


async def serve(port: int, root: str) -> None:
    runner = _runners.AppRunner(make_app(root), access_log=None)
    await runner.setup()
    site = _runners.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(
        f"bench/static_app.py: {ARGS.framework} on {ARGS.loop}, /static -> {root}, "
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
            r.run(serve(ARGS.port, ARGS.root))
    else:
        asyncio.run(serve(ARGS.port, ARGS.root))


if __name__ == "__main__":
    main()
