"""URL routing: resources, routes, match info and the ``UrlDispatcher``.

Resolution cost, for a request path P with first segment S:

* plain resources: one dict lookup on P;
* variable resources and sub-applications: only those whose first segment is
  the literal S, plus those whose first segment is itself variable (and
  domain-matched sub-apps), are tried, each by one compiled regex.

So adding routes under other first segments costs nothing per request, and
the lookup is O(1) for plain paths and O(k) for the k candidates sharing S.
The first resource registered wins, exactly as with a linear scan: a plain
hit is taken only if no earlier-registered candidate matches too.
"""

from __future__ import annotations

import abc
import bisect
import inspect
import keyword
import re
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sized
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Optional
from urllib.parse import quote, urlencode

from yarl import URL

from . import hdrs
from .abc import AbstractMatchInfo, AbstractRouter, AbstractView
from .web_exceptions import (
    HTTPException,
    HTTPExpectationFailed,
    HTTPMethodNotAllowed,
    HTTPNotFound,
    HTTPRequestEntityTooLarge,
)

if TYPE_CHECKING:
    from .web_app import Application
    from .web_request import Request
    from .web_response import StreamResponse

__all__ = (
    "AbstractResource",
    "AbstractRoute",
    "DynamicResource",
    "MatchedSubAppResource",
    "PlainResource",
    "PrefixedSubAppResource",
    "Resource",
    "ResourceRoute",
    "UrlDispatcher",
    "UrlMappingMatchInfo",
    "MatchInfoError",
    "View",
)

Handler = Callable[["Request"], Awaitable["StreamResponse"]]
_ExpectHandler = Callable[["Request"], Awaitable[Optional["StreamResponse"]]]

_TOKEN_RE = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_NAME_PART_RE = re.compile(r"^[A-Za-z_][\w]*$")
_PATH_SAFE = "@:!$&'()*+,;=-._~"
DEFAULT_PART_RE = "[^{}/]+"


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
    """Return a coroutine function for any handler shape the seed allows.

    Coroutine functions (and bound async methods) are used as they are; plain
    functions and methods are called and their result awaited if needed;
    ``AbstractView`` subclasses are instantiated and awaited.
    """
    if isinstance(handler, type) and issubclass(handler, AbstractView):
        view_cls = handler

        async def run_view(request: Request) -> StreamResponse:
            return await view_cls(request)  # type: ignore[no-any-return]

        return run_view
    if not callable(handler):
        raise TypeError(f"Handler {handler!r} should be a callable")
    if inspect.iscoroutinefunction(handler) or inspect.iscoroutinefunction(
        type(handler).__call__
    ):
        return handler  # type: ignore[no-any-return]

    async def call_plain(request: Request) -> StreamResponse:
        result = handler(request)
        if inspect.isawaitable(result):
            result = await result
        return result  # type: ignore[no-any-return]

    call_plain.__wrapped__ = handler  # type: ignore[attr-defined]
    return call_plain


def _check_method(method: str) -> str:
    method = method.upper()
    if method != hdrs.METH_ANY and not _TOKEN_RE.match(method):
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
        self._chain: Optional[tuple[tuple[Any, ...], Handler]] = None

    @property
    def method(self) -> str:
        """The HTTP method, or ``"*"`` for any."""
        return self._method

    @property
    def handler(self) -> Handler:
        """The handler as a coroutine function."""
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
        super().__init__(match_dict)
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
        """Prepend a parent application (called while resolving)."""
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

    def freeze(self) -> None:
        """Forbid further changes to the app stack."""
        self._frozen = True

    def __repr__(self) -> str:
        return f"<MatchInfo {super().__repr__()}: {self._route}>"


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


class AbstractResource(Sized, abc.ABC):
    """An entry in the route table: matches paths, holds routes."""

    def __init__(self, *, name: Optional[str] = None) -> None:
        self._name = name
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
    async def resolve(self, request: Request) -> tuple[Optional[UrlMappingMatchInfo], set[str]]:
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
        """True if ``path`` is exactly this resource's pattern."""

    def _first_segment(self) -> Optional[str]:
        """The literal first path segment, or None if it is variable or unknown."""
        return None


