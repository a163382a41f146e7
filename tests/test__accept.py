"""Accept bursts on uvloop: queued connections are taken many per loop iteration."""

from __future__ import annotations

import asyncio
import errno
import socket
import ssl
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from aioweb import web, web_runner
from aioweb._accept import BURST, needs_accept_burst

uvloop = pytest.importorskip("uvloop")

CLIENTS = 100  # below BURST: one readable event can take them all
REQUEST = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"


def read_answer(sock: socket.socket) -> bytes:
    """Read until the response body ``hello`` has arrived, or the peer closed."""
    data = b""
    while not data.endswith(b"hello"):
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


async def hello(request: web.Request) -> web.Response:
    return web.Response(text="hello")


def run_uvloop(main: Callable[[], Awaitable[Any]]) -> Any:
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main())


async def start_site(**site_kwargs: Any) -> tuple[web.AppRunner, web.TCPSite, int]:
    app = web.Application()
    app.router.add_get("/", hello)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, **site_kwargs)
    await site.start()
    return runner, site, runner.addresses[0][1]


def connect_many(port: int, n: int) -> list[socket.socket]:
    """Blocking connects: the kernel completes them while the loop is held here."""
    return [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(n)]


def ask_all(clients: list[socket.socket]) -> list[bytes]:
    for c in clients:
        c.sendall(REQUEST)
    answers = []
    for c in clients:
        answers.append(read_answer(c))
        c.close()
    return answers


async def accepted_after(port: int, runner: web.AppRunner, iterations: int) -> tuple[int, list[socket.socket]]:
    clients = connect_many(port, CLIENTS)
    for _ in range(iterations):
        await asyncio.sleep(0)
    assert runner.server is not None
    return len(runner.server.connections), clients


def test_detects_uvloop_only() -> None:
    assert needs_accept_burst(uvloop.new_event_loop())
    loop = asyncio.new_event_loop()
    try:
        assert not needs_accept_burst(loop)
    finally:
        loop.close()
    assert CLIENTS < BURST


def test_a_queued_burst_is_accepted_within_a_few_iterations() -> None:
    async def main() -> tuple[int, list[bytes]]:
        runner, site, port = await start_site()
        try:
            assert len(site._bursts) == 1
            accepted, clients = await accepted_after(port, runner, 5)
            answers = await asyncio.to_thread(ask_all, clients)
            return accepted, answers
        finally:
            await runner.cleanup()

    accepted, answers = run_uvloop(main)
    assert accepted == CLIENTS
    assert all(a.startswith(b"HTTP/1.1 200 OK\r\n") and a.endswith(b"hello") for a in answers)


def test_without_bursts_uvloop_accepts_one_per_iteration(monkeypatch: pytest.MonkeyPatch) -> None:
    """The libuv behaviour the burst exists for; if this fails, libuv changed."""
    monkeypatch.setattr(web_runner, "needs_accept_burst", lambda loop: False)

    async def main() -> int:
        runner, site, port = await start_site()
        try:
            assert site._bursts == []
            accepted, clients = await accepted_after(port, runner, 5)
            await asyncio.to_thread(ask_all, clients)  # all are served eventually
            return accepted
        finally:
            await runner.cleanup()

    assert run_uvloop(main) <= 10


def test_stopping_the_site_stops_listening() -> None:
    async def main() -> int:
        runner, site, port = await start_site()
        burst = site._bursts[0]
        await runner.cleanup()
        assert site._bursts == []
        burst.close()  # idempotent
        return port

    port = run_uvloop(main)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2)


def test_asyncio_loops_take_no_burst() -> None:
    async def bursts() -> int:
        runner, site, _port = await start_site()
        try:
            return len(site._bursts)
        finally:
            await runner.cleanup()

    assert asyncio.run(bursts()) == 0


