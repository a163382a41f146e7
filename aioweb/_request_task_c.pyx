# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
# cython: auto_pickle=False, binding=False
"""The task that answers a burst of requests on one connection, compiled.

Why not ``asyncio.Task``: most handlers never suspend (they build a response
from the request and return), and for them a Task is mostly overhead; on
Python 3.11 its creation alone registers it in ``asyncio``'s task set through
a Python-level ``WeakSet`` and formats a ``Task-N`` name. A ``RequestTask``
is a small C object, one context copy and one ``call_soon`` (none when
made with ``schedule=False`` and started by ``run_first_step()`` from a
callback that starts a whole loop pass's requests, as ``_protocol`` does);
its step sends into the coroutine with ``PyIter_Send`` (no
``StopIteration`` object). A
pure-Python version of this class cost more than the C Task it replaced
(callgrind, ``bench/micro.py``), so without a compiler connections use
plain Tasks (``_protocol``).

Why not run the first step inside ``data_received`` (as an eager task does):
measured, that costs fewer instructions and yet serves fewer requests per
second. With 64 connections, reading every ready request in one loop pass
and answering them in the next served 18-32 % more requests than reading
and answering each in turn (two sets of interleaved rounds in
``bench/RESULTS.md``), so the first step runs one loop pass later, exactly
when a Task's would.

What is guaranteed, for code running inside the coroutine:

- ``asyncio.current_task()`` is the task running it: this object during the
  first step, then the ``asyncio.Task`` it hands over to.
- The coroutine runs in its own copy of the context (``contextvars``) for its
  whole life, as in a Task.
- Cancellation follows a Task's rules: cancelled before its first step, the
  coroutine never runs; cancelled during it, the coroutine gets
  ``CancelledError`` at its next suspension; ``cancelling()`` and
  ``uncancel()`` count as a Task's do, so ``asyncio.timeout()`` and
  ``TaskGroup`` work when entered before the first ``await``.
- The first time the coroutine suspends, an ``asyncio.Task`` takes over the
  rest of it, once the future it awaits is done (one loop pass later than a
  Task would resume it; the Task then drives the coroutine directly, at a
  Task's cost per step). From then on this object forwards ``cancel``,
  ``cancelling``, ``uncancel`` and names to it, and ends as it ends (result,
  exception or cancellation). ``asyncio.all_tasks()`` lists the Task, not
  this object, and nothing while that first future is pending.
- As a future it can be awaited, polled (``done``, ``result``, ...) and given
  done callbacks, which are called through the loop with this object.

Python 3.11+ (the hand-over needs ``Task(context=...)``). Not thread-safe:
like a Task, it belongs to its loop.
"""

import asyncio
import contextvars
from asyncio import tasks as _tasks
from collections.abc import Coroutine

from cpython.object cimport PyObject
from cpython.ref cimport Py_XDECREF

cdef extern from "Python.h":
    int PyIter_Send(object iterator, object arg, PyObject **presult) except -1
    int PyContext_Enter(object ctx) except -1
    int PyContext_Exit(object ctx) except -1

cdef object _enter_task, _leave_task
try:
    _enter_task = _tasks._enter_task
    _leave_task = _tasks._leave_task
except AttributeError as exc:  # an asyncio without them: connections use plain Tasks
    raise ImportError("asyncio.tasks has no _enter_task/_leave_task") from exc
cdef object _Task = asyncio.Task
cdef object _CancelledError = asyncio.CancelledError
cdef object _InvalidStateError = asyncio.InvalidStateError
cdef object _copy_context = contextvars.copy_context

cdef enum:
    PENDING = 0
    FINISHED = 1
    CANCELLED = 2


