"""The file threads (aioweb._threads): results, errors, cancellation, limits, fork."""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import time
import warnings

import pytest

from aioweb._threads import MAX_THREADS, run_blocking


class Handle:
    """A result that records being closed."""

    def __init__(self) -> None:
        self.closed = threading.Event()

    def close(self) -> None:
        self.closed.set()


def file_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "aioweb-file"]


async def test_result_comes_back_on_the_callers_loop() -> None:
    caller = threading.get_ident()
    ran_on: list[int] = []

    def job(a: int, b: int) -> int:
        ran_on.append(threading.get_ident())
        return a + b

    assert await run_blocking(job, 2, 3) == 5
    assert ran_on and ran_on[0] != caller


async def test_exception_comes_back_as_raised() -> None:
    def job() -> None:
        raise PermissionError("denied")

    with pytest.raises(PermissionError, match="denied"):
        await run_blocking(job)


async def test_result_of_a_cancelled_call_is_closed() -> None:
    started = threading.Event()
    handle = Handle()

    def job() -> Handle:
        started.set()
        time.sleep(0.1)
        return handle

    future = run_blocking(job)
    assert await asyncio.get_running_loop().run_in_executor(None, started.wait, 5)
    future.cancel()
    assert await asyncio.get_running_loop().run_in_executor(None, handle.closed.wait, 5)


def test_result_is_closed_when_the_loop_closed_first() -> None:
    release = threading.Event()
    handle = Handle()

    def job() -> Handle:
        release.wait(5)
        return handle

    loop = asyncio.new_event_loop()

    async def submit() -> None:
        run_blocking(job)

    loop.run_until_complete(submit())
    loop.close()
    release.set()
    assert handle.closed.wait(5)


def test_a_failing_close_ends_no_worker() -> None:
    release = threading.Event()

    class Bad:
        def close(self) -> None:
            raise OSError("close failed")

    def job() -> Bad:
        release.wait(5)  # every thread holds one such job: all of them get a Bad
        return Bad()

    loop = asyncio.new_event_loop()

    async def submit() -> None:
        for _ in range(MAX_THREADS):
            run_blocking(job)

    loop.run_until_complete(submit())
    loop.close()  # nobody takes the results: each is closed, and its close fails
    release.set()

    async def still_served() -> list[int]:
        jobs = (run_blocking(int, "5") for _ in range(2 * MAX_THREADS))
        return await asyncio.wait_for(asyncio.gather(*jobs), 5)

    assert asyncio.run(still_served()) == [5] * (2 * MAX_THREADS)


async def test_up_to_max_threads_run_at_once_and_no_more() -> None:
    barrier = threading.Barrier(MAX_THREADS, timeout=5)

    def job() -> int:
        return barrier.wait()  # BrokenBarrierError unless MAX_THREADS run together

    results = await asyncio.gather(*(run_blocking(job) for _ in range(MAX_THREADS)))
    assert sorted(results) == list(range(MAX_THREADS))
    # A burst of quick jobs never grows the pool past its limit.
    await asyncio.gather(*(run_blocking(time.sleep, 0.001) for _ in range(10 * MAX_THREADS)))
    assert len(file_threads()) <= MAX_THREADS


async def test_jobs_wait_while_every_thread_is_busy() -> None:
    gate = threading.Event()
    blockers = [run_blocking(gate.wait, 5) for _ in range(MAX_THREADS)]
    done: list[int] = []
    queued = [run_blocking(done.append, i) for i in range(20)]
    await asyncio.sleep(0.05)
    assert done == []  # no thread beyond the limit was started for them
    gate.set()
    assert await asyncio.gather(*blockers) == [True] * MAX_THREADS
    await asyncio.gather(*queued)
    assert sorted(done) == list(range(20))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_gets_its_own_threads() -> None:
    async def parse(text: str) -> int:
        return await run_blocking(int, text)

    assert asyncio.run(parse("1")) == 1  # the parent's pool has threads now
    read_end, write_end = os.pipe()
    with warnings.catch_warnings():  # 3.12+: "multi-threaded, use of fork()"
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # the child writes the job's result if it came back in time
        try:
            os.close(read_end)
            value = asyncio.run(asyncio.wait_for(parse("7"), 5))
            os.write(write_end, str(value).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    _, status = os.waitpid(pid, 0)
    with os.fdopen(read_end, "rb") as pipe:
        assert pipe.read() == b"7"
    assert os.waitstatus_to_exitcode(status) == 0


if sys.platform == "win32":  # pragma: no cover
    pytestmark = pytest.mark.skip("POSIX only")
