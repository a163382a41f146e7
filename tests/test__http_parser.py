"""RequestParser fed with bytes: framing, limits, smuggling shapes (no sockets).

Every parser test runs against both implementations: the compiled one
(``aioweb._http_parser_c``, skipped only when it was not built) and the pure
Python reference (``PyRequestParser``); ``test_implementations_agree`` also
compares them event for event.
"""

from __future__ import annotations

import gc
import os
from typing import Any

import pytest
from conftest import origin_module

from aioweb import _http_parser
from aioweb._http_parser import PyRequestParser, RawRequestMessage, UpgradeRequest
from aioweb.http_exceptions import (
    HeadersTooLarge,
    HttpProcessingError,
    LineTooLong,
    TransferEncodingError,
    VersionNotSupported,
)

CRequestParser: Any
try:
    from aioweb._http_parser_c import RequestParser as CRequestParser
except ImportError:  # not built: the compiled params are skipped
    CRequestParser = None

ParserClass = Any  # either RequestParser class: same constructor and surface
needs_compiled = pytest.mark.skipif(
    CRequestParser is None, reason="aioweb._http_parser_c is not built"
)


@pytest.fixture(
    params=[
        pytest.param(CRequestParser, id="compiled", marks=needs_compiled),
        pytest.param(PyRequestParser, id="pure"),
    ]
)
def parser_cls(request: pytest.FixtureRequest) -> ParserClass:
    return request.param


class Sink:
    """Records what the parser reports."""

    def __init__(self) -> None:
        self.heads: list[RawRequestMessage] = []
        self.bodies: list[bytes] = []
        self.completed = 0

    def on_head(self, message: RawRequestMessage) -> None:
        self.heads.append(message)
        self.bodies.append(b"")

    def on_body(self, data: bytes) -> None:
        self.bodies[-1] += data

    def on_message_complete(self) -> None:
        self.completed += 1


def parse(parser_cls: ParserClass, data: bytes, **limits: int) -> Sink:
    sink = Sink()
    parser_cls(sink, **limits).feed(data)
    return sink


def test_a_reported_head_leaves_nothing_of_itself_in_the_parser(parser_cls: ParserClass) -> None:
    """The message owns its target and fields: an idle connection's parser holds none.

    A browser's head is a kilobyte or more; kept until the next request, it
    would be held by every idle keep-alive connection.
    """
    sink = Sink()
    parser = parser_cls(sink)
    fields = b"".join(b"X-Field-%d: value %d\r\n" % (i, i) for i in range(20))
    parser.feed(b"GET /some/long/target HTTP/1.1\r\nHost: x\r\n" + fields + b"\r\n")
    message = sink.heads[0]
    assert len(message.raw_headers) == 21
    held = gc.get_referents(parser)
    held += [item for obj in held if isinstance(obj, (list, tuple)) for item in obj]
    assert not any(field is obj for field in message.raw_headers for obj in held)
    assert not any(isinstance(obj, bytes) and b"/some/long/target" in obj for obj in held)
    # and the next request on the connection is assembled whole
    parser.feed(b"GET /next HTTP/1.1\r\nHost: y\r\n\r\n")
    assert sink.heads[1].path == "/next" and sink.heads[1].raw_headers == ((b"Host", b"y"),)


def test_simple_get_head_is_assembled(parser_cls: ParserClass) -> None:
    sink = parse(parser_cls, b"GET /a?b=1 HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n\r\n")
    (msg,) = sink.heads
    assert (msg.method, msg.path, msg.version) == ("GET", "/a?b=1", (1, 1))
    assert msg.raw_headers == ((b"Host", b"x"), (b"X-A", b"1"))
    assert not msg.should_close and not msg.chunked and not msg.upgrade
    assert msg.content_length is None and not msg.has_body
    assert sink.completed == 0  # no body: the message ends with its head


