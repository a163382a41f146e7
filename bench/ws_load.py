"""Bounded WebSocket echo load client: messages/s and round-trip latency.

Usage (pin it to its own CPU; the driver bench/ws_run.py does)::

    taskset -c 1 python bench/ws_load.py --port 8080 --size 1024 --duration 10
    python bench/ws_load.py --port 8080 --size 16 --connections 32 --window 4 --json

What it does:

- opens ``--connections`` (default 32) WebSocket connections to
  ``ws://127.0.0.1:<port>/ws`` with a hand-written RFC 6455 handshake (no
  extensions offered, ``Sec-WebSocket-Accept`` checked);
- on every connection keeps exactly ``--window`` (default 1) messages in
  flight: with 1 it sends a message, waits for its echo, sends the next
  (closed loop, no pipelining); with W > 1 it sends W at once and sends one
  more for each echo received;
- every message is one masked, final BINARY frame of ``--size`` bytes (TEXT
  of ASCII with ``--text``); frames are prebuilt, cycling through 16 random
  masking keys (a real client draws one per frame: the server's unmasking
  work is the same);
- every echo is checked byte for byte (opcode, length and payload: the
  expected unmasked server frame is compared with ``bytearray.startswith``,
  a memcmp); any other frame, a mismatch, a lost connection, or in-flight
  messages not answered within 5 s after the end is an error;
- runs ``--warmup`` seconds unmeasured, then ``--duration`` seconds measured
  on the same connections; counts the echoes received inside the measured
  interval, and the round-trip time (send -> echo received) of each;
- stops sending at the end, drains, closes every connection with a close
  frame (1000) and expects the server's close frame back within 2 s.

Output: a summary, or with ``--json`` one JSON object with ``msgs_per_s``,
``p50_ms``, ``p99_ms``, ``messages``, ``errors`` ({kind: count}),
``error_samples`` and ``client_cpu`` (this process's CPU time / wall time
over the measured interval; near 1.0 means the client, not the server, may
be the bottleneck). Exit status 1 when any error happened. Traffic goes to
127.0.0.1 only; the process always ends by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import os
import random
import statistics
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from typing import cast

HOST = "127.0.0.1"  # the only address traffic is ever sent to
GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
TEXT, BINARY, CLOSE = 0x1, 0x2, 0x8
N_MASKS = 16
CONNECT_TIMEOUT = 10.0
DRAIN_TIMEOUT = 5.0
CLOSE_TIMEOUT = 2.0
CLOSE_1000 = (1000).to_bytes(2, "big")


# ---------------------------------------------------------------- frames


def frame_header(opcode: int, size: int, masked: bool) -> bytes:
    """Header of one final frame (minimal length encoding, RFC 6455 5.2)."""
    first = 0x80 | opcode
    bit = 0x80 if masked else 0
    if size < 126:
        return bytes((first, bit | size))
    if size < 1 << 16:
        return bytes((first, bit | 126)) + size.to_bytes(2, "big")
    return bytes((first, bit | 127)) + size.to_bytes(8, "big")


def mask_bytes(mask: bytes, data: bytes) -> bytes:
    """XOR ``data`` with the 4-byte ``mask`` repeated (its own inverse)."""
    if not data:
        return b""
    key = (mask * (len(data) // 4 + 1))[: len(data)]
    return (int.from_bytes(data, "little") ^ int.from_bytes(key, "little")).to_bytes(
        len(data), "little"
    )


def client_frame(opcode: int, payload: bytes, mask: bytes) -> bytes:
    """One final masked client frame."""
    return frame_header(opcode, len(payload), True) + mask + mask_bytes(mask, payload)


def make_payload(size: int, text: bool, seed: int = 6455) -> bytes:
    """Deterministic payload: random bytes, or random ASCII letters for TEXT."""
    rnd = random.Random(seed)
    if text:
        return bytes(rnd.choice(b"abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(size))
    return rnd.randbytes(size)


@dataclass(frozen=True)
class Frames:
    """What a connection sends (masked frames to cycle) and expects back."""

    outgoing: tuple[bytes, ...]
    echo: bytes  # the exact unmasked server frame expected for each message
    echo_header: bytes

    @classmethod
    def build(cls, size: int, text: bool) -> Frames:
        opcode = TEXT if text else BINARY
        payload = make_payload(size, text)
        out = tuple(client_frame(opcode, payload, os.urandom(4)) for _ in range(N_MASKS))
        header = frame_header(opcode, size, False)
        return cls(out, header + payload, header)


# ------------------------------------------------------------ connection


@dataclass
class Clock:
    """The shared measured interval [start, end) on ``time.perf_counter``."""

    start: float = float("inf")
    end: float = float("inf")


def handshake_request(port: int, key: bytes) -> bytes:
    return (
        f"GET /ws HTTP/1.1\r\nHost: {HOST}:{port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key.decode()}\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n"
    ).encode()


def check_handshake(head: bytes, key: bytes) -> str | None:
    """Return what is wrong with the server's handshake answer, or None."""
    lines = head.decode("latin-1").split("\r\n")
    if not lines[0].startswith("HTTP/1.1 101"):
        return f"status line {lines[0]!r}"
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    accept = base64.b64encode(hashlib.sha1(key + GUID).digest()).decode()
    if headers.get("sec-websocket-accept") != accept:
        return f"bad Sec-WebSocket-Accept {headers.get('sec-websocket-accept')!r}"
    if headers.get("upgrade", "").lower() != "websocket":
        return f"bad Upgrade {headers.get('upgrade')!r}"
    if "sec-websocket-extensions" in headers:
        return f"unrequested extensions {headers['sec-websocket-extensions']!r}"
    return None


