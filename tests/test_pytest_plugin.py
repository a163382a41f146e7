"""aioweb.pytest_plugin: the fixtures, used by real test files run through pytester."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

AUTO_INI = """
[pytest]
asyncio_mode = auto
asyncio_default_fixture_loop_scope = function
filterwarnings = error
"""

STRICT_INI = """
[pytest]
asyncio_mode = strict
asyncio_default_fixture_loop_scope = function
filterwarnings = error
"""

USER_TESTS = '''
import asyncio
import pytest
from aioweb import web
from aioweb.test_utils import RawTestServer, TestClient, TestServer

CLEANED = []


async def hello(request):
    return web.Response(text="Hello, " + request.match_info.get("name", "world"))


def make_app():
    app = web.Application()
    app.router.add_route("GET", "/", hello)
    app.router.add_route("GET", "/{name}", hello)

    async def on_cleanup(app):
        CLEANED.append(app)

    app.on_cleanup.append(on_cleanup)
    return app


async def test_client_for_app(aioweb_client):
    client = await aioweb_client(make_app())
    assert isinstance(client, TestClient)
    resp = await client.get("/Andrew")
    assert resp.status == 200
    assert await resp.text() == "Hello, Andrew"


async def test_client_for_raw_handler(aioweb_client):
    async def handler(request):
        return web.Response(text="raw " + request.path)

    client = await aioweb_client(handler)
    assert isinstance(client.server, RawTestServer)
    assert await (await client.get("/x")).text() == "raw /x"


async def test_client_for_started_server(aioweb_server, aioweb_client):
    server = await aioweb_server(make_app())
    client = await aioweb_client(server)
    assert client.server is server
    assert await (await client.get("/")).text() == "Hello, world"


async def test_client_kwargs(aioweb_client):
    client = await aioweb_client(make_app(), server_kwargs={"port": None}, headers={"X-Default": "1"})
    assert (await client.get("/")).status == 200


async def test_server(aioweb_server):
    server = await aioweb_server(make_app())
    assert isinstance(server, TestServer)
    reader, writer = await asyncio.open_connection(server.host, server.port)
    writer.write(b"GET / HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n")
    data = await reader.read()
    writer.close()
    await writer.wait_closed()
    assert data.endswith(b"Hello, world")


async def test_raw_server(aioweb_raw_server, aioweb_client):
    async def handler(request):
        return web.Response(text="low level")

    server = await aioweb_raw_server(handler)
    client = await aioweb_client(server)
    assert await (await client.get("/")).text() == "low level"


async def test_many_clients_in_one_test(aioweb_client):
    clients = [await aioweb_client(make_app()) for _ in range(3)]
    assert len({c.port for c in clients}) == 3
    for c in clients:
        assert (await c.get("/")).status == 200


def test_cleanup_ran_for_every_app_above():
    assert len(CLEANED) == 7
'''


def _run(pytester: pytest.Pytester, ini: str, source: str) -> pytest.RunResult:
    pytester.makeini(ini)
    pytester.makepyfile(test_user=source)
    return pytester.runpytest_inprocess("-p", "no:cacheprovider", "-q")


def test_fixtures_in_auto_mode(pytester: pytest.Pytester) -> None:
    result = _run(pytester, AUTO_INI, USER_TESTS)
    result.assert_outcomes(passed=8)


def test_fixtures_in_strict_mode(pytester: pytest.Pytester) -> None:
    source = USER_TESTS.replace("\nasync def test_", "\n@pytest.mark.asyncio\nasync def test_")
    result = _run(pytester, STRICT_INI, source)
    result.assert_outcomes(passed=8)


def test_fixtures_close_servers_even_when_the_test_fails(pytester: pytest.Pytester) -> None:
    source = '''
import socket
from aioweb import web

PORTS = []


async def test_fails(aioweb_client):
    client = await aioweb_client(web.Application())
    PORTS.append(client.port)
    assert False, "on purpose"


def test_port_released():
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", PORTS[0]))
        sock.listen()
'''
    result = _run(pytester, AUTO_INI, source)
    result.assert_outcomes(passed=1, failed=1)


def test_plugin_is_registered_by_entry_point(pytestconfig: pytest.Config) -> None:
    import aioweb.pytest_plugin

    assert pytestconfig.pluginmanager.is_registered(aioweb.pytest_plugin)


def test_fixtures_are_listed(pytester: pytest.Pytester) -> None:
    pytester.makeini(AUTO_INI)
    result = pytester.runpytest_inprocess("--fixtures", "-p", "no:cacheprovider")
    out = result.stdout.str()
    for name in ("aioweb_client", "aioweb_server", "aioweb_raw_server", "aioweb_unused_port"):
        assert name in out
