"""Routes, match info and the path-matched resources of the URL dispatcher.

A *resource* matches a request path; its *routes* pair a method with a
handler. ``PlainResource`` matches one exact path (the dispatcher finds it
by a dict lookup); ``DynamicResource`` compiles ``{name}``/``{name:regex}``
parts into one regex, built once at registration. ``PrefixResource`` is the
base of resources owning everything under a prefix (sub-applications,
static files). The public names are re-exported by ``web_urldispatcher``.

Paths are matched in their *routing form* (``routing_path``): percent-
decoded, except that ``%2F`` and ``%25`` stay encoded so an encoded slash
never splits a segment; captured values then decode those two as well.
"""

from __future__ import annotations

import abc
import functools
import inspect
import keyword
import re
from collections.abc import Awaitable, Callable, Generator, Iterable, Iterator, Mapping, Sized
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Optional, cast
from urllib.parse import quote, urlencode

from yarl import URL

from . import hdrs
from .abc import AbstractMatchInfo, AbstractView
from .web_exceptions import HTTPException, HTTPExpectationFailed, HTTPRequestEntityTooLarge

if TYPE_CHECKING:
    from .web_app import Application
    from .web_request import Request
    from .web_response import StreamResponse

Handler = Callable[["Request"], Awaitable["StreamResponse"]]
_ExpectHandler = Callable[["Request"], Awaitable[Optional["StreamResponse"]]]
_Resolve = tuple[Optional["UrlMappingMatchInfo"], set[str]]

_TOKEN_RE = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_NAME_PART_RE = re.compile(r"^[A-Za-z_]\w*$")
# Characters left unquoted in a URL built by ``url_for``; "/" is added for
# parts with a custom regex (which may span segments, like ``{tail:.*}``).
_PATH_SAFE = "@:!$&'()*+,;=-._~"
DEFAULT_PART_RE = "[^{}/]+"


def routing_path(request: Request) -> str:
    """The path as routing sees it: decoded, but ``%2F`` and ``%25`` kept.

    For a target without ``%`` it is the request's ``path``, computed here
    and cached on the request as that property does: reading ``raw_path``
    and ``path`` as properties cost about 1,100 instructions per request
    (bench/micro.py, Python 3.11).
    """
    target = request._message.path
    if "%" in target:
        return request.rel_url.path_safe
    path = request._path
    if path is None:
        if not target.startswith("/"):
            return request.path
        path = request._path = target.partition("?")[0].partition("#")[0]
    return path


def _unquote_part(value: str) -> str:
    if "%" not in value:
        return value
    return value.replace("%2F", "/").replace("%2f", "/").replace("%25", "%")


async def _default_expect_handler(request: Request) -> None:
    """Answer ``Expect: 100-continue`` with an interim 100; anything else is 417."""
    expect = request.headers.get(hdrs.EXPECT, "")
    if request.version < (1, 1):
        return
    if expect.lower() != "100-continue":
        raise HTTPExpectationFailed(text=f"Unknown Expect: {expect}")
    limit = request.client_max_size
    declared = request.content_length
    if limit and declared is not None and declared > limit:
        raise HTTPRequestEntityTooLarge(max_size=limit, actual_size=declared)
    request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")


def _wrap_handler(handler: Any) -> Handler:
    """Return an awaitable-returning callable for any handler shape the seed allows.

    Coroutine functions, bound async methods, objects with an ``async
    __call__`` and ``AbstractView`` subclasses (calling the class gives an
    awaitable view) are used as they are; anything else callable is wrapped
    so its result is awaited when it is awaitable. Raises ``TypeError`` for
    a non-callable.
    """
    if isinstance(handler, type) and issubclass(handler, AbstractView):
        return cast(Handler, handler)
    if not callable(handler):
        raise TypeError(f"Handler {handler!r} should be a callable")
    call = inspect.getattr_static(type(handler), "__call__", None)
    if inspect.iscoroutinefunction(handler) or inspect.iscoroutinefunction(call):
        return cast(Handler, handler)

    @functools.wraps(handler)
    async def call_plain(request: Request) -> StreamResponse:
        result = handler(request)
        if inspect.isawaitable(result):
            result = await result
        return cast("StreamResponse", result)

    return call_plain


def _check_method(method: str) -> str:
    if not isinstance(method, str):
        raise TypeError(f"HTTP method must be str, got {method!r}")
    method = method.upper()
    if not _TOKEN_RE.match(method):
        raise ValueError(f"{method!r} is not allowed HTTP method")
    return method


