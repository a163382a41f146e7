"""Route definitions: ``web.get(...)`` and friends, and ``RouteTableDef``.

A route definition records a registration to perform later:
``app.add_routes([web.get('/', index), web.static('/s', 'static')])`` or,
with decorators, ``routes = web.RouteTableDef()`` / ``@routes.get('/')``
then ``app.add_routes(routes)``. Nothing touches a router until
``register(router)`` is called (by ``add_routes``).
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar, Union, overload

from . import hdrs
from .typedefs import PathLike

if TYPE_CHECKING:
    from .web_urldispatcher import AbstractRoute, UrlDispatcher

__all__ = (
    "AbstractRouteDef",
    "RouteDef",
    "RouteTableDef",
    "StaticDef",
    "delete",
    "get",
    "head",
    "options",
    "patch",
    "post",
    "put",
    "route",
    "static",
    "view",
)

_H = TypeVar("_H", bound=Callable[..., Any])


class AbstractRouteDef(abc.ABC):
    """Something ``add_routes`` can register."""

    @abc.abstractmethod
    def register(self, router: UrlDispatcher) -> list[AbstractRoute]:
        """Add the definition to ``router``; return the routes created."""


@dataclass(frozen=True, repr=False)
class RouteDef(AbstractRouteDef):
    """``method path -> handler``, with ``add_route`` keywords (``name=...``)."""

    method: str
    path: str
    handler: Any
    kwargs: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        handler = getattr(self.handler, "__name__", self.handler)
        extra = "".join(f", {key}={value!r}" for key, value in sorted(self.kwargs.items()))
        return f"<RouteDef {self.method} {self.path} -> {handler!r}{extra}>"

    def register(self, router: UrlDispatcher) -> list[AbstractRoute]:
        """Register via ``router.add_<method>`` (so GET also routes HEAD), else ``add_route``."""
        if self.method in hdrs.METH_ALL:
            add = getattr(router, "add_" + self.method.lower())
            return [add(self.path, self.handler, **self.kwargs)]
        return [router.add_route(self.method, self.path, self.handler, **self.kwargs)]


@dataclass(frozen=True, repr=False)
class StaticDef(AbstractRouteDef):
    """Files of directory ``path`` served at URL ``prefix``."""

    prefix: str
    path: PathLike
    kwargs: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        extra = "".join(f", {key}={value!r}" for key, value in sorted(self.kwargs.items()))
        return f"<StaticDef {self.prefix} -> {self.path}{extra}>"

    def register(self, router: UrlDispatcher) -> list[AbstractRoute]:
        """Register via ``router.add_static``; return the static resource's routes."""
        return list(router.add_static(self.prefix, self.path, **self.kwargs))


def route(method: str, path: str, handler: Any, **kwargs: Any) -> RouteDef:
    """A route definition for ``method`` (``"*"`` for any)."""
    return RouteDef(method, path, handler, kwargs)


def head(path: str, handler: Any, **kwargs: Any) -> RouteDef:
    """A HEAD route definition."""
    return route(hdrs.METH_HEAD, path, handler, **kwargs)


def options(path: str, handler: Any, **kwargs: Any) -> RouteDef:
    """An OPTIONS route definition."""
    return route(hdrs.METH_OPTIONS, path, handler, **kwargs)


def get(path: str, handler: Any, *, allow_head: bool = True, **kwargs: Any) -> RouteDef:
    """A GET route definition; HEAD too unless ``allow_head=False``."""
    return route(hdrs.METH_GET, path, handler, allow_head=allow_head, **kwargs)


def post(path: str, handler: Any, **kwargs: Any) -> RouteDef:
    """A POST route definition."""
    return route(hdrs.METH_POST, path, handler, **kwargs)


def put(path: str, handler: Any, **kwargs: Any) -> RouteDef:
    """A PUT route definition."""
    return route(hdrs.METH_PUT, path, handler, **kwargs)


def patch(path: str, handler: Any, **kwargs: Any) -> RouteDef:
    """A PATCH route definition."""
    return route(hdrs.METH_PATCH, path, handler, **kwargs)


def delete(path: str, handler: Any, **kwargs: Any) -> RouteDef:
    """A DELETE route definition."""
    return route(hdrs.METH_DELETE, path, handler, **kwargs)


def view(path: str, handler: Any, **kwargs: Any) -> RouteDef:
    """A class-based view definition: every method goes to ``handler``."""
    return route(hdrs.METH_ANY, path, handler, **kwargs)


def static(prefix: str, path: PathLike, **kwargs: Any) -> StaticDef:
    """A static-files definition (see ``UrlDispatcher.add_static``)."""
    return StaticDef(prefix, path, kwargs)


class RouteTableDef(Sequence[AbstractRouteDef]):
    """A list of route definitions filled by decorators.

    ``@routes.get('/path')`` records the handler and returns it unchanged.
    """

    def __init__(self) -> None:
        self._items: list[AbstractRouteDef] = []

    def __repr__(self) -> str:
        return f"<RouteTableDef count={len(self._items)}>"

    @overload
    def __getitem__(self, index: int) -> AbstractRouteDef: ...

    @overload
    def __getitem__(self, index: slice) -> list[AbstractRouteDef]: ...

    def __getitem__(
        self, index: Union[int, slice]
    ) -> Union[AbstractRouteDef, list[AbstractRouteDef]]:
        return self._items[index]

    def __iter__(self) -> Iterator[AbstractRouteDef]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, item: object) -> bool:
        return item in self._items

    def route(self, method: str, path: str, **kwargs: Any) -> Callable[[_H], _H]:
        """Decorator: route ``method`` on ``path`` to the decorated handler."""

        def register(handler: _H) -> _H:
            self._items.append(RouteDef(method, path, handler, kwargs))
            return handler

        return register

    def head(self, path: str, **kwargs: Any) -> Callable[[_H], _H]:
        """Decorator for HEAD."""
        return self.route(hdrs.METH_HEAD, path, **kwargs)

    def options(self, path: str, **kwargs: Any) -> Callable[[_H], _H]:
        """Decorator for OPTIONS."""
        return self.route(hdrs.METH_OPTIONS, path, **kwargs)

    def get(self, path: str, **kwargs: Any) -> Callable[[_H], _H]:
        """Decorator for GET (and HEAD unless ``allow_head=False``)."""
        return self.route(hdrs.METH_GET, path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Callable[[_H], _H]:
        """Decorator for POST."""
        return self.route(hdrs.METH_POST, path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> Callable[[_H], _H]:
        """Decorator for PUT."""
        return self.route(hdrs.METH_PUT, path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> Callable[[_H], _H]:
        """Decorator for PATCH."""
        return self.route(hdrs.METH_PATCH, path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Callable[[_H], _H]:
        """Decorator for DELETE."""
        return self.route(hdrs.METH_DELETE, path, **kwargs)

    def view(self, path: str, **kwargs: Any) -> Callable[[_H], _H]:
        """Decorator for a class-based view (every method)."""
        return self.route(hdrs.METH_ANY, path, **kwargs)

    def static(self, prefix: str, path: PathLike, **kwargs: Any) -> None:
        """Record a static-files definition."""
        self._items.append(StaticDef(prefix, path, kwargs))
