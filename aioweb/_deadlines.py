"""The deadlines of many connections on one loop timer.

Why: a loop timer per connection (``loop.call_at``) held about 570 bytes on
uvloop (the handle, libuv's timer, a bound method and a context copy), a
sixth of an idle keep-alive connection (bench/idle_memory.py). Here a
connection costs one entry in the dict of its deadline's tick, and the loop
holds one timer for all of them.

What is guaranteed:

- ``file(owner, when)`` makes the loop call ``owner._on_timer()`` once, no
  earlier than ``when`` by the loop's clock and at most ``TICK`` seconds
  (plus the loop's own latency) later, unless ``unfile(owner, at)`` with
  the time it returned comes first. That time is ``when`` rounded up to the
  next multiple of ``TICK``, always computed the same way, so equal floats
  name the same tick.
- Filing and unfiling are O(1); the first owner of a tick also pushes it on
  a heap of pending ticks, O(log t) for t ticks. A tick's bucket stays until
  the tick is reached, even emptied, so the heap holds each pending tick
  once however many connections open and close meanwhile: memory is bounded
  by the ticks in the longest timeout, not by the connection rate. The loop
  holds one timer, armed for the earliest tick with an owner.
- ``_on_timer`` may file its owner again, for any time. An exception from
  one owner goes to the loop's exception handler; the others still run.
- Not thread-safe: a ``Deadlines`` belongs to one loop.
"""

from __future__ import annotations

import asyncio
import heapq
from typing import Protocol

__all__ = ("TICK", "Deadlines", "Owner")

# Coarse enough that connections opened in the same 50 ms share a dict,
# fine enough for timeouts given in tenths of a second.
TICK = 0.05


class Owner(Protocol):
    def _on_timer(self) -> None: ...


class Deadlines:
    """Owners filed by tick (``when`` rounded up to a multiple of TICK), fired tick by tick."""

    __slots__ = ("loop", "_buckets", "_ticks", "_timer", "_armed")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._buckets: dict[float, dict[Owner, None]] = {}
        self._ticks: list[float] = []  # a heap: every key of _buckets, once
        self._timer: asyncio.TimerHandle | None = None
        self._armed = 0.0

    def __len__(self) -> int:
        """Owners filed and not yet fired."""
        return sum(len(bucket) for bucket in self._buckets.values())

    def file(self, owner: Owner, when: float) -> float:
        """Call ``owner._on_timer()`` at ``when`` (see the module doc); return its tick's time."""
        tick = (int(when / TICK) + 1) * TICK
        bucket = self._buckets.get(tick)
        if bucket is None:
            bucket = self._buckets[tick] = {}
            heapq.heappush(self._ticks, tick)
        bucket[owner] = None
        if self._timer is None or tick < self._armed:
            self._arm(tick)
        return tick

    def unfile(self, owner: Owner, tick: float) -> None:
        """Forget ``owner``'s filing under ``tick``; nothing if it already fired."""
        bucket = self._buckets.get(tick)
        if bucket is not None:
            bucket.pop(owner, None)  # an emptied bucket stays: see the module doc

    def _arm(self, tick: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._armed = tick
        self._timer = self.loop.call_at(tick, self._fire)

    def _fire(self) -> None:
        self._timer = None
        buckets, ticks, armed = self._buckets, self._ticks, self._armed
        due: list[dict[Owner, None]] = []
        while ticks and ticks[0] <= armed:
            bucket = buckets.pop(heapq.heappop(ticks))
            if bucket:
                due.append(bucket)
        while ticks and not buckets[ticks[0]]:  # emptied: no need to wake for it
            del buckets[heapq.heappop(ticks)]
        if ticks:
            self._arm(ticks[0])
        # Popped before any owner runs: an owner filing again lands in a new
        # bucket, never in one being walked.
        for bucket in due:
            for owner in bucket:
                try:
                    owner._on_timer()
                except Exception as exc:
                    self.loop.call_exception_handler(
                        {"message": "Error in a connection's timer", "exception": exc}
                    )
