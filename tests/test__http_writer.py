"""The Date clock and status lines that every response head is built from."""

from __future__ import annotations

import time
from email.utils import formatdate, parsedate_to_datetime
from typing import Any

import pytest

from aioweb import _http_writer, web
from aioweb._http_writer import DATE, date_value, status_line


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """A settable wall clock; the real clock's Date comes back afterwards."""
    now = [1_700_000_000.25]
    monkeypatch.setattr(time, "time", lambda: now[0])
    monkeypatch.setattr(DATE, "text", DATE.text)
    monkeypatch.setattr(DATE, "start", 0.0)
    monkeypatch.setattr(DATE, "end", 0.0)
    return now


def test_date_is_formatted_once_per_second(clock: list[float], monkeypatch: pytest.MonkeyPatch) -> None:
    formats: list[float] = []

    def counting(value: float, usegmt: bool) -> str:
        formats.append(value)
        return formatdate(value, usegmt=usegmt)

    monkeypatch.setattr(_http_writer, "formatdate", counting)
    first = date_value()
    assert first == "Tue, 14 Nov 2023 22:13:20 GMT"
    clock[0] += 0.7  # same second
    assert date_value() == first and len(formats) == 1
    clock[0] += 0.1  # next second
    assert date_value() == "Tue, 14 Nov 2023 22:13:21 GMT" and len(formats) == 2


def test_a_clock_set_back_is_followed(clock: list[float]) -> None:
    date_value()
    clock[0] -= 3600
    assert date_value() == "Tue, 14 Nov 2023 21:13:20 GMT"


async def test_quick_and_full_responses_carry_the_same_current_date(aioweb_client: Any) -> None:
    async def quick(request: web.Request) -> web.Response:
        return web.Response(text="q")

    async def full(request: web.Request) -> web.Response:
        return web.Response(text="f", headers={"X-Full": "1"})

    app = web.Application()
    app.router.add_get("/quick", quick)
    app.router.add_get("/full", full)
    client = await aioweb_client(app)
    for path in ("/quick", "/full"):
        resp = await client.get(path)
        sent = parsedate_to_datetime(resp.headers["Date"]).timestamp()
        assert abs(sent - time.time()) < 5


def test_status_lines() -> None:
    assert status_line(1, 200, None) == "HTTP/1.1 200 OK\r\n"
    assert status_line(0, 404, None) == "HTTP/1.0 404 Not Found\r\n"
    assert status_line(1, 299, None) == "HTTP/1.1 299 \r\n"
    assert status_line(1, 200, "Fine") == "HTTP/1.1 200 Fine\r\n"