cdef class RequestTask:
    """Runs ``coro``'s first step from the loop; a Task takes over if it suspends."""

    cdef object _coro
    cdef object _context
    cdef object _loop
    cdef object _task
    cdef object _exception
    cdef object _result
    cdef object _cancel_message
    cdef object _name
    cdef object _callbacks
    cdef object _waiter
    cdef object _waiting_on
    cdef int _state
    cdef int _cancels
    cdef object __weakref__

    # asyncio.isfuture() accepts objects whose class has this attribute.
    _asyncio_future_blocking = False

    def __init__(self, coro, loop, bint schedule=True):
        self._coro = coro
        self._loop = loop
        self._context = _copy_context()
        if schedule:
            loop.call_soon(self._first_step, context=self._context)

    def run_first_step(self):
        """Run the first step now, in the task's own context.

        For a task made with ``schedule=False`` by a caller that starts a
        whole loop pass's tasks from one callback (``PendingStarts``); never
        from inside a task.
        """
        self._step_now()

    cdef _step_now(self):
        PyContext_Enter(self._context)
        try:
            self._step_first()
        finally:
            PyContext_Exit(self._context)

    def _first_step(self):
        self._step_first()

    cdef _step_first(self):
        cdef PyObject *yielded = NULL
        cdef int sent
        loop = self._loop
        if self._cancels:
            self._coro.close()  # cancelled before it started: it never runs, as with a Task
            self._end(CANCELLED, None)
            return
        _enter_task(loop, self)
        try:
            sent = PyIter_Send(self._coro, None, &yielded)
        except _CancelledError as exc:
            self._cancel_message = exc.args[0] if exc.args else None
            self._end(CANCELLED, None)
            return
        except (KeyboardInterrupt, SystemExit) as exc:
            self._end(FINISHED, exc)
            raise
        except BaseException as exc:
            self._end(FINISHED, exc)
            return
        finally:
            _leave_task(loop, self)
        value = <object>yielded
        Py_XDECREF(yielded)
        if sent == 0:  # returned
            # Cancelled while its only step ran: a Task ends cancelled too.
            self._end(CANCELLED if self._cancels else FINISHED, None, value)
        else:
            self._hand_over(value)

    cdef _hand_over(self, yielded):
        if yielded is None:  # a bare yield (asyncio.sleep(0)): the Task resumes it next pass
            self._start_successor(self._coro)
        elif (
            getattr(yielded, "_asyncio_future_blocking", None)
            and yielded.get_loop() is self._loop
        ):
            # Awaiting a future: the Task starts once it is done, and then
            # drives the coroutine itself (a started coroutine cannot be
            # resumed before its future is done).
            yielded._asyncio_future_blocking = False
            self._waiting_on = yielded
            yielded.add_done_callback(self._future_done, context=self._context)
            if self._cancels:  # cancelled during the step: wake it now, as a Task does
                yielded.cancel(self._cancel_message)
        else:
            # Anything else is an error a Task reports into the coroutine:
            # give it the yielded value as the coroutine's own.
            self._start_successor(_Resume(self._coro, yielded))

    def _future_done(self, future):
        self._waiting_on = None
        self._start_successor(self._coro)

    cdef _start_successor(self, coro):
        task = _Task(coro, loop=self._loop, context=self._context)
        if self._name is not None:
            task.set_name(self._name)
        self._task = task
        for _ in range(self._cancels):
            task.cancel(self._cancel_message)
        task.add_done_callback(self._follow)

    def _follow(self, task):
        if task.cancelled():
            try:
                task.result()
            except _CancelledError as exc:  # keep the Task's cancel message
                self._cancel_message = exc.args[0] if exc.args else None
            self._end(CANCELLED, None)
        else:
            exception = task.exception()
            self._end(FINISHED, exception, None if exception is not None else task.result())

    cdef _end(self, int state, exception, result=None):
        self._state = state
        self._exception = exception
        self._result = result
        callbacks = self._callbacks
        if callbacks is not None:
            self._callbacks = None
            for callback, context in callbacks:
                self._loop.call_soon(callback, self, context=context)
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)

    # -- the Future API --

    def get_loop(self):
        """The loop this task belongs to."""
        return self._loop

    def done(self):
        """True once the coroutine has ended, however it ended."""
        return self._state != PENDING

    def cancelled(self):
        """True if the task ended cancelled."""
        return self._state == CANCELLED

    def result(self):
        """What the coroutine returned; raises what it raised, or CancelledError."""
        if self._state == PENDING:
            raise _InvalidStateError("Result is not set.")
        if self._state == CANCELLED:
            raise self._cancelled_error()
        if self._exception is not None:
            raise self._exception
        return self._result

    def exception(self):
        """What the coroutine raised, or None; CancelledError if cancelled."""
        if self._state == PENDING:
            raise _InvalidStateError("Exception is not set.")
        if self._state == CANCELLED:
            raise self._cancelled_error()
        return self._exception

    cdef _cancelled_error(self):
        if self._cancel_message is None:
            return _CancelledError()
        return _CancelledError(self._cancel_message)

    def add_done_callback(self, fn, *, context=None):
        """Call ``fn(self)`` through the loop once done (at once if done)."""
        if context is None:
            context = _copy_context()
        if self._state != PENDING:
            self._loop.call_soon(fn, self, context=context)
            return
        if self._callbacks is None:
            self._callbacks = []
        self._callbacks.append((fn, context))

    def remove_done_callback(self, fn):
        """Remove every registration of ``fn``; return how many there were."""
        if not self._callbacks:
            return 0
        kept = [(f, c) for f, c in self._callbacks if f != fn]
        removed = len(self._callbacks) - len(kept)
        self._callbacks = kept
        return removed

    def __await__(self):
        if self._state == PENDING:
            if self._waiter is None:
                self._waiter = self._loop.create_future()
            yield from self._waiter.__await__()
        return self.result()

    # -- the Task API that handlers and asyncio's helpers use --

    def cancel(self, msg=None):
        """Request cancellation, by a Task's rules (see the module docstring)."""
        if self._state != PENDING:
            return False
        if self._task is not None:
            return self._task.cancel(msg)
        self._cancels += 1
        self._cancel_message = msg
        if self._waiting_on is not None:
            self._waiting_on.cancel(msg)  # wake it, as a Task cancels what it waits for
        return True

    def cancelling(self):
        """Pending cancellation requests, as ``asyncio.Task.cancelling``."""
        if self._task is not None:
            return self._task.cancelling()
        return self._cancels

    def uncancel(self):
        """Withdraw one cancellation request, as ``asyncio.Task.uncancel``."""
        if self._task is not None:
            return self._task.uncancel()
        if self._cancels > 0:
            self._cancels -= 1
        return self._cancels

    def get_coro(self):
        """The coroutine this task runs."""
        return self._coro

    def get_context(self):
        """The context the coroutine runs in."""
        return self._context

    def get_name(self):
        """The task's name; the Task's once handed over."""
        if self._task is not None:
            return self._task.get_name()
        if self._name is not None:
            return self._name
        return f"aioweb-request-{id(self):x}"

    def set_name(self, value):
        """Name the task (and the Task it hands over to)."""
        self._name = str(value)
        if self._task is not None:
            self._task.set_name(self._name)

    def get_stack(self, *, limit=None):
        """The coroutine's frames, as ``asyncio.Task.get_stack``."""
        if self._task is not None:
            return self._task.get_stack(limit=limit)
        frame = getattr(self._coro, "cr_frame", None)
        return [] if frame is None or self._state != PENDING else [frame]

    @property
    def handed_over_to(self):
        """The Task that runs the coroutine since it first suspended, if it has."""
        return self._task

    def __repr__(self):
        state = ("pending", "finished", "cancelled")[self._state]
        return f"<RequestTask {state} name={self.get_name()!r} coro={self._coro!r}>"