class Resource(AbstractResource):
    """A resource with routes, matched by method after its path matches."""

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
        """Add a route; raises ``RuntimeError`` if the method is already routed."""
        method = _check_method(method)
        if method in self._by_method or (method == hdrs.METH_ANY and self._any_route):
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

    def _match_method(
        self, request: Request, match_dict: dict[str, str]
    ) -> tuple[Optional[UrlMappingMatchInfo], set[str]]:
        route = self._by_method.get(request.method) or self._any_route
        if route is None:
            return None, self._allowed
        return UrlMappingMatchInfo(match_dict, route), self._allowed

    @abc.abstractmethod
    def _match(self, path: str) -> Optional[dict[str, str]]:
        """The variable parts if ``path`` matches, else None."""

    async def resolve(self, request: Request) -> tuple[Optional[UrlMappingMatchInfo], set[str]]:
        match_dict = self._match(request.path)
        if match_dict is None:
            return None, set()
        return self._match_method(request, match_dict)

    def __len__(self) -> int:
        return len(self._routes)

    def __iter__(self) -> Iterator[ResourceRoute]:
        return iter(self._routes)


class PlainResource(Resource):
    """A resource whose path has no variable parts: matched by a dict lookup."""

    def __init__(self, path: str, *, name: Optional[str] = None) -> None:
        super().__init__(name=name)
        assert not path or path.startswith("/")
        self._path = path

    @property
    def canonical(self) -> str:
        return self._path

    def add_prefix(self, prefix: str) -> None:
        self._path = prefix + self._path

    def _match(self, path: str) -> Optional[dict[str, str]]:
        return {} if self._path == path else None

    def raw_match(self, path: str) -> bool:
        return self._path == path

    def get_info(self) -> dict[str, Any]:
        return {"path": self._path}

    def url_for(self, **kwargs: str) -> URL:
        if kwargs:
            raise ValueError(f"Plain resource {self._path!r} takes no parts, got {sorted(kwargs)}")
        return URL.build(path=self._path, encoded=False)

    def _first_segment(self) -> Optional[str]:
        return self._path.split("/", 2)[1] if self._path.count("/") else ""

    def __repr__(self) -> str:
        name = f"'{self.name}' " if self.name is not None else ""
        return f"<PlainResource {name} {self._path}>"


def _parse_pattern(path: str) -> tuple[str, str, list[str]]:
    """Split ``/a/{x}/{y:\\d+}`` into (regex source, format string, variable names).

    Braces inside a ``{name:regex}`` part may nest (``{id:\\d{3}}``).
    Raises ``ValueError`` for unbalanced braces or bad names.
    """
    regex: list[str] = []
    formatter: list[str] = []
    names: list[str] = []
    i = 0
    while i < len(path):
        ch = path[i]
        if ch == "}":
            raise ValueError(f"Invalid path '{path}': unbalanced '}}'")
        if ch != "{":
            j = path.find("{", i)
            j = len(path) if j < 0 else j
            literal = path[i:j]
            if "}" in literal:
                raise ValueError(f"Invalid path '{path}': unbalanced '}}'")
            regex.append(re.escape(literal))
            formatter.append(literal.replace("{", "{{").replace("}", "}}"))
            i = j
            continue
        depth, j = 1, i + 1
        while j < len(path) and depth:
            depth += {"{": 1, "}": -1}.get(path[j], 0)
            j += 1
        if depth:
            raise ValueError(f"Invalid path '{path}': unbalanced '{{'")
        body = path[i + 1 : j - 1]
        name, sep, part_re = body.partition(":")
        if not _NAME_PART_RE.match(name) or keyword.iskeyword(name):
            raise ValueError(f"Invalid path '{path}': bad variable name {name!r}")
        if name in names:
            raise ValueError(f"Invalid path '{path}': duplicate variable {name!r}")
        names.append(name)
        regex.append(f"(?P<{name}>{part_re if sep else DEFAULT_PART_RE})")
        formatter.append("{" + name + "}")
        i = j
    return "".join(regex), "".join(formatter), names


