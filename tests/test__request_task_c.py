"""The compiled request task: a Task's behaviour for the coroutine it runs."""

from __future__ import annotations

import asyncio
import contextvars
import gc
import os
import sys
import types
import weakref
from typing import Any

import pytest
from conftest import origin_module

from aioweb import _protocol, web

try:
    from aioweb._request_task_c import PendingStarts, RequestTask
except ImportError:  # pragma: no cover - built without a compiler
    PendingStarts = RequestTask = None

pytestmark = pytest.mark.skipif(
    RequestTask is None or sys.version_info < (3, 11),
    reason="the compiled request task was not built (it needs Python 3.11+)",
)

VAR: contextvars.ContextVar[str] = contextvars.ContextVar("VAR", default="unset")


def start(coro: Any) -> Any:
    return RequestTask(coro, asyncio.get_running_loop())


async def test_first_step_runs_one_loop_pass_later_as_the_current_task() -> None:
    seen: list[Any] = []

    async def body() -> str:
        seen.append(asyncio.current_task())
        return "returned"

    task = start(body())
    assert seen == [] and not task.done()
    await asyncio.sleep(0)
    assert seen == [task]
    assert task.done() and not task.cancelled()
    assert task.result() == "returned" and task.exception() is None
    assert asyncio.current_task() is not task


async def test_unfinished_task_reports_invalid_state() -> None:
    task = start(asyncio.sleep(0))
    with pytest.raises(asyncio.InvalidStateError):
        task.result()
    with pytest.raises(asyncio.InvalidStateError):
        task.exception()
    await task


async def test_each_task_has_its_own_context() -> None:
    VAR.set("outer")
    seen: list[str] = []

    async def body(value: str) -> None:
        seen.append(VAR.get())
        VAR.set(value)
        await asyncio.sleep(0)  # hand over: the Task keeps the same context
        seen.append(VAR.get())

    first, second = start(body("first")), start(body("second"))
    await asyncio.gather(first, second)
    assert seen == ["outer", "outer", "first", "second"]
    assert VAR.get() == "outer"
    assert first.get_context()[VAR] == "first"


@pytest.mark.parametrize("suspend", ["future", "sleep0"])
async def test_suspending_hands_the_rest_to_an_asyncio_task(suspend: str) -> None:
    loop = asyncio.get_running_loop()
    gate = loop.create_future()
    seen: list[Any] = []

    async def body() -> str:
        seen.append(asyncio.current_task())
        if suspend == "future":
            await gate
        else:
            await asyncio.sleep(0)
        seen.append(asyncio.current_task())
        return "returned"

    task = start(body())
    await asyncio.sleep(0)
    assert seen == [task]
    if suspend == "future":
        await asyncio.sleep(0)
        assert task.handed_over_to is None and not task.done()
        gate.set_result(None)
        await asyncio.sleep(0)
    successor = task.handed_over_to
    assert isinstance(successor, asyncio.Task)
    assert successor.get_coro() is task.get_coro()  # the Task drives the coroutine itself
    await successor
    await asyncio.sleep(0)  # the request task follows its successor through the loop
    assert seen[1] is successor
    assert task.done() and task.result() == "returned"
    assert task.get_coro().cr_frame is None


async def test_a_cancel_while_the_first_future_is_pending_cancels_it() -> None:
    loop = asyncio.get_running_loop()
    gate = loop.create_future()
    seen: list[Any] = []

    async def body() -> None:
        try:
            await gate
        except asyncio.CancelledError as exc:
            seen.append((exc.args, asyncio.current_task().cancelling()))  # type: ignore[union-attr]
            raise

    task = start(body())
    await asyncio.sleep(0)
    assert task.cancel("stop") is True
    assert gate.cancelled() and task.cancelling() == 1
    with pytest.raises(asyncio.CancelledError):
        await task
    assert seen == [(("stop",), 1)]


async def test_a_bad_yield_gets_a_tasks_error() -> None:
    @types.coroutine
    def bad() -> Any:
        yield 42

    async def body() -> None:
        await bad()

    task = start(body())
    with pytest.raises(RuntimeError, match="bad yield"):
        await asyncio.wait_for(task, 5)
    assert "body" in repr(task.handed_over_to)  # its repr shows the coroutine


