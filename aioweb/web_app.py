"""``Application``: storage, router, sub-applications, middlewares and signals.

An application is a ``MutableMapping`` (string keys or typed ``AppKey``s)
that freezes when it starts: routes, middlewares and signal lists can no
longer change. Per request it resolves the route, runs the expect handler
when the client sent ``Expect``, and calls the handler through the
middleware chain, which is composed once per route and reused.
"""

from __future__ import annotations

import asyncio
import logging
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, MutableMapping
from typing import TYPE_CHECKING, Any, Optional, TypeVar, Union, cast, overload

from .typedefs import TypedKey
from .web_middlewares import compose_chain, is_old_style
from .web_request import Request, request_builder
from .web_response import StreamResponse
from .web_urldispatcher import (
    AbstractResource,
    Domain,
    MatchedSubAppResource,
    PrefixedSubAppResource,
    UrlDispatcher,
    UrlMappingMatchInfo,
)

if TYPE_CHECKING:
    from ._http_parser import RawRequestMessage
    from ._protocol import RequestHandler
    from .streams import StreamReader
    from .web_server import Server

__all__ = ("AppKey", "Application", "ChainMapProxy", "CleanupError", "Signal")

_T = TypeVar("_T")
web_logger = logging.getLogger("aioweb.web")


class AppKey(TypedKey[_T]):
    """A typed key for application storage: ``app[KEY]`` has type ``_T``."""

    __slots__ = ()


_Item = TypeVar("_Item")


class _FrozenList(list[_Item]):
    """A list that refuses changes once frozen (with the application)."""

    def __init__(self, owner: object) -> None:
        super().__init__()
        self._owner = owner
        self._frozen = False

    @property
    def frozen(self) -> bool:
        """True once the owning application has started."""
        return self._frozen

    def freeze(self) -> None:
        """Forbid further changes."""
        self._frozen = True

    def _check(self) -> None:
        if self._frozen:
            raise RuntimeError("Cannot modify frozen list.")

    def append(self, item: _Item) -> None:  # noqa: D102
        self._check()
        super().append(item)

    def extend(self, items: Any) -> None:  # noqa: D102
        self._check()
        super().extend(items)

    def insert(self, index: Any, item: _Item) -> None:  # noqa: D102
        self._check()
        super().insert(index, item)

    def remove(self, item: _Item) -> None:  # noqa: D102
        self._check()
        super().remove(item)

    def pop(self, index: Any = -1) -> _Item:  # noqa: D102
        self._check()
        return super().pop(index)

    def clear(self) -> None:  # noqa: D102
        self._check()
        super().clear()

    def __setitem__(self, index: Any, value: Any) -> None:
        self._check()
        super().__setitem__(index, value)

    def __delitem__(self, index: Any) -> None:
        self._check()
        super().__delitem__(index)

    def __iadd__(self, items: Any) -> Any:  # type: ignore[misc]
        self._check()
        return super().__iadd__(items)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} owner={self._owner!r}, frozen={self._frozen}, {list(self)!r}>"

    def __hash__(self) -> int:  # type: ignore[override]
        return id(self)


class Signal(_FrozenList[Callable[..., Awaitable[None]]]):
    """A list of coroutine callbacks, frozen with the application.

    ``send(*args)`` awaits each callback in order. Changing it after freezing
    raises ``RuntimeError``.
    """

    async def send(self, *args: Any, **kwargs: Any) -> None:
        """Call every receiver with the arguments, awaiting each in turn."""
        for receiver in list(self):
            await receiver(*args, **kwargs)


class CleanupError(RuntimeError):
    """Raised when one or more cleanup context exits fail; ``exceptions`` lists them."""

    @property
    def exceptions(self) -> list[BaseException]:
        """The collected exceptions."""
        return cast(list[BaseException], self.args[1])


class CleanupContext(_FrozenList[Callable[["Application"], AsyncIterator[None]]]):
    """``app.cleanup_ctx``: async generators run to ``yield`` on startup, resumed on cleanup."""

    def __init__(self, owner: object) -> None:
        super().__init__(owner)
        self._exits: list[AsyncIterator[None]] = []

    async def _on_startup(self, app: Application) -> None:
        for factory in self:
            iterator = factory(app).__aiter__()
            await iterator.__anext__()
            self._exits.append(iterator)

    async def _on_cleanup(self, app: Application) -> None:
        errors: list[BaseException] = []
        for iterator in reversed(self._exits):
            try:
                await iterator.__anext__()
            except StopAsyncIteration:
                continue
            except (Exception, asyncio.CancelledError) as exc:
                errors.append(exc)
            else:
                errors.append(RuntimeError(f"{iterator!r} has more than one 'yield'"))
        self._exits.clear()
        if len(errors) == 1:
            raise errors[0]
        if errors:
            raise CleanupError("Multiple errors on cleanup stage", errors)