class DynamicResource(Resource):
    """A resource with ``{name}`` or ``{name:regex}`` parts, matched by one regex."""

    def __init__(self, path: str, *, name: Optional[str] = None) -> None:
        super().__init__(name=name)
        source, self._formatter, self._names = _parse_pattern(path)
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
        return None if match is None else match.groupdict()

    def raw_match(self, path: str) -> bool:
        return self._orig_path == path

    def get_info(self) -> dict[str, Any]:
        return {"formatter": self._formatter, "pattern": self._pattern}

    def url_for(self, **parts: str) -> URL:
        missing = set(self._names) - set(parts)
        if missing:
            raise KeyError(f"Missing parts for {self._orig_path!r}: {sorted(missing)}")
        quoted = {k: quote(str(v), safe=_PATH_SAFE) for k, v in parts.items()}
        return URL.build(path=self._formatter.format_map(quoted), encoded=True)

    def _first_segment(self) -> Optional[str]:
        first = self._orig_path.split("/", 2)[1] if "/" in self._orig_path else "{"
        return None if "{" in first or self._orig_path.count("/") < 2 else first

    def __repr__(self) -> str:
        name = f"'{self.name}' " if self.name is not None else ""
        return f"<DynamicResource {name} {self._formatter}>"


class PrefixResource(AbstractResource):
    """Base for resources owning everything under a prefix."""

    def __init__(self, prefix: str, *, name: Optional[str] = None) -> None:
        assert not prefix or prefix.startswith("/"), prefix
        assert prefix in ("", "/") or not prefix.endswith("/"), prefix
        super().__init__(name=name)
        self._prefix = URL.build(path=prefix).raw_path if prefix else ""
        self._prefix2 = self._prefix + "/"

    @property
    def canonical(self) -> str:
        return self._prefix

    def add_prefix(self, prefix: str) -> None:
        self._prefix = prefix + self._prefix
        self._prefix2 = self._prefix + "/"

    def raw_match(self, prefix: str) -> bool:
        return False

    def _first_segment(self) -> Optional[str]:
        return self._prefix.split("/", 2)[1] if self._prefix.startswith("/") else None


class PrefixedSubAppResource(PrefixResource):
    """Everything under ``prefix`` is resolved by a nested application's router."""

    def __init__(self, prefix: str, app: Application) -> None:
        super().__init__(prefix)
        self._app = app
        self._add_prefix_to_resources(prefix)

    def add_prefix(self, prefix: str) -> None:
        super().add_prefix(prefix)
        self._add_prefix_to_resources(prefix)

    def _add_prefix_to_resources(self, prefix: str) -> None:
        router = self._app.router
        for resource in router.resources():
            router._unindex(resource)
            resource.add_prefix(prefix)
            router._index_resource(resource)

    def url_for(self, *args: str, **kwargs: str) -> URL:
        raise RuntimeError(".url_for() is not supported by sub-application root")

    def get_info(self) -> dict[str, Any]:
        return {"app": self._app, "prefix": self._prefix}

    async def resolve(self, request: Request) -> tuple[Optional[UrlMappingMatchInfo], set[str]]:
        path = request.path
        if not (path.startswith(self._prefix2) or path == self._prefix):
            return None, set()
        match_info = await self._app.router.resolve(request)
        match_info.add_app(self._app)
        if isinstance(match_info.http_exception, HTTPMethodNotAllowed):
            methods = match_info.http_exception.allowed_methods
        else:
            methods = set()
        return match_info, methods

    def __len__(self) -> int:
        return len(self._app.router.routes())

    def __iter__(self) -> Iterator[AbstractRoute]:
        return iter(self._app.router.routes())

    def __repr__(self) -> str:
        return f"<PrefixedSubAppResource {self._prefix} -> {self._app!r}>"


