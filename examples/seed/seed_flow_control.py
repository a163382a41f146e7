"""Seed, "Flow control": CORK and NODELAY modes on responses.

Support code only (the seed names the API without an example): handlers
report the modes they see, and the socket options the server really set.
"""
import json
import socket

from aioweb import web


def _socket_modes(request):
    sock = request.transport.get_extra_info('socket')
    modes = {'nodelay': bool(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))}
    if hasattr(socket, 'TCP_CORK'):
        modes['cork'] = bool(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_CORK))
    return modes


async def defaults(request):
    response = web.Response(content_type='application/json')
    stream = web.StreamResponse()
    error = web.HTTPNotFound()
    response.text = json.dumps({
        'response': [response.tcp_cork, response.tcp_nodelay],
        'stream': [stream.tcp_cork, stream.tcp_nodelay],
        'exception': [error.tcp_cork, error.tcp_nodelay],
    })
    return response


async def switch_to_nodelay(request):
    response = web.Response(content_type='application/json')
    response.set_tcp_nodelay(True)
    modes = {'props': [response.tcp_cork, response.tcp_nodelay], 'socket': _socket_modes(request)}
    response.text = json.dumps(modes)
    return response


async def stream_with_cork(request):
    response = web.StreamResponse()
    response.content_type = 'application/json'
    await response.prepare(request)
    response.set_tcp_cork(True)
    corked = {'props': [response.tcp_cork, response.tcp_nodelay], 'socket': _socket_modes(request)}
    response.set_tcp_nodelay(True)
    nodelay = {'props': [response.tcp_cork, response.tcp_nodelay], 'socket': _socket_modes(request)}
    await response.write(json.dumps({'corked': corked, 'nodelay': nodelay}).encode())
    await response.write_eof()
    return response


app = web.Application()
app.router.add_route('GET', '/defaults', defaults)
app.router.add_route('GET', '/nodelay', switch_to_nodelay)
app.router.add_route('GET', '/stream-cork', stream_with_cork)
