"""Seed, "WebSockets": an echo handler that answers every text with '/answer'."""
# ruff: noqa: I001, UP031
import aioweb  # support: the seed spells aioweb.MsgType
from aioweb import web


async def websocket_handler(request):

    ws = web.WebSocketResponse()
    await ws.prepare(request)

    async for msg in ws:
        if msg.tp == aioweb.MsgType.text:
            if msg.data == 'close':
                await ws.close()
            else:
                ws.send_str(msg.data + '/answer')
        elif msg.tp == aioweb.MsgType.error:
            print('ws connection closed with exception %s' %
                  ws.exception())

    print('websocket connection closed')

    return ws

app = web.Application()  # support
app.router.add_route('GET', '/ws', websocket_handler)  # support
