"""URL routing: the ``UrlDispatcher``, sub-application resources, and views.

Resolution cost, for a request whose routing-form path P has first segment S:

* domain sub-applications (``add_domain``) are tried first, in registration
  order, each by one Host comparison (aiohttp 3.10+ does the same, so a
  domain's app is not shadowed by the parent's routes);
* plain resources: one dict lookup on P (which also caches, per plain path,
  the list merged with the variable candidates below);
* every other resource (variable paths, prefixed sub-apps, static files)
  is indexed by the literal first segment it requires; only those filed
  under S, plus those whose first segment is itself variable, are tried,
  each by one compiled regex or prefix comparison.

So routes under other first segments cost nothing per request: the lookup
is O(1) for plain paths and O(k) for the k candidates sharing S. Among the
path candidates the first one *registered* wins, exactly as with a linear
scan of the route list (the seed's "router is a list of resources"),
including plain against variable resources. A prefixed sub-application owns
its prefix: once it matches, its answer (404 and 405 included) is final.

Resources, routes and match info live in ``_resources``; their public names
are importable from here, as in aiohttp.
"""

from __future__ import annotations

import bisect
import keyword
import re
from collections.abc import Iterable, Iterator, Mapping, Sized
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Optional

from yarl import URL

from . import hdrs
from ._resources import (
    DEFAULT_PART_RE,
    AbstractResource,
    AbstractRoute,
    DynamicResource,
    Handler,
    MatchInfoError,
    PlainResource,
    PrefixResource,
    Resource,
    ResourceRoute,
    SystemRoute,
    UrlMappingMatchInfo,
    _ExpectHandler,
    _Resolve,
    routing_path,
)
from .abc import AbstractRouter
from .web_exceptions import HTTPMethodNotAllowed, HTTPNotFound
from .web_view import View

if TYPE_CHECKING:
    from .web_app import Application
    from .web_request import Request

__all__ = (
    "DEFAULT_PART_RE",
    "AbstractResource",
    "AbstractRoute",
    "Domain",
    "DynamicResource",
    "Handler",
    "MatchInfoError",
    "MatchedSubAppResource",
    "PlainResource",
    "PrefixResource",
    "PrefixedSubAppResource",
    "Resource",
    "ResourceRoute",
    "ResourcesView",
    "RoutesView",
    "SystemRoute",
    "UrlDispatcher",
    "UrlMappingMatchInfo",
    "View",
)

_NAME_SPLIT_RE = re.compile(r"[.:-]")


def _subapp_methods(match_info: UrlMappingMatchInfo) -> set[str]:
    exc = match_info.http_exception
    return set(exc.allowed_methods) if isinstance(exc, HTTPMethodNotAllowed) else set()


class _SubAppResource:
    """What both kinds of sub-application resource share: the nested router."""

    _app: Application

    async def _resolve_in_app(self, request: Request) -> _Resolve:
        match_info = await self._app.router.resolve(request)
        match_info.add_app(self._app)
        return match_info, _subapp_methods(match_info)

    def __len__(self) -> int:
        return len(self._app.router.routes())

    def __iter__(self) -> Iterator[AbstractRoute]:
        return iter(self._app.router.routes())


class PrefixedSubAppResource(_SubAppResource, PrefixResource):
    """Everything under ``prefix`` is resolved by a nested application's router.

    The nested app's resources get the prefix prepended (so their
    ``url_for`` includes it) and are re-indexed in its router.
    """

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
            resource.add_prefix(prefix)
        router._rebuild_index()

    def url_for(self, *args: str, **kwargs: str) -> URL:
        """Always raises ``RuntimeError``: name a resource inside the sub-app instead."""
        raise RuntimeError(".url_for() is not supported by sub-application root")

    def get_info(self) -> dict[str, Any]:
        return {"app": self._app, "prefix": self._prefix}

    async def resolve(self, request: Request) -> _Resolve:
        if not self._owns(routing_path(request)):
            return None, set()
        return await self._resolve_in_app(request)

    def __repr__(self) -> str:
        return f"<PrefixedSubAppResource {self._prefix} -> {self._app!r}>"


