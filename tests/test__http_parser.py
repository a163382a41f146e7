"""RequestParser fed with bytes: framing, limits, smuggling shapes (no sockets)."""

from __future__ import annotations

import pytest

from aioweb._http_parser import RawRequestMessage, RequestParser, UpgradeRequest
from aioweb.http_exceptions import (
    HeadersTooLarge,
    HttpProcessingError,
    LineTooLong,
    TransferEncodingError,
    VersionNotSupported,
)


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


def parse(data: bytes, **limits: int) -> Sink:
    sink = Sink()
    RequestParser(sink, **limits).feed(data)
    return sink


def test_simple_get_head_is_assembled() -> None:
    sink = parse(b"GET /a?b=1 HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n\r\n")
    (msg,) = sink.heads
    assert (msg.method, msg.path, msg.version) == ("GET", "/a?b=1", (1, 1))
    assert msg.raw_headers == ((b"Host", b"x"), (b"X-A", b"1"))
    assert not msg.should_close and not msg.chunked and not msg.upgrade
    assert msg.content_length is None and not msg.has_body
    assert sink.completed == 1


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
def test_keep_alive_follows_version_and_connection(head: bytes, should_close: bool) -> None:
    assert parse(head).heads[0].should_close is should_close


@pytest.mark.parametrize(
    ("target",),
    [(b"*",), (b"http://host/x?y=1",), (b"/%00%ff",), (b"/a//b/../c",), (b"host:443",)],
)
def test_request_target_is_kept_raw(target: bytes) -> None:
    method = b"CONNECT" if target == b"host:443" else b"OPTIONS"
    data = method + b" " + target + b" HTTP/1.1\r\nHost: x\r\n\r\n"
    sink = Sink()
    try:
        RequestParser(sink).feed(data)
    except UpgradeRequest:
        pass  # CONNECT stops parsing after its head
    assert sink.heads[0].path == target.decode()


def test_pipelined_requests_arrive_in_order() -> None:
    data = b"".join(b"GET /%d HTTP/1.1\r\n\r\n" % i for i in range(5))
    assert [m.path for m in parse(data).heads] == [f"/{i}" for i in range(5)]


def test_head_split_across_reads() -> None:
    sink = Sink()
    parser = RequestParser(sink)
    data = b"POST /split HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
    for i in range(len(data)):
        parser.feed(data[i : i + 1])
        assert parser.in_head == (i < data.index(b"\r\n\r\n") + 3)
    assert sink.heads[0].path == "/split"
    assert sink.heads[0].raw_headers == ((b"Host", b"x"), (b"Content-Length", b"5"))
    assert sink.bodies == [b"hello"] and sink.completed == 1


def test_content_length_body() -> None:
    sink = parse(b"POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabcGET / HTTP/1.1\r\n\r\n")
    assert sink.heads[0].content_length == 3
    assert sink.bodies == [b"abc", b""]
    assert sink.completed == 2


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
def test_chunked_body_with_extensions_and_trailers(chunks: bytes, body: bytes) -> None:
    head = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
    sink = parse(head + chunks)
    assert sink.heads[0].chunked and sink.heads[0].has_body
    assert sink.bodies == [body] and sink.completed == 1


def test_trailers_do_not_leak_into_next_request() -> None:
    data = (
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"1\r\na\r\n0\r\nX-Trailer: 1\r\nExpect: 100-continue\r\n\r\n"
        b"GET /next HTTP/1.1\r\nA: b\r\n\r\n"
    )
    first, second = parse(data).heads
    assert second.raw_headers == ((b"A", b"b"),)
    assert second.expect is None and not second.chunked
    assert first.raw_headers == ((b"Transfer-Encoding", b"chunked"),)


def test_expect_header_is_reported() -> None:
    msg = parse(b"POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n").heads[0]
    assert msg.expect == b"100-continue"


def test_upgrade_stops_parsing_and_returns_tail() -> None:
    sink = Sink()
    parser = RequestParser(sink)
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
def test_bad_requests_raise_with_status(data: bytes, status: int) -> None:
    with pytest.raises(HttpProcessingError) as info:
        parse(data)
    assert info.value.code == status


@pytest.mark.parametrize(("data", "status"), [pytest.param(d, s, id=i) for i, d, s in BAD_REQUESTS])
def test_bad_requests_fail_the_same_when_fed_bytewise(data: bytes, status: int) -> None:
    parser = RequestParser(Sink())
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


def test_header_line_without_crlf_is_bounded() -> None:
    """llhttp keeps an open header line; the parser refuses it past the head limit."""
    parser = RequestParser(Sink(), max_head_size=65536)
    parser.feed(b"GET / HTTP/1.1\r\nX-Huge: ")
    fed = 0
    with pytest.raises(HeadersTooLarge):
        while fed < 10 * 65536:
            parser.feed(b"a" * 4096)
            fed += 4096
    # Bounded by the raw size of the largest legal head plus one read.
    assert fed <= 65536 + parser.max_line_size + 4 * parser.max_headers + 32 + 4096


def test_trailer_line_without_crlf_is_bounded() -> None:
    sink = Sink()
    parser = RequestParser(sink, max_head_size=16384)
    parser.feed(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\nX-T: ")
    with pytest.raises(HeadersTooLarge):
        for _ in range(100):
            parser.feed(b"a" * 1024)
    assert sink.bodies == [b"a"] and sink.completed == 0


def test_large_pipelined_body_does_not_count_towards_head_limit() -> None:
    """A read that ends a big body and starts the next head is not a huge head."""
    sink = Sink()
    parser = RequestParser(sink)
    body = b"x" * 200_000
    parser.feed(
        b"POST / HTTP/1.1\r\nContent-Length: 200000\r\n\r\n" + body + b"GET /2 HTTP/1.1\r\nHo"
    )
    parser.feed(b"st: y\r\n\r\n")
    assert [m.path for m in sink.heads] == ["/", "/2"]
    assert sink.bodies[0] == body


def test_slow_body_is_not_a_stalled_head() -> None:
    sink = Sink()
    parser = RequestParser(sink, max_head_size=1024)
    parser.feed(b"POST / HTTP/1.1\r\nContent-Length: 100000\r\n\r\n")
    for _ in range(100):
        parser.feed(b"y" * 1000)
    assert sink.bodies == [b"y" * 100_000] and sink.completed == 1


def test_custom_limits_apply() -> None:
    with pytest.raises(LineTooLong):
        parse(b"GET /" + b"a" * 100 + b" HTTP/1.1\r\n\r\n", max_line_size=50)
    with pytest.raises(HeadersTooLarge):
        parse(b"GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", max_headers=2)
    assert len(parse(b"GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\n\r\n", max_headers=2).heads) == 1


def test_unknown_but_valid_methods_are_decoded() -> None:
    assert parse(b"PROPFIND / HTTP/1.1\r\n\r\n").heads[0].method == "PROPFIND"
    assert parse(b"PATCH / HTTP/1.1\r\n\r\n").heads[0].method == "PATCH"
