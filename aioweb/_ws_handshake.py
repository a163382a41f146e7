"""The server side of the WebSocket opening handshake (RFC 6455 section 4.2).

Split off ``web_ws``: checking a request, computing ``Sec-WebSocket-Accept``,
choosing a subprotocol and accepting permessage-deflate, plus the close frame
``close()`` sends. Each check raises the ``HTTPException`` to answer with.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Iterable
from typing import TYPE_CHECKING, NamedTuple, Optional, Union

from . import hdrs
from ._websocket import (
    DeflateParams,
    WSCloseCode,
    build_close,
    is_valid_close_code,
    negotiate_deflate,
)
from .web_exceptions import HTTPBadRequest, HTTPMethodNotAllowed, HTTPUpgradeRequired

if TYPE_CHECKING:
    from .web_request import BaseRequest

__all__ = ("Handshake", "close_frame", "handshake")

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class Handshake(NamedTuple):
    """The answer's extra headers, the chosen subprotocol, the deflate parameters."""

    headers: list[tuple[str, str]]
    protocol: Optional[str]
    deflate: Optional[DeflateParams]


def _tokens(values: Iterable[str]) -> list[str]:
    return [token.strip().lower() for value in values for token in value.split(",")]


def _check_upgrade(request: BaseRequest) -> None:
    headers = request.headers
    if request.method != "GET":
        raise HTTPMethodNotAllowed(
            request.method, ["GET"], text="405: a WebSocket handshake must use GET"
        )
    if request.version < (1, 1):
        raise HTTPBadRequest(text="400: a WebSocket handshake needs HTTP/1.1")
    if "websocket" not in _tokens(headers.getall(hdrs.UPGRADE, ())):
        upgrade = headers.get(hdrs.UPGRADE)
        raise HTTPBadRequest(text=f"400: no WebSocket Upgrade header ({upgrade!r})")
    if "upgrade" not in _tokens(headers.getall(hdrs.CONNECTION, ())) or not (
        request._message.upgrade
    ):
        connection = headers.get(hdrs.CONNECTION)
        raise HTTPBadRequest(
            text=f"400: the Connection header must contain 'upgrade' ({connection!r})"
        )
    version = headers.get(hdrs.SEC_WEBSOCKET_VERSION, "").strip()
    if version != "13":
        raise HTTPUpgradeRequired(
            headers={hdrs.SEC_WEBSOCKET_VERSION: "13"},
            text=f"426: unsupported Sec-WebSocket-Version {version!r}; this server speaks 13",
        )


def _accept_value(request: BaseRequest) -> str:
    """Sec-WebSocket-Accept for the request's key; 400 unless it is base64 of 16 bytes."""
    key = request.headers.get(hdrs.SEC_WEBSOCKET_KEY, "").strip()
    try:
        raw = base64.b64decode(key.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error):
        raw = b""
    if len(raw) != 16:
        raise HTTPBadRequest(
            text=f"400: invalid Sec-WebSocket-Key {key!r}: it must be 16 bytes in base64"
        )
    digest = hashlib.sha1(key.encode("ascii") + _GUID).digest()
    return base64.b64encode(digest).decode("ascii")


def handshake(request: BaseRequest, protocols: tuple[str, ...], compress: bool) -> Handshake:
    """Validate the opening handshake; raise the HTTP error to answer when it fails."""
    _check_upgrade(request)
    headers: list[tuple[str, str]] = [
        (hdrs.UPGRADE, "websocket"),
        (hdrs.CONNECTION, "upgrade"),
        (hdrs.SEC_WEBSOCKET_ACCEPT, _accept_value(request)),
    ]
    request_headers = request.headers
    offered = {
        token.strip()
        for value in request_headers.getall(hdrs.SEC_WEBSOCKET_PROTOCOL, ())
        for token in value.split(",")
    }
    protocol = next((name for name in protocols if name in offered), None)
    if protocol is not None:
        headers.append((hdrs.SEC_WEBSOCKET_PROTOCOL, protocol))
    deflate: Optional[DeflateParams] = None
    offer = ", ".join(request_headers.getall(hdrs.SEC_WEBSOCKET_EXTENSIONS, ()))
    if compress and offer:
        negotiated = negotiate_deflate(offer)
        if negotiated is not None:
            deflate = negotiated[0]
            headers.append((hdrs.SEC_WEBSOCKET_EXTENSIONS, negotiated[1]))
    return Handshake(headers, protocol, deflate)


def close_frame(code: int, message: Union[bytes, str]) -> bytes:
    """The close frame ``close(code, message)`` sends.

    A code that may not appear on the wire (the seed's 999, 1005, 1006, ...)
    is sent as 1001 GOING_AWAY. Raises ``TypeError`` for a non-int code and
    ``ValueError`` for a message that is not UTF-8 or over 123 bytes.
    """
    if not isinstance(code, int) or isinstance(code, bool):
        raise TypeError(f"close code must be int, got {type(code).__name__}")
    if isinstance(message, str):
        reason = message
    elif isinstance(message, (bytes, bytearray, memoryview)):
        try:
            reason = bytes(message).decode("utf-8")
        except UnicodeDecodeError:
            raise ValueError("close message must be UTF-8 text") from None
    else:
        raise TypeError(f"close message must be bytes or str, got {type(message).__name__}")
    wire = code if is_valid_close_code(code) else WSCloseCode.GOING_AWAY
    return build_close(wire, reason)