@pytest.mark.parametrize(
    ("head", "should_close"),
    [
        (b"GET / HTTP/1.1\r\n\r\n", False),
        (b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n", True),
        (b"GET / HTTP/1.1\r\nConnection: Close\r\n\r\n", True),
        (b"GET / HTTP/1.0\r\n\r\n", True),
        (b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", False),
        (b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", False),
    ],
)
def test_keep_alive_follows_version_and_connection(
    parser_cls: ParserClass, head: bytes, should_close: bool
) -> None:
    assert parse(parser_cls, head).heads[0].should_close is should_close


@pytest.mark.parametrize(
    ("target",),
    [(b"*",), (b"http://host/x?y=1",), (b"/%00%ff",), (b"/a//b/../c",), (b"host:443",)],
)
def test_request_target_is_kept_raw(parser_cls: ParserClass, target: bytes) -> None:
    method = b"CONNECT" if target == b"host:443" else b"OPTIONS"
    data = method + b" " + target + b" HTTP/1.1\r\nHost: x\r\n\r\n"
    sink = Sink()
    try:
        parser_cls(sink).feed(data)
    except UpgradeRequest:
        pass  # CONNECT stops parsing after its head
    assert sink.heads[0].path == target.decode()


def test_pipelined_requests_arrive_in_order(parser_cls: ParserClass) -> None:
    data = b"".join(b"GET /%d HTTP/1.1\r\n\r\n" % i for i in range(5))
    assert [m.path for m in parse(parser_cls, data).heads] == [f"/{i}" for i in range(5)]


def test_head_split_across_reads(parser_cls: ParserClass) -> None:
    sink = Sink()
    parser = parser_cls(sink)
    data = b"POST /split HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
    for i in range(len(data)):
        parser.feed(data[i : i + 1])
        assert parser.in_head == (i < data.index(b"\r\n\r\n") + 3)
    assert sink.heads[0].path == "/split"
    assert sink.heads[0].raw_headers == ((b"Host", b"x"), (b"Content-Length", b"5"))
    assert sink.bodies == [b"hello"] and sink.completed == 1


def test_content_length_body(parser_cls: ParserClass) -> None:
    sink = parse(
        parser_cls, b"POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabcGET / HTTP/1.1\r\n\r\n"
    )
    assert sink.heads[0].content_length == 3
    assert sink.bodies == [b"abc", b""]
    assert sink.completed == 1  # only the message with a body reports its end


@pytest.mark.parametrize(
    ("chunks", "body"),
    [
        (b"3\r\nabc\r\n0\r\n\r\n", b"abc"),
        (b'3;ext=1\r\nabc\r\n2;a=b;c="d"\r\nde\r\n0\r\n\r\n', b"abcde"),
        (b"3\r\nabc\r\n0\r\nX-Trailer: 1\r\nX-Other: 2\r\n\r\n", b"abc"),
        (b"A\r\n0123456789\r\n0\r\n\r\n", b"0123456789"),
        (b"0\r\n\r\n", b""),
    ],
)
def test_chunked_body_with_extensions_and_trailers(
    parser_cls: ParserClass, chunks: bytes, body: bytes
) -> None:
    head = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
    sink = parse(parser_cls, head + chunks)
    assert sink.heads[0].chunked and sink.heads[0].has_body
    assert sink.bodies == [body] and sink.completed == 1


def test_trailers_do_not_leak_into_next_request(parser_cls: ParserClass) -> None:
    data = (
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"1\r\na\r\n0\r\nX-Trailer: 1\r\nExpect: 100-continue\r\n\r\n"
        b"GET /next HTTP/1.1\r\nA: b\r\n\r\n"
    )
    first, second = parse(parser_cls, data).heads
    assert second.raw_headers == ((b"A", b"b"),)
    assert second.expect is None and not second.chunked
    assert first.raw_headers == ((b"Transfer-Encoding", b"chunked"),)


def test_expect_header_is_reported(parser_cls: ParserClass) -> None:
    msg = parse(
        parser_cls, b"POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n"
    ).heads[0]
    assert msg.expect == b"100-continue"


def test_upgrade_stops_parsing_and_returns_tail(parser_cls: ParserClass) -> None:
    sink = Sink()
    parser = parser_cls(sink)
    with pytest.raises(UpgradeRequest) as info:
        parser.feed(b"GET / HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n\x81\x00")
    assert info.value.tail == b"\x81\x00"
    assert sink.heads[0].upgrade


BAD_REQUESTS = [
    # (id, bytes, status)
    ("http09", b"GET /\r\n\r\n", 505),
    ("http09-version", b"GET / HTTP/0.9\r\n\r\n", 505),
    ("http2-line", b"GET / HTTP/2.0\r\n\r\n", 505),
    ("http12", b"GET / HTTP/1.2\r\n\r\n", 505),
    ("http3", b"GET / HTTP/3.0\r\n\r\n", 505),
    ("h2-preface", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 400),
    (
        "cl-and-te",
        b"POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
        400,
    ),
    (
        "te-and-cl",
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
        400,
    ),
    (
        "duplicate-cl-same",
        b"POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n",
        400,
    ),
    (
        "duplicate-cl-differ",
        b"POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n",
        400,
    ),
    ("cl-plus", b"POST / HTTP/1.1\r\nContent-Length: +3\r\n\r\n", 400),
    ("cl-minus", b"POST / HTTP/1.1\r\nContent-Length: -3\r\n\r\n", 400),
    ("cl-junk", b"POST / HTTP/1.1\r\nContent-Length: 3x\r\n\r\n", 400),
    ("cl-hex", b"POST / HTTP/1.1\r\nContent-Length: 0x3\r\n\r\n", 400),
    ("cl-list", b"POST / HTTP/1.1\r\nContent-Length: 3,3\r\n\r\n", 400),
    ("cl-space", b"POST / HTTP/1.1\r\nContent-Length: 3 3\r\n\r\n", 400),
    ("cl-empty", b"POST / HTTP/1.1\r\nContent-Length: \r\n\r\n", 400),
    ("cl-overflow", b"POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n", 400),
    (
        "te-chunked-identity",
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked, identity\r\n\r\n",
        400,
    ),
    (
        "te-identity-chunked",
        b"POST / HTTP/1.1\r\nTransfer-Encoding: identity, chunked\r\n\r\n",
        400,
    ),
    ("te-xchunked", b"POST / HTTP/1.1\r\nTransfer-Encoding: xchunked\r\n\r\n", 400),
    ("te-gzip", b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 400),
    (
        "te-twice",
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
        400,
    ),
    ("te-http10", b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
    ("obs-fold", b"GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n", 400),
    ("bare-lf", b"GET / HTTP/1.1\nHost: x\n\n", 400),
    ("space-before-colon", b"GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400),
    ("nul-in-name", b"GET / HTTP/1.1\r\nHo\x00st: x\r\n\r\n", 400),
    ("nul-in-value", b"GET / HTTP/1.1\r\nHost: x\x00y\r\n\r\n", 400),
    ("nul-in-target", b"GET /a\x00b HTTP/1.1\r\n\r\n", 400),
    ("space-in-target", b"GET /a b HTTP/1.1\r\n\r\n", 400),
    ("empty-header-name", b"GET / HTTP/1.1\r\n: v\r\n\r\n", 400),
    ("unknown-method", b"FOO / HTTP/1.1\r\n\r\n", 400),
    ("lowercase-method", b"get / HTTP/1.1\r\n\r\n", 400),
    ("tls-hello", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 400),
    ("bad-chunk-size", b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n", 400),
    ("chunk-overrun", b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n", 400),
    ("long-target", b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\n\r\n", 414),
    ("long-header", b"GET / HTTP/1.1\r\nX: " + b"a" * 9000 + b"\r\n\r\n", 431),
    ("many-headers", b"GET / HTTP/1.1\r\n" + b"X: a\r\n" * 129 + b"\r\n", 431),
    (
        "big-header-block",
        b"GET / HTTP/1.1\r\n"
        + b"X: "
        + b"a" * 8000
        + b"\r\n" * 1
        + (b"Y: " + b"b" * 8000 + b"\r\n") * 8
        + b"\r\n",
        431,
    ),
]


@pytest.mark.parametrize(("data", "status"), [pytest.param(d, s, id=i) for i, d, s in BAD_REQUESTS])
def test_bad_requests_raise_with_status(parser_cls: ParserClass, data: bytes, status: int) -> None:
    with pytest.raises(HttpProcessingError) as info:
        parse(parser_cls, data)
    assert info.value.code == status


@pytest.mark.parametrize(("data", "status"), [pytest.param(d, s, id=i) for i, d, s in BAD_REQUESTS])
def test_bad_requests_fail_the_same_when_fed_bytewise(
    parser_cls: ParserClass, data: bytes, status: int
) -> None:
    parser = parser_cls(Sink())
    with pytest.raises(HttpProcessingError) as info:
        for i in range(len(data)):
            parser.feed(data[i : i + 1])
    assert info.value.code == status


def test_error_classes_carry_status() -> None:
    assert LineTooLong().code == 414
    assert HeadersTooLarge().code == 431
    assert TransferEncodingError().code == 400
    assert VersionNotSupported().code == 505
    assert HttpProcessingError("x", code=418).code == 418


def test_header_line_without_crlf_is_bounded(parser_cls: ParserClass) -> None:
    """llhttp keeps an open header line; the parser refuses it past the head limit."""
    parser = parser_cls(Sink(), max_head_size=65536)
    parser.feed(b"GET / HTTP/1.1\r\nX-Huge: ")
    fed = 0
    with pytest.raises(HeadersTooLarge):
        while fed < 10 * 65536:
            parser.feed(b"a" * 4096)
            fed += 4096
    # Bounded by the raw size of the largest legal head plus one read.
    assert fed <= 65536 + parser.max_line_size + 4 * parser.max_headers + 32 + 4096


def test_trailer_line_without_crlf_is_bounded(parser_cls: ParserClass) -> None:
    sink = Sink()
    parser = parser_cls(sink, max_head_size=16384)
    parser.feed(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\nX-T: ")
    with pytest.raises(HeadersTooLarge):
        for _ in range(100):
            parser.feed(b"a" * 1024)
    assert sink.bodies == [b"a"] and sink.completed == 0


def test_large_pipelined_body_does_not_count_towards_head_limit(parser_cls: ParserClass) -> None:
    """A read that ends a big body and starts the next head is not a huge head."""
    sink = Sink()
    parser = parser_cls(sink)
    body = b"x" * 200_000
    parser.feed(
        b"POST / HTTP/1.1\r\nContent-Length: 200000\r\n\r\n" + body + b"GET /2 HTTP/1.1\r\nHo"
    )
    parser.feed(b"st: y\r\n\r\n")
    assert [m.path for m in sink.heads] == ["/", "/2"]
    assert sink.bodies[0] == body


def test_slow_body_is_not_a_stalled_head(parser_cls: ParserClass) -> None:
    sink = Sink()
    parser = parser_cls(sink, max_head_size=1024)
    parser.feed(b"POST / HTTP/1.1\r\nContent-Length: 100000\r\n\r\n")
    for _ in range(100):
        parser.feed(b"y" * 1000)
    assert sink.bodies == [b"y" * 100_000] and sink.completed == 1


def test_custom_limits_apply(parser_cls: ParserClass) -> None:
    with pytest.raises(LineTooLong):
        parse(parser_cls, b"GET /" + b"a" * 100 + b" HTTP/1.1\r\n\r\n", max_line_size=50)
    with pytest.raises(HeadersTooLarge):
        parse(parser_cls, b"GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", max_headers=2)
    assert (
        len(parse(parser_cls, b"GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\n\r\n", max_headers=2).heads) == 1
    )


def test_unknown_but_valid_methods_are_decoded(parser_cls: ParserClass) -> None:
    assert parse(parser_cls, b"PROPFIND / HTTP/1.1\r\n\r\n").heads[0].method == "PROPFIND"
    assert parse(parser_cls, b"PATCH / HTTP/1.1\r\n\r\n").heads[0].method == "PATCH"


MESSAGE_TYPES = {
    "method": str,
    "path": str,
    "version": tuple,
    "raw_headers": tuple,
    "should_close": bool,
    "upgrade": bool,
    "chunked": bool,
}


def test_message_is_a_plain_raw_request_message(parser_cls: ParserClass) -> None:
    head = b"POST /p?q HTTP/1.1\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\nhi"
    (msg,) = parse(parser_cls, head).heads
    assert type(msg) is RawRequestMessage
    for name, kind in MESSAGE_TYPES.items():
        assert type(getattr(msg, name)) is kind, name
    assert type(msg.content_length) is int and type(msg.expect) is bytes
    assert all(type(n) is bytes and type(v) is bytes for n, v in msg.raw_headers)
    assert repr(msg) == "<RawRequestMessage POST /p?q HTTP/1.1>"
    msg.path = "/other"  # the protocol layer and tests may rewrite fields
    assert msg.path == "/other" and msg.has_body


def test_limits_are_readable(parser_cls: ParserClass) -> None:
    parser = parser_cls(Sink(), max_line_size=1, max_field_size=2, max_headers=3, max_head_size=4)
    limits = (parser.max_line_size, parser.max_field_size, parser.max_headers, parser.max_head_size)
    assert limits == (1, 2, 3, 4)
    assert parser.in_head is False


class RaisingSink(Sink):
    def on_head(self, message: RawRequestMessage) -> None:
        raise RuntimeError("sink failed")


def test_sink_error_is_a_bad_request_and_sticks(parser_cls: ParserClass) -> None:
    parser = parser_cls(RaisingSink())
    for _ in range(2):
        with pytest.raises(HttpProcessingError) as info:
            parser.feed(b"GET / HTTP/1.1\r\n\r\n")
        assert info.value.code == 400


CONNECTION_FIELDS = [
    b"",
    b"Connection: close\r\n",
    b"Connection: keep-alive\r\n",
    b"connection: Keep-Alive, TE\r\n",
    b"Proxy-Connection: keep-alive\r\n",
    b"Keep-Alive: timeout=5\r\n",
]


def test_version_comes_from_the_request_line(parser_cls: ParserClass) -> None:
    """Every HTTP/x.y with every Connection shape: 1.0 and 1.1 parse as such, the rest fail.

    The compiled parser infers 1.1 from llhttp's keep-alive answer when no
    Connection field was sent; this table is what keeps that inference honest.
    """
    for x in range(10):
        for y in range(10):
            for field in CONNECTION_FIELDS:
                data = b"GET / HTTP/%d.%d\r\nHost: h\r\n%s\r\n" % (x, y, field)
                try:
                    (msg,) = parse(parser_cls, data).heads
                except HttpProcessingError as exc:
                    assert (x, y) not in ((1, 0), (1, 1)) and exc.code == 505, data
                else:
                    assert msg.version == (x, y), data


def trace(parser_cls: ParserClass, data: bytes, step: int) -> list[object]:
    """Everything a parser reports for ``data`` fed ``step`` bytes at a time."""
    events: list[object] = []

    class Recorder:
        def on_head(self, m: RawRequestMessage) -> None:
            fields = [getattr(m, name) for name in RawRequestMessage.__slots__]
            events.append(("head", fields, [type(f) for f in fields]))

        def on_body(self, data: bytes) -> None:
            events.append(("body", data))

        def on_message_complete(self) -> None:
            events.append(("complete",))

    parser = parser_cls(Recorder(), max_headers=16, max_head_size=4096)
    try:
        for i in range(0, len(data), step):
            parser.feed(data[i : i + step])
            events.append(("fed", parser.in_head))
    except UpgradeRequest as exc:
        events.append(("upgrade", exc.tail))
    except HttpProcessingError as exc:
        events.append((type(exc), str(exc), exc.code))
    return events


AGREE_CASES = [pytest.param(d, id=i) for i, d, _ in BAD_REQUESTS] + [
    pytest.param(d, id=i)
    for i, d in [
        ("get", b"GET /a?b HTTP/1.1\r\nHost: x\r\nUser-Agent: wrk\r\n\r\n"),
        ("http10", b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET / HTTP/1.0\r\n\r\n"),
        ("close", b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n"),
        ("proxy-conn", b"GET / HTTP/1.0\r\nProxy-Connection: keep-alive\r\n\r\n"),
        ("post-cl", b"POST / HTTP/1.1\r\ncontent-LENGTH: 5\r\n\r\nhelloGET /2 HTTP/1.1\r\n\r\n"),
        (
            "chunked",
            b"PUT / HTTP/1.1\r\nTransfer-Encoding:  Chunked \r\n\r\n2\r\nab\r\n0\r\nT: 1\r\n\r\n",
        ),
        ("expect", b"POST / HTTP/1.1\r\nEXPECT: 100-continue\r\nContent-Length: 1\r\n\r\nx"),
        ("upgrade", b"GET / HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: ws\r\n\r\n\x81\x00"),
        ("connect", b"CONNECT h:443 HTTP/1.1\r\nHost: h\r\n\r\nTLS"),
        (
            "methods",
            b"PROPFIND / HTTP/1.1\r\n\r\nM-SEARCH * HTTP/1.1\r\n\r\nDELETE / HTTP/1.1\r\n\r\n",
        ),
        ("utf8-target", "GET /é/%C3%A9 HTTP/1.1\r\n\r\n".encode()),
        ("crlf-between", b"GET / HTTP/1.1\r\n\r\n\r\nGET /2 HTTP/1.1\r\n\r\n"),
        ("many-fields", b"GET / HTTP/1.1\r\n" + b"X: 1\r\n" * 17 + b"\r\n"),
        ("head-size", b"GET / HTTP/1.1\r\n" + b"X: " + b"a" * 4094 + b"\r\n\r\n"),
        (
            "trailer-size",
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nT: " + b"a" * 5000,
        ),
        ("open-line", b"GET / HTTP/1.1\r\nX: " + b"a" * 20000),
    ]
]


@needs_compiled
@pytest.mark.parametrize("data", AGREE_CASES)
@pytest.mark.parametrize("step", [1, 7, 1 << 20])
def test_implementations_agree(data: bytes, step: int) -> None:
    """Same events, message fields (values and types), in_head, errors and texts."""
    assert trace(CRequestParser, data, step) == trace(PyRequestParser, data, step)


@needs_compiled
def test_compiled_message_skips_python_init() -> None:
    """The fast fill of RawRequestMessage is on; a change to that class must keep it so."""
    from aioweb import _http_parser_c

    assert _http_parser_c.MESSAGE_FAST_PATH is True


def selected_parser_module(env: dict[str, str], first_import: str = "") -> str:
    return origin_module("aioweb._http_parser", "RequestParser", env, first_import)


@needs_compiled
def test_compiled_parser_is_selected_by_default() -> None:
    assert selected_parser_module({}) == "aioweb._http_parser_c"
    assert selected_parser_module({"AIOWEB_NO_EXTENSIONS": ""}) == "aioweb._http_parser_c"
    # Importing the extension first (it imports _http_parser back) changes nothing.
    first = "import aioweb._http_parser_c; "
    assert selected_parser_module({}, first) == "aioweb._http_parser_c"


def test_no_extensions_selects_the_pure_parser() -> None:
    assert selected_parser_module({"AIOWEB_NO_EXTENSIONS": "1"}) == "aioweb._http_parser"


def test_this_process_uses_the_expected_parser() -> None:
    pure = bool(os.environ.get("AIOWEB_NO_EXTENSIONS")) or CRequestParser is None
    assert _http_parser.RequestParser is (PyRequestParser if pure else CRequestParser)


@pytest.mark.skipif(
    os.environ.get("AIOWEB_REQUIRE_EXTENSIONS") != "1"
    or bool(os.environ.get("AIOWEB_NO_EXTENSIONS")),
    reason="only where the build must have compiled the extensions (AIOWEB_REQUIRE_EXTENSIONS=1)",
)
def test_compiled_parser_is_built_when_required() -> None:
    assert CRequestParser is not None, "aioweb._http_parser_c did not build"
    assert _http_parser.RequestParser is CRequestParser