class Domain:
    """A Host rule: an exact domain, or ``*.example.com`` for any subdomain.

    Without a port in the rule, any port in the Host header is accepted.
    Raises ``ValueError`` for an empty or malformed domain.
    """

    def __init__(self, domain: str) -> None:
        if not isinstance(domain, str):
            raise TypeError("Domain must be str")
        domain = domain.rstrip(".").lower()
        if not domain:
            raise ValueError("Domain cannot be empty")
        if "://" in domain:
            raise ValueError("Scheme not supported")
        self._wildcard = domain.startswith("*.")
        try:
            url = URL("http://" + (domain[2:] if self._wildcard else domain))
        except ValueError:
            raise ValueError(f"Invalid domain {domain!r}") from None
        host = url.raw_host or ""
        if not all(host.split(".")) or "*" in host or url.raw_path not in ("", "/"):
            raise ValueError(f"Invalid domain {domain!r}")
        self._domain = domain
        pattern = re.escape(host)
        if self._wildcard:
            pattern = r"(?:[^.:]+\.)+" + pattern
        port = url.explicit_port
        pattern += r"(?::\d+)?" if port is None else f":{port}"
        self._re = re.compile(pattern)

    @property
    def canonical(self) -> str:
        """The rule as given (lower-cased)."""
        return self._domain

    def match(self, host: str) -> bool:
        """True if the Host header value satisfies the rule."""
        return self._re.fullmatch(host.lower()) is not None

    def get_info(self) -> dict[str, Any]:
        """Introspection data."""
        return {"domain": self._domain}


MaskDomain = Domain


class MatchedSubAppResource(_SubAppResource, AbstractResource):
    """A nested application chosen by a rule on the request's Host header."""

    def __init__(self, rule: Domain, app: Application) -> None:
        super().__init__()
        self._rule = rule
        self._app = app

    @property
    def canonical(self) -> str:
        return self._rule.canonical

    def add_prefix(self, prefix: str) -> None:
        """Always raises ``RuntimeError``: a domain app has no path prefix."""
        raise RuntimeError("Domain sub-applications cannot be nested under a prefix")

    def url_for(self, **kwargs: str) -> URL:
        """Always raises ``RuntimeError``: name a resource inside the sub-app instead."""
        raise RuntimeError(".url_for() is not supported by sub-application root")

    def raw_match(self, path: str) -> bool:
        return False

    def get_info(self) -> dict[str, Any]:
        return {"app": self._app, "rule": self._rule}

    async def resolve(self, request: Request) -> _Resolve:
        host = request.headers.get(hdrs.HOST)
        if not host or not self._rule.match(host):
            return None, set()
        return await self._resolve_in_app(request)

    def __repr__(self) -> str:
        return f"<MatchedSubAppResource -> {self._app!r}>"


_NO_METHODS: set[str] = set()  # shared, never mutated: "no match, nothing allowed"


def _rank(resource: AbstractResource) -> int:
    return resource._order


class _SegmentIndex:
    """Non-plain resources filed by the literal first segment they require.

    Each bucket already holds, merged in registration order, the resources
    whose first segment is variable (``_anywhere``), so a lookup is one dict
    get returning a ready list. Registration costs O(buckets) for a variable
    first segment, O(bucket) otherwise; it happens before the app starts.
    """

    __slots__ = ("_buckets", "_anywhere")

    def __init__(self) -> None:
        self._buckets: dict[str, list[AbstractResource]] = {}
        self._anywhere: list[AbstractResource] = []

    def candidates(self, segment: str) -> list[AbstractResource]:
        """The resources that may match a path with first segment ``segment``."""
        return self._buckets.get(segment, self._anywhere)

    def add(self, resource: AbstractResource) -> None:
        segment = resource._first_segment()
        if segment is None:
            for bucket in (self._anywhere, *self._buckets.values()):
                bucket.insert(bisect.bisect(bucket, resource._order, key=_rank), resource)
            return
        if segment not in self._buckets:
            self._buckets[segment] = list(self._anywhere)
        bucket = self._buckets[segment]
        bucket.insert(bisect.bisect(bucket, resource._order, key=_rank), resource)


