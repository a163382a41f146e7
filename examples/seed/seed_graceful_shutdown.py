"""Seed, "Graceful shutdown": start, run and finalize by hand.

Run as ``python seed_graceful_shutdown.py PORT``; stop it with SIGINT. The
seed's address ``'0.0.0.0', 8080`` becomes ``'127.0.0.1', PORT`` so tests
can run side by side; every API call is the seed's.
"""
# ruff: noqa: I001
import asyncio
import sys  # support

from aioweb import web

PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 8080  # support

app = web.Application()
app['websockets'] = []


async def on_shutdown(app):  # frame: the seed's slip reads 'async with on_shutdown(app):'
    for ws in app['websockets']:
        await ws.close(code=999, message='Server shutdown')

app.on_shutdown.append(on_shutdown)


async def announce_shutdown(app):  # support: visible proof of each step
    print('shutdown signal', flush=True)


async def announce_cleanup(app):  # support
    print('cleanup signal', flush=True)


async def hello(request):  # support
    return web.Response(body=b"Hello, world")


async def websocket(request):  # support: an open WebSocket for on_shutdown to close
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    request.app['websockets'].append(ws)
    print('websocket open', flush=True)
    async for msg in ws:
        ws.send_str(msg.data)
    print('websocket closed', ws.close_code, flush=True)
    return ws

app.on_shutdown.append(announce_shutdown)  # support
app.on_cleanup.append(announce_cleanup)  # support
app.router.add_route('GET', '/', hello)  # support
app.router.add_route('GET', '/ws', websocket)  # support
asyncio.set_event_loop(asyncio.new_event_loop())  # support: no implicit loop on new Pythons

loop = asyncio.get_event_loop()
handler = app.make_handler()
f = loop.create_server(handler, '127.0.0.1', PORT)  # support: seed has '0.0.0.0', 8080
srv = loop.run_until_complete(f)
print('serving on', srv.sockets[0].getsockname())
try:
    loop.run_forever()
except KeyboardInterrupt:
    pass
finally:
    srv.close()
    loop.run_until_complete(srv.wait_closed())
    loop.run_until_complete(app.shutdown())
    loop.run_until_complete(handler.finish_connections(60.0))
    loop.run_until_complete(app.cleanup())
loop.close()
print('closed', flush=True)  # support
