"""Middlewares: the ``@middleware`` marker, old-style factories, path normalisation.

Two middleware shapes are accepted. New style (aiohttp 3.x):
``async def mw(request, handler) -> response``. Old style (the seed):
``async def factory(app, handler) -> handler``. A middleware marked with
``@middleware`` is new style; an unmarked one is old style when its first
parameter is named ``app``, new style otherwise. The first middleware listed
is the outermost. Chains are composed once per route and cached by the app.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar

from .web_exceptions import HTTPMove, HTTPPermanentRedirect
from .web_urldispatcher import SystemRoute

if TYPE_CHECKING:
    from .web_app import Application
    from .web_request import Request
    from .web_response import StreamResponse

__all__ = ("middleware", "normalize_path_middleware")

_Handler = Callable[["Request"], Awaitable["StreamResponse"]]
_F = TypeVar("_F", bound=Callable[..., Any])
_LEADING_SLASHES = re.compile("^//+")


def middleware(func: _F) -> _F:
    """Mark ``func(request, handler)`` as a new-style middleware."""
    func.__middleware_version__ = 1  # type: ignore[attr-defined]
    return func


def is_old_style(mw: Any) -> bool:
    """True for the seed's ``factory(app, handler)`` form."""
    if getattr(mw, "__middleware_version__", None) == 1:
        return False
    try:
        params = list(inspect.signature(mw).parameters)
    except (TypeError, ValueError):
        return False
    return bool(params) and params[0] == "app"


def _bind(mw: Any, inner: _Handler) -> _Handler:
    async def call(request: Request) -> StreamResponse:
        return await mw(request, inner)  # type: ignore[no-any-return]

    return call


def _with_current_app(app: Application, inner: _Handler) -> _Handler:
    async def call(request: Request) -> StreamResponse:
        with request.match_info.set_current_app(app):
            return await inner(request)

    return call


async def compose_chain(handler: _Handler, apps: Iterable[Application]) -> _Handler:
    """Wrap ``handler`` in the middlewares of ``apps`` (root first, outermost first).

    With nested applications, each app's middlewares run with that app as
    ``request.app``; the handler sees the app that owns its route.
    """
    stack = tuple(apps)
    nested = len(stack) > 1 and any(app.middlewares for app in stack[:-1])
    for app in reversed(stack):
        for mw in reversed(app.middlewares):
            if is_old_style(mw):
                handler = await mw(app, handler)
            else:
                handler = _bind(mw, handler)
        if nested:
            handler = _with_current_app(app, handler)
    return handler


def normalize_path_middleware(
    *,
    append_slash: bool = True,
    remove_slash: bool = False,
    merge_slashes: bool = True,
    redirect_class: type[HTTPMove] = HTTPPermanentRedirect,
) -> Callable[[Request, _Handler], Awaitable[StreamResponse]]:
    """Redirect an unmatched path to a matching variant of it.

    Tried in order: slashes merged; a slash appended (or removed); both. The
    first variant that resolves to a route is the redirect target, with the
    query string kept. ``append_slash`` and ``remove_slash`` are exclusive.
    """
    if append_slash and remove_slash:
        raise ValueError("Cannot both remove and append slash")

    @middleware
    async def impl(request: Request, handler: _Handler) -> StreamResponse:
        if isinstance(request.match_info.route, SystemRoute):
            path = request.raw_path_only
            query = request.rel_url.raw_query_string
            candidates: list[str] = []
            if merge_slashes:
                candidates.append(re.sub("//+", "/", path))
            if append_slash and not path.endswith("/"):
                candidates.append(path + "/")
            if remove_slash and path.endswith("/") and path != "/":
                candidates.append(path[:-1])
            if merge_slashes and append_slash and not path.endswith("/"):
                candidates.append(re.sub("//+", "/", path + "/"))
            if merge_slashes and remove_slash and path.endswith("/"):
                candidates.append(re.sub("//+", "/", path[:-1]) or "/")
            for candidate in candidates:
                # A Location starting with "//" would send the client to
                # another host (open redirect): collapse leading slashes.
                candidate = _LEADING_SLASHES.sub("/", candidate)
                if candidate == path:
                    continue
                target = candidate + ("?" + query if query else "")
                resolves = await request.app.router.resolve(request.clone(rel_url=target))  # type: ignore[arg-type]
                if resolves.http_exception is None:
                    raise redirect_class(target)
        return await handler(request)

    return impl