def describe_frame(buf: bytearray, pos: int) -> str:
    """A short description of the (unexpected) frame starting at ``pos``."""
    first, second = buf[pos], buf[pos + 1]
    opcode, length = first & 0x0F, second & 0x7F
    if opcode == CLOSE:
        code = int.from_bytes(buf[pos + 2 : pos + 4], "big") if length >= 2 else None
        return f"server sent close (code {code})"
    return f"unexpected frame: opcode {opcode:#x}, fin {first >> 7}, length field {length}"


class EchoConnection(asyncio.Protocol):
    """One WebSocket connection keeping ``window`` echo messages in flight.

    States: handshake -> running -> draining (no more sends) -> closing
    (close frame sent) -> done. ``done`` resolves when the connection is
    finished, successfully or not; ``error`` then says what went wrong.
    """

    def __init__(self, port: int, frames: Frames, window: int, clock: Clock) -> None:
        self.port, self.frames, self.window, self.clock = port, frames, window, clock
        self.key = base64.b64encode(os.urandom(16))
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.state = "handshake"
        self.upgraded: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.error: str | None = None
        self.sent: deque[float] = deque()
        self.next_frame = 0
        self.count = 0  # echoes received inside the measured interval
        self.total = 0  # all echoes received
        self.rtts: list[float] = []

    # -- asyncio callbacks

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is no subclass
        self.transport.write(handshake_request(self.port, self.key))

    def data_received(self, data: bytes) -> None:
        if self.state == "running" and not self.buf and data == self.frames.echo:
            self._completed(1)  # fast path: exactly one whole echo, nothing buffered
            return
        self.buf += data
        if self.state == "handshake":
            self._on_head()
        elif self.state == "closing":
            self._on_close_reply()
        elif self.state != "done":
            self._on_echoes()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.state != "done":
            self.fail(f"connection lost in state {self.state} ({exc or 'EOF'})")

    # -- states

    def _on_head(self) -> None:
        end = self.buf.find(b"\r\n\r\n")
        if end < 0:
            return
        problem = check_handshake(bytes(self.buf[:end]), self.key)
        del self.buf[: end + 4]
        if problem:
            self.fail(f"handshake: {problem}")
            return
        self.state = "upgraded"
        self.upgraded.set_result(None)
        if self.buf:
            self._on_echoes()

    def start(self) -> None:
        """Put ``window`` messages in flight."""
        self.state = "running"
        self._send(self.window, time.perf_counter())

    def _send(self, n: int, now: float) -> None:
        """Write ``n`` more messages (one write) and record their send time."""
        out, i = self.frames.outgoing, self.next_frame
        self.next_frame = (i + n) % N_MASKS
        self.sent.extend([now] * n)
        assert self.transport is not None
        if n == 1:
            self.transport.write(out[i])
        else:
            self.transport.write(b"".join(out[(i + k) % N_MASKS] for k in range(n)))

    def _on_echoes(self) -> None:
        buf, echo, header = self.buf, self.frames.echo, self.frames.echo_header
        size, hsize = len(echo), len(header)
        pos = n = 0
        while len(buf) - pos >= hsize:
            if not buf.startswith(header, pos):
                self.fail(describe_frame(buf, pos))
                return
            if len(buf) - pos < size:
                break
            if not buf.startswith(echo, pos):
                self.fail(f"echo payload differs from the message sent ({size - hsize} bytes)")
                return
            pos += size
            n += 1
        del buf[:pos]
        if n:
            self._completed(n)

    def _completed(self, n: int) -> None:
        """``n`` echoes arrived: count them, then send as many or wind down."""
        sent = self.sent
        if n > len(sent):
            self.fail(f"{n} echoes for {len(sent)} messages in flight")
            return
        now = time.perf_counter()
        self.total += n
        clock = self.clock
        if clock.start <= now < clock.end:
            self.count += n
            if n == 1:
                self.rtts.append(now - sent.popleft())
            else:
                self.rtts.extend([now - sent.popleft() for _ in range(n)])
        else:
            for _ in range(n):
                sent.popleft()
        if self.state == "running" and now < clock.end:
            self._send(n, now)
        elif not sent:
            self._close()
        else:
            self.state = "draining"

    def _close(self) -> None:
        """All echoes are in: send a close frame and wait for the reply."""
        self.state = "closing"
        assert self.transport is not None
        self.transport.write(client_frame(CLOSE, CLOSE_1000, os.urandom(4)))
        if self.buf:
            self._on_close_reply()

    def _on_close_reply(self) -> None:
        if len(self.buf) < 2:
            return
        if self.buf[0] & 0x0F != CLOSE:
            self.fail(describe_frame(self.buf, 0) + " while closing")
            return
        self.finish(None)

    def stop_sending(self) -> None:
        """Called at the end of the interval: stop, close once drained."""
        if self.state == "running":
            self.state = "draining"
            if not self.sent:
                self._close()

    def fail(self, error: str) -> None:
        self.finish(error)

    def finish(self, error: str | None) -> None:
        """End the connection once; the first error wins."""
        if self.state == "done":
            return
        self.state = "done"
        self.error = error
        if self.transport is not None:
            self.transport.close()
        if not self.upgraded.done():
            self.upgraded.set_result(None)
        if not self.done.done():
            self.done.set_result(None)