def test_tls_sites_accept_in_bursts_and_complete_handshakes(
    tls: tuple[ssl.SSLContext, ssl.SSLContext],
) -> None:
    server_ctx, client_ctx = tls
    n = 20

    def ask_over_tls(raw: list[socket.socket]) -> list[bytes]:
        answers = []
        for c in raw:
            with client_ctx.wrap_socket(c, server_hostname="localhost") as t:
                t.sendall(REQUEST)
                answers.append(read_answer(t))
        return answers

    async def main() -> tuple[int, list[bytes]]:
        runner, site, port = await start_site(ssl_context=server_ctx)
        try:
            assert len(site._bursts) == 1
            raw = connect_many(port, n)
            for _ in range(5):
                await asyncio.sleep(0)
            # Accepted by the burst, each waiting for its client's handshake
            # (libuv's own watcher takes one per iteration at most).
            handshaking = len(site._bursts[0]._pending)
            return handshaking, await asyncio.to_thread(ask_over_tls, raw)
        finally:
            await runner.cleanup()

    handshaking, answers = run_uvloop(main)
    assert handshaking >= n - 5
    assert len(answers) == n
    assert all(a.startswith(b"HTTP/1.1 200 OK\r\n") and a.endswith(b"hello") for a in answers)


def test_unix_sites_accept_in_bursts_too(tmp_path: Path) -> None:
    path = str(tmp_path / "s.sock")

    async def main() -> tuple[int, list[bytes]]:
        app = web.Application()
        app.router.add_get("/", hello)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.UnixSite(runner, path)
        await site.start()
        try:
            assert len(site._bursts) == 1
            clients = []
            for _ in range(CLIENTS):
                c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                c.settimeout(5)
                c.connect(path)
                clients.append(c)
            for _ in range(5):
                await asyncio.sleep(0)
            assert runner.server is not None
            accepted = len(runner.server.connections)
            return accepted, await asyncio.to_thread(ask_all, clients)
        finally:
            await runner.cleanup()

    accepted, answers = run_uvloop(main)
    assert accepted == CLIENTS
    assert all(a.endswith(b"hello") for a in answers)


def test_running_out_of_descriptors_backs_off_instead_of_spinning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def main() -> None:
        runner, site, port = await start_site()
        try:
            burst = site._bursts[0]
            real = burst._sock
            assert real is not None
            calls = []

            class OutOfDescriptors:
                def fileno(self) -> int:
                    return real.fileno()

                def accept(self) -> tuple[socket.socket, Any]:
                    calls.append(1)
                    raise OSError(errno.EMFILE, "Too many open files")

                def close(self) -> None:
                    real.close()

            burst._sock = OutOfDescriptors()  # type: ignore[assignment]
            client = socket.create_connection(("127.0.0.1", port), timeout=5)
            burst._accept()  # as its readable event would, before libuv's watcher runs
            for _ in range(20):
                await asyncio.sleep(0)
            # One failure, then no more tries until the retry delay passes;
            # libuv's watcher accepted the connection meanwhile.
            assert calls == [1]
            assert burst._retry is not None
            assert runner.server is not None and len(runner.server.connections) == 1
            client.close()
            burst.close()
            assert burst._retry is None
        finally:
            await runner.cleanup()

    with caplog.at_level("WARNING", logger="aioweb.server"):
        run_uvloop(main)
    assert [r.getMessage() for r in caplog.records].count(
        "accept() failed, retrying in 1 s: [Errno 24] Too many open files"
    ) == 1


def test_a_failed_tls_handshake_drops_only_that_connection(
    tls: tuple[ssl.SSLContext, ssl.SSLContext], caplog: pytest.LogCaptureFixture
) -> None:
    server_ctx, client_ctx = tls

    def garbage_then_good(port: int) -> bytes:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as bad:
            bad.sendall(b"GET / HTTP/1.1\r\n\r\n")  # plain HTTP to a TLS port
            bad.recv(4096)  # the server ends the connection
        with client_ctx.wrap_socket(
            socket.create_connection(("127.0.0.1", port), timeout=5), server_hostname="localhost"
        ) as good:
            good.sendall(REQUEST)
            return read_answer(good)

    async def main() -> bytes:
        runner, site, port = await start_site(ssl_context=server_ctx)
        try:
            return await asyncio.to_thread(garbage_then_good, port)
        finally:
            await runner.cleanup()

    with caplog.at_level("DEBUG"):
        answer = run_uvloop(main)
    assert answer.endswith(b"hello")
    assert not [r for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")]
