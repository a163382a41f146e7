"""The HTTP exception tree: statuses, constructors, bodies, and raise/return over a socket."""

from __future__ import annotations

import inspect
from http import HTTPStatus
from typing import Any

import pytest

from aioweb import web, web_exceptions
from aioweb.web_exceptions import STATUS_TABLE, HTTPException

REDIRECTS: set[type[HTTPException]] = {
    web.HTTPMultipleChoices,
    web.HTTPMovedPermanently,
    web.HTTPFound,
    web.HTTPSeeOther,
    web.HTTPUseProxy,
    web.HTTPTemporaryRedirect,
    web.HTTPPermanentRedirect,
}
EMPTY = {204: web.HTTPNoContent, 304: web.HTTPNotModified}

# The seed's hierarchy chart plus the aiohttp 3.x additions.
EXPECTED = {
    200: "HTTPOk", 201: "HTTPCreated", 202: "HTTPAccepted",
    203: "HTTPNonAuthoritativeInformation", 204: "HTTPNoContent",
    205: "HTTPResetContent", 206: "HTTPPartialContent",
    300: "HTTPMultipleChoices", 301: "HTTPMovedPermanently", 302: "HTTPFound",
    303: "HTTPSeeOther", 304: "HTTPNotModified", 305: "HTTPUseProxy",
    307: "HTTPTemporaryRedirect", 308: "HTTPPermanentRedirect",
    400: "HTTPBadRequest", 401: "HTTPUnauthorized", 402: "HTTPPaymentRequired",
    403: "HTTPForbidden", 404: "HTTPNotFound", 405: "HTTPMethodNotAllowed",
    406: "HTTPNotAcceptable", 407: "HTTPProxyAuthenticationRequired",
    408: "HTTPRequestTimeout", 409: "HTTPConflict", 410: "HTTPGone",
    411: "HTTPLengthRequired", 412: "HTTPPreconditionFailed",
    413: "HTTPRequestEntityTooLarge", 414: "HTTPRequestURITooLong",
    415: "HTTPUnsupportedMediaType", 416: "HTTPRequestRangeNotSatisfiable",
    417: "HTTPExpectationFailed", 421: "HTTPMisdirectedRequest",
    422: "HTTPUnprocessableEntity", 424: "HTTPFailedDependency",
    426: "HTTPUpgradeRequired", 428: "HTTPPreconditionRequired",
    429: "HTTPTooManyRequests", 431: "HTTPRequestHeaderFieldsTooLarge",
    451: "HTTPUnavailableForLegalReasons",
    500: "HTTPInternalServerError", 501: "HTTPNotImplemented", 502: "HTTPBadGateway",
    503: "HTTPServiceUnavailable", 504: "HTTPGatewayTimeout",
    505: "HTTPVersionNotSupported", 506: "HTTPVariantAlsoNegotiates",
    507: "HTTPInsufficientStorage", 508: "HTTPLoopDetected", 510: "HTTPNotExtended",
    511: "HTTPNetworkAuthenticationRequired",
}  # fmt: skip


def make(cls: type[HTTPException], **kwargs: Any) -> HTTPException:
    """Build any exception class with the arguments its signature needs."""
    if cls in REDIRECTS:
        return cls("/target", **kwargs)  # type: ignore[call-arg,arg-type]
    if cls is web.HTTPMethodNotAllowed:
        return cls("PATCH", ["GET", "POST"], **kwargs)  # type: ignore[call-arg,arg-type]
    return cls(**kwargs)


ALL = sorted(STATUS_TABLE.items())


def test_status_table_matches_the_seed_and_3x_names() -> None:
    assert {code: cls.__name__ for code, cls in STATUS_TABLE.items()} == EXPECTED
    for cls in STATUS_TABLE.values():
        assert getattr(web, cls.__name__) is cls
        assert cls.__name__ in web_exceptions.__all__