# ------------------------------------------------------------------ run


@dataclass
class Result:
    """Everything a run measured; ``errors`` counts problems by kind."""

    size: int
    connections: int
    window: int
    duration: float
    messages: int = 0
    msgs_per_s: float = 0.0
    p50_ms: float | None = None
    p99_ms: float | None = None
    client_cpu: float | None = None
    connections_ok: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    error_samples: list[str] = field(default_factory=list)

    def add_error(self, message: str) -> None:
        kind = message.split(":", 1)[0].split(" (", 1)[0]
        if kind not in self.errors:
            self.error_samples.append(message)
        self.errors[kind] = self.errors.get(kind, 0) + 1


async def connect(port: int, frames: Frames, window: int, clock: Clock) -> EchoConnection:
    """Open one connection and finish the handshake; on failure ``error`` says why."""
    loop = asyncio.get_running_loop()
    try:
        _, conn = await asyncio.wait_for(
            loop.create_connection(lambda: EchoConnection(port, frames, window, clock), HOST, port),
            CONNECT_TIMEOUT,
        )
    except (OSError, asyncio.TimeoutError) as exc:
        failed = EchoConnection(port, frames, window, clock)
        failed.fail(f"connect: {type(exc).__name__} {exc}")
        return failed
    await asyncio.wait([conn.upgraded], timeout=CONNECT_TIMEOUT)
    if not conn.upgraded.done():
        conn.fail(f"handshake: no answer within {CONNECT_TIMEOUT:g} s")
    return conn