cdef class PendingStarts:
    """The request tasks of one loop that start in its next pass, from one callback.

    Why: a request read in one loop pass is answered in the next. With a
    ``call_soon`` per request, its task, coroutine, context copy and loop
    handle (about 700 bytes) were made in the pass that read it, and at 256
    connections 256 of them waited at once. Made in the next pass, just
    before each runs, one request's are freed before the next one's are
    made, and one handle serves the pass (bench/RESULTS.md, tenth session).

    ``add(proto)`` takes a connection of ``aioweb._protocol``: the callback
    calls its ``_run()`` and sets its ``_task`` before the first step, so
    the handler sees its task as the request's. Connections start in the
    order they were added, on their own ``_loop``. Not thread-safe: one per
    loop, and it holds no reference to the loop (``_protocol`` keeps them in
    a ``WeakKeyDictionary`` by loop, whose values must not keep keys alive).
    """

    cdef list _protos

    def __init__(self):
        self._protos = []

    def add(self, proto):
        """Start ``proto``'s request task in the next loop pass."""
        if not self._protos:
            proto._loop.call_soon(self._start_all)
        self._protos.append(proto)

    def _start_all(self):
        cdef list protos = self._protos
        cdef Py_ssize_t started = 0
        cdef Py_ssize_t count = len(protos)
        cdef RequestTask task
        loop = protos[0]._loop  # never empty: add() scheduled this with the first
        self._protos = []
        try:
            while started < count:
                proto = protos[started]
                started += 1
                task = RequestTask(proto._run(), loop, False)
                proto._task = task
                task._step_now()
        except BaseException:
            # KeyboardInterrupt or SystemExit from a handler: the others start
            # in the pass after, as with a handle each.
            for proto in protos[started:]:
                self.add(proto)
            raise


cdef object _TAKEN = object()


cdef class _Resume:
    """Lets a Task judge a value the coroutine yielded before the hand-over.

    Only for values a Task rejects (not a future of this loop, not None):
    the Task's first step receives ``first`` as if the coroutine had just
    yielded it, and throws its error back into the coroutine, as it would
    have. Later steps and thrown exceptions go straight to the coroutine.
    """

    cdef object _coro
    cdef object _first

    def __init__(self, coro, first):
        self._coro = coro
        self._first = first

    def send(self, value):
        first = self._first
        if first is not _TAKEN:
            self._first = _TAKEN
            return first
        return self._coro.send(value)

    def throw(self, typ, val=None, tb=None):
        self._first = _TAKEN
        if val is None and tb is None:
            return self._coro.throw(typ)
        return self._coro.throw(typ, val, tb)

    def close(self):
        self._first = _TAKEN
        self._coro.close()

    def __await__(self):
        raise TypeError("a resumed request coroutine is driven by its Task, not awaited")

    def __getattr__(self, name):
        # cr_frame, cr_code, names...: Task.get_stack() and repr() see the coroutine.
        if name.startswith("_") and name not in ("__name__", "__qualname__"):
            raise AttributeError(name)
        return getattr(self._coro, name)


Coroutine.register(_Resume)
