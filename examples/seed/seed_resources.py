"""Seed, "Resources and Routes" and "Reverse URL Constructing using Named Resources"."""
# ruff: noqa: I001
from aioweb import web


# The seed's add_resource/add_route fragment, framed as a function.
def add_route_pair(app, method, path, handler, name=None):  # frame
    resource = app.router.add_resource(path, name=name)
    route = resource.add_route(method, handler)
    return route


named_app = web.Application()  # support
app = named_app  # support: the seed's next snippets say ``app``

resource = app.router.add_resource('/root', name='root')

app.router.add_resource(r'/{user}/info', name='user-info')


async def root_handler(request):  # support: the seed's doctest, in a handler
    return web.Response(
        text=request.app.router['root'].url(query={"a": "b", "c": "d"}))


async def user_info_handler(request):  # support: the seed's doctest, in a handler
    return web.Response(text=request.app.router['user-info'].url(
        parts={'user': 'john_doe'},
        query="?a=b"))


named_app.router['root'].add_route('GET', root_handler)  # support
named_app.router['user-info'].add_route('GET', user_info_handler)  # support
