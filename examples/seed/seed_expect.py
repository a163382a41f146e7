"""Seed, "Expect Header": a custom expect handler that checks authorization."""
# ruff: noqa: I001, UP031
import aioweb  # support: the seed spells aioweb.HttpVersion11
from aioweb import web
from aioweb.web import HTTPExpectationFailed, HTTPForbidden  # support: used unqualified


async def check_auth(request):
    if request.version != aioweb.HttpVersion11:
        return

    expect = request.headers.get('EXPECT')  # support: the seed's free name ``expect``
    if request.headers.get('EXPECT') != '100-continue':
        raise HTTPExpectationFailed(text="Unknown Expect: %s" % expect)

    if request.headers.get('AUTHORIZATION') is None:
        raise HTTPForbidden()

    request.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")

async def hello(request):
    return web.Response(body=b"Hello, world")

app = web.Application()
app.router.add_route('GET', '/', hello, expect_handler=check_auth)