class Domain:
    """A Host rule: an exact domain, or ``*.example.com`` for any subdomain."""

    def __init__(self, domain: str) -> None:
        if not isinstance(domain, str):
            raise TypeError("Domain must be str")
        domain = domain.rstrip(".").lower()
        if not domain:
            raise ValueError("Domain cannot be empty")
        if "://" in domain:
            raise ValueError("Scheme not supported")
        url = URL("http://" + domain)
        if not all(part for part in (url.raw_host or "").split(".")) or url.path not in ("", "/"):
            raise ValueError(f"Invalid domain {domain!r}")
        self._wildcard = domain.startswith("*.")
        self._domain = domain
        suffix = re.escape(domain[2:]) if self._wildcard else re.escape(domain)
        pattern = rf"(?:[^.]+\.)+{suffix}" if self._wildcard else suffix
        if url.port is None:
            pattern += r"(?::\d+)?"
        self._re = re.compile(pattern)

    @property
    def canonical(self) -> str:
        """The rule as given."""
        return self._domain

    def match(self, host: str) -> bool:
        """True if the Host header value satisfies the rule."""
        return self._re.fullmatch(host.lower()) is not None


class MatchedSubAppResource(AbstractResource):
    """A nested application chosen by a rule on the request (a ``Domain``)."""

    def __init__(self, rule: Domain, app: Application) -> None:
        super().__init__()
        self._rule = rule
        self._app = app

    @property
    def canonical(self) -> str:
        return self._rule.canonical

    def add_prefix(self, prefix: str) -> None:
        raise RuntimeError("Domain sub-applications cannot be nested under a prefix")

    def url_for(self, **kwargs: str) -> URL:
        raise RuntimeError(".url_for() is not supported by sub-application root")

    def raw_match(self, path: str) -> bool:
        return False

    def get_info(self) -> dict[str, Any]:
        return {"app": self._app, "rule": self._rule}

    async def resolve(self, request: Request) -> tuple[Optional[UrlMappingMatchInfo], set[str]]:
        if not self._rule.match(request.host):
            return None, set()
        match_info = await self._app.router.resolve(request)
        match_info.add_app(self._app)
        if isinstance(match_info.http_exception, HTTPMethodNotAllowed):
            methods = match_info.http_exception.allowed_methods
        else:
            methods = set()
        return match_info, methods

    def __len__(self) -> int:
        return len(self._app.router.routes())

    def __iter__(self) -> Iterator[AbstractRoute]:
        return iter(self._app.router.routes())

    def __repr__(self) -> str:
        return f"<MatchedSubAppResource -> {self._app!r}>"


class _Candidates:
    """Resources of one first segment, kept in registration order."""

    __slots__ = ("orders", "resources")

    def __init__(self) -> None:
        self.orders: list[int] = []
        self.resources: list[AbstractResource] = []

    def add(self, resource: AbstractResource) -> None:
        pos = bisect.bisect(self.orders, resource._order)
        self.orders.insert(pos, resource._order)
        self.resources.insert(pos, resource)

    def remove(self, resource: AbstractResource) -> None:
        pos = self.resources.index(resource)
        del self.orders[pos]
        del self.resources[pos]