async def test_an_error_in_the_first_step_ends_the_task_with_it() -> None:
    async def body() -> None:
        raise LookupError("first step")

    task = start(body())
    await asyncio.sleep(0)
    assert isinstance(task.exception(), LookupError)
    with pytest.raises(LookupError, match="first step"):
        task.result()


async def test_an_error_after_the_hand_over_ends_the_task_with_it() -> None:
    async def body() -> None:
        await asyncio.sleep(0)
        raise LookupError("later")

    task = start(body())
    with pytest.raises(LookupError, match="later"):
        await task


async def test_cancelled_before_its_first_step_the_coroutine_never_runs() -> None:
    ran: list[bool] = []

    async def body() -> None:
        ran.append(True)

    task = start(body())
    assert task.cancel("bye") is True
    assert task.cancelling() == 1
    await asyncio.sleep(0)
    assert ran == [] and task.cancelled()
    with pytest.raises(asyncio.CancelledError, match="bye"):
        task.result()
    assert task.cancel() is False  # done: as a Task, nothing more to cancel


async def test_a_cancel_during_the_first_step_arrives_at_the_next_await() -> None:
    events: list[Any] = []

    async def body() -> None:
        me = asyncio.current_task()
        assert me is not None
        me.cancel("self")
        events.append(me.cancelling())
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError as exc:
            events.append(exc.args)
            raise

    task = start(body())
    await asyncio.sleep(0)
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(asyncio.shield(task), 5)
    assert events == [1, ("self",)]
    assert task.cancelled()


async def test_a_cancel_during_the_only_step_still_cancels_the_task() -> None:
    async def body() -> None:
        me = asyncio.current_task()
        assert me is not None
        me.cancel()

    task = start(body())
    await asyncio.sleep(0)
    assert task.cancelled()


async def test_uncancel_withdraws_a_cancel_made_in_the_first_step() -> None:
    async def body() -> str:
        me = asyncio.current_task()
        assert me is not None
        me.cancel()
        assert me.uncancel() == 0
        await asyncio.sleep(0)
        return "not cancelled"

    task = start(body())
    assert await asyncio.wait_for(task, 5) == "not cancelled"


async def test_cancel_after_the_hand_over_reaches_the_awaiting_coroutine() -> None:
    seen: list[Any] = []

    async def body() -> None:
        await asyncio.sleep(0)  # a bare yield: the Task takes over at once
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError as exc:
            seen.append(exc.args)
            raise

    task = start(body())
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert isinstance(task.handed_over_to, asyncio.Task)
    assert task.cancel("stop") is True
    assert task.cancelling() == 1
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 5)
    assert seen == [("stop",)] and task.cancelled()
    with pytest.raises(asyncio.CancelledError, match="stop"):
        task.result()  # the message the Task ended with


async def test_timeout_entered_before_the_first_await_fires() -> None:
    outcome: list[str] = []

    async def body() -> None:
        try:
            async with asyncio.timeout(0.01):
                await asyncio.sleep(10)
        except TimeoutError:
            outcome.append("timed out")
        await asyncio.sleep(0)
        outcome.append("went on")

    await asyncio.wait_for(start(body()), 5)
    assert outcome == ["timed out", "went on"]


async def test_task_group_entered_before_the_first_await_reports_its_children() -> None:
    async def failing() -> None:
        raise LookupError("child")

    async def body() -> None:
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(failing())
                await asyncio.sleep(10)
        except Exception as group:  # an ExceptionGroup; this file parses on 3.10
            if isinstance(getattr(group, "exceptions", ())[0], LookupError):
                VAR.set("caught")

    task = start(body())
    await asyncio.wait_for(task, 5)
    assert task.get_context()[VAR] == "caught"
    assert task.cancelling() == 0


async def test_done_callbacks_get_the_request_task_through_the_loop() -> None:
    calls: list[Any] = []
    task = start(asyncio.sleep(0))
    task.add_done_callback(calls.append)
    task.add_done_callback(lambda t: calls.append("removed"))
    removed = task.remove_done_callback(calls.append)
    assert removed == 1
    task.add_done_callback(calls.append)
    await asyncio.wait_for(asyncio.wait([task]), 5)
    await asyncio.sleep(0)
    assert calls == ["removed", task]
    task.add_done_callback(calls.append)  # already done: called soon
    assert calls == ["removed", task]
    await asyncio.sleep(0)
    assert calls == ["removed", task, task]


