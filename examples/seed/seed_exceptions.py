"""Seed, "Exceptions": returning and raising an HTTP exception are the same."""
# ruff: noqa: F811, I001
import aioweb.web  # support: the seed spells aioweb.web.HTTPFound
from aioweb import web  # support


async def handler(request):
    return aioweb.web.HTTPFound('/redirect')

returning_handler = handler  # support: keep the first form reachable

async def handler(request):
    raise aioweb.web.HTTPFound('/redirect')

raising_handler = handler  # support


async def redirected(request):  # support: where the redirect lands
    return web.Response(text="redirected")


async def not_allowed(request):  # support: the seed's constructor shape
    raise aioweb.web.HTTPMethodNotAllowed(request.method, ['GET', 'POST'])


app = web.Application()  # support
app.router.add_route('GET', '/return', returning_handler)  # support
app.router.add_route('GET', '/raise', raising_handler)  # support
app.router.add_route('GET', '/redirect', redirected)  # support
app.router.add_route('*', '/not-allowed', not_allowed)  # support