class AbstractRoute(abc.ABC):
    """A (method, handler) pair on a resource."""

    def __init__(
        self,
        method: str,
        handler: Any,
        *,
        expect_handler: Optional[_ExpectHandler] = None,
        resource: Optional[AbstractResource] = None,
    ) -> None:
        if expect_handler is None:
            expect_handler = _default_expect_handler
        if not inspect.iscoroutinefunction(expect_handler):
            raise TypeError(f"Coroutine is expected as expect_handler, got {expect_handler!r}")
        self._method = _check_method(method)
        self._original = handler
        self._handler = _wrap_handler(handler)
        self._expect_handler = expect_handler
        self._resource = resource
        # (apps, composed middleware chain), cached by Application._chain.
        self._chain: Optional[tuple[list[Any], Handler]] = None

    @property
    def method(self) -> str:
        """The HTTP method, or ``"*"`` for any."""
        return self._method

    @property
    def handler(self) -> Handler:
        """The handler: called with the request, its result awaited."""
        return self._handler

    @property
    @abc.abstractmethod
    def name(self) -> Optional[str]:
        """The owning resource's name."""

    @property
    def resource(self) -> Optional[AbstractResource]:
        """The resource this route belongs to."""
        return self._resource

    @abc.abstractmethod
    def get_info(self) -> dict[str, Any]:
        """Introspection data of the resource."""

    @abc.abstractmethod
    def url_for(self, *args: str, **kwargs: str) -> URL:
        """The URL of this route's resource."""

    async def handle_expect_header(self, request: Request) -> Optional[StreamResponse]:
        """Run the route's expect handler."""
        return await self._expect_handler(request)


class ResourceRoute(AbstractRoute):
    """A route on a routable resource."""

    def __repr__(self) -> str:
        return f"<ResourceRoute [{self.method}] {self._resource} -> {self._original!r}>"

    @property
    def name(self) -> Optional[str]:
        return None if self._resource is None else self._resource.name

    def url_for(self, *args: str, **kwargs: str) -> URL:
        """The URL of the owning resource (see ``Resource.url_for``)."""
        assert self._resource is not None
        return self._resource.url_for(*args, **kwargs)

    def get_info(self) -> dict[str, Any]:
        assert self._resource is not None
        return self._resource.get_info()


class SystemRoute(AbstractRoute):
    """The route of a 404/405 answer: its handler raises the exception."""

    def __init__(self, http_exception: HTTPException) -> None:
        async def raise_it(request: Request) -> StreamResponse:
            raise http_exception

        super().__init__(hdrs.METH_ANY, raise_it)
        self._http_exception = http_exception

    @property
    def name(self) -> None:
        return None

    def url_for(self, *args: str, **kwargs: str) -> URL:
        """Always raises ``RuntimeError``: a system route has no URL."""
        raise RuntimeError(".url_for() is not allowed for SystemRoute")

    def get_info(self) -> dict[str, Any]:
        return {"http_exception": self._http_exception}

    @property
    def status(self) -> int:
        """The status of the exception."""
        return self._http_exception.status

    @property
    def reason(self) -> str:
        """The reason of the exception."""
        return self._http_exception.reason

    def __repr__(self) -> str:
        return f"<SystemRoute {self.status}: {self.reason}>"


