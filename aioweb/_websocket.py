"""Sans-IO WebSocket codec (RFC 6455) with permessage-deflate (RFC 7692).

Theory of operation
-------------------
Nothing here touches a socket, an event loop or the clock. The connection
layer hands raw bytes to :meth:`FrameReader.feed` and gets back complete
:class:`WSMessage` values; to send, it asks :func:`build_frame`,
:func:`build_close` or a :class:`FrameWriter` for bytes and writes them.

The reader is a two-state machine over one ``bytearray`` buffer:

* *header*: wait until the whole frame header (2-14 bytes) is buffered,
  validate it (mask bit, RSV bits, opcode, control-frame rules,
  fragmentation order, length) and switch to *payload*;
* *payload*: consume whatever part of the payload has arrived, unmask it
  (the mask is rotated by the payload offset so any split works), and append
  it to the message being assembled, inflating it first when the message is
  compressed. When the frame's last byte arrives, a control frame is emitted
  at once (even between the fragments of a data message) and a final data
  frame completes its message.

Payload bytes are never held twice: a frame's payload is processed as it
arrives, so memory is bounded by ``max_msg_size`` plus one read, whatever
length a frame header announces. The size limit applies to the reassembled,
inflated message and is checked before the bytes are stored: plain data
against the declared frame length, compressed data by never asking zlib for
more than the remaining allowance. Any protocol violation raises
:class:`WebSocketError` carrying the close code to answer with; after that the
reader is poisoned and raises the same error again.
"""

from __future__ import annotations

import json
import os
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, NamedTuple

__all__ = (
    "DeflateParams",
    "Deflater",
    "FrameReader",
    "FrameWriter",
    "Inflater",
    "WSCloseCode",
    "WSMessage",
    "WSMessageTypeError",
    "WSMsgType",
    "WebSocketError",
    "apply_mask",
    "build_close",
    "build_frame",
    "is_valid_close_code",
    "negotiate_deflate",
    "parse_extensions",
)


class WSMsgType(IntEnum):
    """Message types: the RFC 6455 opcodes plus three local states."""

    CONTINUATION = 0x0
    TEXT = 0x1
    BINARY = 0x2
    PING = 0x9
    PONG = 0xA
    CLOSE = 0x8
    CLOSING = 0x100
    CLOSED = 0x101
    ERROR = 0x102
    # The seed's lower-case names (``aiohttp.MsgType.text``): aliases, so
    # ``WSMsgType.text is WSMsgType.TEXT`` and iteration shows each type once.
    continuation = 0x0
    text = 0x1
    binary = 0x2
    ping = 0x9
    pong = 0xA
    close = 0x8
    closing = 0x100
    closed = 0x101
    error = 0x102


class WSCloseCode(IntEnum):
    """Registered close status codes (RFC 6455 section 7.4)."""

    OK = 1000
    GOING_AWAY = 1001
    PROTOCOL_ERROR = 1002
    UNSUPPORTED_DATA = 1003
    ABNORMAL_CLOSURE = 1006
    INVALID_TEXT = 1007
    POLICY_VIOLATION = 1008
    MESSAGE_TOO_BIG = 1009
    MANDATORY_EXTENSION = 1010
    INTERNAL_ERROR = 1011
    SERVICE_RESTART = 1012
    TRY_AGAIN_LATER = 1013


class WSMessage(NamedTuple):
    """One received message.

    ``data`` is ``str`` for TEXT, ``bytes`` for BINARY/PING/PONG and the
    close code (``int``, 0 when the peer sent none) for CLOSE, whose reason
    is in ``extra``.
    """

    type: WSMsgType
    data: Any
    extra: Any

    @property
    def tp(self) -> WSMsgType:
        """Alias of :attr:`type` (the seed's name)."""
        return self.type

    def json(self, *, loads: Callable[[Any], Any] = json.loads) -> Any:
        """Decode ``data`` as JSON."""
        return loads(self.data)


# Members and the message constructor as plain globals for the per-message
# path. On Python 3.11 reading ``WSMsgType.BINARY`` costs about 950 CPU
# instructions (member lookup through the enum metaclass) against about 40
# for a global, and ``WSMessage(...)`` 2,900 against 1,600 for the tuple
# constructor it wraps; a small echo used to pay for ten such reads.
MSG_TEXT = WSMsgType.TEXT
MSG_BINARY = WSMsgType.BINARY
MSG_CLOSE = WSMsgType.CLOSE
MSG_PING = WSMsgType.PING
MSG_PONG = WSMsgType.PONG
MSG_ENDED = frozenset({WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED})
_TYPE_BY_OPCODE = {member.value: member for member in WSMsgType}
_new_tuple = tuple.__new__


