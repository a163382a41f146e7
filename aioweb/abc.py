"""Abstract bases, under aiohttp's module name so deep imports keep working."""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Generator
from typing import TYPE_CHECKING, Any, Optional

if TYPE_CHECKING:
    from .web_app import Application
    from .web_request import BaseRequest, Request
    from .web_response import StreamResponse

__all__ = (
    "AbstractAccessLogger",
    "AbstractMatchInfo",
    "AbstractRouter",
    "AbstractStreamWriter",
    "AbstractView",
)


class AbstractRouter(ABC):
    """Maps a request to match info; frozen when the application starts."""

    def __init__(self) -> None:
        self._frozen = False

    def post_init(self, app: Application) -> None:
        """Called once the router is attached to ``app``."""

    @property
    def frozen(self) -> bool:
        """True once no more routes may be added."""
        return self._frozen

    def freeze(self) -> None:
        """Forbid further changes."""
        self._frozen = True

    @abstractmethod
    async def resolve(self, request: Request) -> AbstractMatchInfo:
        """Return the match info for ``request`` (404/405 included)."""


class AbstractMatchInfo(ABC):
    """The result of routing a request."""

    __slots__ = ()

    @property
    @abstractmethod
    def handler(self) -> Callable[[Request], Awaitable[StreamResponse]]:
        """The handler to call."""

    @property
    @abstractmethod
    def expect_handler(self) -> Callable[[Request], Awaitable[Optional[StreamResponse]]]:
        """The handler for an ``Expect`` header."""

    @property
    @abstractmethod
    def http_exception(self) -> Optional[Exception]:
        """The HTTP exception of an unmatched request, else None."""

    @abstractmethod
    def get_info(self) -> dict[str, Any]:
        """Introspection data."""

    @property
    @abstractmethod
    def apps(self) -> tuple[Application, ...]:
        """The application stack, root first."""

    @abstractmethod
    def add_app(self, app: Application) -> None:
        """Push a parent application."""

    @abstractmethod
    def freeze(self) -> None:
        """Forbid further app-stack changes."""


class AbstractView(ABC):
    """A class-based view: constructed with the request, then awaited."""

    def __init__(self, request: Request) -> None:
        self._request = request

    @property
    def request(self) -> Request:
        """The request being handled."""
        return self._request

    @abstractmethod
    def __await__(self) -> Generator[Any, None, StreamResponse]:
        """Run the view."""


class AbstractStreamWriter(ABC):
    """Writes a response body."""

    buffer_size: int = 0
    output_size: int = 0

    @abstractmethod
    async def write(self, chunk: bytes) -> None:
        """Write a body chunk."""

    @abstractmethod
    async def write_eof(self, chunk: bytes = b"") -> None:
        """Finish the body."""

    @abstractmethod
    async def drain(self) -> None:
        """Wait for the transport."""


class AbstractAccessLogger(ABC):
    """Writes one access-log record per response."""

    def __init__(self, logger: logging.Logger, log_format: str) -> None:
        self.logger = logger
        self.log_format = log_format

    @abstractmethod
    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        """Emit the record for ``request``/``response``; ``time`` is seconds taken."""

    @property
    def enabled(self) -> bool:
        """False to skip logging (and its timing) entirely."""
        return True