class UrlMappingMatchInfo(dict[str, str], AbstractMatchInfo):
    """The variable parts of a matched path, plus the route and app chain."""

    __slots__ = ("_route", "_apps", "_current_app", "_frozen")

    def __init__(self, match_dict: dict[str, str], route: AbstractRoute) -> None:
        self._setup(match_dict, route)

    def _setup(self, match_dict: dict[str, str], route: AbstractRoute) -> None:
        if match_dict:  # a plain route's is empty: no base-class call (~0.4k instructions)
            dict.update(self, match_dict)
        self._route = route
        self._apps: list[Application] = []
        self._current_app: Optional[Application] = None
        self._frozen = False

    @property
    def handler(self) -> Handler:
        """The handler of the matched route."""
        return self._route.handler

    @property
    def route(self) -> AbstractRoute:
        """The matched route."""
        return self._route

    @property
    def expect_handler(self) -> _ExpectHandler:
        """The route's expect handler."""
        return self._route.handle_expect_header

    @property
    def http_exception(self) -> Optional[HTTPException]:
        """The 404/405 to answer with, or None for a real match."""
        return None

    def get_info(self) -> dict[str, Any]:
        """Introspection data of the matched resource."""
        return self._route.get_info()

    @property
    def apps(self) -> tuple[Application, ...]:
        """The applications from the root to the one owning the route."""
        return tuple(self._apps)

    def add_app(self, app: Application) -> None:
        """Prepend a parent application (called while resolving, innermost first)."""
        if self._frozen:
            raise RuntimeError("Cannot change apps stack after .freeze() call")
        if self._current_app is None:
            self._current_app = app
        self._apps.insert(0, app)

    @property
    def current_app(self) -> Application:
        """The application owning the route (or set by a middleware)."""
        assert self._current_app is not None
        return self._current_app

    @current_app.setter
    def current_app(self, app: Application) -> None:
        if app not in self._apps:
            raise RuntimeError(f"Expected one of the following apps {self._apps!r}, got {app!r}")
        self._current_app = app

    @contextmanager
    def set_current_app(self, app: Application) -> Generator[None, None, None]:
        """Make ``app`` current for the duration of a ``with`` block."""
        previous = self._current_app
        self.current_app = app
        try:
            yield
        finally:
            self._current_app = previous

    def freeze(self) -> None:
        """Forbid further changes to the app stack."""
        self._frozen = True

    def __repr__(self) -> str:
        return f"<MatchInfo {super().__repr__()}: {self._route}>"


_new_dict = dict.__new__


class MatchInfoError(UrlMappingMatchInfo):
    """Match info of an unmatched request: its handler raises 404 or 405."""

    __slots__ = ("_exception",)

    def __init__(self, http_exception: HTTPException) -> None:
        self._exception = http_exception
        super().__init__({}, SystemRoute(http_exception))

    @property
    def http_exception(self) -> HTTPException:
        return self._exception

    def __repr__(self) -> str:
        return f"<MatchInfoError {self._exception.status}: {self._exception.reason}>"


class AbstractResource(Sized, Iterable[AbstractRoute], abc.ABC):
    """An entry in the route table: matches paths, holds routes."""

    def __init__(self, *, name: Optional[str] = None) -> None:
        self._name = name
        # Registration rank in the owning router: the index keeps candidates
        # sorted by it so the first registered match wins.
        self._order = 0

    @property
    def name(self) -> Optional[str]:
        """The resource name used for reverse URLs."""
        return self._name

    @property
    @abc.abstractmethod
    def canonical(self) -> str:
        """The path pattern as registered."""

    @abc.abstractmethod
    def url_for(self, **kwargs: str) -> URL:
        """The URL for the given variable parts."""

    def url(self, *, parts: Optional[Mapping[str, str]] = None, query: Any = None) -> str:
        """The seed's reverse URL: ``url(parts={...}, query=...)`` as a str.

        ``query`` is a mapping, a sequence of pairs, or a string with or
        without its leading ``?``.
        """
        url = str(self.url_for(**(parts or {})))
        if query:
            if isinstance(query, str):
                qs = query[1:] if query.startswith("?") else query
            else:
                items = query.items() if isinstance(query, Mapping) else query
                qs = urlencode(list(items))
            url = f"{url}?{qs}"
        return url

    @abc.abstractmethod
    async def resolve(self, request: Request) -> _Resolve:
        """Match ``request``: (match info or None, methods allowed on the path)."""

    @abc.abstractmethod
    def add_prefix(self, prefix: str) -> None:
        """Put ``prefix`` in front of the path (used when nesting apps)."""

    @abc.abstractmethod
    def get_info(self) -> dict[str, Any]:
        """Introspection data."""

    def freeze(self) -> None:
        """Called when the router freezes."""

    @abc.abstractmethod
    def raw_match(self, path: str) -> bool:
        """True if ``path`` is exactly this resource's pattern as registered."""

    def _first_segment(self) -> Optional[str]:
        """The literal first segment every matching path has, or None if unknown.

        The dispatcher's index relies on it: a resource returning ``"a"``
        must match only paths starting ``/a/`` or equal to ``/a``.
        """
        return None