class UrlDispatcher(AbstractRouter, Mapping[str, AbstractResource]):
    """The router: resources in registration order, indexed for resolution.

    As a mapping it holds the *named* resources: ``router['name']``,
    ``'name' in router``, ``len(router)``. ``resolve`` is O(1) for plain
    paths and O(k) for the k candidates sharing the request's first path
    segment (see the module docstring). Not thread-safe; all registration
    happens before the application starts (then the router is frozen).
    """

    def __init__(self) -> None:
        super().__init__()
        self._resources: list[AbstractResource] = []
        self._named: dict[str, AbstractResource] = {}
        self._plain: dict[str, list[AbstractResource]] = {}
        self._segments = _SegmentIndex()
        self._domains: list[MatchedSubAppResource] = []
        # Plain path -> its resources merged with its segment's candidates,
        # filled on first resolve, cleared by any registration: a plain hit
        # is then one dict lookup (no merge per request). Bounded by the
        # number of plain paths.
        self._merged: dict[str, list[AbstractResource]] = {}

    # -- resolution --

    def _path_candidates(self, path: str) -> list[AbstractResource]:
        merged = self._merged.get(path)
        if merged is not None:
            return merged
        # segments.candidates(first segment of path), without its frame.
        segments = self._segments
        candidates = segments._buckets.get(path[1:].partition("/")[0], segments._anywhere)
        plain = self._plain.get(path)
        if plain is None:
            return candidates
        merged = sorted((*plain, *candidates), key=_rank)
        self._merged[path] = merged
        return merged

    async def resolve(self, request: Request) -> UrlMappingMatchInfo:
        """Find the route for ``request``; 404/405 come back as ``MatchInfoError``.

        405 carries every method allowed on the path by any matching resource.
        """
        match_info = self.resolve_nowait(request)
        if match_info is not None:
            return match_info
        return await self._resolve_awaiting(request)

    async def _resolve_awaiting(self, request: Request) -> UrlMappingMatchInfo:
        """``resolve()`` once ``resolve_nowait()`` returned None: awaits what needs it."""
        allowed: set[str] = set()
        for domain in self._domains:
            match_info, _ = await domain.resolve(request)
            if match_info is not None:
                return match_info
        path = routing_path(request)
        for resource in self._path_candidates(path):
            match_info, methods = self._match_inline(resource, request, path)
            if match_info is None and methods is None:
                match_info, methods = await resource.resolve(request)
            if match_info is not None:
                return match_info
            allowed |= methods or _NO_METHODS
        return self._unmatched(request, allowed)

    def resolve_nowait(self, request: Request) -> Optional[UrlMappingMatchInfo]:
        """``resolve()`` without a coroutine, or None when it needs one.

        Answers whenever every candidate tried is a plain or variable resource
        (no domain apps, sub-apps or static roots on the way): the common case,
        which then skips a coroutine per request.
        """
        if self._domains:
            return None
        allowed: Optional[set[str]] = None
        methods: Optional[set[str]]
        path = routing_path(request)
        # A plain path's merged list is one dict hit away: no call to get it.
        for resource in self._merged.get(path) or self._path_candidates(path):
            # _match_inline's two cases, without its frame (~400 instructions each).
            if type(resource) is PlainResource:
                match_info, methods = resource._match_method(request, {})
            elif type(resource) is DynamicResource:
                parts = resource._match(path)
                if parts is None:
                    continue
                match_info, methods = resource._match_method(request, parts)
            else:
                match_info, methods = self._match_inline(resource, request, path)
            if match_info is not None:
                return match_info
            if methods is None:
                return None
            if methods:
                allowed = set(methods) if allowed is None else allowed | methods
        return self._unmatched(request, allowed or set())

    @staticmethod
    def _match_inline(
        resource: AbstractResource, request: Request, path: str
    ) -> tuple[Optional[UrlMappingMatchInfo], Optional[set[str]]]:
        """Match the two stock resource kinds without a coroutine.

        Returns ``(None, None)`` for any other kind: the caller must await
        its ``resolve()``. Skipping that coroutine and a second
        ``routing_path()`` is about a quarter of a route hit's cost.
        """
        # ``type() is`` narrows for mypy without typing.cast's call (~300 instructions).
        if type(resource) is PlainResource:  # filed under this very path
            return resource._match_method(request, {})
        if type(resource) is DynamicResource:
            parts = resource._match(path)
            if parts is None:
                return None, _NO_METHODS
            return resource._match_method(request, parts)
        return None, None

    @staticmethod
    def _unmatched(request: Request, allowed: set[str]) -> UrlMappingMatchInfo:
        if allowed:
            return MatchInfoError(HTTPMethodNotAllowed(request.method, allowed))
        return MatchInfoError(HTTPNotFound())

    # -- registration --

    def _index(self, resource: AbstractResource) -> None:
        self._merged.clear()
        if isinstance(resource, MatchedSubAppResource):
            self._domains.append(resource)
        elif isinstance(resource, PlainResource):
            bucket = self._plain.setdefault(resource.canonical, [])
            bucket.insert(bisect.bisect(bucket, resource._order, key=_rank), resource)
        else:
            self._segments.add(resource)

    def _rebuild_index(self) -> None:
        """Re-file every resource (after their paths changed): O(n)."""
        self._plain.clear()
        self._segments = _SegmentIndex()
        self._domains.clear()
        for resource in self._resources:
            self._index(resource)

    def _check_name(self, name: str) -> None:
        for part in _NAME_SPLIT_RE.split(name):
            if not part.isidentifier() or keyword.iskeyword(part):
                raise ValueError(
                    f"Incorrect route name {name!r}: use Python identifiers "
                    "(not keywords) separated by '.', ':' or '-'"
                )
        if name in self._named:
            raise ValueError(f"Duplicate route name {name!r}, already used by {self._named[name]!r}")

    def register_resource(self, resource: AbstractResource) -> None:
        """Add a resource; ``ValueError`` for a bad or duplicate name."""
        if not isinstance(resource, AbstractResource):
            raise TypeError(f"Instance of AbstractResource class is required, got {resource!r}")
        if self.frozen:
            raise RuntimeError("Cannot register a resource into frozen router.")
        name = resource.name
        if name is not None:
            self._check_name(name)
            self._named[name] = resource
        resource._order = len(self._resources)
        self._resources.append(resource)
        self._index(resource)

    def add_resource(self, path: str, *, name: Optional[str] = None) -> Resource:
        """Add a resource for ``path``, or reuse the last one if path and name are the same."""
        if path and not path.startswith("/"):
            raise ValueError("path should be started with / or be empty")
        if self._resources:
            last = self._resources[-1]
            if isinstance(last, Resource) and last.name == name and last.raw_match(path):
                return last
        if "{" in path or "}" in path:
            resource: Resource = DynamicResource(path, name=name)
        else:
            resource = PlainResource(path, name=name)
        self.register_resource(resource)
        return resource

    def add_route(
        self,
        method: str,
        path: str = "",
        handler: Any = None,
        *,
        name: Optional[str] = None,
        expect_handler: Optional[_ExpectHandler] = None,
    ) -> Any:
        """Add a route: ``add_resource(path, name=name).add_route(method, handler)``.

        ``method`` may be ``"*"`` (any method). The seed's slip
        ``add_route('/{name}')`` (a path alone) returns the resource, like
        ``add_resource``.
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
        """Route GET, and HEAD to the same handler unless ``allow_head=False``."""
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
        """Route every method to a class-based view (or any handler)."""
        return self.add_route(hdrs.METH_ANY, path, handler, **kwargs)  # type: ignore[no-any-return]

    def add_routes(self, routes: Iterable[Any]) -> list[AbstractRoute]:
        """Register route definitions (``web.get(...)``, a ``RouteTableDef``)."""
        registered: list[AbstractRoute] = []
        for route_def in routes:
            registered.extend(route_def.register(self))
        return registered

    def add_static(self, prefix: str, path: Any, **kwargs: Any) -> AbstractResource:
        """Serve the files under directory ``path`` at URL ``prefix``.

        A trailing ``/`` on ``prefix`` is dropped. The keywords (``name``,
        ``show_index``, ``follow_symlinks``, ...) go to ``StaticResource``
        in ``web_fileresponse``, imported here on first use.
        """
        from .web_fileresponse import StaticResource

        if not prefix.startswith("/"):
            raise ValueError(f"Static prefix {prefix!r} should start with /")
        resource: AbstractResource = StaticResource(prefix.rstrip("/"), path, **kwargs)
        self.register_resource(resource)
        return resource

    # -- views --

    def resources(self) -> ResourcesView:
        """All resources, in registration order (a read-only view)."""
        return ResourcesView(self._resources)

    def routes(self) -> RoutesView:
        """All routes (sub-applications' included), in registration order."""
        return RoutesView(self._resources)

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
        """Forbid further registration; resources may settle their paths."""
        if self.frozen:
            return
        super().freeze()
        for resource in self._resources:
            resource.freeze()
        self._rebuild_index()


class ResourcesView(Sized, Iterable[AbstractResource]):
    """A read-only sequence of resources."""

    def __init__(self, resources: list[AbstractResource]) -> None:
        self._resources = resources

    def __len__(self) -> int:
        return len(self._resources)

    def __iter__(self) -> Iterator[AbstractResource]:
        return iter(tuple(self._resources))

    def __getitem__(self, index: int) -> AbstractResource:
        return self._resources[index]

    def __contains__(self, resource: object) -> bool:
        return resource in self._resources


class RoutesView(Sized, Iterable[AbstractRoute]):
    """A read-only sequence of every route, snapshot when created."""

    def __init__(self, resources: list[AbstractResource]) -> None:
        self._routes: list[AbstractRoute] = [route for res in resources for route in res]

    def __len__(self) -> int:
        return len(self._routes)

    def __iter__(self) -> Iterator[AbstractRoute]:
        return iter(self._routes)

    def __getitem__(self, index: int) -> AbstractRoute:
        return self._routes[index]

    def __contains__(self, route: object) -> bool:
        return route in self._routes
