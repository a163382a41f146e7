"""In-process per-request cost of the server, without sockets or wrk.

Feeds N keep-alive requests, one per ``data_received`` (as a wrk client with
one request in flight per connection would), into a real connection protocol
over a fake transport, and reports microseconds per request. With
``--connections K``, N rounds of K connections' requests, each round read in
one loop pass and answered in the next. Deterministic
enough to compare changes on the hot path, and to run under a profiler:

    python bench/micro.py --scenario get -n 50000
    python -m cProfile -s tottime bench/micro.py --scenario get -n 20000 | head -40
    valgrind --tool=callgrind python bench/micro.py -n 2000   # instruction counts
    python bench/micro.py --scenario user --routes 10          # route-table size
    python bench/micro.py -n 200 --connections 256             # 256 requests per pass
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

REQUESTS = {
    "get": b"GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: wrk\r\n\r\n",
    "json": b"GET /json HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n",
    "user": b"GET /user/123 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n",
    "post1k": b"POST /echo HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nContent-Length: 1024\r\n\r\n"
    + b"x" * 1024,
}


class FakeTransport(asyncio.Transport):
    """Counts writes and bytes; never pauses."""

    def __init__(self) -> None:
        super().__init__()
        self.writes = 0
        self.nbytes = 0
        self.closing = False

    def write(self, data: Any) -> None:
        self.writes += 1
        self.nbytes += len(data)

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.closing = True

    def abort(self) -> None:
        self.closing = True

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 5555)}.get(name, default)

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def get_write_buffer_size(self) -> int:
        return 0

    def can_write_eof(self) -> bool:
        return True

    def write_eof(self) -> None:
        pass


async def run(
    scenario: str, n: int, routes: int = 1000, connections: int = 1
) -> tuple[float, FakeTransport]:
    saved, sys.argv = sys.argv, ["app.py", "--framework", "aioweb"]
    try:
        import app as bench_app  # the same routes as the wrk benchmark
    finally:
        sys.argv = saved
    app = bench_app.make_app(routes)
    server = app.make_handler(access_log=None)
    transport = FakeTransport()  # shared: it only counts
    protos = [server() for _ in range(connections)]
    for proto in protos:
        proto.connection_made(transport)
    data = REQUESTS[scenario]
    started = time.perf_counter()
    if connections == 1:  # the loop of every earlier measurement, kept comparable
        proto = protos[0]
        for _ in range(n):
            proto.data_received(data)
            # One request in flight, as with wrk: let it be answered first.
            # One loop pass per request always, as a real server reads each
            # request in a loop pass of its own.
            await asyncio.sleep(0)
            while not proto.idle:
                await asyncio.sleep(0)
    else:
        for _ in range(n):
            # Every connection's request is read in one loop pass and
            # answered in the next, as a real server does with the requests
            # of one epoll wake-up.
            for proto in protos:
                proto.data_received(data)
            await asyncio.sleep(0)
            while not all(proto.idle for proto in protos):
                await asyncio.sleep(0)
    elapsed = time.perf_counter() - started
    for proto in protos:
        proto.connection_lost(None)
    return elapsed, transport


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scenario", choices=sorted(REQUESTS), default="get")
    parser.add_argument("-n", type=int, default=20000)
    parser.add_argument("--loop", choices=("asyncio", "uvloop"), default="asyncio")
    parser.add_argument("--routes", type=int, default=1000, help="filler routes (default 1000)")
    parser.add_argument(
        "--connections", type=int, default=1, help="requests in flight per round (default 1)"
    )
    args = parser.parse_args()
    if args.loop == "uvloop":
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    elapsed, transport = asyncio.run(run(args.scenario, args.n, args.routes, args.connections))
    total = args.n * args.connections
    print(
        f"{args.scenario}: {elapsed / total * 1e6:.2f} us/request over {total} requests "
        f"({transport.writes / total:.2f} writes/request, {transport.nbytes // total} B/response)"
    )


if __name__ == "__main__":
    main()