@pytest.mark.parametrize(("code", "cls"), ALL, ids=[c.__name__ for _, c in ALL])
def test_class_status_agrees_with_http_status(code: int, cls: type[HTTPException]) -> None:
    exc = make(cls)
    assert cls.status_code == code == exc.status == exc.status_code
    assert exc.reason == HTTPStatus(code).phrase
    assert isinstance(exc, web.Response) and isinstance(exc, Exception)
    family = {2: web.HTTPSuccessful, 3: web.HTTPRedirection, 4: web.HTTPClientError}
    assert isinstance(exc, family.get(code // 100, web.HTTPServerError))
    if code >= 400:
        assert isinstance(exc, web.HTTPError)


@pytest.mark.parametrize(("code", "cls"), ALL, ids=[c.__name__ for _, c in ALL])
def test_default_body_is_status_and_reason(code: int, cls: type[HTTPException]) -> None:
    exc = make(cls)
    if code in EMPTY or code == 205:
        assert exc.body is None
    else:
        assert exc.text == f"{code}: {HTTPStatus(code).phrase}"
        assert exc.content_type == "text/plain"


@pytest.mark.parametrize(("code", "cls"), ALL, ids=[c.__name__ for _, c in ALL])
def test_constructor_takes_the_seed_keywords(code: int, cls: type[HTTPException]) -> None:
    params = inspect.signature(cls).parameters
    if cls not in (web.HTTPRequestEntityTooLarge, web.HTTPUnavailableForLegalReasons):
        for name in ("headers", "reason", "body", "text", "content_type"):
            assert params[name].kind is inspect.Parameter.KEYWORD_ONLY
    exc = make(cls, headers={"X-A": "1"}, reason="Custom", text="hi", content_type="text/html")
    assert exc.headers["X-A"] == "1"
    assert exc.reason == "Custom" and str(exc) == "Custom"
    assert exc.text == "hi"
    assert exc.content_type == "text/html"


def test_custom_reason_appears_in_default_text() -> None:
    assert web.HTTPNotFound(reason="Nope").text == "404: Nope"


def test_body_and_text_together_are_refused() -> None:
    with pytest.raises(ValueError):
        web.HTTPBadRequest(body=b"x", text="y")


@pytest.mark.parametrize("cls", [cls for _, cls in ALL if cls in REDIRECTS])
def test_redirect_sets_location_and_refuses_empty(cls: type[web.HTTPMove]) -> None:
    exc = cls("/new?a=1")
    assert exc.headers["Location"] == "/new?a=1"
    assert exc.location == "/new?a=1"
    with pytest.raises(ValueError):
        cls("")


def test_redirect_location_with_crlf_is_refused() -> None:
    with pytest.raises(ValueError):
        web.HTTPFound("/x\r\nSet-Cookie: a=b")


def test_method_not_allowed_sets_allow_from_any_iterable() -> None:
    exc = web.HTTPMethodNotAllowed("put", (m for m in ["POST", "GET"]))
    assert exc.headers["Allow"] == "GET,POST"
    assert exc.allowed_methods == {"GET", "POST"}
    assert exc.method == "PUT"


def test_entity_too_large_works_with_and_without_sizes() -> None:
    assert web.HTTPRequestEntityTooLarge().text == "413: Request Entity Too Large"
    exc = web.HTTPRequestEntityTooLarge(max_size=10, actual_size=20)
    assert exc.text is not None and "10" in exc.text and "20" in exc.text


def test_unavailable_for_legal_reasons_link() -> None:
    exc = web.HTTPUnavailableForLegalReasons("https://example.org/why")
    assert exc.headers["Link"] == '<https://example.org/why>; rel="blocked-by"'
    assert str(exc.link) == "https://example.org/why"
    assert web.HTTPUnavailableForLegalReasons().link is None


def test_reason_with_crlf_is_refused() -> None:
    with pytest.raises(ValueError):
        web.HTTPNotFound(reason="x\r\nX-Evil: 1")


def test_exceptions_are_hashable_and_truthy() -> None:
    exc = web.HTTPNotFound()
    assert exc and {exc: 1}[exc] == 1
    assert repr(exc) == "<HTTPNotFound: Not Found>"


def _handler_for(cls: type[HTTPException], mode: str) -> Any:
    async def handler(request: web.Request) -> web.StreamResponse:
        exc = make(cls)
        if mode == "raise":
            raise exc
        return exc

    return handler


@pytest.mark.parametrize("mode", ["raise", "return"])
async def test_every_exception_raised_or_returned_over_a_socket(
    aioweb_client: Any, mode: str
) -> None:
    app = web.Application()
    for code, cls in ALL:
        app.router.add_route("*", f"/{code}", _handler_for(cls, mode))
    client = await aioweb_client(app)
    for code, _cls in ALL:
        resp = await client.get(f"/{code}", allow_redirects=False)
        assert resp.status == code, code
        body = await resp.read()
        if code in EMPTY:
            assert body == b""
            assert "Content-Length" not in resp.headers
        elif code != 205:
            assert body == f"{code}: {HTTPStatus(code).phrase}".encode()
            assert resp.headers["Content-Type"] == "text/plain; charset=utf-8"
        if code in {c.status_code for c in REDIRECTS}:
            assert resp.headers["Location"] == "/target"
        if code == 405:
            assert resp.headers["Allow"] == "GET,POST"


async def test_seed_redirect_snippets_behave_the_same(aioweb_client: Any) -> None:
    async def returned(request: web.Request) -> web.StreamResponse:
        return web.HTTPFound("/redirect")

    async def raised(request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound("/redirect")

    app = web.Application()
    app.router.add_get("/a", returned)
    app.router.add_get("/b", raised)
    client = await aioweb_client(app)
    a = await client.get("/a", allow_redirects=False)
    b = await client.get("/b", allow_redirects=False)
    assert (a.status, a.headers["Location"]) == (b.status, b.headers["Location"]) == (
        302,
        "/redirect",
    )
    assert await a.read() == await b.read() == b"302: Found"


async def test_raised_exception_headers_reach_the_client(aioweb_client: Any) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        raise web.HTTPUnauthorized(headers={"WWW-Authenticate": 'Basic realm="x"'})

    app = web.Application()
    app.router.add_get("/", handler)
    client = await aioweb_client(app)
    resp = await client.get("/")
    assert resp.status == 401
    assert resp.headers["WWW-Authenticate"] == 'Basic realm="x"'
