"""Seed, "Middlewares": old-style factories ``factory(app, handler)``.

The 3.x new style (``@web.middleware async def mw(request, handler)``) is
support code here, mixed into the same chain.
"""
# ruff: noqa: I001
from aioweb import web


def _tracing_factory(label):  # support: factories that leave a trail
    async def factory(app, handler):
        async def middleware_handler(request):
            request.setdefault('trail', []).append(label)
            return await handler(request)
        return middleware_handler
    return factory


middleware_factory_1 = _tracing_factory('1')  # support
middleware_factory_2 = _tracing_factory('2')  # support


async def middleware_factory(app, handler):
    async def middleware_handler(request):
        return await handler(request)
    return middleware_handler


async def forbidding_factory(app, handler):  # support: "raising HTTPForbidden"
    async def middleware_handler(request):
        if request.path.startswith('/secret'):
            raise web.HTTPForbidden()
        return await handler(request)
    return middleware_handler


async def not_found_page(app, handler):  # support: "accept route exceptions"
    async def middleware_handler(request):
        try:
            return await handler(request)
        except web.HTTPNotFound:
            return web.Response(status=404, text="custom 404 for " + request.path)
        except web.HTTPMethodNotAllowed as exc:
            return web.Response(status=405, text="custom 405, allowed: "
                                + ",".join(sorted(exc.allowed_methods)))
    return middleware_handler


@web.middleware  # support: the 3.x form
async def new_style(request, handler):
    request.setdefault('trail', []).append('new')
    response = await handler(request)
    response.headers['X-New-Style'] = 'yes'
    return response


async def trail(request):  # support
    return web.Response(text=",".join(request.get('trail', [])))


app = web.Application(middlewares=[middleware_factory_1,
                                   middleware_factory_2])
app.router.add_route('GET', '/', trail)  # support

mixed_app = web.Application(middlewares=[  # support
    not_found_page, middleware_factory, new_style, middleware_factory_1, forbidding_factory])
mixed_app.router.add_route('GET', '/', trail)  # support
mixed_app.router.add_route('GET', '/secret', trail)  # support
