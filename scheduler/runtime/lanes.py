"""The two lanes a run goes through: coroutines on the event loop, sync functions on threads.

Each lane reports when the job's own code really started and ended, so a run's duration is
its own: a coroutine's start is its first step on the loop (not its admission, which may be
long before when another job holds the loop), and a thread's start and end are read on the
worker thread (not when the loop gets round to handing the end back).

The coroutine lane also times every step the job takes on the loop. An ``async def`` job that
calls blocking code (``time.sleep``, a synchronous HTTP client) holds the loop for the whole
step, and every other job due meanwhile starts late: such a step is named in a warning.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import logging
import time
from collections.abc import Callable, Coroutine, Generator
from datetime import datetime
from typing import Any, NamedTuple

from scheduler.clock import Clock

__all__ = ["BLOCKING_STEP_SECONDS", "ThreadCall", "ThreadEnds", "TimedSteps", "call_timed"]

logger = logging.getLogger(__name__)

BLOCKING_STEP_SECONDS = 0.1
"""A coroutine step longer than this held the event loop long enough to delay other jobs."""


class TimedSteps:
    """Awaits a job's coroutine step by step, timing each step it takes on the loop.

    It forwards what the coroutine yields (futures) to the task and what the task sends or
    throws back (results, cancellation), exactly as ``await`` would, so timeouts and
    cancellation reach the job unchanged.
    """

    __slots__ = ("_clock", "_coroutine", "_job_id", "finished_at", "longest_step", "started_at")

    def __init__(self, coroutine: Coroutine[Any, Any, Any], clock: Clock, job_id: str) -> None:
        self._coroutine = coroutine
        self._clock = clock
        self._job_id = job_id
        self.started_at: datetime | None = None
        self.finished_at: datetime | None = None
        self.longest_step = 0.0

    def __await__(self) -> Generator[Any, Any, Any]:
        coroutine = self._coroutine
        self.started_at = self._clock.now()
        sent: Any = None
        thrown: BaseException | None = None
        while True:
            began = time.perf_counter()
            try:
                yielded = coroutine.send(sent) if thrown is None else coroutine.throw(thrown)
            except StopIteration as returned:  # how a coroutine returns
                self._finished(began)
                return returned.value
            except BaseException:
                self._finished(began)
                raise
            self._step_ended(began)
            sent, thrown = None, None
            try:
                sent = yield yielded
            except GeneratorExit:
                coroutine.close()
                raise
            except BaseException as exc:  # cancellation, a timeout: the job must see it
                thrown = exc

    def _finished(self, began: float) -> None:
        self._step_ended(began)
        self.finished_at = self._clock.now()

    def _step_ended(self, began: float) -> None:
        took = time.perf_counter() - began
        if took > self.longest_step:
            self.longest_step = took
        if took > BLOCKING_STEP_SECONDS:
            logger.warning(
                "job %s blocked the event loop for %.3fs in one step; jobs due meanwhile "
                "started late (an async def job must await, not block: make it a plain def "
                "to run it on a thread)",
                self._job_id,
                took,
                extra={"job_id": self._job_id, "duration": took},
            )


class ThreadCall(NamedTuple):
    """A sync job's call as its worker thread saw it: when it ran, and what came of it."""

    started_at: datetime
    finished_at: datetime
    result: Any
    exc: BaseException | None


def call_timed(
    clock: Clock, func: Callable[..., Any], args: list[Any], kwargs: dict[str, Any]
) -> ThreadCall:
    """Call ``func`` on a worker thread; every exception, ``SystemExit`` included, is data."""
    started_at = clock.now()
    try:
        result = func(*args, **kwargs)
    except BaseException as exc:  # a job's sys.exit() must not end anything but its run
        return ThreadCall(started_at, clock.now(), None, exc)
    return ThreadCall(started_at, clock.now(), result, None)


_Call = concurrent.futures.Future[ThreadCall]


class ThreadEnds:
    """Hands calls that ended on pool threads back to the event loop, in batches.

    ``loop.run_in_executor`` wakes the loop once per call: a write to its self-pipe, during
    which the worker drops the GIL and then waits to get it back. With a thousand jobs due
    together, those wake-ups slowed the loop thread still submitting the rest
    (tests/benchmarks/bench_lag.py). Here a worker queues its ended call and wakes the loop
    only when no hand-back is pending.
    """

    def __init__(self, hand_back: Callable[[_Call], None]) -> None:
        self._hand_back = hand_back
        self._ended: collections.deque[_Call] = collections.deque()
        self._wake_pending = False
        self._loop: asyncio.AbstractEventLoop | None = None

    def watch(self, call: _Call, loop: asyncio.AbstractEventLoop) -> None:
        """Hand ``call`` back on ``loop`` (the runner's one loop) once it has ended."""
        self._loop = loop
        call.add_done_callback(self._call_ended)

    def _call_ended(self, call: _Call) -> None:
        """On the worker thread (or the loop's, for a call cancelled before it started)."""
        self._ended.append(call)
        # Queue first, test second: a hand-back that clears the flag empties the queue after.
        if self._wake_pending or self._loop is None:
            return
        self._wake_pending = True
        try:
            self._loop.call_soon_threadsafe(self._hand_back_all)
        except RuntimeError:  # the loop has closed: nobody is waiting for this call
            self._wake_pending = False

    def _hand_back_all(self) -> None:
        self._wake_pending = False
        while self._ended:
            self._hand_back(self._ended.popleft())
