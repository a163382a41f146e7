"""Seed, "Class Based Views" and "Resource Views"."""
# ruff: noqa: I001
from aioweb import web


async def get_resp(request):  # support: the seed leaves it undefined
    return web.Response(text="GET " + request.path)


async def post_resp(request):  # support: the seed leaves it undefined
    return web.Response(text="POST " + (await request.text()))


class MyView(web.View):
    async def get(self):
        return await get_resp(self.request)

    async def post(self):
        return await post_resp(self.request)

app = web.Application()  # support
app.router.add_route('*', '/path/to', MyView)

app.router.add_resource('/plain', name='plain')  # support: more to list
app.router.add_resource('/users/{user}', name='user')  # support
app.router.add_resource('/anonymous/{id}')  # support


def print_resources(app):  # support: the seed's loops, callable from a test
    for resource in app.router.resources():
        print(resource)

    for name, resource in app.router.named_resources().items():
        print(name, resource)