class Resource(AbstractResource):
    """A resource with routes, chosen by method once its path matches."""

    def __init__(self, *, name: Optional[str] = None) -> None:
        super().__init__(name=name)
        self._routes: list[ResourceRoute] = []
        self._by_method: dict[str, ResourceRoute] = {}
        self._any_route: Optional[ResourceRoute] = None
        self._allowed: set[str] = set()

    def add_route(
        self,
        method: str,
        handler: Any,
        *,
        expect_handler: Optional[_ExpectHandler] = None,
    ) -> ResourceRoute:
        """Add a route; ``RuntimeError`` if ``method`` (or ``*``) is already routed."""
        method = _check_method(method)
        if method in self._by_method or self._any_route is not None:
            raise RuntimeError(
                f"Added route will never be executed, method {method} is already registered"
            )
        route = ResourceRoute(method, handler, expect_handler=expect_handler, resource=self)
        self.register_route(route)
        return route

    def register_route(self, route: ResourceRoute) -> None:
        """Attach an existing route."""
        self._routes.append(route)
        if route.method == hdrs.METH_ANY:
            self._any_route = route
        else:
            self._by_method[route.method] = route
        self._allowed.add(route.method)

    def _match_method(self, request: Request, match_dict: dict[str, str]) -> _Resolve:
        """O(1): the route for the request's method, else ``*``, else None."""
        # The message's method, not the property's: ~500 instructions less (Python 3.11).
        route = self._by_method.get(request._message.method) or self._any_route
        if route is None:
            return None, self._allowed
        # UrlMappingMatchInfo(match_dict, route) without calling the class,
        # which costs about 2,000 instructions on Python 3.11 before
        # __init__ runs (and without a helper's frame).
        info: UrlMappingMatchInfo = _new_dict(UrlMappingMatchInfo)
        info._setup(match_dict, route)
        return info, self._allowed

    @abc.abstractmethod
    def _match(self, path: str) -> Optional[dict[str, str]]:
        """The variable parts if the routing-form ``path`` matches, else None."""

    async def resolve(self, request: Request) -> _Resolve:
        match_dict = self._match(routing_path(request))
        if match_dict is None:
            return None, set()
        return self._match_method(request, match_dict)

    def __len__(self) -> int:
        return len(self._routes)

    def __iter__(self) -> Iterator[ResourceRoute]:
        return iter(self._routes)


class PlainResource(Resource):
    """A resource whose path has no variable parts: matched by string equality."""

    def __init__(self, path: str, *, name: Optional[str] = None) -> None:
        super().__init__(name=name)
        if path and not path.startswith("/"):
            raise ValueError("path should be started with / or be empty")
        self._path = path

    @property
    def canonical(self) -> str:
        return self._path

    def freeze(self) -> None:
        """An empty path (a sub-app root) becomes ``/``."""
        if not self._path:
            self._path = "/"

    def add_prefix(self, prefix: str) -> None:
        self._path = prefix + self._path

    def _match(self, path: str) -> Optional[dict[str, str]]:
        return {} if self._path == path else None

    def raw_match(self, path: str) -> bool:
        return self._path == path

    def get_info(self) -> dict[str, Any]:
        return {"path": self._path}

    def url_for(self, **kwargs: str) -> URL:
        """The path as a ``URL``; ``ValueError`` if parts are given."""
        if kwargs:
            raise ValueError(f"Plain resource {self._path!r} takes no parts, got {sorted(kwargs)}")
        return URL.build(path=self._path, encoded=False)

    def __repr__(self) -> str:
        name = f"'{self.name}' " if self.name is not None else ""
        return f"<PlainResource {name} {self._path}>"


def _split_variable(path: str, start: int) -> tuple[str, Optional[str], int]:
    """Parse the ``{name}`` or ``{name:regex}`` at ``path[start]``.

    Braces inside the regex nest (``{id:\\d{3}}``). Returns (name, regex or
    None, index after the closing brace); ``ValueError`` if unbalanced.
    """
    depth, end = 1, start + 1
    while end < len(path) and depth:
        depth += {"{": 1, "}": -1}.get(path[end], 0)
        end += 1
    if depth:
        raise ValueError(f"Invalid path '{path}': unbalanced '{{'")
    name, sep, part_re = path[start + 1 : end - 1].partition(":")
    if not _NAME_PART_RE.match(name) or keyword.iskeyword(name):
        raise ValueError(f"Invalid path '{path}': bad variable name {name!r}")
    if sep and not part_re:
        raise ValueError(f"Invalid path '{path}': empty regex for {name!r}")
    return name, part_re if sep else None, end


