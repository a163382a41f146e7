"""The public facade: everything users reach as ``web.X``.

``from aioweb import web`` gives the same names as ``from aiohttp import web``.
"""

from __future__ import annotations

from .web_app import AppKey, Application, CleanupError
from .web_exceptions import *  # noqa: F403
from .web_exceptions import __all__ as _exc_all
from .web_log import AccessLogger
from .web_middlewares import middleware, normalize_path_middleware
from .web_request import BaseRequest, FileField, Request
from .web_response import ContentCoding, Response, StreamResponse, json_response
from .web_server import Server
from .web_urldispatcher import (
    AbstractResource,
    AbstractRoute,
    DynamicResource,
    PlainResource,
    PrefixedSubAppResource,
    Resource,
    ResourceRoute,
    UrlDispatcher,
    UrlMappingMatchInfo,
)
from .web_view import View

__all__ = (
    "AbstractResource",
    "AbstractRoute",
    "AccessLogger",
    "AppKey",
    "Application",
    "BaseRequest",
    "CleanupError",
    "ContentCoding",
    "DynamicResource",
    "FileField",
    "PlainResource",
    "PrefixedSubAppResource",
    "Request",
    "Resource",
    "ResourceRoute",
    "Response",
    "Server",
    "StreamResponse",
    "UrlDispatcher",
    "UrlMappingMatchInfo",
    "View",
    "json_response",
    "middleware",
    "normalize_path_middleware",
    *_exc_all,
)
