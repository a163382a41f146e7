"""Class-based views: one method per HTTP verb."""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any

from . import hdrs
from .abc import AbstractView
from .web_exceptions import HTTPMethodNotAllowed

if TYPE_CHECKING:
    from .web_response import StreamResponse

__all__ = ("View",)


class View(AbstractView):
    """Dispatch to ``get``/``post``/... by request method.

    A method the class lacks gives 405 with an ``Allow`` header listing the
    ones it has.
    """

    async def _iter(self) -> StreamResponse:
        method = self.request.method
        handler = getattr(self, method.lower(), None) if method in hdrs.METH_ALL else None
        if handler is None:
            self._raise_allowed_methods()
        return await handler()  # type: ignore[no-any-return,misc]

    def __await__(self) -> Generator[Any, None, StreamResponse]:
        return self._iter().__await__()

    def _raise_allowed_methods(self) -> None:
        allowed = {m for m in hdrs.METH_ALL if hasattr(self, m.lower())}
        raise HTTPMethodNotAllowed(self.request.method, allowed)
