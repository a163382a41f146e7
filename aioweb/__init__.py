"""aioweb: a fast asyncio HTTP server framework with aiohttp.web's API.

Importing ``aioweb`` is light: it loads no server code and no optional
dependency. Use ``from aioweb import web`` for the framework.
"""

from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from ._multipart_writer import MultipartWriter
    from ._websocket import WSCloseCode, WSMsgType

    MsgType = WSMsgType

__version__ = "0.1.0"

__all__ = (
    "HttpVersion",
    "HttpVersion10",
    "HttpVersion11",
    "MsgType",
    "MultipartWriter",
    "WSCloseCode",
    "WSMsgType",
    "__version__",
)


class HttpVersion(NamedTuple):
    """An HTTP protocol version, comparable as a tuple: ``(1, 1)``."""

    major: int
    minor: int


HttpVersion10 = HttpVersion(1, 0)
HttpVersion11 = HttpVersion(1, 1)


def __getattr__(name: str) -> Any:
    """``WSMsgType``, ``MsgType`` (the seed's name), ``WSCloseCode`` and
    ``MultipartWriter``, loaded on first use.

    Resolved lazily so that ``import aioweb`` loads no submodule.
    """
    if name == "MultipartWriter":
        from ._multipart_writer import MultipartWriter

        globals()[name] = MultipartWriter
        return MultipartWriter
    if name in ("WSMsgType", "MsgType", "WSCloseCode"):
        from . import _websocket

        value = _websocket.WSCloseCode if name == "WSCloseCode" else _websocket.WSMsgType
        globals()[name] = value
        return value
    raise AttributeError(f"module 'aioweb' has no attribute {name!r}")
