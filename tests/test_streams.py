"""StreamReader: reads, EOF, errors and read back-pressure (no sockets)."""

from __future__ import annotations

import asyncio

import pytest

from aioweb.streams import EMPTY_PAYLOAD, StreamReader


class Control:
    """Records pause/resume calls like a transport would."""

    def __init__(self) -> None:
        self.paused = False
        self.calls: list[str] = []

    def pause_reading(self) -> None:
        self.paused = True
        self.calls.append("pause")

    def resume_reading(self) -> None:
        self.paused = False
        self.calls.append("resume")


def filled(*chunks: bytes, eof: bool = True) -> StreamReader:
    stream = StreamReader()
    for chunk in chunks:
        stream.feed_data(chunk)
    if eof:
        stream.feed_eof()
    return stream


async def test_read_all_waits_for_eof() -> None:
    stream = StreamReader()
    task = asyncio.ensure_future(stream.read())
    stream.feed_data(b"ab")
    await asyncio.sleep(0)
    assert not task.done()
    stream.feed_data(b"cd")
    stream.feed_eof()
    assert await task == b"abcd"
    assert await stream.read() == b""
    assert stream.at_eof() and stream.total_bytes == 4


@pytest.mark.parametrize(
    ("n", "expected"),
    [(1, [b"a", b"b", b"c", b"d", b"e"]), (2, [b"ab", b"cd", b"e"]), (10, [b"abcde"])],
)
async def test_read_n_splits_and_joins_chunks(n: int, expected: list[bytes]) -> None:
    stream = filled(b"ab", b"c", b"de")
    assert [c async for c in stream.iter_chunked(n)] == expected


async def test_read_zero_returns_empty() -> None:
    assert await filled(b"x").read(0) == b""


async def test_readany_returns_chunks_as_fed() -> None:
    stream = filled(b"ab", b"cd")
    assert [c async for c in stream.iter_any()] == [b"ab", b"cd"]


async def test_readchunk_and_iter_chunks() -> None:
    stream = filled(b"ab", b"cd")
    assert await stream.readchunk() == (b"ab", False)
    assert [c async for c in stream.iter_chunks()] == [(b"cd", False)]
    assert await stream.readchunk() == (b"", False)


async def test_readexactly() -> None:
    stream = filled(b"ab", b"cde")
    assert await stream.readexactly(4) == b"abcd"
    with pytest.raises(asyncio.IncompleteReadError) as info:
        await stream.readexactly(2)
    assert info.value.partial == b"e"


async def test_readline_and_line_iteration() -> None:
    stream = filled(b"one\ntw", b"o\n", b"three")
    assert [line async for line in stream] == [b"one\n", b"two\n", b"three"]


async def test_readuntil_multibyte_separator_across_chunks() -> None:
    stream = filled(b"a-", b"-b--c")
    assert await stream.readuntil(b"--") == b"a--"
    assert await stream.readuntil(b"--") == b"b--"
    assert await stream.readuntil(b"--") == b"c"
    with pytest.raises(ValueError):
        await stream.readuntil(b"")


async def test_readline_too_long() -> None:
    stream = filled(b"x" * 100, eof=False)
    with pytest.raises(ValueError):
        await stream.readline(max_line_length=50)


async def test_read_nowait_and_unread_data() -> None:
    stream = filled(b"abc", eof=False)
    assert stream.read_nowait(2) == b"ab"
    stream.unread_data(b"ab")
    assert stream.read_nowait() == b"abc"
    assert stream.read_nowait() == b""


async def test_exception_fails_pending_and_later_reads() -> None:
    stream = StreamReader()
    task = asyncio.ensure_future(stream.read())
    await asyncio.sleep(0)
    error = ConnectionResetError("gone")
    stream.set_exception(error)
    with pytest.raises(ConnectionResetError):
        await task
    assert stream.exception() is error
    for read in (stream.read, stream.readany, stream.readline, stream.readchunk):
        with pytest.raises(ConnectionResetError):
            await read()
    with pytest.raises(ConnectionResetError):
        await stream.readexactly(1)


async def test_wait_eof() -> None:
    stream = StreamReader()
    task = asyncio.ensure_future(stream.wait_eof())
    stream.feed_data(b"x")
    await asyncio.sleep(0)
    assert not task.done()
    stream.feed_eof()
    await task
    assert await stream.read() == b"x"


async def test_pauses_above_high_water_and_resumes_at_half() -> None:
    control = Control()
    stream = StreamReader(control, high_water=100)
    stream.feed_data(b"x" * 60)
    assert not control.paused
    stream.feed_data(b"x" * 60)
    assert control.calls == ["pause"]
    stream.feed_data(b"x" * 60)  # already paused: no second call
    assert control.calls == ["pause"]
    await stream.read(100)  # 80 left: still above half
    assert control.paused
    await stream.read(30)  # 50 left: at half, resume
    assert control.calls == ["pause", "resume"]
    assert await stream.read(100) == b"x" * 50