class UrlDispatcher(AbstractRouter, Mapping[str, AbstractResource]):
    """The router: resources in registration order, an index for resolution.

    ``resolve`` is O(1) for plain paths and O(k) for the k variable resources
    sharing the request's first path segment (see the module docstring).
    Not thread-safe; mutate before the application starts.
    """

    def __init__(self) -> None:
        super().__init__()
        self._resources: list[AbstractResource] = []
        self._named: dict[str, AbstractResource] = {}
        self._plain: dict[str, PlainResource] = {}
        self._by_segment: dict[str, _Candidates] = {}
        self._anywhere = _Candidates()
        self._next_order = 0

    # -- resolution --

    def _candidates(self, path: str) -> list[AbstractResource]:
        parts = path.split("/", 2)
        segment = parts[1] if len(parts) > 1 else ""
        bucket = self._by_segment.get(segment)
        anywhere = self._anywhere.resources
        if bucket is None:
            return anywhere
        if not anywhere:
            return bucket.resources
        return sorted(bucket.resources + anywhere, key=lambda r: r._order)

    async def resolve(self, request: Request) -> UrlMappingMatchInfo:
        """Find the route for ``request``; 404/405 come back as ``MatchInfoError``."""
        path = request.path
        allowed: set[str] = set()
        plain = self._plain.get(path)
        candidates = self._candidates(path)
        if plain is not None and (not candidates or candidates[0]._order > plain._order):
            match_info, methods = plain._match_method(request, {})
            if match_info is not None:
                return match_info
            allowed |= methods
            plain = None
        for resource in candidates:
            if plain is not None and resource._order > plain._order:
                match_info, methods = plain._match_method(request, {})
                if match_info is not None:
                    return match_info
                allowed |= methods
                plain = None
            match_info, methods = await resource.resolve(request)
            if match_info is not None and match_info.http_exception is None:
                return match_info
            allowed |= methods
        if plain is not None:
            match_info, methods = plain._match_method(request, {})
            if match_info is not None:
                return match_info
            allowed |= methods
        if allowed:
            return MatchInfoError(HTTPMethodNotAllowed(request.method, allowed))
        return MatchInfoError(HTTPNotFound())

    # -- registration --

    def _index_resource(self, resource: AbstractResource) -> None:
        if isinstance(resource, PlainResource):
            self._plain.setdefault(resource.canonical, resource)
            return
        segment = resource._first_segment()
        if segment is None:
            self._anywhere.add(resource)
        else:
            self._by_segment.setdefault(segment, _Candidates()).add(resource)

    def _unindex(self, resource: AbstractResource) -> None:
        if isinstance(resource, PlainResource):
            if self._plain.get(resource.canonical) is resource:
                del self._plain[resource.canonical]
            return
        segment = resource._first_segment()
        bucket = self._anywhere if segment is None else self._by_segment.get(segment)
        if bucket is not None and resource in bucket.resources:
            bucket.remove(resource)

    def register_resource(self, resource: AbstractResource) -> None:
        """Add a resource; raises ``ValueError`` for a bad or duplicate name."""
        if self.frozen:
            raise RuntimeError("Cannot register a resource into frozen router.")
        name = resource.name
        if name is not None:
            for part in re.split(r"[.:-]", name):
                if not part.isidentifier() or keyword.iskeyword(part):
                    raise ValueError(
                        f"Incorrect route name {name!r}: use Python identifiers "
                        "separated by '.', ':' or '-'"
                    )
            if name in self._named:
                raise ValueError(
                    f"Duplicate route name {name!r}, already used by {self._named[name]!r}"
                )
            self._named[name] = resource
        resource._order = self._next_order
        self._next_order += 1
        self._resources.append(resource)
        self._index_resource(resource)

    def add_resource(self, path: str, *, name: Optional[str] = None) -> Resource:
        """Add (or reuse the last, if same path and no name) a resource for ``path``."""
        if path and not path.startswith("/"):
            raise ValueError("path should be started with / or be empty")
        if self._resources and name is None:
            last = self._resources[-1]
            if isinstance(last, Resource) and last.name is None and last.raw_match(path):
                return last
        if "{" not in path and "}" not in path:
            resource: Resource = PlainResource(path, name=name)
        else:
            resource = DynamicResource(path, name=name)
        self.register_resource(resource)
        return resource

    def add_route(
        self,
        method: str,
        path: str,
        handler: Any = None,
        *,
        name: Optional[str] = None,
        expect_handler: Optional[_ExpectHandler] = None,
    ) -> Any:
        """Add a route: ``add_resource(path, name=name).add_route(method, handler)``.

        The seed's slip ``add_route('/{name}')`` (a path alone) returns the
        resource, like ``add_resource``.
        """
        if handler is None and method.startswith("/"):
            return self.add_resource(method, name=name)
        resource = self.add_resource(path, name=name)
        return resource.add_route(method, handler, expect_handler=expect_handler)

    def add_head(self, path: str, handler: Any, **kwargs: Any) -> AbstractRoute:
        """Route HEAD."""
        return self.add_route(hdrs.METH_HEAD, path, handler, **kwargs)  # type: ignore[no-any-return]

    def add_options(self, path: str, handler: Any, **kwargs: Any) -> AbstractRoute:
        """Route OPTIONS."""
        return self.add_route(hdrs.METH_OPTIONS, path, handler, **kwargs)  # type: ignore[no-any-return]

    def add_get(
        self,
        path: str,
        handler: Any,
        *,
        name: Optional[str] = None,
        allow_head: bool = True,
        **kwargs: Any,
    ) -> AbstractRoute:
        """Route GET, and HEAD too unless ``allow_head=False``."""
        resource = self.add_resource(path, name=name)
        if allow_head:
            resource.add_route(hdrs.METH_HEAD, handler, **kwargs)
        return resource.add_route(hdrs.METH_GET, handler, **kwargs)

    def add_post(self, path: str, handler: Any, **kwargs: Any) -> AbstractRoute:
        """Route POST."""
        return self.add_route(hdrs.METH_POST, path, handler, **kwargs)  # type: ignore[no-any-return]

    def add_put(self, path: str, handler: Any, **kwargs: Any) -> AbstractRoute:
        """Route PUT."""
        return self.add_route(hdrs.METH_PUT, path, handler, **kwargs)  # type: ignore[no-any-return]

    def add_patch(self, path: str, handler: Any, **kwargs: Any) -> AbstractRoute:
        """Route PATCH."""
        return self.add_route(hdrs.METH_PATCH, path, handler, **kwargs)  # type: ignore[no-any-return]

    def add_delete(self, path: str, handler: Any, **kwargs: Any) -> AbstractRoute:
        """Route DELETE."""
        return self.add_route(hdrs.METH_DELETE, path, handler, **kwargs)  # type: ignore[no-any-return]

    def add_view(self, path: str, handler: Any, **kwargs: Any) -> AbstractRoute:
        """Route every method to a class-based view."""
        return self.add_route(hdrs.METH_ANY, path, handler, **kwargs)  # type: ignore[no-any-return]

    def add_routes(self, routes: Any) -> list[AbstractRoute]:
        """Register route definitions (``web.get(...)``, a ``RouteTableDef``)."""
        registered: list[AbstractRoute] = []
        for route_def in routes:
            registered.extend(route_def.register(self))
        return registered

    def add_static(self, prefix: str, path: Any, **kwargs: Any) -> AbstractResource:
        """Serve files under ``path`` at ``prefix`` (see ``web_fileresponse``)."""
        from .web_fileresponse import StaticResource

        resource = StaticResource(prefix, path, **kwargs)
        self.register_resource(resource)
        return resource

    # -- views --

    def resources(self) -> _ResourcesView:
        """All resources, in registration order (a read-only view)."""
        return _ResourcesView(self._resources)

    def routes(self) -> _RoutesView:
        """All routes of all resources, in registration order."""
        return _RoutesView(self._resources)

    def named_resources(self) -> Mapping[str, AbstractResource]:
        """Named resources as a read-only mapping."""
        return MappingProxyType(self._named)

    def __getitem__(self, name: str) -> AbstractResource:
        return self._named[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._named)

    def __len__(self) -> int:
        return len(self._named)

    def __contains__(self, name: object) -> bool:
        return name in self._named

    def freeze(self) -> None:
        """Forbid further registration."""
        super().freeze()
        for resource in self._resources:
            resource.freeze()


class _ResourcesView(Sized):
    """A read-only sequence of resources."""

    def __init__(self, resources: list[AbstractResource]) -> None:
        self._resources = resources

    def __len__(self) -> int:
        return len(self._resources)

    def __iter__(self) -> Iterator[AbstractResource]:
        return iter(list(self._resources))

    def __getitem__(self, index: int) -> AbstractResource:
        return self._resources[index]

    def __contains__(self, resource: object) -> bool:
        return resource in self._resources



class _RoutesView(Sized):
    """A read-only sequence of every route."""

    def __init__(self, resources: list[AbstractResource]) -> None:
        self._routes: list[AbstractRoute] = []
        for resource in resources:
            if isinstance(resource, Resource):
                self._routes.extend(resource)
            elif isinstance(resource, (PrefixedSubAppResource, MatchedSubAppResource)):
                continue
            else:
                self._routes.extend(iter(resource))  # type: ignore[call-overload]

    def __len__(self) -> int:
        return len(self._routes)

    def __iter__(self) -> Iterator[AbstractRoute]:
        return iter(self._routes)

    def __getitem__(self, index: int) -> AbstractRoute:
        return self._routes[index]

    def __contains__(self, route: object) -> bool:
        return route in self._routes


View = AbstractView
