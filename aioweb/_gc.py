"""Garbage-collector tuning for a serving process: no young collections per loop pass.

Why. CPython up to 3.12 collects its youngest generation whenever 700 more
container objects are alive than at the previous collection. A request read
but not yet answered holds several of them (the parsed message, its headers,
the queue entry, a body's reader; its task, coroutine and context are made
in the pass that answers it). 256 connections with a few pipelined requests
each hold thousands in a loop pass, so every pass ran young collections
that found nothing to free (a request's objects die by reference count:
they form no cycles), promoted everything alive and, every few
seconds, set off a full collection of all the application's objects. Under
``wrk -c256`` that was about 4 % of the server's time (``gc.callbacks``),
and 4 % more instructions per request than at 64 connections
(``bench/micro.py --connections 256``, callgrind). At 10,000 a pass of 256
or even 1,024 requests stays under the threshold.

What is guaranteed. ``tune_gc()`` changes at most the first threshold, at
most once per process, and only while the thresholds are CPython's default
``(700, 10, 10)``: an operator's ``gc.set_threshold()`` wins, and so do
``gc.disable()`` and ``AIOWEB_NO_GC_TUNING=1``; Python 3.13+, whose defaults
differ, is left alone. The cost: cyclic garbage waits for 10,000 container
allocations instead of 700 before it is collected, and a young collection of
10,000 live objects takes about 0.1 ms.
"""

from __future__ import annotations

import gc
import os

__all__ = ("tune_gc",)

CPYTHON_DEFAULT = (700, 10, 10)
YOUNG_THRESHOLD = 10_000

_tuned: bool | None = None


def tune_gc() -> bool:
    """Raise the young-generation threshold once; True if this process's GC is tuned."""
    global _tuned
    if _tuned is None:
        _tuned = _apply()
    return _tuned


def _apply() -> bool:
    if os.environ.get("AIOWEB_NO_GC_TUNING") or not gc.isenabled():
        return False
    current = gc.get_threshold()
    if current != CPYTHON_DEFAULT:
        return False
    gc.set_threshold(YOUNG_THRESHOLD, *current[1:])
    return True
