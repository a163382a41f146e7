"""Seed, "Run a Simple Web Server": hello world and run_app().

The seed's code, verbatim apart from ``aiohttp`` -> ``aioweb``. Lines marked
``# support`` are not in the seed.
"""
# ruff: noqa: F401, I001
import asyncio
from aioweb import web

async def hello(request):
    return web.Response(body=b"Hello, world")

app = web.Application()
app.router.add_route('GET', '/', hello)

if __name__ == "__main__":  # support: serve only when run as a script
    web.run_app(app)
