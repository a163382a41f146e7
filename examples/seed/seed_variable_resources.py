"""Seed, "Variable Resources": ``{identifier}`` and ``{identifier:regex}``."""
# ruff: noqa: UP032, I001
from aioweb import web

app = variable_app = web.Application()  # support


async def variable_handler(request):
    return web.Response(
        text="Hello, {}".format(request.match_info['name']))

resource = app.router.add_route('/{name}')
resource.add_route('GET', variable_handler)

app = regex_app = web.Application()  # support

resource = app.router.add_resource(r'/{name:\d+}')
resource.add_route('GET', variable_handler)  # support
