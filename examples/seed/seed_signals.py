"""Seed, "Signals": on_response_prepare adds a header to every response."""
# ruff: noqa: I001
from aioweb import web


async def on_prepare(request, response):
    response.headers['My-Header'] = 'value'

app = web.Application()  # support
app.on_response_prepare.append(on_prepare)


async def plain(request):  # support
    return web.Response(text="plain")


async def streamed(request):  # support: a streamed response, prepared by hand
    response = web.StreamResponse()
    await response.prepare(request)
    await response.write(b"streamed")
    await response.write_eof()
    return response


async def failing(request):  # support: HTTP exceptions are responses too
    raise web.HTTPNotFound()


app.router.add_route('GET', '/plain', plain)  # support
app.router.add_route('GET', '/streamed', streamed)  # support
app.router.add_route('GET', '/failing', failing)  # support
