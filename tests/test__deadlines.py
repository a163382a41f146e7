"""Deadlines: many owners on one loop timer, on asyncio's loop and on uvloop."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from aioweb._deadlines import TICK, Deadlines

LOOPS = ["asyncio", "uvloop"]


def run_on(loop_name: str, main: Callable[[], Awaitable[Any]]) -> Any:
    factory = None if loop_name == "asyncio" else pytest.importorskip("uvloop").new_event_loop
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(main())


class Owner:
    """Records when the loop called it; may file itself again or fail."""

    def __init__(self, deadlines: Deadlines, name: str, fired: list[tuple[str, float]]) -> None:
        self.deadlines = deadlines
        self.name = name
        self.fired = fired
        self.refile_in: float | None = None
        self.fail = False

    def _on_timer(self) -> None:
        self.fired.append((self.name, self.deadlines.loop.time()))
        if self.fail:
            raise RuntimeError(f"{self.name} failed")
        if self.refile_in is not None:
            when, self.refile_in = self.deadlines.loop.time() + self.refile_in, None
            self.deadlines.file(self, when)


def counting_timers(loop: asyncio.AbstractEventLoop) -> list[float]:
    """Replace ``loop.call_at`` with one that records each time a timer is armed."""
    armed: list[float] = []
    real = loop.call_at

    def call_at(when: float, callback: Any, *args: Any, **kwargs: Any) -> asyncio.TimerHandle:
        armed.append(when)
        return real(when, callback, *args, **kwargs)

    loop.call_at = call_at  # type: ignore[method-assign]
    return armed


@pytest.mark.parametrize("loop_name", LOOPS)
def test_owners_fire_tick_by_tick_never_early_and_at_most_a_tick_late(loop_name: str) -> None:
    async def main() -> tuple[dict[str, float], list[tuple[str, float]], int, int]:
        loop = asyncio.get_running_loop()
        deadlines = Deadlines(loop)
        fired: list[tuple[str, float]] = []
        now = loop.time()
        due = {f"o{i}": now + 0.02 * i for i in range(1, 11)}
        for name, when in reversed(due.items()):  # filed latest first
            deadlines.file(Owner(deadlines, name, fired), when)
        pending = len(deadlines)
        await asyncio.sleep(0.2 + 2 * TICK)
        return due, fired, pending, len(deadlines)

    due, fired, pending, left = run_on(loop_name, main)
    assert pending == 10 and left == 0
    assert sorted(name for name, _ in fired) == sorted(due)
    ticks = [int(due[name] / TICK) for name, _ in fired]
    assert ticks == sorted(ticks)  # tick by tick; within a tick, in filing order
    for name, at in fired:
        assert due[name] <= at <= due[name] + TICK + 0.25, (name, at - due[name])


@pytest.mark.parametrize("loop_name", LOOPS)
def test_one_loop_timer_serves_every_owner(loop_name: str) -> None:
    async def main() -> tuple[list[float], int]:
        loop = asyncio.get_running_loop()
        armed = counting_timers(loop)
        deadlines = Deadlines(loop)
        fired: list[tuple[str, float]] = []
        now = loop.time()
        for i in range(1000):  # later and later, as connections open
            deadlines.file(Owner(deadlines, str(i), fired), now + 0.05 + i * 0.0001)
        await asyncio.sleep(0.15 + 2 * TICK)
        return armed, len(fired)

    armed, fired = run_on(loop_name, main)
    assert fired == 1000
    # one timer per distinct tick reached (0.1 s of deadlines over 50 ms ticks),
    # never one per owner
    assert 1 <= len(armed) <= 4


@pytest.mark.parametrize("loop_name", LOOPS)
def test_an_earlier_deadline_rearms_the_timer(loop_name: str) -> None:
    async def main() -> list[tuple[str, float]]:
        loop = asyncio.get_running_loop()
        deadlines = Deadlines(loop)
        fired: list[tuple[str, float]] = []
        now = loop.time()
        deadlines.file(Owner(deadlines, "late", fired), now + 5)
        deadlines.file(Owner(deadlines, "soon", fired), now + 0.05)
        await asyncio.sleep(0.05 + 2 * TICK)
        return fired

    assert [name for name, _ in run_on(loop_name, main)] == ["soon"]


@pytest.mark.parametrize("loop_name", LOOPS)
def test_unfiled_owners_are_not_called_and_not_held(loop_name: str) -> None:
    async def main() -> tuple[list[tuple[str, float]], int]:
        loop = asyncio.get_running_loop()
        deadlines = Deadlines(loop)
        fired: list[tuple[str, float]] = []
        now = loop.time()
        kept = Owner(deadlines, "kept", fired)
        gone = Owner(deadlines, "gone", fired)
        deadlines.file(kept, now + 0.05)
        tick = deadlines.file(gone, now + 0.05)
        deadlines.unfile(gone, tick)
        held = len(deadlines)
        await asyncio.sleep(0.05 + 2 * TICK)
        deadlines.unfile(kept, tick)  # after it fired: nothing to do
        return fired, held

    fired, held = run_on(loop_name, main)
    assert held == 1
    assert [name for name, _ in fired] == ["kept"]


@pytest.mark.parametrize("loop_name", LOOPS)
def test_an_owner_may_file_itself_again_when_called(loop_name: str) -> None:
    async def main() -> list[tuple[str, float]]:
        loop = asyncio.get_running_loop()
        deadlines = Deadlines(loop)
        fired: list[tuple[str, float]] = []
        owner = Owner(deadlines, "again", fired)
        owner.refile_in = 0.0  # due at once: runs in a later loop pass, not in this one
        deadlines.file(owner, loop.time() + 0.02)
        await asyncio.sleep(0.02 + 3 * TICK)
        return fired

    fired = run_on(loop_name, main)
    assert [name for name, _ in fired] == ["again", "again"]
    assert fired[1][1] >= fired[0][1]


@pytest.mark.parametrize("loop_name", LOOPS)
def test_a_failing_owner_is_reported_and_the_others_still_run(loop_name: str) -> None:
    async def main() -> tuple[list[tuple[str, float]], list[dict[str, Any]]]:
        loop = asyncio.get_running_loop()
        reported: list[dict[str, Any]] = []
        loop.set_exception_handler(lambda _loop, context: reported.append(context))
        deadlines = Deadlines(loop)
        fired: list[tuple[str, float]] = []
        when = loop.time() + 0.02
        bad = Owner(deadlines, "bad", fired)
        bad.fail = True
        deadlines.file(bad, when)
        deadlines.file(Owner(deadlines, "good", fired), when)
        await asyncio.sleep(0.02 + 2 * TICK)
        return fired, reported

    fired, reported = run_on(loop_name, main)
    assert sorted(name for name, _ in fired) == ["bad", "good"]
    assert len(reported) == 1 and str(reported[0]["exception"]) == "bad failed"


@pytest.mark.parametrize("loop_name", LOOPS)
def test_connection_churn_does_not_grow_the_pending_ticks(loop_name: str) -> None:
    """Owners filed and unfiled many times within a few ticks leave a few ticks pending."""

    async def main() -> tuple[int, int, int]:
        loop = asyncio.get_running_loop()
        deadlines = Deadlines(loop)
        fired: list[tuple[str, float]] = []
        now = loop.time()
        for i in range(10_000):  # each opens and closes before the next one opens
            owner = Owner(deadlines, str(i), fired)
            deadlines.unfile(owner, deadlines.file(owner, now + 60 + i * 0.00001))
        pending_ticks = len(deadlines._ticks)
        await asyncio.sleep(0)
        return pending_ticks, len(deadlines), len(fired)

    pending_ticks, filed, fired = run_on(loop_name, main)
    assert filed == 0 and fired == 0
    assert pending_ticks <= 4  # 0.1 s of deadlines over 50 ms ticks: one entry per tick