async def test_slow_consumer_gets_every_byte_in_order() -> None:
    control = Control()
    stream = StreamReader(control, high_water=1024)
    data = bytes(range(256)) * 64

    async def produce() -> None:
        for i in range(0, len(data), 300):
            while control.paused:
                await asyncio.sleep(0)
            stream.feed_data(data[i : i + 300])
        stream.feed_eof()

    producer = asyncio.ensure_future(produce())
    received = bytearray()
    while chunk := await stream.read(100):
        received += chunk
        assert stream._size <= 1024 + 300
    await producer
    assert bytes(received) == data
    assert "pause" in control.calls and control.calls[-1] == "resume"


async def test_empty_payload_is_read_only_and_at_eof() -> None:
    assert EMPTY_PAYLOAD.at_eof() and await EMPTY_PAYLOAD.read() == b""
    with pytest.raises(RuntimeError):
        EMPTY_PAYLOAD.feed_data(b"x")
    with pytest.raises(RuntimeError):
        EMPTY_PAYLOAD.unread_data(b"x")
    EMPTY_PAYLOAD.set_exception(ConnectionResetError())
    assert EMPTY_PAYLOAD.exception() is None and await EMPTY_PAYLOAD.readany() == b""


async def test_read_to_eof_of_a_body_larger_than_the_high_water_mark(aioweb_client) -> None:
    """``content.read()`` drains while it waits: a full buffer must not stall EOF."""
    from aioweb import web

    async def handler(request: web.Request) -> web.Response:
        data = await request.content.read()
        return web.Response(text=f"{len(data)} {data.count(b'x')}")

    app = web.Application()
    app.router.add_post("/", handler)
    client = await aioweb_client(app)
    size = 4 * 1024 * 1024
    resp = await client.post("/", data=b"x" * size)
    assert resp.status == 200
    assert await resp.text() == f"{size} {size}"


def test_take_complete_returns_the_whole_body_once_eof_was_fed() -> None:
    stream = filled(b"ab", b"cd")
    assert stream.take_complete() == b"abcd"
    assert stream.at_eof()
    assert stream.take_complete() == b""
    assert EMPTY_PAYLOAD.take_complete() == b""


def test_take_complete_declines_and_consumes_nothing() -> None:
    open_stream = filled(b"ab", eof=False)
    assert open_stream.take_complete() is None
    too_big = filled(b"abcd")
    assert too_big.take_complete(limit=3) is None
    assert too_big.take_complete(limit=4) == b"abcd"
    failed = filled(b"ab")
    failed.set_exception(ConnectionResetError("gone"))
    assert failed.take_complete() is None
    assert failed.exception() is not None


async def test_take_complete_resumes_a_paused_transport() -> None:
    control = Control()
    stream = StreamReader(control, high_water=4)
    stream.feed_data(b"0123456789")
    stream.feed_eof()
    assert control.paused
    assert stream.take_complete() == b"0123456789"
    assert control.calls == ["pause", "resume"]


async def test_many_one_byte_chunks_come_out_whole_and_in_order() -> None:
    # A chunked body of one-byte chunks feeds one chunk per byte; taking
    # them from the front must stay linear (the buffer is cut as it goes).
    data = bytes(i % 251 for i in range(20_000))
    stream = filled(*(data[i : i + 1] for i in range(len(data))))
    taken = [await stream.readany() for _ in range(15_000)]
    # Linear, not quadratic: read chunks are cut from the front as it goes,
    # so the list stays within twice what is unread.
    assert len(stream._buffer) <= 2 * (len(data) - 15_000) + 32
    assert stream.read_nowait(3) == data[15_000:15_003]
    stream.unread_data(b"!")
    rest = await stream.read()
    assert b"".join(taken) == data[:15_000]
    assert rest == b"!" + data[15_003:]
    assert stream.at_eof() and await stream.readany() == b""


async def test_unread_data_after_partial_reads_is_read_first() -> None:
    stream = filled(b"ab", b"cd", b"ef", eof=False)
    assert await stream.readany() == b"ab"
    stream.unread_data(b"xy")
    stream.unread_data(b"w")
    assert stream.read_nowait(2) == b"wx"
    assert await stream.readany() == b"y"
    stream.feed_data(b"gh")
    stream.feed_eof()
    assert await stream.readline() == b"cdefgh"
    assert stream.at_eof()


async def test_readuntil_keeps_the_rest_and_a_too_long_line() -> None:
    stream = filled(b"one\ntw", b"o\nthree", eof=False)
    assert await stream.readline() == b"one\n"
    assert await stream.readline() == b"two\n"
    with pytest.raises(ValueError):
        await stream.readline(max_line_length=3)
    stream.feed_eof()
    assert await stream.readline() == b"three"


def test_take_complete_after_a_partial_read_returns_only_the_rest() -> None:
    stream = filled(b"ab", b"cd")
    assert stream.read_nowait(2) == b"ab"
    assert stream.take_complete() == b"cd"
    assert stream.at_eof() and stream._size == 0
    assert stream.take_complete() == b""
