"""Seed, "Organizing Handlers in Classes": bound sync and async methods."""
# ruff: noqa: UP032, I001
from aioweb import web


async def hello(request):
    return web.Response(body=b"Hello, world")

app = web.Application()  # support
app.router.add_route('GET', '/', hello)


class Handler:

    def __init__(self):
        pass

    def handle_intro(self, request):
        return web.Response(body=b"Hello, world")

    async def handle_greeting(self, request):
        name = request.match_info.get('name', "Anonymous")
        txt = "Hello, {}".format(name)
        return web.Response(text=txt)

handler = Handler()
app.router.add_route('GET', '/intro', handler.handle_intro)
app.router.add_route('GET', '/greet/{name}', handler.handle_greeting)
