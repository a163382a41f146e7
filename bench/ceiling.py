"""The raw ceiling: asyncio.Protocol + httptools + uvloop, no framework.

Answers every request with precomputed bytes (the same bodies and the same
headers, Content-Type, Content-Length, Date and Server, as the framework
apps send), except ``POST /echo``, whose body is read and sent back so POST
numbers compare with the apps. Keep-alive and pipelining work: responses
to all requests parsed from one ``data_received`` are written in order with
one ``transport.write``. This is the upper bound any Python framework on
this stack can reach, not a usable server.

    python bench/ceiling.py --port 8080
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import time
from email.utils import formatdate

import httptools
import uvloop

_BODIES = {
    b"/": (b"text/plain; charset=utf-8", b"Hello, world"),
    b"/json": (b"application/json; charset=utf-8", b'{"message": "Hello, world"}'),
}
_USER = b"/user/"

_date = b""
_fixed: dict[bytes, bytes] = {}


def _head(status: bytes, ctype: bytes, length: int) -> bytes:
    return b"".join(
        (
            b"HTTP/1.1 ",
            status,
            b"\r\nContent-Type: ",
            ctype,
            b"\r\nContent-Length: ",
            str(length).encode(),
            b"\r\nDate: ",
            _date,
            b"\r\nServer: ceiling\r\n\r\n",
        )
    )


def _refresh_date(loop: asyncio.AbstractEventLoop) -> None:
    """Rebuild the fixed responses once a second (the Date header changes)."""
    global _date
    _date = formatdate(usegmt=True).encode()
    for path, (ctype, body) in _BODIES.items():
        _fixed[path] = _head(b"200 OK", ctype, len(body)) + body
    loop.call_at(loop.time() + 1.0 - (time.time() % 1.0), _refresh_date, loop)


_NOT_FOUND = b"404: Not Found"
_BAD = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


class CeilingProtocol(asyncio.Protocol):
    __slots__ = ("transport", "parser", "url", "body", "out", "close_after")

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpRequestParser(self)
        self.url = b""
        self.body: list[bytes] = []
        self.out: list[bytes] = []
        self.close_after = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None

    # httptools callbacks
    def on_message_begin(self) -> None:
        self.url = b""
        self.body = []

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        url = self.url
        q = url.find(b"?")
        if q >= 0:
            url = url[:q]
        if url == b"/echo" and self.parser.get_method() == b"POST":
            body = b"".join(self.body)
            self.out.append(_head(b"200 OK", b"application/octet-stream", len(body)))
            self.out.append(body)
        elif url in _fixed:
            self.out.append(_fixed[url])
        elif url.startswith(_USER):
            body = b"user " + url[len(_USER) :]
            self.out.append(_head(b"200 OK", b"text/plain; charset=utf-8", len(body)) + body)
        else:
            self.out.append(
                _head(b"404 Not Found", b"text/plain; charset=utf-8", len(_NOT_FOUND)) + _NOT_FOUND
            )
        if not self.parser.should_keep_alive():
            self.close_after = True

    def data_received(self, data: bytes) -> None:
        transport = self.transport
        if transport is None:
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self.out.append(_BAD)
            self.close_after = True
        if self.out:
            transport.write(b"".join(self.out))
            self.out = []
        if self.close_after:
            transport.close()
            self.transport = None


async def serve(port: int) -> None:
    loop = asyncio.get_running_loop()
    _refresh_date(loop)
    server = await loop.create_server(CeilingProtocol, "127.0.0.1", port, backlog=1024)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(f"bench/ceiling.py: http://127.0.0.1:{port}/ (pid {os.getpid()})", flush=True)
    try:
        await stop.wait()
    finally:
        server.close()  # open keep-alive connections die with the process


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--port", type=int, default=int(os.environ.get("BENCH_PORT", "8080")))
    args = p.parse_args()
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as r:
        r.run(serve(args.port))


if __name__ == "__main__":
    main()