def _parse_pattern(path: str) -> tuple[str, str, dict[str, bool]]:
    """Split ``/a/{x}/{y:\\d+}`` into (regex source, format string, parts).

    ``parts`` maps each variable name to True when it has a custom regex.
    Raises ``ValueError`` for unbalanced braces, bad or duplicate names.
    """
    regex: list[str] = []
    formatter: list[str] = []
    parts: dict[str, bool] = {}
    i = 0
    while i < len(path):
        j = path.find("{", i)
        j = len(path) if j < 0 else j
        literal = path[i:j]
        if "}" in literal:
            raise ValueError(f"Invalid path '{path}': unbalanced '}}'")
        regex.append(re.escape(literal))
        formatter.append(literal)
        if j == len(path):
            break
        name, part_re, i = _split_variable(path, j)
        if name in parts:
            raise ValueError(f"Invalid path '{path}': duplicate variable {name!r}")
        parts[name] = part_re is not None
        regex.append(f"(?P<{name}>{part_re or DEFAULT_PART_RE})")
        formatter.append("{" + name + "}")
    return "".join(regex), "".join(formatter), parts


class DynamicResource(Resource):
    """A resource with ``{name}`` or ``{name:regex}`` parts, matched by one regex.

    The regex is compiled once, at registration; matching is one
    ``fullmatch`` against the routing-form path.
    """

    def __init__(self, path: str, *, name: Optional[str] = None) -> None:
        super().__init__(name=name)
        if path and not path.startswith("/"):
            raise ValueError("path should be started with / or be empty")
        source, self._formatter, self._parts = _parse_pattern(path)
        try:
            self._pattern = re.compile(source)
        except re.error as exc:
            raise ValueError(f"Bad pattern '{path}': {exc}") from None
        self._orig_path = path

    @property
    def canonical(self) -> str:
        return self._formatter

    def add_prefix(self, prefix: str) -> None:
        self._orig_path = prefix + self._orig_path
        self._pattern = re.compile(re.escape(prefix) + self._pattern.pattern)
        self._formatter = prefix + self._formatter

    def _match(self, path: str) -> Optional[dict[str, str]]:
        match = self._pattern.fullmatch(path)
        if match is None:
            return None
        parts = match.groupdict()
        if "%" in path:
            return {key: _unquote_part(value) for key, value in parts.items()}
        return parts

    def raw_match(self, path: str) -> bool:
        return self._orig_path == path

    def get_info(self) -> dict[str, Any]:
        return {"formatter": self._formatter, "pattern": self._pattern}

    def url_for(self, **parts: str) -> URL:
        """The URL with ``parts`` percent-quoted; ``KeyError`` if one is missing.

        A ``/`` in a value is kept for parts with a custom regex (which may
        span segments) and quoted as ``%2F`` for default parts, so the URL
        routes back to the same values.
        """
        missing = self._parts.keys() - parts.keys()
        if missing:
            raise KeyError(f"Missing parts for {self._orig_path!r}: {sorted(missing)}")
        quoted = {
            key: quote(str(value), safe=_PATH_SAFE + ("/" if self._parts.get(key) else ""))
            for key, value in parts.items()
        }
        return URL.build(path=self._formatter.format_map(quoted), encoded=True)

    def _first_segment(self) -> Optional[str]:
        literal = self._orig_path.partition("{")[0]
        segment, slash, _ = literal[1:].partition("/")
        return segment if slash else None

    def __repr__(self) -> str:
        name = f"'{self.name}' " if self.name is not None else ""
        return f"<DynamicResource {name} {self._formatter}>"


class PrefixResource(AbstractResource):
    """Base for resources owning every path equal to or under a prefix.

    ``_prefix`` is the prefix in routing form (as given: decoded);
    ``_prefix2`` is it plus ``/``.
    """

    def __init__(self, prefix: str, *, name: Optional[str] = None) -> None:
        if prefix and not prefix.startswith("/"):
            raise ValueError(f"Prefix {prefix!r} should start with /")
        if prefix not in ("", "/") and prefix.endswith("/"):
            raise ValueError(f"Prefix {prefix!r} should not end with /")
        super().__init__(name=name)
        self._prefix = prefix
        self._prefix2 = prefix + "/"

    @property
    def canonical(self) -> str:
        return self._prefix

    def add_prefix(self, prefix: str) -> None:
        self._prefix = prefix + self._prefix
        self._prefix2 = self._prefix + "/"

    def raw_match(self, prefix: str) -> bool:
        return False

    def _owns(self, path: str) -> bool:
        return path == self._prefix or path.startswith(self._prefix2)

    def _first_segment(self) -> Optional[str]:
        if not self._prefix.startswith("/") or len(self._prefix) < 2:
            return None
        return self._prefix[1:].partition("/")[0]
