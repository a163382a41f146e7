"""Threads for blocking file calls, their results handed back to the caller's loop.

Why not ``loop.run_in_executor``: a job through the default
``ThreadPoolExecutor`` costs about 136,000 CPU instructions on Python 3.11
(measured per static-file request): ``concurrent.futures``' future, its
``Condition`` and the executor's semaphore are Python code, and asyncio
chains a second future onto the first. A job here costs a fraction of that:
one ``SimpleQueue`` put and get, one ``call_soon_threadsafe`` and one
asyncio future, all in C.

Theory of operation. Jobs wait in one FIFO ``queue.SimpleQueue``; up to
``MAX_THREADS`` daemon threads take them in order. A thread is started when
a job is queued while none is idle, so a burst of slow calls (a slow disk)
runs up to ``MAX_THREADS`` at a time. A process that serves no file starts
no thread; a thread, once started, stays for the life of the process.
Each result or exception goes back with ``loop.call_soon_threadsafe`` to an
asyncio future made on the caller's loop. If that future was cancelled
meanwhile, or its loop has closed, a result with a ``close()`` method is
closed: a cancelled open never leaks a descriptor.

Guarantees: ``run_blocking`` may be called from any thread that runs a
loop; jobs start in submission order. After ``os.fork`` the child starts
its own threads (the parent's do not exist there).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import queue
import threading
from collections.abc import Callable
from typing import Any, Optional, TypeVar

__all__ = ("MAX_THREADS", "run_blocking")

# About the default executor's size (min(32, cpus + 4): 6 on 2 CPUs, 8 on 4).
MAX_THREADS = 8

_T = TypeVar("_T")
_Job = tuple[asyncio.AbstractEventLoop, "asyncio.Future[Any]", Callable[..., Any], tuple[Any, ...]]


class _Pool:
    """The job queue and its threads; one per process."""

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[_Job] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._threads = 0
        self._idle = 0

    def submit(self, job: _Job) -> None:
        """Queue ``job``: it claims an idle thread, or starts one below the limit."""
        with self._lock:
            start = self._idle == 0 and self._threads < MAX_THREADS
            if start:
                self._threads += 1
            elif self._idle:
                self._idle -= 1
        self._jobs.put(job)
        if start:
            threading.Thread(target=self._work, name="aioweb-file", daemon=True).start()

    def _work(self) -> None:
        # A thread starts for the job that started it, and counts as idle
        # (claimable) only between jobs. At the limit, queued jobs claim no
        # thread and the count may overstate; threads never exit, so it is
        # then never read to start one.
        jobs, lock = self._jobs, self._lock
        while True:
            job = jobs.get()
            _run(job)
            del job  # drop the result before waiting for the next job
            with lock:
                self._idle += 1


def _run(job: _Job) -> None:
    loop, future, func, args = job
    result: Any = None
    error: Optional[BaseException] = None
    try:
        result = func(*args)
    except BaseException as exc:  # handed to the caller, whatever it is
        error = exc
    try:
        loop.call_soon_threadsafe(_settle, future, result, error)
    except RuntimeError:  # the loop has closed: nobody will take the result
        _close(result)


def _settle(future: asyncio.Future[Any], result: Any, error: Optional[BaseException]) -> None:
    if future.cancelled():
        _close(result)
    elif error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


def _close(result: Any) -> None:
    """Close a result nobody will take; a failing ``close()`` has nobody to tell either."""
    close = getattr(result, "close", None)
    if close is not None:
        with contextlib.suppress(Exception):  # nor may it end the worker thread
            close()


_pool = _Pool()


def _new_pool_after_fork() -> None:
    global _pool
    _pool = _Pool()


if hasattr(os, "register_at_fork"):  # not on Windows, which has no fork
    os.register_at_fork(after_in_child=_new_pool_after_fork)


def run_blocking(func: Callable[..., _T], *args: Any) -> asyncio.Future[_T]:
    """Run ``func(*args)`` on a worker thread; the future resolves on the running loop.

    Cancelling the future does not stop a call already running; its result
    is then closed if it has ``close()``.
    """
    loop = asyncio.get_running_loop()
    future: asyncio.Future[_T] = loop.create_future()
    _pool.submit((loop, future, func, args))
    return future