async def finish_all(conns: list[EchoConnection], result: Result) -> None:
    """Stop sending, give the echoes and the close replies a bounded time."""
    for c in conns:
        c.stop_sending()
    pending = [c.done for c in conns if not c.done.done()]
    if pending:
        await asyncio.wait(pending, timeout=DRAIN_TIMEOUT + CLOSE_TIMEOUT)
    for c in conns:
        if not c.done.done():
            if c.state == "closing":
                c.fail(f"close: no close frame back within {CLOSE_TIMEOUT:g} s")
            else:
                c.fail(f"timeout: {len(c.sent)} message(s) unanswered at the end")
        if c.error:
            result.add_error(c.error)


def summarize(conns: list[EchoConnection], result: Result, cpu: float, wall: float) -> None:
    """Fill in the counts; rate over the exact measured interval, CPU over ``wall``."""
    result.messages = sum(c.count for c in conns)
    result.msgs_per_s = result.messages / result.duration
    result.client_cpu = cpu / wall
    result.connections_ok = sum(1 for c in conns if c.error is None)
    rtts = sorted(t for c in conns for t in c.rtts)
    if rtts:
        result.p50_ms = 1e3 * statistics.median(rtts)
        result.p99_ms = 1e3 * rtts[min(len(rtts) - 1, int(0.99 * len(rtts)))]


async def run(args: argparse.Namespace) -> Result:
    """Connect, warm up, measure, drain and close; always returns in bounded time."""
    result = Result(args.size, args.connections, args.window, args.duration)
    asyncio.get_running_loop().set_exception_handler(
        lambda loop, ctx: result.add_error(f"client bug: {ctx.get('exception') or ctx['message']}")
    )
    frames = Frames.build(args.size, args.text)
    clock = Clock()
    conns = await asyncio.gather(
        *(connect(args.port, frames, args.window, clock) for _ in range(args.connections))
    )
    live = [c for c in conns if c.state == "upgraded"]
    now = time.perf_counter()
    clock.start = now + args.warmup
    clock.end = clock.start + args.duration
    for c in live:
        c.start()
    await asyncio.sleep(args.warmup)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    await asyncio.sleep(max(0.0, clock.end - wall0))
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    await finish_all(conns, result)
    summarize(conns, result, cpu, max(wall, 1e-9))
    return result


def report(result: Result) -> str:
    p = f"p50 {result.p50_ms:.2f} ms, p99 {result.p99_ms:.2f} ms" if result.p99_ms else "no rtt"
    lines = [
        f"{result.msgs_per_s:,.0f} msgs/s ({result.messages:,} echoes of {result.size} B in "
        f"{result.duration:g} s), {p}; {result.connections_ok}/{result.connections} connections "
        f"ok, window {result.window}, client CPU {result.client_cpu or 0:.0%}"
    ]
    lines += [f"ERROR x{n}: {k}" for k, n in result.errors.items()]
    lines += [f"  e.g. {s}" for s in result.error_samples]
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--port", type=int, required=True, help="server port on 127.0.0.1")
    p.add_argument("--size", type=int, default=16, help="message payload bytes (default 16)")
    p.add_argument("--connections", type=int, default=32)
    p.add_argument("--window", type=int, default=1, help="messages in flight per connection")
    p.add_argument("--duration", type=float, default=10.0, help="measured seconds")
    p.add_argument("--warmup", type=float, default=0.0, help="unmeasured seconds first")
    p.add_argument("--text", action="store_true", help="TEXT messages (ASCII) instead of BINARY")
    p.add_argument("--loop", choices=("uvloop", "asyncio"), default="uvloop")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    args = p.parse_args(argv)
    if args.connections < 1 or args.window < 1 or args.duration <= 0 or args.size < 0:
        p.error("--connections and --window must be >= 1, --duration > 0, --size >= 0")
    return args


def main() -> int:
    args = parse_args()
    if args.loop == "uvloop":
        import uvloop

        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as r:
            result = r.run(run(args))
    else:
        result = asyncio.run(run(args))
    print(json.dumps(vars(result)) if args.json else report(result), flush=True)
    return 1 if result.errors else 0


if __name__ == "__main__":
    sys.exit(main())
