"""Bytes-fed tests for the sans-IO WebSocket codec (aioweb._websocket)."""

from __future__ import annotations

import os
import random
import zlib
from typing import Any

import pytest
from conftest import origin_module
from websockets import frames as ws_frames
from websockets import streams as ws_streams
from websockets.extensions import permessage_deflate as ws_pmd
from websockets.headers import build_extension, parse_extension

from aioweb import _websocket
from aioweb._websocket import (
    DeflateParams,
    Deflater,
    FrameReader,
    FrameWriter,
    Inflater,
    WebSocketError,
    WSCloseCode,
    WSMessage,
    WSMsgType,
    apply_mask,
    build_close,
    build_frame,
    is_valid_close_code,
    negotiate_deflate,
    parse_extensions,
)

try:
    from aioweb._websocket_c import FrameReader as CFrameReader
except ImportError:  # built without a compiler
    CFrameReader = None

PyFrameReader = _websocket.PyFrameReader
needs_compiled = pytest.mark.skipif(
    CFrameReader is None, reason="aioweb._websocket_c is not built"
)


@pytest.fixture(
    params=[
        pytest.param(CFrameReader, id="compiled", marks=needs_compiled),
        pytest.param(PyFrameReader, id="pure"),
    ]
)
def each_reader(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Run a reader test once per implementation.

    The reader tests below name ``FrameReader``; this binds that name in this
    module to the compiled class, then to the pure one.
    """
    monkeypatch.setitem(globals(), "FrameReader", request.param)
    return request.param


both_readers = pytest.mark.usefixtures("each_reader")

MASK = b"\x37\xfa\x21\x3d"


def raw_frame(first: int, payload: bytes, *, masked: bool = True) -> bytes:
    """A frame built independently of build_frame, with any first byte."""
    size = len(payload)
    bit = 0x80 if masked else 0
    if size < 126:
        header = bytes((first, bit | size))
    elif size < 65536:
        header = bytes((first, bit | 126)) + size.to_bytes(2, "big")
    else:
        header = bytes((first, bit | 127)) + size.to_bytes(8, "big")
    if not masked:
        return header + payload
    body = bytes(b ^ MASK[i % 4] for i, b in enumerate(payload))
    return header + MASK + body


def cframe(opcode: int, payload: bytes, *, fin: bool = True, rsv1: bool = False) -> bytes:
    """A client (masked) frame."""
    return build_frame(opcode, payload, fin=fin, rsv1=rsv1, mask=MASK)


def expect_error(data: bytes, code: int, **kwargs: Any) -> WebSocketError:
    reader = FrameReader(**kwargs)
    with pytest.raises(WebSocketError) as info:
        reader.feed(data)
    assert info.value.code == code
    return info.value


def text(s: str) -> WSMessage:
    return WSMessage(WSMsgType.TEXT, s, "")


# -- enums and message ----------------------------------------------------------


def test_enum_values_match_aiohttp() -> None:
    assert [int(t) for t in WSMsgType] == [0x0, 0x1, 0x2, 0x9, 0xA, 0x8, 0x100, 0x101, 0x102]
    assert int(WSCloseCode.OK) == 1000 and int(WSCloseCode.MESSAGE_TOO_BIG) == 1009
    assert int(WSCloseCode.TRY_AGAIN_LATER) == 1013


def test_message_tp_alias_and_json() -> None:
    msg = text('{"a": 1}')
    assert msg.tp is msg.type is WSMsgType.TEXT
    assert msg.json() == {"a": 1}


def test_error_carries_code_and_readable_message() -> None:
    err = WebSocketError(1002, "bad frame")
    assert err.code == 1002
    assert "bad frame" in str(err) and "1002" in str(err)


# -- protocol violations ----------------------------------------------------------

VIOLATIONS = [
    ("unmasked client frame", build_frame(0x1, b"hi"), 1002),
    ("rsv1 without deflate", raw_frame(0x81 | 0x40, b"hi"), 1002),
    ("rsv2", raw_frame(0x81 | 0x20, b"hi"), 1002),
    ("rsv3", raw_frame(0x81 | 0x10, b"hi"), 1002),
    ("ping over 125 bytes", raw_frame(0x89, b"x" * 126), 1002),
    ("close over 125 bytes", raw_frame(0x88, b"\x03\xe8" + b"x" * 124), 1002),
    ("fragmented ping", raw_frame(0x09, b"x"), 1002),
    ("fragmented close", raw_frame(0x08, b"\x03\xe8"), 1002),
    ("continuation without start", cframe(0x0, b"x"), 1002),
    ("text inside fragmented text", cframe(0x1, b"a", fin=False) + cframe(0x1, b"b"), 1002),
    ("binary inside fragmented text", cframe(0x1, b"a", fin=False) + cframe(0x2, b"b"), 1002),
    ("invalid utf-8", cframe(0x1, b"\xff"), 1007),
    ("close payload of one byte", raw_frame(0x88, b"\x03"), 1002),
    ("close code 1005 on the wire", raw_frame(0x88, b"\x03\xed"), 1002),
    ("close reason not utf-8", raw_frame(0x88, b"\x03\xe8\xff"), 1007),
    ("64-bit length high bit", bytes((0x82, 0xFF)) + b"\x80" + bytes(7) + MASK, 1002),
    ("oversized frame", cframe(0x2, b"x" * 11), 1009),
    ("oversized fragments", cframe(0x2, b"x" * 6, fin=False) + cframe(0x0, b"x" * 6), 1009),
]


@both_readers
@pytest.mark.parametrize(
    ("data", "code"), [v[1:] for v in VIOLATIONS], ids=[v[0] for v in VIOLATIONS]
)
def test_protocol_violation_raises_close_code(data: bytes, code: int) -> None:
    expect_error(data, code, max_msg_size=10)


@both_readers
@pytest.mark.parametrize("opcode", [3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF])
def test_unknown_opcode_is_protocol_error(opcode: int) -> None:
    expect_error(raw_frame(0x80 | opcode, b""), 1002)


DEFLATE_VIOLATIONS = [
    ("rsv1 on continuation", cframe(0x1, b"a", fin=False) + raw_frame(0x80 | 0x40, b"b")),
    ("rsv1 on ping", raw_frame(0x89 | 0x40, b"")),
    ("rsv2 with deflate", raw_frame(0x81 | 0x20, b"")),
    ("invalid deflate data", raw_frame(0xC1, b"\xff\xff\xff\xff")),
]


@both_readers
@pytest.mark.parametrize(
    "data", [v[1] for v in DEFLATE_VIOLATIONS], ids=[v[0] for v in DEFLATE_VIOLATIONS]
)
def test_deflate_violation_is_protocol_error(data: bytes) -> None:
    expect_error(data, 1002, compress=True)


@both_readers
def test_client_reader_refuses_masked_server_frame() -> None:
    expect_error(cframe(0x1, b"hi"), 1002, is_server=False)
    assert FrameReader(is_server=False).feed(build_frame(0x1, b"hi")) == [text("hi")]


@both_readers
def test_oversized_frame_is_refused_from_its_header_alone() -> None:
    header = bytes((0x82, 0xFF)) + (1 << 40).to_bytes(8, "big") + MASK
    expect_error(header, 1009)


@both_readers
def test_size_limit_is_inclusive_and_zero_disables_it() -> None:
    assert FrameReader(max_msg_size=10).feed(cframe(0x2, b"x" * 10))[0].data == b"x" * 10
    assert len(FrameReader(max_msg_size=0).feed(cframe(0x2, b"x" * 100_000))[0].data) == 100_000


@both_readers
def test_reader_stays_failed_after_an_error() -> None:
    reader = FrameReader()
    with pytest.raises(WebSocketError):
        reader.feed(build_frame(0x1, b"unmasked"))
    with pytest.raises(WebSocketError) as info:
        reader.feed(cframe(0x1, b"fine"))
    assert info.value.code == 1002


@both_readers
def test_header_errors_are_detected_before_the_payload_arrives() -> None:
    assert FrameReader().feed(b"\x83") == []  # one byte is not a header yet
    expect_error(b"\x83\x80", 1002)


# -- fragmentation and splitting ----------------------------------------------------


@both_readers
def test_fragments_with_interleaved_control_frames() -> None:
    stream = (
        cframe(0x1, b"Hel", fin=False)
        + cframe(0x9, b"p1")
        + cframe(0x0, b"lo", fin=False)
        + cframe(0xA, b"p2")
        + cframe(0x0, b"!")
    )
    assert FrameReader().feed(stream) == [
        WSMessage(WSMsgType.PING, b"p1", ""),
        WSMessage(WSMsgType.PONG, b"p2", ""),
        text("Hello!"),
    ]


SMALL_STREAM = (
    cframe(0x1, "héllo".encode(), fin=False)
    + cframe(0x9, b"ping")
    + cframe(0x0, b" world")
    + cframe(0x2, b"")
    + cframe(0x2, bytes(range(130)))
    + cframe(0xA, b"")
    + build_close(1000, "bye", mask=MASK)
)
SMALL_EXPECTED = [
    WSMessage(WSMsgType.PING, b"ping", ""),
    text("héllo world"),
    WSMessage(WSMsgType.BINARY, b"", ""),
    WSMessage(WSMsgType.BINARY, bytes(range(130)), ""),
    WSMessage(WSMsgType.PONG, b"", ""),
    WSMessage(WSMsgType.CLOSE, 1000, "bye"),
]


@both_readers
def test_every_split_point_gives_the_same_messages() -> None:
    for cut in range(len(SMALL_STREAM) + 1):
        reader = FrameReader()
        got = reader.feed(SMALL_STREAM[:cut]) + reader.feed(SMALL_STREAM[cut:])
        assert got == SMALL_EXPECTED, cut


@both_readers
def test_byte_at_a_time_gives_the_same_messages() -> None:
    reader = FrameReader()
    got: list[WSMessage] = []
    for i in range(len(SMALL_STREAM)):
        got += reader.feed(SMALL_STREAM[i : i + 1])
    assert got == SMALL_EXPECTED


@both_readers
def test_input_after_close_is_discarded() -> None:
    reader = FrameReader()
    assert reader.feed(build_close(1001, mask=MASK) + b"\xff\xff garbage") == [
        WSMessage(WSMsgType.CLOSE, 1001, "")
    ]
    assert reader.feed(cframe(0x1, b"late")) == []


# -- lengths and masking ----------------------------------------------------------------


@both_readers
@pytest.mark.parametrize(
    ("size", "length_byte", "header_size"),
    [(0, 0, 2), (125, 125, 2), (126, 126, 4), (65535, 126, 4), (65536, 127, 10), (70000, 127, 10)],
)
def test_7_16_64_bit_lengths(size: int, length_byte: int, header_size: int) -> None:
    payload = bytes(i & 0xFF for i in range(size))
    frame = build_frame(0x2, payload)
    assert frame[1] == length_byte
    assert frame[header_size:] == payload
    assert frame == ws_frames.Frame(ws_frames.Opcode.BINARY, payload).serialize(mask=False)
    masked = cframe(0x2, payload)
    assert masked[1] == 0x80 | length_byte
    assert FrameReader(max_msg_size=0).feed(masked) == [WSMessage(WSMsgType.BINARY, payload, "")]


@pytest.mark.parametrize("size", [0, 1, 2, 3, 4, 5, 7, 8, 9, 1000, 65537])
def test_mask_round_trip_and_matches_bytewise_xor(size: int) -> None:
    data = bytes((i * 7 + 3) & 0xFF for i in range(size))
    masked = apply_mask(MASK, data)
    assert len(masked) == size
    assert masked == bytes(b ^ MASK[i % 4] for i, b in enumerate(data))
    assert apply_mask(MASK, masked) == data


def test_mask_must_be_four_bytes() -> None:
    with pytest.raises(ValueError):
        apply_mask(b"abc", b"data")


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [((0x3, b""), {}), ((0x9, b"x" * 126), {}), ((0x8, b""), {"fin": False})],
)
def test_build_frame_rejects_invalid_frames(
    args: tuple[int, bytes], kwargs: dict[str, Any]
) -> None:
    with pytest.raises(ValueError):
        build_frame(*args, **kwargs)


@both_readers
@pytest.mark.parametrize(
    ("opcode", "payload", "fin"),
    [
        (ws_frames.Opcode.TEXT, "çava".encode(), True),
        (ws_frames.Opcode.BINARY, b"\x00" * 300, True),
        (ws_frames.Opcode.BINARY, b"z" * 70000, True),
        (ws_frames.Opcode.PING, b"abc", True),
        (ws_frames.Opcode.PONG, b"", True),
    ],
)
def test_frames_masked_by_websockets_parse(opcode: Any, payload: bytes, fin: bool) -> None:
    data = ws_frames.Frame(opcode, payload, fin=fin).serialize(mask=True)
    [msg] = FrameReader().feed(data)
    assert msg.type == int(opcode)
    assert msg.data == (payload.decode() if opcode == ws_frames.Opcode.TEXT else payload)


# -- UTF-8 ------------------------------------------------------------------------------


@both_readers
@pytest.mark.parametrize("value", ["", "ascii", "héllo", "€uro", "𝄞 clef", "\ufeff\U0010ffff"])
def test_valid_utf8_split_anywhere_across_fragments(value: str) -> None:
    raw = value.encode()
    for cut in range(len(raw) + 1):
        stream = cframe(0x1, raw[:cut], fin=False) + cframe(0x0, raw[cut:])
        assert FrameReader().feed(stream) == [text(value)]


@both_readers
@pytest.mark.parametrize(
    "raw",
    [
        b"\xff",
        b"\xc0\xaf",  # overlong "/"
        b"\xe0\x80\xaf",  # overlong, 3 bytes
        b"\xed\xa0\x80",  # UTF-16 surrogate
        b"\xf4\x90\x80\x80",  # above U+10FFFF
        b"ok\xe2\x82",  # truncated at the end of the message
        b"\x80",  # lone continuation byte
    ],
)
def test_invalid_utf8_text_is_1007(raw: bytes) -> None:
    expect_error(cframe(0x1, raw), 1007)
    expect_error(cframe(0x1, raw[:1], fin=False) + cframe(0x0, raw[1:]), 1007)


@both_readers
def test_invalid_utf8_in_binary_is_fine() -> None:
    assert FrameReader().feed(cframe(0x2, b"\xff"))[0].data == b"\xff"


# -- close frames ---------------------------------------------------------------------

VALID_CODES = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 4999]
INVALID_CODES = [0, 999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000, 65535]


@both_readers
@pytest.mark.parametrize("code", VALID_CODES)
def test_valid_close_codes_are_delivered(code: int) -> None:
    assert is_valid_close_code(code)
    frame = build_close(code, "réason", mask=MASK)
    assert FrameReader().feed(frame) == [WSMessage(WSMsgType.CLOSE, code, "réason")]


@both_readers
@pytest.mark.parametrize("code", INVALID_CODES)
def test_invalid_close_codes_are_protocol_errors(code: int) -> None:
    assert not is_valid_close_code(code)
    expect_error(raw_frame(0x88, code.to_bytes(2, "big") + b"why"), 1002)
    with pytest.raises(ValueError):
        build_close(code)


@both_readers
def test_empty_close_gives_code_zero() -> None:
    assert build_close(None) == b"\x88\x00"
    assert FrameReader().feed(build_close(None, mask=MASK)) == [WSMessage(WSMsgType.CLOSE, 0, "")]


def test_build_close_limits_reason() -> None:
    assert len(build_close(1000, "x" * 123)) == 127
    with pytest.raises(ValueError):
        build_close(1000, "x" * 124)
    with pytest.raises(ValueError):
        build_close(None, "reason without code")


# -- permessage-deflate negotiation -------------------------------------------------

NEGOTIATION = [
    ("permessage-deflate", DeflateParams(), "permessage-deflate"),
    ("PerMessage-Deflate", DeflateParams(), "permessage-deflate"),
    ("permessage-deflate; client_max_window_bits", DeflateParams(), "permessage-deflate"),
    (
        "permessage-deflate; client_max_window_bits=10",
        DeflateParams(client_max_window_bits=10),
        "permessage-deflate; client_max_window_bits=10",
    ),
    (
        'permessage-deflate; client_max_window_bits="9"',
        DeflateParams(client_max_window_bits=9),
        "permessage-deflate; client_max_window_bits=9",
    ),
    (
        "permessage-deflate; server_max_window_bits=10",
        DeflateParams(server_max_window_bits=10),
        "permessage-deflate; server_max_window_bits=10",
    ),
    (
        "permessage-deflate; server_no_context_takeover",
        DeflateParams(server_no_context_takeover=True),
        "permessage-deflate; server_no_context_takeover",
    ),
    (
        "permessage-deflate;client_no_context_takeover;server_no_context_takeover",
        DeflateParams(server_no_context_takeover=True, client_no_context_takeover=True),
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
    ),
    (
        "permessage-deflate; foo, permessage-deflate; client_no_context_takeover",
        DeflateParams(client_no_context_takeover=True),
        "permessage-deflate; client_no_context_takeover",
    ),
    (
        "x-webkit-deflate-frame, permessage-deflate",
        DeflateParams(),
        "permessage-deflate",
    ),
]
DECLINED = [
    "",
    "x-webkit-deflate-frame",
    "permessage-deflate; foo",
    "permessage-deflate; server_max_window_bits",
    "permessage-deflate; server_max_window_bits=8",
    "permessage-deflate; server_max_window_bits=16",
    "permessage-deflate; client_max_window_bits=7",
    "permessage-deflate; client_max_window_bits=abc",
    "permessage-deflate; client_max_window_bits=010",
    "permessage-deflate; server_no_context_takeover=1",
    "permessage-deflate; client_no_context_takeover; client_no_context_takeover",
    "permessage-deflate; server_max_window_bits=10; server_max_window_bits=11",
]


@pytest.mark.parametrize(("offer", "params", "response"), NEGOTIATION)
def test_deflate_negotiation_accepts(offer: str, params: DeflateParams, response: str) -> None:
    assert negotiate_deflate(offer) == (params, response)


@pytest.mark.parametrize("offer", DECLINED)
def test_deflate_negotiation_declines(offer: str) -> None:
    assert negotiate_deflate(offer) is None


def test_parse_extensions() -> None:
    assert parse_extensions('a; x=1; y="2", , B;Z') == [
        ("a", [("x", "1"), ("y", "2")]),
        ("b", [("z", None)]),
    ]


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"client_max_window_bits": None},
        {"client_max_window_bits": 10},
        {"server_max_window_bits": 12},
        {"server_no_context_takeover": True, "client_no_context_takeover": True},
    ],
)
def test_websockets_client_accepts_our_negotiation(kwargs: dict[str, Any]) -> None:
    factory = ws_pmd.ClientPerMessageDeflateFactory(**kwargs)
    offer = build_extension([(factory.name, factory.get_request_params())])
    result = negotiate_deflate(offer)
    assert result is not None
    [(name, params)] = parse_extension(result[1])
    assert name == factory.name
    factory.process_response_params(params, [])


# -- compression ------------------------------------------------------------------------


@both_readers
@pytest.mark.parametrize("no_takeover", [False, True])
def test_compressed_round_trip_with_and_without_context_takeover(no_takeover: bool) -> None:
    params = DeflateParams(client_no_context_takeover=no_takeover)
    client = FrameWriter(params, is_server=False)
    reader = FrameReader(compress=params)
    message = "the same words again " * 20
    first, second = client.message(message), client.message(message)
    assert first[0] & 0x40 and second[0] & 0x40
    if no_takeover:
        assert len(second) == len(first)
    else:
        assert len(second) < len(first)
    assert reader.feed(first + second + client.message(b"\x00" * 1000)) == [
        text(message),
        text(message),
        WSMessage(WSMsgType.BINARY, b"\x00" * 1000, ""),
    ]


@both_readers
def test_server_writer_to_client_reader_and_uncompressed_messages() -> None:
    params = DeflateParams(server_no_context_takeover=True, server_max_window_bits=10)
    server = FrameWriter(params)
    reader = FrameReader(compress=params, is_server=False)
    data = server.message("hello " * 50) + server.message(b"raw", compress=False)
    data += server.ping(b"p") + server.close(1001, "bye")
    assert reader.feed(data) == [
        text("hello " * 50),
        WSMessage(WSMsgType.BINARY, b"raw", ""),
        WSMessage(WSMsgType.PING, b"p", ""),
        WSMessage(WSMsgType.CLOSE, 1001, "bye"),
    ]


@both_readers
def test_compressed_message_split_into_fragments_and_bytes() -> None:
    deflater = Deflater()
    payload = deflater.compress(("fragmented " * 40).encode())
    half = len(payload) // 2
    stream = cframe(0x1, payload[:half], fin=False, rsv1=True) + cframe(0x9, b"")
    stream += cframe(0x0, payload[half:])
    reader = FrameReader(compress=True)
    got: list[WSMessage] = []
    for i in range(len(stream)):
        got += reader.feed(stream[i : i + 1])
    assert got == [WSMessage(WSMsgType.PING, b"", ""), text("fragmented " * 40)]


@both_readers
def test_empty_compressed_message() -> None:
    payload = Deflater().compress(b"")
    assert FrameReader(compress=True).feed(cframe(0x2, payload, rsv1=True)) == [
        WSMessage(WSMsgType.BINARY, b"", "")
    ]


@both_readers
@pytest.mark.parametrize("no_takeover", [False, True])
def test_frames_compressed_by_websockets_parse(no_takeover: bool) -> None:
    ext = ws_pmd.PerMessageDeflate(no_takeover, no_takeover, 15, 15)
    data = b"".join(
        ws_frames.Frame(ws_frames.Opcode.TEXT, f"message {i} ".encode() * 30).serialize(
            mask=True, extensions=[ext]
        )
        for i in range(3)
    )
    params = DeflateParams(no_takeover, no_takeover)
    got = FrameReader(compress=params).feed(data)
    assert [m.data for m in got] == [f"message {i} " * 30 for i in range(3)]


@pytest.mark.parametrize("no_takeover", [False, True])
def test_websockets_parses_our_compressed_frames(no_takeover: bool) -> None:
    params = DeflateParams(server_no_context_takeover=no_takeover)
    server = FrameWriter(params)
    # Client side: the remote is the server.
    ext = ws_pmd.PerMessageDeflate(no_takeover, False, 15, 15)
    stream = ws_streams.StreamReader()
    for i in range(3):
        stream.feed_data(server.message(f"reply {i} " * 30))
    stream.feed_eof()
    for i in range(3):
        parser = ws_frames.Frame.parse(stream.read_exact, mask=False, extensions=[ext])
        with pytest.raises(StopIteration) as done:
            next(parser)
        assert done.value.value.data.decode() == f"reply {i} " * 30


@both_readers
def test_deflate_bomb_is_refused_with_1009() -> None:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    bomb = compressor.compress(bytes(50_000_000)) + compressor.flush(zlib.Z_SYNC_FLUSH)
    assert len(bomb) < 100_000
    expect_error(cframe(0x2, bomb[:-4], rsv1=True), 1009, max_msg_size=1_000_000, compress=True)
    inflater = Inflater()
    with pytest.raises(WebSocketError) as info:
        inflater.decompress(bomb, 1000)
    assert info.value.code == 1009


@both_readers
def test_compressed_size_limit_is_inclusive_across_fragments() -> None:
    payload = Deflater().compress(b"a" * 20)
    half = len(payload) // 2
    stream = cframe(0x2, payload[:half], fin=False, rsv1=True) + cframe(0x0, payload[half:])
    assert FrameReader(max_msg_size=20, compress=True).feed(stream)[0].data == b"a" * 20
    expect_error(stream, 1009, max_msg_size=19, compress=True)


def test_deflater_rejects_unsupported_window() -> None:
    with pytest.raises(ValueError):
        Deflater(max_window_bits=8)


@pytest.mark.parametrize("size", [0, 1, 3, 4, 7, 8, 9, 15, 16, 17, 125, 126, 65535, 65536, 65537])
def test_c_and_python_masking_agree(size: int) -> None:
    wsmask = pytest.importorskip("aioweb._wsmask")
    mask, data = os.urandom(4), os.urandom(size)
    expected = _websocket._apply_mask_python(mask, data)
    assert wsmask.apply_mask(mask, data) == expected
    assert wsmask.apply_mask(mask, bytearray(data)) == expected
    assert wsmask.apply_mask(mask, memoryview(data)) == expected
    assert _websocket._apply_mask_python(mask, expected) == data


def test_c_masking_refuses_a_bad_mask() -> None:
    wsmask = pytest.importorskip("aioweb._wsmask")
    with pytest.raises(ValueError, match="mask must be 4 bytes"):
        wsmask.apply_mask(b"abc", b"data")
    with pytest.raises(TypeError):
        wsmask.apply_mask(b"abcd")


def selected_mask_module(env: dict[str, str]) -> str:
    return origin_module("aioweb._websocket", "apply_mask", env)


def test_no_extensions_selects_python_masking() -> None:
    assert selected_mask_module({"AIOWEB_NO_EXTENSIONS": "1"}) == "aioweb._websocket"


@pytest.mark.skipif(
    os.environ.get("AIOWEB_REQUIRE_EXTENSIONS") != "1"
    or bool(os.environ.get("AIOWEB_NO_EXTENSIONS")),
    reason="only where the build must have compiled the extensions (AIOWEB_REQUIRE_EXTENSIONS=1)",
)
def test_c_masking_is_built_and_selected_when_required() -> None:
    assert selected_mask_module({}) == "aioweb._wsmask"


# -- compiled and pure readers agree --------------------------------------------


def random_stream(rng: random.Random, compress: bool) -> bytes:
    """Frames a client might send, valid or not: fragments, control frames,
    sizes across the 7/16/64-bit length forms, bad UTF-8, and sometimes one
    flipped bit or random bytes."""
    deflater = Deflater(no_context_takeover=False) if compress else None
    parts: list[bytes] = []
    for _ in range(rng.randint(1, 6)):
        kind = rng.random()
        if kind < 0.5:
            opcode = rng.choice((0x1, 0x2))
            size = rng.choice((0, 1, 5, 125, 126, 300, 65536, 70000))
            payload = (
                "é".encode() * (size // 2)
                if opcode == 0x1 and rng.random() < 0.8
                else rng.randbytes(size)
            )
            if deflater is not None and rng.random() < 0.5:
                parts.append(cframe(opcode, deflater.compress(payload), rsv1=True))
                continue
            cuts = sorted(rng.sample(range(len(payload) + 1), min(2, len(payload) + 1)))
            pieces = [payload[: cuts[0]], payload[cuts[0] : cuts[-1]], payload[cuts[-1] :]]
            for i, piece in enumerate(pieces):
                parts.append(
                    cframe(opcode if i == 0 else 0x0, piece, fin=i == len(pieces) - 1)
                )
                if rng.random() < 0.3:
                    parts.append(cframe(rng.choice((0x9, 0xA)), rng.randbytes(rng.randint(0, 125))))
        elif kind < 0.7:
            parts.append(cframe(rng.choice((0x9, 0xA)), rng.randbytes(rng.randint(0, 125))))
        elif kind < 0.8:
            code = rng.choice((1000, 1001, 3000, 999, 1005))
            parts.append(raw_frame(0x88, code.to_bytes(2, "big") + b"bye"))
        elif kind < 0.9:
            parts.append(raw_frame(rng.randrange(256), rng.randbytes(rng.randint(0, 130))))
        else:
            parts.append(rng.randbytes(rng.randint(1, 20)))
    data = bytearray(b"".join(parts))
    if data and rng.random() < 0.3:
        data[rng.randrange(min(len(data), 40))] ^= 1 << rng.randrange(8)
    return bytes(data)


def reader_trace(cls: Any, data: bytes, cuts: list[int], **kwargs: Any) -> list[Any]:
    """Messages (fields and their types) and errors, per piece fed."""
    reader = cls(**kwargs)
    events: list[Any] = []
    for start, end in zip([0, *cuts], [*cuts, len(data)], strict=True):
        messages, error = reader.feed_until_error(data[start:end])
        events.append([(type(m), tuple((type(v), v) for v in m)) for m in messages])
        if error is not None:
            events.append((type(error), error.args, str(error), type(error.code)))
    return events


@needs_compiled
@pytest.mark.parametrize("seed", range(60))
def test_compiled_and_pure_readers_agree(seed: int) -> None:
    rng = random.Random(seed)
    compress = seed % 3 == 0
    data = random_stream(rng, compress)
    kwargs: dict[str, Any] = {
        "max_msg_size": rng.choice((0, None, 100, 4 * 1024 * 1024)),
        "compress": compress,
    }
    for _ in range(4):
        cuts = sorted(rng.sample(range(1, len(data)), min(rng.randint(0, 5), len(data) - 1)))
        expected = reader_trace(PyFrameReader, data, cuts, **kwargs)
        assert reader_trace(CFrameReader, data, cuts, **kwargs) == expected


def outcome(func: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return func(*args, **kwargs)
    except Exception as exc:  # the same type and text are expected from both
        return type(exc), str(exc)


BUILD_CASES = [
    (opcode, payload, fin, rsv1, mask)
    for opcode in (0x0, 0x1, 0x2, 0x8, 0x9, 0xA, WSMsgType.BINARY, WSMsgType.PING, 0x3, -1, 16, 1 << 70)
    for payload in (b"", b"x", b"y" * 125, b"z" * 126, b"w" * 65535, b"v" * 65536, bytearray(b"ba"))
    for fin in (True, False, 0, 1)
    for rsv1 in (False, True)
    for mask in (None, MASK, b"abc")
]


@needs_compiled
def test_compiled_and_pure_build_frame_agree() -> None:
    from aioweb._websocket_c import build_frame as c_build_frame

    for opcode, payload, fin, rsv1, mask in BUILD_CASES:
        kwargs = {"fin": fin, "rsv1": rsv1, "mask": mask}
        expected = outcome(_websocket._py_build_frame, opcode, payload, **kwargs)
        assert outcome(c_build_frame, opcode, payload, **kwargs) == expected, (opcode, kwargs)


@needs_compiled
def test_compiled_reader_takes_any_buffer_as_the_pure_one_does() -> None:
    frame = cframe(0x2, b"payload" * 3)
    for piece in (frame, bytearray(frame), memoryview(frame)):
        assert CFrameReader().feed(piece) == PyFrameReader().feed(piece)
        split = CFrameReader()
        assert split.feed(piece[:3]) == []
        assert split.feed(piece[3:]) == PyFrameReader().feed(frame)


def selected_reader_module(env: dict[str, str], first_import: str = "") -> str:
    return origin_module("aioweb._websocket", "FrameReader", env, first_import)


@needs_compiled
def test_compiled_reader_is_selected_by_default() -> None:
    assert selected_reader_module({}) == "aioweb._websocket_c"
    # Importing the extension first (it imports _websocket back) changes nothing.
    first = "import aioweb._websocket_c; "
    assert selected_reader_module({}, first) == "aioweb._websocket_c"


def test_no_extensions_selects_the_pure_reader() -> None:
    assert selected_reader_module({"AIOWEB_NO_EXTENSIONS": "1"}) == "aioweb._websocket"


@pytest.mark.skipif(
    os.environ.get("AIOWEB_REQUIRE_EXTENSIONS") != "1"
    or bool(os.environ.get("AIOWEB_NO_EXTENSIONS")),
    reason="only where the build must have compiled the extensions (AIOWEB_REQUIRE_EXTENSIONS=1)",
)
def test_compiled_reader_is_built_when_required() -> None:
    assert selected_reader_module({}) == "aioweb._websocket_c"
