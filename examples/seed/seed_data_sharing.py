"""Seed, "Data Sharing": application- and request-scoped storage."""
# ruff: noqa: F811, I001
from aioweb import web

app = web.Application()  # support
data = "app-wide value"  # support

app['my_private_key'] = data

async def handler(request):
    data = request.app['my_private_key']
    return web.Response(text=data)  # support: the seed stops here

app_handler = handler  # support

async def handler(request):
  request['my_private_key'] = "data"
  return web.Response(text=request['my_private_key'])  # support: the seed's "..."

request_handler = handler  # support


@web.middleware  # support: a middleware stores, the handler reads
async def store(request, handler):
    request['my_private_key'] = "from middleware"
    return await handler(request)


async def read_from_middleware(request):  # support
    return web.Response(text=request['my_private_key'])


app.router.add_route('GET', '/app', app_handler)  # support
app.router.add_route('GET', '/request', request_handler)  # support
middleware_app = web.Application(middlewares=[store])  # support
middleware_app.router.add_route('GET', '/', read_from_middleware)  # support
