"""aioweb: a fast asyncio HTTP server framework with aiohttp.web's API.

Importing ``aioweb`` is light: it loads no server code and no optional
dependency. Use ``from aioweb import web`` for the framework.
"""

from typing import NamedTuple

__version__ = "0.1.0"

__all__ = ("HttpVersion", "HttpVersion10", "HttpVersion11", "__version__")


class HttpVersion(NamedTuple):
    """An HTTP protocol version, comparable as a tuple: ``(1, 1)``."""

    major: int
    minor: int


HttpVersion10 = HttpVersion(1, 0)
HttpVersion11 = HttpVersion(1, 1)
