"""Seed, "Custom Routing Criteria": the AcceptChooser."""
# ruff: noqa: I001
import json  # support

from aioweb import web
from aioweb.web import HTTPNotAcceptable  # support: the seed uses it unqualified


class AcceptChooser:

    def __init__(self):
        self._accepts = {}

    async def do_route(self, request):
        for accept in request.headers.getall('ACCEPT', []):
            acceptor = self._accepts.get(accept)
            if acceptor is not None:
                return (await acceptor(request))
        raise HTTPNotAcceptable()

    def reg_acceptor(self, accept, handler):
        self._accepts[accept] = handler


async def handle_json(request):
    # do json handling
    return web.Response(text=json.dumps({"format": "json"}),  # support
                        content_type="application/json")

async def handle_xml(request):
    # do xml handling
    return web.Response(text="<format>xml</format>",  # support
                        content_type="application/xml")

app = web.Application()  # support
chooser = AcceptChooser()
app.router.add_route('GET', '/', chooser.do_route)

chooser.reg_acceptor('application/json', handle_json)
chooser.reg_acceptor('application/xml', handle_xml)