async def test_names_and_stack_follow_the_hand_over() -> None:
    async def body() -> None:
        await asyncio.sleep(0)  # a bare yield: the Task takes over at once
        await asyncio.sleep(10)

    task = start(body())
    assert task.get_name().startswith("aioweb-request-")
    task.set_name("req-1")
    assert task.get_stack() and "req-1" in repr(task)
    await asyncio.sleep(0)
    assert task.handed_over_to.get_name() == "req-1"
    task.set_name("req-2")
    assert task.get_name() == task.handed_over_to.get_name() == "req-2"
    assert task.get_stack()[0].f_code is body.__code__
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


# -- on a real connection --


async def task_probe(request: web.Request) -> web.Response:
    before = asyncio.current_task()
    VAR.set(request.query.get("set", "unset"))
    same_before = before is request.task
    if "await" in request.query:
        await asyncio.sleep(0)
    after = asyncio.current_task()
    return web.json_response(
        {
            "before": same_before,
            "after": after is request.task,
            "var_seen": request.query.get("seen", ""),
            "kind": type(request.task).__name__,
        }
    )


async def var_probe(request: web.Request) -> web.Response:
    return web.Response(text=VAR.get())


@pytest.mark.skipif(
    _protocol.PendingStarts is None, reason="connections use plain Tasks (AIOWEB_NO_EXTENSIONS=1)"
)
async def test_handlers_see_their_request_task_as_the_current_task(aioweb_client: Any) -> None:
    app = web.Application()
    app.router.add_get("/", task_probe)
    client = await aioweb_client(app)
    inline = await (await client.get("/")).json()
    awaited = await (await client.get("/?await=1")).json()
    assert inline["before"] and inline["after"] and inline["kind"] == "RequestTask"
    assert awaited["before"] and awaited["after"] and awaited["kind"] == "Task"


async def test_context_variables_do_not_leak_to_the_next_request(aioweb_client: Any) -> None:
    app = web.Application()
    app.router.add_get("/set", task_probe)
    app.router.add_get("/get", var_probe)
    client = await aioweb_client(app)
    for path in ("/set?set=leaked", "/set?set=leaked&await=1"):
        assert (await client.get(path)).status == 200
        assert await (await client.get("/get")).text() == "unset"


async def test_timeout_in_a_handler_before_its_first_await(aioweb_client: Any) -> None:
    async def slow(request: web.Request) -> web.Response:
        try:
            async with asyncio.timeout(0.01):
                await asyncio.sleep(10)
        except TimeoutError:
            return web.Response(text="timed out")
        return web.Response(text="slept")

    app = web.Application()
    app.router.add_get("/", slow)
    client = await aioweb_client(app)
    resp = await client.get("/")
    assert (resp.status, await resp.text()) == (200, "timed out")


@pytest.mark.skipif(
    os.environ.get("AIOWEB_REQUIRE_EXTENSIONS") != "1",
    reason="only where the build must have compiled the extensions (AIOWEB_REQUIRE_EXTENSIONS=1)",
)
@pytest.mark.parametrize(
    ("env", "expected"), [({}, "aioweb._request_task_c"), ({"AIOWEB_NO_EXTENSIONS": "1"}, "None")]
)
def test_connections_select_the_compiled_task(env: dict[str, str], expected: str) -> None:
    assert origin_module("aioweb._protocol", "PendingStarts", env) == expected
    if not os.environ.get("AIOWEB_NO_EXTENSIONS"):
        assert _protocol.PendingStarts is PendingStarts


