"""Seed, "Handler": plain-function and coroutine handlers, wildcard method."""
# ruff: noqa: F811, I001
from aioweb import web

app = web.Application()  # support


def handler(request):
    return web.Response()


plain_handler = handler  # support: keep the plain-function form reachable


async def handler(request):
    return web.Response()


async def post_handler(request):  # support
    return web.Response(text="posted " + (await request.text()))


async def put_handler(request):  # support
    return web.Response(text="put " + (await request.text()))


async def all_handler(request):  # support: "queried later ... Request.method"
    return web.Response(text=request.method)


app.router.add_route('GET', '/', handler)
app.router.add_route('POST', '/post', post_handler)
app.router.add_route('PUT', '/put', put_handler)

app.router.add_route('*', '/path', all_handler)

plain_app = web.Application()  # support: an app served by the plain function
plain_app.router.add_route('GET', '/', plain_handler)  # support
