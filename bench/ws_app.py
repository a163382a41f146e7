"""One WebSocket echo application, served by aioweb or aiohttp.

The only framework-specific line is the import of ``web``; the handler, the
route and every setting below are shared. Usage::

    python bench/ws_app.py --framework aioweb --loop uvloop --port 8080
    BENCH_FRAMEWORK=aiohttp BENCH_LOOP=asyncio python bench/ws_app.py

Endpoint: ``GET /ws`` upgrades to a WebSocket (``compress=False``: no
permessage-deflate, so both frameworks do the same work) and echoes every
message: a TEXT message is sent back with ``send_str``, a BINARY one with
``send_bytes``, one at a time, in arrival order. Ping/pong and close are
left to the framework's defaults.

Stops cleanly on SIGTERM or SIGINT. Listens on 127.0.0.1 only, no access log.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal


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
    return p.parse_args(argv)


ARGS = parse_args()

# The one line that differs between the two frameworks.
if ARGS.framework == "aioweb":
    from aioweb import web
else:
    from aiohttp import web

# RFC 6455 opcodes; ``WSMsgType`` is an IntEnum with these values in both.
TEXT, BINARY = 0x1, 0x2


async def ws_echo(request: web.Request) -> web.WebSocketResponse:
    """Echo every TEXT/BINARY message back with the same type, in order."""
    ws = web.WebSocketResponse(compress=False)
    await ws.prepare(request)
    async for msg in ws:
        if msg.type == BINARY:
            await ws.send_bytes(msg.data)
        elif msg.type == TEXT:
            await ws.send_str(msg.data)
    return ws


def make_app() -> web.Application:
    app = web.Application()
    app.router.add_get("/ws", ws_echo)
    return app


async def serve(port: int) -> None:
    runner = web.AppRunner(make_app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(
        f"bench/ws_app.py: {ARGS.framework} on {ARGS.loop}, "
        f"ws://127.0.0.1:{port}/ws (pid {os.getpid()})",
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
            r.run(serve(ARGS.port))
    else:
        asyncio.run(serve(ARGS.port))


if __name__ == "__main__":
    main()