async def test_run_first_step_runs_it_now_as_the_current_task_in_its_own_context() -> None:
    VAR.set("outer")
    seen: list[Any] = []

    async def body() -> str:
        seen.append((asyncio.current_task(), VAR.get()))
        VAR.set("inner")
        return "returned"

    task = RequestTask(body(), asyncio.get_running_loop(), False)
    await asyncio.sleep(0)
    assert seen == [] and not task.done()  # not scheduled: it waits for its caller
    ran: list[bool] = []
    asyncio.get_running_loop().call_soon(lambda: ran.append(task.run_first_step() is None))
    await asyncio.sleep(0)
    assert ran == [True] and seen == [(task, "outer")]
    assert task.done() and task.result() == "returned"
    assert VAR.get() == "outer" and task.get_context()[VAR] == "inner"


class _Transport(asyncio.Transport):
    """Collects what a connection writes."""

    def __init__(self) -> None:
        super().__init__()
        self.data = bytearray()
        self.closing = False

    def write(self, data: Any) -> None:
        self.data += data

    def writelines(self, chunks: Any) -> None:
        for chunk in chunks:
            self.data += chunk

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.closing = True

    def abort(self) -> None:
        self.closing = True

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return default

    def get_write_buffer_size(self) -> int:
        return 0


def _connections(app: web.Application, n: int) -> list[tuple[Any, _Transport]]:
    server = app.make_handler(access_log=None)
    conns = []
    for _ in range(n):
        proto, transport = server(), _Transport()
        proto.connection_made(transport)
        conns.append((proto, transport))
    return conns


def _app(handler: Any) -> web.Application:
    app = web.Application()
    app.router.add_get("/{name}", handler)
    return app


def _get(name: str) -> bytes:
    return f"GET /{name} HTTP/1.1\r\nHost: x\r\n\r\n".encode()


async def test_requests_read_in_one_pass_are_answered_in_the_next() -> None:
    ran: list[str] = []

    async def handler(request: web.Request) -> web.Response:
        ran.append(request.match_info["name"])
        return web.Response(text=request.match_info["name"])

    (first, t1), (lost, t2), (third, t3) = _connections(_app(handler), 3)
    for proto, name in ((first, "a"), (lost, "b"), (third, "c")):
        proto.data_received(_get(name))
    assert ran == [] and not first.idle
    lost.connection_lost(None)  # gone before its turn: its handler never runs
    await asyncio.sleep(0)
    assert ran == ["a", "c"]
    assert t1.data.endswith(b"\r\n\r\na") and t3.data.endswith(b"\r\n\r\nc")
    assert t2.data == b"" and first.idle and third.idle


@pytest.mark.skipif(
    _protocol.PendingStarts is None, reason="connections use plain Tasks (AIOWEB_NO_EXTENSIONS=1)"
)
def test_a_keyboard_interrupt_in_one_handler_leaves_the_others_to_start_later() -> None:
    async def handler(request: web.Request) -> web.Response:
        if request.match_info["name"] == "stop":
            raise KeyboardInterrupt
        return web.Response(text="ok")

    loop = asyncio.new_event_loop()
    try:

        async def connect() -> list[tuple[Any, _Transport]]:
            return _connections(_app(handler), 2)

        conns = loop.run_until_complete(connect())
        conns[0][0].data_received(_get("stop"))  # read in one pass, as from the loop
        conns[1][0].data_received(_get("go"))
        with pytest.raises(KeyboardInterrupt):
            loop.run_until_complete(asyncio.sleep(0.05))
        assert conns[1][1].data == b""
        loop.run_until_complete(asyncio.sleep(0))
        assert conns[1][1].data.startswith(b"HTTP/1.1 200 OK") and conns[1][0].idle
    finally:
        loop.close()


@pytest.mark.skipif(
    _protocol.PendingStarts is None, reason="connections use plain Tasks (AIOWEB_NO_EXTENSIONS=1)"
)
def test_a_closed_loop_is_not_kept_alive_by_its_pending_starts() -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    loop = asyncio.new_event_loop()

    async def serve_one() -> _Transport:
        (proto, transport), = _connections(_app(handler), 1)
        proto.data_received(_get("x"))
        await asyncio.sleep(0)
        return transport

    transport = loop.run_until_complete(serve_one())
    assert transport.data.startswith(b"HTTP/1.1 200 OK")
    assert loop in _protocol._pending_starts
    loop.close()
    gone = weakref.ref(loop)
    del loop
    gc.collect()
    assert gone() is None
