"""A real browser (headless Chromium through Playwright) talks to an aioweb WebSocket.

Chromium is Debian's package (``scripts/check`` installs it); Playwright's own
browser downloads are never used. Without ``chromium`` on PATH the test skips.
"""

from __future__ import annotations

import asyncio
import shutil

import pytest

from aioweb import WSMsgType, web
from aioweb.test_utils import TestServer

pytestmark = pytest.mark.browser

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]

PAGE = """<!doctype html>
<meta charset="utf-8">
<title>aioweb websocket echo</title>
<p id="out">pending</p>
<script>
const out = document.getElementById("out");
const ws = new WebSocket("ws://" + location.host + "/ws");
const big = "x".repeat(70000);
const replies = [];
ws.onopen = () => { ws.send("hello from the browser"); ws.send(big); };
ws.onmessage = (event) => {
  replies.push(event.data);
  if (replies.length === 2) {
    out.textContent = replies[0] + " | " + (replies[1] === "echo: " + big ? "big ok" : "big bad");
    ws.close(1000, "done");
  }
};
ws.onerror = () => { out.textContent = "error"; };
</script>
"""

CLOSE_CODES = web.AppKey("close_codes", list)


async def index(request: web.Request) -> web.Response:
    return web.Response(text=PAGE, content_type="text/html")


async def echo(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    async for msg in ws:
        if msg.type is WSMsgType.TEXT:
            await ws.send_str("echo: " + msg.data)
    request.app[CLOSE_CODES].append(ws.close_code)
    return ws


def make_app() -> web.Application:
    app = web.Application()
    app[CLOSE_CODES] = []
    app.router.add_get("/", index)
    app.router.add_get("/ws", echo)
    return app


async def test_browser_websocket_echo() -> None:
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("Debian's chromium is not on PATH (scripts/check installs it with apt-get)")
    playwright_api = pytest.importorskip("playwright.async_api")
    app = make_app()
    async with TestServer(app) as server, playwright_api.async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=chromium, args=CHROMIUM_ARGS, headless=True
        )
        try:
            page = await browser.new_page()
            await page.goto(str(server.make_url("/")))
            await page.wait_for_function(
                "document.getElementById('out').textContent !== 'pending'", timeout=20_000
            )
            text = await page.text_content("#out")
        finally:
            await browser.close()
        assert text == "echo: hello from the browser | big ok"
        for _ in range(100):
            if app[CLOSE_CODES]:
                break
            await asyncio.sleep(0.02)
        assert app[CLOSE_CODES] == [1000]