class WSMessageTypeError(TypeError):
    """``receive_str``/``receive_bytes``/``receive_json`` got another message type."""


class WebSocketError(Exception):
    """A protocol violation; ``code`` is the close code to send back."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(code, message)
        self.code = code
        self.message = message

    def __str__(self) -> str:
        return f"{self.message} (close code {self.code})"


_CONTROL_OPCODES = frozenset({WSMsgType.CLOSE, WSMsgType.PING, WSMsgType.PONG})
_KNOWN_OPCODES = frozenset({0x0, 0x1, 0x2, 0x8, 0x9, 0xA})
_DEFLATE_TAIL = b"\x00\x00\xff\xff"


def is_valid_close_code(code: int) -> bool:
    """Whether ``code`` may appear in a close frame on the wire."""
    if 3000 <= code <= 4999:
        return True
    return 1000 <= code <= 1014 and code not in (1004, 1005, 1006)


def apply_mask(mask: bytes, data: bytes) -> bytes:
    """XOR ``data`` with the 4-byte ``mask`` repeated; masking is its own inverse.

    Done as one big-integer XOR (two conversions, one XOR, all in C), which
    is linear and avoids a Python loop over the bytes.
    """
    if len(mask) != 4:
        raise ValueError(f"mask must be 4 bytes, got {len(mask)}")
    size = len(data)
    if not size:
        return b""
    key = (mask * ((size >> 2) + 1))[:size]
    value = int.from_bytes(data, "little") ^ int.from_bytes(key, "little")
    return value.to_bytes(size, "little")


def build_frame(
    opcode: int,
    payload: bytes,
    *,
    fin: bool = True,
    rsv1: bool = False,
    mask: bytes | None = None,
) -> bytes:
    """Serialize one frame; server frames pass ``mask=None`` (unmasked).

    Raises ``ValueError`` for an unknown opcode or an invalid control frame
    (fragmented or longer than 125 bytes).
    """
    if opcode not in _KNOWN_OPCODES:
        raise ValueError(f"unknown opcode {opcode:#x}")
    size = len(payload)
    if opcode in _CONTROL_OPCODES and (size > 125 or not fin):
        raise ValueError("control frames must be final and at most 125 bytes")
    first = (0x80 if fin else 0) | (0x40 if rsv1 else 0) | opcode
    mask_bit = 0x80 if mask is not None else 0
    if size < 126:
        header = bytes((first, mask_bit | size))
    elif size < 1 << 16:
        header = bytes((first, mask_bit | 126)) + size.to_bytes(2, "big")
    else:
        header = bytes((first, mask_bit | 127)) + size.to_bytes(8, "big")
    if mask is None:
        return header + payload
    return header + mask + apply_mask(mask, payload)


def build_close(
    code: int | None = WSCloseCode.OK, reason: str = "", *, mask: bytes | None = None
) -> bytes:
    """Serialize a close frame; ``code=None`` sends an empty payload.

    Raises ``ValueError`` for a code that may not be sent or a reason that
    makes the payload exceed 125 bytes.
    """
    if code is None:
        if reason:
            raise ValueError("a close reason needs a close code")
        return build_frame(WSMsgType.CLOSE, b"", mask=mask)
    if not is_valid_close_code(code):
        raise ValueError(f"invalid close code {code}")
    payload = code.to_bytes(2, "big") + reason.encode("utf-8")
    if len(payload) > 125:
        raise ValueError("close reason too long (at most 123 bytes of UTF-8)")
    return build_frame(WSMsgType.CLOSE, payload, mask=mask)


# -- permessage-deflate -------------------------------------------------------


@dataclass(frozen=True)
class DeflateParams:
    """Negotiated permessage-deflate parameters (server's point of view)."""

    server_no_context_takeover: bool = False
    client_no_context_takeover: bool = False
    server_max_window_bits: int = 15
    client_max_window_bits: int = 15


def parse_extensions(header_value: str) -> list[tuple[str, list[tuple[str, str | None]]]]:
    """Split a ``Sec-WebSocket-Extensions`` value into ``(name, params)`` offers.

    Names and parameter names are lower-cased; quoted values are unquoted;
    a parameter without ``=`` has value ``None``. Empty elements are skipped.
    """
    offers: list[tuple[str, list[tuple[str, str | None]]]] = []
    for element in header_value.split(","):
        parts = [part.strip() for part in element.split(";")]
        if not parts[0]:
            continue
        params: list[tuple[str, str | None]] = []
        for part in parts[1:]:
            if not part:
                continue
            key, sep, value = part.partition("=")
            val: str | None = None
            if sep:
                val = value.strip()
                if len(val) >= 2 and val[0] == val[-1] == '"':
                    val = val[1:-1]
            params.append((key.strip().lower(), val))
        offers.append((parts[0].lower(), params))
    return offers


def _window_bits(value: str | None) -> int | None:
    if value is None or not value.isdigit() or len(value) > 2:
        return None
    bits = int(value)
    return bits if 8 <= bits <= 15 else None


def _accept_deflate_offer(params: list[tuple[str, str | None]]) -> DeflateParams | None:
    seen: set[str] = set()
    fields: dict[str, Any] = {}
    for key, value in params:
        if key in seen:
            return None
        seen.add(key)
        if key in ("server_no_context_takeover", "client_no_context_takeover"):
            if value is not None:
                return None
            fields[key] = True
        elif key == "server_max_window_bits":
            bits = _window_bits(value)
            # zlib cannot compress raw deflate with an 8-bit window: decline.
            if bits is None or bits == 8:
                return None
            fields[key] = bits
        elif key == "client_max_window_bits":
            if value is not None:
                bits = _window_bits(value)
                if bits is None:
                    return None
                fields[key] = bits
        else:
            return None
    return DeflateParams(**fields)


def _response_header(params: DeflateParams) -> str:
    parts = ["permessage-deflate"]
    if params.server_no_context_takeover:
        parts.append("server_no_context_takeover")
    if params.client_no_context_takeover:
        parts.append("client_no_context_takeover")
    if params.server_max_window_bits != 15:
        parts.append(f"server_max_window_bits={params.server_max_window_bits}")
    if params.client_max_window_bits != 15:
        parts.append(f"client_max_window_bits={params.client_max_window_bits}")
    return "; ".join(parts)


def negotiate_deflate(offer: str) -> tuple[DeflateParams, str] | None:
    """Accept the first valid permessage-deflate offer in a header value.

    Returns the parameters and the ``Sec-WebSocket-Extensions`` response
    value, or ``None`` when no offer is acceptable. Invalid offers (unknown
    or duplicate parameters, bad values) are declined, never an error.
    """
    for name, params in parse_extensions(offer):
        if name != "permessage-deflate":
            continue
        accepted = _accept_deflate_offer(params)
        if accepted is not None:
            return accepted, _response_header(accepted)
    return None


class Deflater:
    """Compresses whole messages for permessage-deflate (raw deflate).

    The trailing ``00 00 ff ff`` of the sync flush is removed as RFC 7692
    requires. With ``no_context_takeover`` each message starts a fresh
    compressor; otherwise the LZ77 window carries over between messages.
    """

    def __init__(
        self, *, no_context_takeover: bool = False, max_window_bits: int = 15, level: int = -1
    ) -> None:
        if not 9 <= max_window_bits <= 15:
            raise ValueError("max_window_bits must be between 9 and 15")
        self._no_context_takeover = no_context_takeover
        self._wbits = -max_window_bits
        self._level = level
        self._obj = self._new()

    def _new(self) -> Any:
        return zlib.compressobj(self._level, zlib.DEFLATED, self._wbits)

    def compress(self, data: bytes) -> bytes:
        """Return the compressed payload of one message."""
        if self._no_context_takeover:
            self._obj = self._new()
        out: bytes = self._obj.compress(data) + self._obj.flush(zlib.Z_SYNC_FLUSH)
        if out.endswith(_DEFLATE_TAIL):
            out = out[:-4]
        return out


class Inflater:
    """Decompresses permessage-deflate payloads with a hard output bound.

    :meth:`decompress` never produces more than ``limit`` bytes: zlib is
    asked for at most ``limit + 1`` bytes, so a tiny frame that would inflate
    to gigabytes costs only ``limit + 1`` bytes of work before 1009 is raised.
    A ``limit`` of ``None`` means unbounded.
    """

    def __init__(self, *, no_context_takeover: bool = False) -> None:
        self._no_context_takeover = no_context_takeover
        # A 15-bit window decodes any stream made with a smaller one.
        self._obj = zlib.decompressobj(-15)

    def decompress(self, data: bytes, limit: int | None) -> bytes:
        """Inflate part of a message; raise 1009 past ``limit`` bytes."""
        try:
            out: bytes = self._obj.decompress(data, 0 if limit is None else limit + 1)
        except zlib.error as exc:
            raise WebSocketError(
                WSCloseCode.PROTOCOL_ERROR, f"invalid deflate data: {exc}"
            ) from exc
        if limit is not None and len(out) > limit:
            raise WebSocketError(WSCloseCode.MESSAGE_TOO_BIG, "message too big after inflation")
        return out

    def finish(self, limit: int | None) -> bytes:
        """Feed the implied tail that ends a message and reset if required."""
        out = self.decompress(_DEFLATE_TAIL, limit)
        if self._no_context_takeover or self._obj.eof:
            self._obj = zlib.decompressobj(-15)
        return out


def _as_params(compress: DeflateParams | bool | None) -> DeflateParams | None:
    if compress is True:
        return DeflateParams()
    return compress or None


# -- reading ------------------------------------------------------------------


def _fail(message: str, code: int = WSCloseCode.PROTOCOL_ERROR) -> WebSocketError:
    return WebSocketError(code, message)


def _parse_close(payload: bytes) -> WSMessage:
    if not payload:
        return WSMessage(WSMsgType.CLOSE, 0, "")
    if len(payload) == 1:
        raise _fail("close payload of 1 byte")
    code = int.from_bytes(payload[:2], "big")
    if not is_valid_close_code(code):
        raise _fail(f"invalid close code {code}")
    try:
        reason = payload[2:].decode("utf-8")
    except UnicodeDecodeError:
        raise _fail("close reason is not valid UTF-8", WSCloseCode.INVALID_TEXT)
    return WSMessage(WSMsgType.CLOSE, code, reason)


class FrameReader:
    """Incremental frame parser and message assembler (see module docstring).

    Args:
        max_msg_size: limit in bytes on a reassembled (and inflated) message;
            0 disables it. Control frames are limited to 125 bytes anyway.
        compress: negotiated :class:`DeflateParams` (``True`` for defaults)
            to accept RSV1-compressed messages; falsy refuses RSV1.
        is_server: frames from clients must be masked, frames from servers
            must not be.

    Guarantees: any split of the input yields the same messages; work is
    linear in the bytes fed; after a CLOSE message the rest of the input is
    discarded and later feeds return ``[]``.
    """

    def __init__(
        self,
        max_msg_size: int = 4 * 1024 * 1024,
        compress: DeflateParams | bool | None = False,
        *,
        is_server: bool = True,
    ) -> None:
        params = _as_params(compress)
        self._max = max_msg_size
        self._is_server = is_server
        self._inflater: Inflater | None = None
        if params is not None:
            no_takeover = (
                params.client_no_context_takeover
                if is_server
                else params.server_no_context_takeover
            )
            self._inflater = Inflater(no_context_takeover=no_takeover)
        self._buf = bytearray()
        self._error: WebSocketError | None = None
        self._closed = False
        # The frame being read.
        self._in_payload = False
        self._fin = False
        self._opcode = 0
        self._mask: bytes | None = None
        self._remaining = 0
        self._offset = 0
        self._control = bytearray()
        # The data message being assembled.
        self._msg_opcode: int | None = None
        self._msg_compressed = False
        # Chunks, joined once at the end: a message that arrived in one read
        # is never copied to assemble it.
        self._msg: list[bytes] = []
        self._msg_size = 0

    def feed(self, data: bytes) -> list[WSMessage]:
        """Consume ``data``; return the messages it completed, in order.

        Raises :class:`WebSocketError` on a protocol violation (dropping the
        messages completed before it in ``data``), and again on every later
        call. :meth:`feed_until_error` keeps those messages.
        """
        out, error = self.feed_until_error(data)
        if error is not None:
            raise error
        return out

    def feed_until_error(self, data: bytes) -> tuple[list[WSMessage], WebSocketError | None]:
        """As :meth:`feed`, but return the violation with the messages completed before it."""
        if self._error is not None:
            return [], self._error
        if self._closed:
            return [], None
        out: list[WSMessage] = []
        try:
            if self._buf:
                self._buf += data
                del self._buf[: self._process(self._buf, out)]
            else:
                # Nothing pending: parse the read itself, keep only its tail.
                used = self._process(data, out)
                if used < len(data):
                    self._buf += memoryview(data)[used:]
        except WebSocketError as exc:
            self._error = exc
            self._buf.clear()
            self._msg.clear()
            self._msg_size = 0
            return out, exc
        if self._closed:
            self._buf.clear()
        return out, None

    def _process(self, buf: bytes | bytearray, out: list[WSMessage]) -> int:
        """Parse frames from ``buf``; return how many bytes were used.

        On a violation the error propagates and the caller drops ``buf``.
        """
        pos = 0
        end = len(buf)
        while not self._closed:
            if not self._in_payload:
                if pos == end:  # the usual end of a read: no header call
                    return pos
                used = self._parse_header(buf, pos)
                if not used:
                    return pos
                pos += used
                if self._remaining:
                    continue
            else:
                size = min(end - pos, self._remaining)
                if not size:
                    return pos
                if type(buf) is bytes:
                    # The whole read is payload: no copy; else one slice copy.
                    chunk = buf if size == end else buf[pos : pos + size]
                else:
                    with memoryview(buf) as view:
                        chunk = view[pos : pos + size].tobytes()
                pos += size
                self._remaining -= size
                self._consume(chunk)
                if self._remaining:
                    return pos
            msg = self._end_frame()
            if msg is not None:
                out.append(msg)
        return end  # closed: the rest of the input is discarded

    def _check_header(self, first: int, second: int) -> None:
        opcode = first & 0x0F
        if opcode not in _KNOWN_OPCODES:
            raise _fail(f"unknown opcode {opcode:#x}")
        if first & 0x30:
            raise _fail("RSV2/RSV3 set without a negotiated extension")
        if first & 0x40 and (self._inflater is None or opcode not in (0x1, 0x2)):
            raise _fail("RSV1 set without permessage-deflate on a message start")
        if bool(second & 0x80) != self._is_server:
            raise _fail("client frames must be masked, server frames must not")
        if opcode >= 0x8:
            if not first & 0x80:
                raise _fail("fragmented control frame")
            if second & 0x7F > 125:
                raise _fail("control frame payload over 125 bytes")
        elif opcode == 0x0:
            if self._msg_opcode is None:
                raise _fail("continuation frame without a message to continue")
        elif self._msg_opcode is not None:
            raise _fail("new data frame inside a fragmented message")

    def _parse_header(self, buf: bytes | bytearray, pos: int) -> int:
        """Start a frame if its whole header is buffered; return bytes used."""
        avail = len(buf) - pos
        if avail < 2:
            return 0
        first, second = buf[pos], buf[pos + 1]
        self._check_header(first, second)
        length = second & 0x7F
        extra = 2 if length == 126 else 8 if length == 127 else 0
        size = 2 + extra + (4 if second & 0x80 else 0)
        if avail < size:
            return 0
        start = pos + 2
        if extra:
            length = int.from_bytes(buf[start : start + extra], "big")
            if length >> 63:
                raise _fail("64-bit payload length with the high bit set")
            start += extra
        self._mask = bytes(buf[start : start + 4]) if second & 0x80 else None
        opcode = first & 0x0F
        if opcode in (0x1, 0x2):
            self._msg_opcode = opcode
            self._msg_compressed = bool(first & 0x40)
        if opcode < 0x8 and not self._msg_compressed:
            if self._max and self._msg_size + length > self._max:
                raise _fail("message too big", WSCloseCode.MESSAGE_TOO_BIG)
        self._fin = bool(first & 0x80)
        self._opcode = opcode
        self._remaining = length
        self._offset = 0
        self._in_payload = True
        return size

    def _allowance(self) -> int | None:
        return self._max - self._msg_size if self._max else None

    def _consume(self, chunk: bytes) -> None:
        if self._mask is not None:
            turn = self._offset & 3
            mask = self._mask[turn:] + self._mask[:turn] if turn else self._mask
            self._offset += len(chunk)
            chunk = apply_mask(mask, chunk)
        if self._opcode >= 0x8:
            self._control += chunk
        elif self._msg_compressed:
            assert self._inflater is not None
            chunk = self._inflater.decompress(chunk, self._allowance())
            self._msg.append(chunk)
            self._msg_size += len(chunk)
        else:
            self._msg.append(chunk)
            self._msg_size += len(chunk)

    def _end_frame(self) -> WSMessage | None:
        self._in_payload = False
        if self._opcode >= 0x8:
            payload = bytes(self._control)
            self._control.clear()
            if self._opcode == MSG_CLOSE:
                self._closed = True
                return _parse_close(payload)
            return _new_tuple(WSMessage, (_TYPE_BY_OPCODE[self._opcode], payload, ""))
        if not self._fin:
            return None
        if self._msg_compressed:
            assert self._inflater is not None
            self._msg.append(self._inflater.finish(self._allowance()))
        data = b"".join(self._msg)
        self._msg.clear()
        self._msg_size = 0
        opcode, self._msg_opcode, self._msg_compressed = self._msg_opcode, None, False
        if opcode == MSG_BINARY:
            return _new_tuple(WSMessage, (MSG_BINARY, data, ""))
        try:
            return _new_tuple(WSMessage, (MSG_TEXT, data.decode("utf-8"), ""))
        except UnicodeDecodeError:
            raise _fail("text message is not valid UTF-8", WSCloseCode.INVALID_TEXT)


# -- writing ------------------------------------------------------------------


class FrameWriter:
    """Builds outgoing frames, compressing data messages when negotiated.

    Server writers (the default) send unmasked frames; client writers mask
    every frame with a fresh random key from ``os.urandom``.
    """

    def __init__(
        self, compress: DeflateParams | bool | None = False, *, is_server: bool = True
    ) -> None:
        params = _as_params(compress)
        self._is_server = is_server
        self._deflater: Deflater | None = None
        if params is not None:
            if is_server:
                takeover, bits = params.server_no_context_takeover, params.server_max_window_bits
            else:
                takeover, bits = params.client_no_context_takeover, params.client_max_window_bits
            self._deflater = Deflater(no_context_takeover=takeover, max_window_bits=max(bits, 9))
        # Frames need neither a mask nor compression: ``frame(op, payload)``
        # is then ``build_frame(op, payload)``, which senders may call directly.
        self.plain = is_server and self._deflater is None

    def _mask(self) -> bytes | None:
        return None if self._is_server else os.urandom(4)

    def message(self, data: str | bytes, *, compress: bool = True) -> bytes:
        """One frame holding a TEXT (``str``) or BINARY (``bytes``) message."""
        if isinstance(data, str):
            return self.frame(MSG_TEXT, data.encode("utf-8"), compress=compress)
        return self.frame(MSG_BINARY, bytes(data), compress=compress)

    def frame(self, opcode: int, payload: bytes, *, compress: bool = True) -> bytes:
        """One final frame; TEXT/BINARY payloads are deflated when negotiated and ``compress``.

        Raises ``ValueError`` like :func:`build_frame`.
        """
        rsv1 = False
        if compress and self._deflater is not None and opcode in (0x1, 0x2):
            payload, rsv1 = self._deflater.compress(payload), True
        mask = None if self._is_server else os.urandom(4)  # self._mask(), inline: once per send
        return build_frame(opcode, payload, rsv1=rsv1, mask=mask)

    def ping(self, payload: bytes = b"") -> bytes:
        """A PING frame (payload at most 125 bytes)."""
        return build_frame(WSMsgType.PING, payload, mask=self._mask())

    def pong(self, payload: bytes = b"") -> bytes:
        """A PONG frame (payload at most 125 bytes)."""
        return build_frame(WSMsgType.PONG, payload, mask=self._mask())

    def close(self, code: int | None = WSCloseCode.OK, reason: str = "") -> bytes:
        """A CLOSE frame; see :func:`build_close`."""
        return build_close(code, reason, mask=self._mask())


# The pure-Python reader and frame builder stay reachable for tests, for
# comparison, and for the compiled build_frame's uncommon arguments.
PyFrameReader = FrameReader
_py_build_frame = build_frame

_apply_mask_python = apply_mask
# The same function in C (aioweb/_wsmask.c): ~7 us instead of ~200 us per
# 64 KiB payload. Optional; the big-integer version above is the fallback
# and gives the same bytes. AIOWEB_NO_EXTENSIONS=1 selects it.
if not os.environ.get("AIOWEB_NO_EXTENSIONS"):
    try:
        from ._wsmask import apply_mask  # type: ignore[no-redef,import-not-found]  # noqa: F811
    except ImportError:  # pragma: no cover - built without a compiler
        pass

# The compiled twins (aioweb/_websocket_c.pyx, same contract) when they
# were built: the reader takes ~2,800 instead of ~20,800 instructions for a
# small masked frame. Optional; AIOWEB_NO_EXTENSIONS=1 selects the pure ones.
if not os.environ.get("AIOWEB_NO_EXTENSIONS"):
    try:
        from ._websocket_c import (  # type: ignore[no-redef,import-not-found]  # noqa: F811
            FrameReader,
            build_frame,
        )
    except ImportError:  # pragma: no cover - built without a compiler
        pass