class ChainMapProxy(Mapping[Union[str, AppKey[Any]], Any]):
    """A read-only view over several mappings, the first holding a key winning."""

    __slots__ = ("_maps",)

    def __init__(self, maps: list[Mapping[Any, Any]]) -> None:
        self._maps = tuple(maps)

    def __getitem__(self, key: Any) -> Any:
        for mapping in self._maps:
            try:
                return mapping[key]
            except KeyError:
                pass
        raise KeyError(key)

    def get(self, key: Any, default: Any = None) -> Any:  # noqa: D102
        try:
            return self[key]
        except KeyError:
            return default

    def __len__(self) -> int:
        return len(set().union(*self._maps))

    def __iter__(self) -> Iterator[Any]:
        seen: dict[Any, None] = {}
        for mapping in reversed(self._maps):
            seen.update(dict.fromkeys(mapping))
        return iter(seen)

    def __contains__(self, key: object) -> bool:
        return any(key in m for m in self._maps)

    def __bool__(self) -> bool:
        return any(self._maps)

    def __repr__(self) -> str:
        return f"ChainMapProxy({', '.join(map(repr, self._maps))})"


class Application(MutableMapping[Union[str, AppKey[Any]], Any]):
    """A web application: routes, storage, middlewares, signals, sub-apps."""

    def __init__(
        self,
        *,
        logger: logging.Logger = web_logger,
        router: Optional[UrlDispatcher] = None,
        middlewares: Any = (),
        handler_args: Optional[Mapping[str, Any]] = None,
        client_max_size: int = 1024**2,
        loop: Optional[asyncio.AbstractEventLoop] = None,
        debug: Any = ...,
    ) -> None:
        if loop is not None:
            warnings.warn(
                "The loop argument is deprecated; the running loop is used",
                DeprecationWarning,
                stacklevel=2,
            )
        self._loop = loop
        self._router = UrlDispatcher() if router is None else router
        self._router.post_init(self)
        self._middlewares: list[Any] = list(middlewares)
        self._handler_args = handler_args
        self._client_max_size = client_max_size
        self._debug = bool(debug) if debug is not ... else False
        self.logger = logger
        self._state: dict[Any, Any] = {}
        self._frozen = False
        self._pre_frozen = False
        self._subapps: list[Application] = []
        self._on_response_prepare = Signal(self)
        self._on_startup = Signal(self)
        self._on_shutdown = Signal(self)
        self._on_cleanup = Signal(self)
        self._cleanup_ctx = CleanupContext(self)
        self._on_startup.append(self._cleanup_ctx._on_startup)
        self._on_cleanup.append(self._cleanup_ctx._on_cleanup)
        self._has_old_style = False

    # -- storage --

    @overload
    def __getitem__(self, key: AppKey[_T]) -> _T: ...

    @overload
    def __getitem__(self, key: str) -> Any: ...

    def __getitem__(self, key: Any) -> Any:
        return self._state[key]

    def _check_frozen(self) -> None:
        if self._frozen:
            warnings.warn(
                "Changing state of started or joined application is deprecated",
                DeprecationWarning,
                stacklevel=3,
            )

    def __setitem__(self, key: Any, value: Any) -> None:
        self._check_frozen()
        if not isinstance(key, (str, AppKey)):
            warnings.warn(
                "It is recommended to use web.AppKey instances for keys.",
                UserWarning,
                stacklevel=2,
            )
        self._state[key] = value

    def __delitem__(self, key: Any) -> None:
        self._check_frozen()
        del self._state[key]

    def __len__(self) -> int:
        return len(self._state)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._state)

    def __hash__(self) -> int:
        return id(self)

    def __eq__(self, other: object) -> bool:
        return self is other

    def __bool__(self) -> bool:
        return True

    def __repr__(self) -> str:
        return f"<Application 0x{id(self):x}>"

    def __call__(self) -> Application:
        """Gunicorn-style factories may return the app itself."""
        return self

    # -- properties --

    @property
    def router(self) -> UrlDispatcher:
        """The URL dispatcher."""
        return self._router

    @property
    def named_resource(self) -> Mapping[str, AbstractResource]:
        """The seed's spelling of ``router.named_resources()``."""
        return self._router.named_resources()

    @property
    def middlewares(self) -> list[Any]:
        """Middlewares, outermost first."""
        return self._middlewares

    @property
    def debug(self) -> bool:
        """Debug mode: tracebacks in 500 responses."""
        return self._debug

    @property
    def frozen(self) -> bool:
        """True once the application started or was added to a parent."""
        return self._frozen

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The event loop (deprecated; kept for old code): the running one if any."""
        if self._loop is not None:
            return self._loop
        try:
            return asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.get_event_loop()

    @property
    def on_response_prepare(self) -> Signal:
        """Called with ``(request, response)`` before a response's head is sent."""
        return self._on_response_prepare

    @property
    def on_startup(self) -> Signal:
        """Called with ``(app)`` when the server starts."""
        return self._on_startup

    @property
    def on_shutdown(self) -> Signal:
        """Called with ``(app)`` when shutdown begins (close websockets here)."""
        return self._on_shutdown

    @property
    def on_cleanup(self) -> Signal:
        """Called with ``(app)`` after connections are closed."""
        return self._on_cleanup

    @property
    def cleanup_ctx(self) -> CleanupContext:
        """Async generators: setup before ``yield``, teardown after."""
        return self._cleanup_ctx

    # -- lifecycle --

    def pre_freeze(self) -> None:
        """Freeze the router and middlewares (and those of sub-apps)."""
        if self._pre_frozen:
            return
        self._pre_frozen = True
        self._middlewares = list(self._middlewares)
        self._has_old_style = any(is_old_style(m) for m in self._middlewares)
        self._router.freeze()
        for subapp in self._subapps:
            subapp.pre_freeze()

    def freeze(self) -> None:
        """Forbid changes to routes, middlewares and signals."""
        if self._frozen:
            return
        self.pre_freeze()
        self._frozen = True
        for signal in (
            self._on_response_prepare,
            self._on_startup,
            self._on_shutdown,
            self._on_cleanup,
            self._cleanup_ctx,
        ):
            signal.freeze()
        for subapp in self._subapps:
            subapp.freeze()

    async def startup(self) -> None:
        """Run ``on_startup`` (and ``cleanup_ctx`` setup)."""
        await self.on_startup.send(self)

    async def shutdown(self) -> None:
        """Run ``on_shutdown``."""
        await self.on_shutdown.send(self)

    async def cleanup(self) -> None:
        """Run ``on_cleanup`` (and ``cleanup_ctx`` teardown)."""
        await self.on_cleanup.send(self)

    # -- composition --

    def _reg_subapp_signals(self, subapp: Application) -> None:
        async def startup(app: Application) -> None:
            await subapp.on_startup.send(subapp)

        async def shutdown(app: Application) -> None:
            await subapp.on_shutdown.send(subapp)

        async def cleanup(app: Application) -> None:
            await subapp.on_cleanup.send(subapp)

        self.on_startup.append(startup)
        self.on_shutdown.append(shutdown)
        self.on_cleanup.append(cleanup)

    def _add_subapp_resource(self, resource: AbstractResource, subapp: Application) -> None:
        if self._frozen:
            raise RuntimeError("Cannot add sub application to frozen application")
        if subapp.frozen:
            raise RuntimeError("Cannot add frozen application")
        self.router.register_resource(resource)
        self._reg_subapp_signals(subapp)
        self._subapps.append(subapp)
        subapp.pre_freeze()

    def add_subapp(self, prefix: str, subapp: Application) -> PrefixedSubAppResource:
        """Serve ``subapp`` under ``prefix`` (non-empty, no trailing slash)."""
        if not isinstance(prefix, str):
            raise TypeError("Prefix must be str")
        prefix = prefix.rstrip("/")
        if not prefix:
            raise ValueError("Prefix cannot be empty")
        resource = PrefixedSubAppResource(prefix, subapp)
        self._add_subapp_resource(resource, subapp)
        return resource

    def add_domain(self, domain: str, subapp: Application) -> MatchedSubAppResource:
        """Serve ``subapp`` for requests whose Host matches ``domain``."""
        if not isinstance(domain, str):
            raise TypeError("Domain must be str")
        resource = MatchedSubAppResource(Domain(domain), subapp)
        self._add_subapp_resource(resource, subapp)
        return resource

    def add_routes(self, routes: Any) -> list[Any]:
        """Register route definitions (see ``RouteTableDef``)."""
        return self.router.add_routes(routes)

    # -- serving --

    def _make_request(
        self,
        message: RawRequestMessage,
        payload: StreamReader,
        protocol: RequestHandler,
        task: Optional[asyncio.Task[Any]] = None,
    ) -> Request:
        return Request(
            message, payload, protocol, task, self._loop, client_max_size=self._client_max_size
        )

    def _request_factory(self) -> Callable[..., Request]:
        """What the server calls to build each request: ``_make_request``'s result.

        Unless a subclass overrides ``_make_request``, that is a builder
        doing the same without its frame or the class call (see
        ``request_builder``): about 1,600 instructions less per request
        than ``Request`` with the arguments bound by ``functools.partial``.
        """
        if type(self)._make_request is not Application._make_request:
            return self._make_request
        return request_builder(Request, self._loop, self._client_max_size)

    def _handle(self, request: Request) -> Awaitable[StreamResponse]:
        """Resolve ``request``; return the awaitable that answers it.

        Not a coroutine: on the usual path (a route found without awaiting,
        no ``Expect`` header, the route's middleware chain already composed)
        it returns the chain called on the request, so the server awaits the
        handler's own coroutine and a request costs one coroutine less.
        Anything that must await first goes through ``_handle_awaiting``.
        Resolution runs when this is called, which the server does right
        before awaiting the result, in the same ``try``.
        """
        router = self._router
        if type(router) is not UrlDispatcher:
            return self._handle_awaiting(request, None)
        match_info = router.resolve_nowait(request)
        if match_info is None:  # static roots, sub-apps: not a second nowait pass
            return self._handle_awaiting(request, None)
        if type(match_info) is UrlMappingMatchInfo and not match_info._apps:
            # add_app() and freeze() on a fresh match, inline: no call at all
            # on the usual path.
            match_info._apps = [self]
            match_info._current_app = self
            match_info._frozen = True
        else:
            match_info.add_app(self)
            match_info.freeze()
        request._match_info = match_info
        if request._message.expect is not None:
            return self._handle_awaiting(request, match_info)
        # A cached chain (the bare handler when no app has middlewares) is
        # one attribute read and a list compare (no tuple built per request).
        cached = match_info._route._chain
        if cached is not None and cached[0] == match_info._apps:
            return cached[1](request)
        return self._handle_awaiting(request, match_info)

    async def _handle_awaiting(
        self, request: Request, match_info: Optional[UrlMappingMatchInfo]
    ) -> StreamResponse:
        """``_handle``'s path when something must be awaited first.

        That is resolving (when ``match_info`` is None), the expect handler,
        or composing the route's chain, which may await old-style middleware
        factories and happens once per route.
        """
        if match_info is None:
            router = self._router
            if type(router) is UrlDispatcher:
                match_info = await router._resolve_awaiting(request)
            else:
                match_info = await router.resolve(request)
            match_info.add_app(self)
            match_info.freeze()
            request._match_info = match_info
        if request._message.expect is not None:
            expect_response = await match_info.expect_handler(request)
            if expect_response is not None:
                return expect_response
        cached = match_info._route._chain
        if cached is not None and cached[0] == match_info._apps:
            return await cached[1](request)
        return await (await self._chain(match_info))(request)

    async def _chain(self, match_info: UrlMappingMatchInfo) -> Callable[[Request], Awaitable[StreamResponse]]:
        """The handler wrapped in every app's middlewares, composed once per route.

        The chains of 404/405 answers are composed per request and not cached
        (their routes are created per request).
        """
        route = match_info.route
        apps = match_info.apps
        chain = await compose_chain(match_info.handler, apps)
        if match_info.http_exception is None:
            route._chain = (list(apps), chain)
        return chain

    def make_handler(
        self,
        *,
        loop: Optional[asyncio.AbstractEventLoop] = None,
        access_log_class: Any = None,
        **kwargs: Any,
    ) -> Server:
        """The seed's protocol factory for ``loop.create_server(handler, ...)``.

        Freezes the application (it does not run ``on_startup``). The
        returned server also offers ``finish_connections(timeout)`` and
        ``shutdown(timeout)``. On Python 3.12+ ``asyncio.Server.wait_closed()``
        waits for every open connection, so in the seed's sequence call
        ``await handler.shutdown(timeout)`` before ``srv.wait_closed()``.
        """
        from .web_server import Server

        self.freeze()
        if access_log_class is not None:
            kwargs["access_log_class"] = access_log_class
        if self._handler_args:
            kwargs = {**self._handler_args, **kwargs}
        return Server(
            self._handle,  # type: ignore[arg-type]
            request_factory=self._request_factory(),
            loop=loop,
            debug=self._debug,
            **kwargs,
        )
