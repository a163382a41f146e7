"""pytest fixtures for aioweb applications (entry point ``pytest11``).

Fixtures (async, for pytest-asyncio):

* ``aioweb_client``: ``client = await aioweb_client(app_or_handler)``;
* ``aioweb_server``: ``server = await aioweb_server(app)``;
* ``aioweb_raw_server``: ``server = await aioweb_raw_server(handler)``;
* ``aioweb_unused_port``: ``port = aioweb_unused_port()``, a free TCP port.

Everything started through a fixture is closed when the test ends.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from .test_utils import BaseTestServer, RawTestServer, TestClient, TestServer, unused_port
from .web_app import Application

try:
    import pytest_asyncio
except ImportError:  # pragma: no cover - the fixtures need pytest-asyncio
    pytest_asyncio = None  # type: ignore[assignment]


def _async_fixture(func: Any) -> Any:
    if pytest_asyncio is None:
        return pytest.fixture(func)
    return pytest_asyncio.fixture(func)


@pytest.fixture
def aioweb_unused_port() -> Callable[[], int]:
    """Factory: a TCP port on 127.0.0.1 that was free a moment ago."""
    return unused_port


@_async_fixture
async def aioweb_server() -> AsyncIterator[Callable[..., Awaitable[TestServer]]]:
    """Factory: start a ``TestServer`` for an application."""
    servers: list[BaseTestServer] = []

    async def start(app: Application, **kwargs: Any) -> TestServer:
        server = TestServer(app, **kwargs)
        await server.start_server()
        servers.append(server)
        return server

    yield start
    for server in reversed(servers):
        await server.close()


@_async_fixture
async def aioweb_raw_server() -> AsyncIterator[Callable[..., Awaitable[RawTestServer]]]:
    """Factory: start a ``RawTestServer`` for a low-level handler."""
    servers: list[BaseTestServer] = []

    async def start(handler: Any, **kwargs: Any) -> RawTestServer:
        server = RawTestServer(handler, **kwargs)
        await server.start_server()
        servers.append(server)
        return server

    yield start
    for server in reversed(servers):
        await server.close()


@_async_fixture
async def aioweb_client() -> AsyncIterator[Callable[..., Awaitable[TestClient]]]:
    """Factory: a ``TestClient`` for an app, a handler, or a started server."""
    clients: list[TestClient] = []

    async def start(target: Any, *, server_kwargs: Any = None, **kwargs: Any) -> TestClient:
        if isinstance(target, Application):
            server: BaseTestServer = TestServer(target, **(server_kwargs or {}))
        elif isinstance(target, BaseTestServer):
            server = target
        else:
            server = RawTestServer(target, **(server_kwargs or {}))
        client = TestClient(server, **kwargs)
        await client.start_server()
        clients.append(client)
        return client

    yield start
    for client in reversed(clients):
        await client.close()
