"""Access log: aiohttp's format directives, errors, and zero cost when off."""

from __future__ import annotations

import logging
import os
import re
from typing import Any

import pytest

from aioweb import web
from aioweb.abc import AbstractAccessLogger
from aioweb.test_utils import make_mocked_request
from aioweb.web_log import compile_format


class ListHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.fixture
def logger() -> Any:
    log = logging.getLogger("aioweb.test.access")
    handler = ListHandler()
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
    yield log, handler.lines
    log.removeHandler(handler)


def render(logger: Any, fmt: str, time: float = 1.5) -> Any:
    log, lines = logger
    request = make_mocked_request(
        "GET", "/path?q=1", headers={"Referer": "http://ref/", "User-Agent": "agent/1"}
    )
    response = web.Response(status=201, headers={"X-Out": "out-value"})
    web.AccessLogger(log, fmt).log(request, response, time)
    return lines[-1]


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [
        ("%r", "GET /path?q=1 HTTP/1.1"),
        ("%s", "201"),
        ("%{Referer}i|%{User-Agent}i", "http://ref/|agent/1"),
        ("%{X-Out}o %{Missing}o", "out-value -"),
        ("%T", "2"),
        ("%Tf", "1.500000"),
        ("%D", "1500000"),
        ("%P", f"<{os.getpid()}>"),
        ("100%% %s", "100% 201"),
        ("plain text", "plain text"),
    ],
)
def test_directives(logger: Any, fmt: str, expected: str) -> None:
    assert render(logger, fmt) == expected


def test_environment_directive(logger: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIOWEB_LOG_TEST", "from-env")
    assert render(logger, "%{AIOWEB_LOG_TEST}e") == "from-env"


def test_start_time_and_default_format(logger: Any) -> None:
    assert re.fullmatch(r"\[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\]", render(logger, "%t"))
    line = render(logger, web.AccessLogger.LOG_FORMAT)
    assert '"GET /path?q=1 HTTP/1.1" 201 ' in line
    assert line.endswith('"http://ref/" "agent/1"')


@pytest.mark.parametrize("fmt", ["%x", "%x %s", "%s %x", "%{Name}q", "trailing %"])
def test_unknown_directive_is_rejected_at_construction(fmt: str) -> None:
    with pytest.raises(ValueError, match="Unknown directive"):
        compile_format(fmt)


def test_enabled_follows_logger_level(logger: Any) -> None:
    log, _ = logger
    access = web.AccessLogger(log)
    assert access.enabled
    log.setLevel(logging.WARNING)
    assert not access.enabled


async def test_requests_are_logged_when_enabled(aioweb_client: Any, logger: Any) -> None:
    log, lines = logger

    async def handler(request: web.Request) -> web.Response:
        return web.Response(text="hi")

    app = web.Application()
    app.router.add_get("/x", handler)
    client = await aioweb_client(
        app, server_kwargs={"access_log": log, "access_log_format": '%a "%r" %s %b'}
    )
    await client.get("/x?y=1")
    assert len(lines) == 1
    # %b counts the bytes sent, head included (as aiohttp documents it).
    match = re.fullmatch(r'127\.0\.0\.1 "GET /x\?y=1 HTTP/1\.1" 200 (\d+)', lines[0])
    assert match is not None and int(match.group(1)) > len("hi")


class Exploding(AbstractAccessLogger):
    """Fails the test if the server asks it for anything while disabled."""

    calls = 0

    @property
    def enabled(self) -> bool:
        return False

    def log(self, request: Any, response: Any, time: float) -> None:
        Exploding.calls += 1
        raise AssertionError("log() called while disabled")


async def test_disabled_logger_is_never_called(aioweb_client: Any, logger: Any) -> None:
    log, _ = logger

    async def handler(request: web.Request) -> web.Response:
        return web.Response(text="hi")

    app = web.Application()
    app.router.add_get("/", handler)
    client = await aioweb_client(
        app, server_kwargs={"access_log": log, "access_log_class": Exploding}
    )
    for _ in range(3):
        assert (await client.get("/")).status == 200
    assert Exploding.calls == 0


async def test_access_log_none_disables_logging(aioweb_client: Any) -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(text="hi")

    app = web.Application()
    app.router.add_get("/", handler)
    client = await aioweb_client(app, server_kwargs={"access_log": None})
    assert (await client.get("/")).status == 200
    server = client.server.server
    assert server is not None and server._access_logger is None


def test_failing_directive_is_logged_not_raised(logger: Any, caplog: Any) -> None:
    log, lines = logger
    log.propagate = True
    request = make_mocked_request("GET", "/")
    access = web.AccessLogger(log, "%s")
    with caplog.at_level(logging.ERROR, logger=log.name):
        access.log(request, None, 0.0)  # type: ignore[arg-type]
    assert any("Error in logging" in r.getMessage() for r in caplog.records)
