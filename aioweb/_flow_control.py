"""TCP send-side modes: CORK and NODELAY, as the seed's Flow control section describes.

CORK holds partial frames until the option is cleared (Linux ``TCP_CORK``,
BSD ``TCP_NOPUSH``); NODELAY disables Nagle's algorithm. The two are exclusive:
turning one on turns the other off. Where the OS has no CORK option, asking for
CORK leaves Nagle's algorithm on, which is what CORK degrades to. Both are
no-ops on transports without a TCP socket (Unix sockets, tests, closed).
"""

from __future__ import annotations

import asyncio
import socket

__all__ = ("CORK", "set_tcp_cork", "set_tcp_nodelay")

CORK: int | None = getattr(socket, "TCP_CORK", None) or getattr(socket, "TCP_NOPUSH", None)


def _tcp_socket(transport: asyncio.BaseTransport | None) -> socket.socket | None:
    if transport is None or transport.is_closing():
        return None
    sock = transport.get_extra_info("socket")
    if sock is None or sock.family not in (socket.AF_INET, socket.AF_INET6):
        return None
    return sock  # type: ignore[no-any-return]


def set_tcp_nodelay(transport: asyncio.BaseTransport | None, value: bool) -> bool:
    """Set TCP_NODELAY (clearing CORK first when enabling); return True if applied."""
    sock = _tcp_socket(transport)
    if sock is None:
        return False
    try:
        if value and CORK is not None:
            sock.setsockopt(socket.IPPROTO_TCP, CORK, 0)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, int(value))
    except OSError:
        return False
    return True


def set_tcp_cork(transport: asyncio.BaseTransport | None, value: bool) -> bool:
    """Set TCP_CORK/TCP_NOPUSH (clearing NODELAY first when enabling).

    Returns False where the OS has no CORK option: the socket then stays in
    Nagle's mode, the documented degradation.
    """
    sock = _tcp_socket(transport)
    if sock is None:
        return False
    try:
        if value:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 0)
        if CORK is None:
            return False
        sock.setsockopt(socket.IPPROTO_TCP, CORK, int(value))
    except OSError:
        return False
    return True
