"""The run wrapper: one occurrence of a job, from admission to its ``RunRecord``.

``JobRunner`` owns what APScheduler does not: a timeout per run, an overlap count that keeps a
timed-out thread counted until it really ends, misfire grace judged with the injected clock,
and one ``RunRecord`` plus one log line per occurrence, handed to listeners. It knows nothing
of APScheduler: ``scheduler.runtime.service`` feeds it the run times its scheduler finds due.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import importlib
import inspect
import logging
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from scheduler.clock import Clock
from scheduler.loader import LoadedJob
from scheduler.manifest import JobOptions, split_func_path
from scheduler.records import RunRecord, RunStatus

__all__ = ["JobDefinition", "JobRunner", "RunListener"]

logger = logging.getLogger(__name__)

RunListener = Callable[[RunRecord], object]
_Call = concurrent.futures.Future[Any]
_Outcome = tuple[RunStatus, str | None, BaseException | None]

_OUTCOME_LEVELS = {
    RunStatus.SUCCESS: logging.INFO,
    RunStatus.FAILED: logging.ERROR,
    RunStatus.TIMEOUT: logging.ERROR,
    RunStatus.SKIPPED: logging.WARNING,
    RunStatus.MISSED: logging.WARNING,
    RunStatus.CANCELLED: logging.WARNING,
    RunStatus.ABANDONED: logging.WARNING,
    RunStatus.RUNNING: logging.DEBUG,
}


@dataclass(frozen=True, slots=True)
class JobDefinition:
    """What the service runs for one job, whether it came from a manifest or ``register_job``."""

    job_id: str
    func: Callable[..., Any]
    func_path: str
    cron_expression: str
    timezone: str = "UTC"
    options: JobOptions = field(default_factory=JobOptions)
    file: str | None = None
    line: int | None = None
    is_coroutine: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Decided once, not on every run: inspect is slow next to the rest of a run's start.
        object.__setattr__(self, "is_coroutine", _is_coroutine_function(self.func))

    @classmethod
    def from_loaded(cls, job: LoadedJob) -> JobDefinition:
        """Build from a validated manifest job, importing ``func`` if the loader did not."""
        func = job.func if job.func is not None else _import_func(job.spec.func)
        spec = job.spec
        return cls(
            spec.job_id,
            func,
            spec.func,
            spec.cron_expression,
            job.timezone,
            spec,
            job.file,
            job.line,
        )


@dataclass(frozen=True, slots=True)
class _Started:
    """An admitted occurrence, counted as running; ``deadline`` is in event-loop time.

    A sync job is already on the pool (``thread`` gets its call once it ended); a coroutine
    runs when awaited.
    """

    job: JobDefinition
    scheduled_for: datetime
    started_at: datetime
    deadline: float | None
    thread: asyncio.Future[_Call] | None


class JobRunner:
    """Runs occurrences of jobs and records how each one ended.

    It owns what APScheduler does not: a timeout per run, an overlap count that keeps a timed-out
    thread counted until it really ends, misfire grace measured with the injected clock, and one
    ``RunRecord`` plus one log line per occurrence. It needs no scheduler, so tests drive it with
    fake jobs and a fake clock.
    """

    def __init__(self, *, clock: Clock, thread_pool: concurrent.futures.Executor) -> None:
        self._clock = clock
        self._pool = thread_pool
        self._running: dict[str, int] = {}
        self._inflight: set[asyncio.Future[Any]] = set()
        self._timed_out: set[asyncio.Future[Any]] = set()
        self._threads: dict[_Call, tuple[str, asyncio.Future[_Call]]] = {}
        self._thread_ends = _ThreadEnds(self._thread_done)
        self._listeners: tuple[RunListener, ...] = ()
        self.last_runs: dict[str, RunRecord] = {}

    def add_listener(self, listener: RunListener) -> None:
        """Call ``listener`` with every RunRecord, on the event loop thread."""
        self._listeners = (*self._listeners, listener)

    def remove_listener(self, listener: RunListener) -> None:
        """Stop calling ``listener``."""
        listeners = list(self._listeners)
        listeners.remove(listener)
        self._listeners = tuple(listeners)

    def running_count(self, job_id: str) -> int:
        """How many runs of the job have started and not ended (timed-out threads included)."""
        return self._running.get(job_id, 0)

    def run_due(
        self, job: JobDefinition, run_times: Sequence[datetime]
    ) -> Coroutine[Any, Any, list[RunRecord]]:
        """Run the occurrences APScheduler found due; those later than the grace are missed.

        Not ``async def`` on purpose: the first occurrence starts before this returns, while
        APScheduler submits it, as its own executors do; a task hop per job would add up to
        tens of milliseconds when a thousand jobs fall due together (bench_lag.py).
        """
        first = self._begin_due(job, run_times[0]) if run_times else None
        return self._run_rest(job, first, run_times[1:] if len(run_times) > 1 else ())

    async def run(self, job: JobDefinition, scheduled_for: datetime) -> RunRecord:
        """Run one occurrence now, unless ``max_instances`` runs are still going."""
        return await self._end(self._begin(job, scheduled_for, self._clock.now()))

    async def _run_rest(
        self, job: JobDefinition, first: RunRecord | _Started | None, rest: Sequence[datetime]
    ) -> list[RunRecord]:
        records = [] if first is None else [await self._end(first)]
        for run_time in rest:
            records.append(await self._end(self._begin_due(job, run_time)))
        return records

    def _begin_due(self, job: JobDefinition, run_time: datetime) -> RunRecord | _Started:
        now = self._clock.now()  # one read per run: it judges the grace and is ``started_at``
        scheduled_for = run_time.astimezone(UTC)
        grace = job.options.misfire_grace_time
        if grace is not None and (late := (now - scheduled_for).total_seconds()) > grace:
            error = f"started {late:.3f}s late, past the misfire grace of {grace}s"
            return self._finish(RunRecord(job.job_id, scheduled_for, RunStatus.MISSED, error=error))
        return self._begin(job, scheduled_for, now)

    def _begin(
        self, job: JobDefinition, scheduled_for: datetime, now: datetime
    ) -> RunRecord | _Started:
        """Skip (a finished record) or admit the run, synchronously; a thread starts now."""
        options = job.options
        running = self._running.get(job.job_id, 0)
        if running >= options.max_instances:
            why = f"{running} run(s) still going (max_instances={options.max_instances})"
            skipped = RunRecord(job.job_id, scheduled_for, RunStatus.SKIPPED, error=why)
            return self._finish(skipped)
        timeout = options.timeout
        deadline = None if timeout is None else asyncio.get_running_loop().time() + timeout
        self._running[job.job_id] = running + 1
        thread = None if job.is_coroutine else self._submit_thread(job)
        return _Started(job, scheduled_for, now, deadline, thread)

    async def _end(self, started: RunRecord | _Started) -> RunRecord:
        if isinstance(started, RunRecord):
            return started
        job = started.job
        try:
            if started.thread is None:
                status, error, exc = await self._run_coroutine(started)
            else:
                status, error, exc = await self._wait_for_thread(started, started.thread)
        except asyncio.CancelledError:
            cancelled = "cancelled: the scheduler shut down"
            self._finish(
                RunRecord(
                    job.job_id,
                    started.scheduled_for,
                    RunStatus.FAILED,
                    started.started_at,
                    self._clock.now(),
                    cancelled,
                )
            )
            raise
        record = RunRecord(
            job.job_id, started.scheduled_for, status, started.started_at, self._clock.now(), error
        )
        return self._finish(record, exc)

    async def wait_idle(self, timeout: float) -> int:
        """Wait up to ``timeout`` seconds for every started run to end; return how many did not."""
        pending = set(self._inflight)
        if pending and timeout > 0:
            _, pending = await asyncio.wait(pending, timeout=timeout)
        return len(pending)

    def cancel_all(self) -> None:
        """Cancel running coroutines and queued threads; running threads are left to end."""
        for future in list(self._inflight):
            future.cancel()
        for call in list(self._threads):
            call.cancel()

    async def _run_coroutine(self, started: _Started) -> _Outcome:
        """Run the coroutine in the calling task, as APScheduler does: no extra task per run."""
        job, task = started.job, asyncio.current_task()
        if task is not None:
            self._inflight.add(task)
        scope = None if started.deadline is None else asyncio.timeout_at(started.deadline)
        try:
            if scope is None:
                await job.func(*job.options.args, **job.options.kwargs)
            else:
                async with scope:
                    await job.func(*job.options.args, **job.options.kwargs)
        except TimeoutError as exc:
            if scope is None or not scope.expired():  # the job's own TimeoutError
                return RunStatus.FAILED, _describe(exc), exc
            return RunStatus.TIMEOUT, f"timed out after {job.options.timeout:g}s", None
        except Exception as exc:
            return RunStatus.FAILED, _describe(exc), exc
        finally:
            self._inflight.discard(task)
            self._release(job.job_id)
        return RunStatus.SUCCESS, None, None

    def _submit_thread(self, job: JobDefinition) -> asyncio.Future[_Call]:
        """Start the call on the pool; the returned future gets the ended call, on the loop."""
        loop = asyncio.get_running_loop()
        ended = loop.create_future()
        call = self._pool.submit(job.func, *job.options.args, **job.options.kwargs)
        self._threads[call] = (job.job_id, ended)
        self._inflight.add(ended)
        self._thread_ends.watch(call, loop)
        return ended

    async def _wait_for_thread(self, started: _Started, ended: asyncio.Future[_Call]) -> _Outcome:
        try:
            if started.deadline is None:
                call = await ended
            else:  # a thread cannot be killed: shield it so the timeout only stops the wait
                left = started.deadline - asyncio.get_running_loop().time()
                call = await asyncio.wait_for(asyncio.shield(ended), left)
        except TimeoutError:
            self._timed_out.add(ended)
            timeout = started.job.options.timeout
            return (
                RunStatus.TIMEOUT,
                f"timed out after {timeout:g}s; its thread is still running",
                None,
            )
        try:
            call.result()
        except Exception as exc:
            return RunStatus.FAILED, _describe(exc), exc
        return RunStatus.SUCCESS, None, None

    def _thread_done(self, call: _Call) -> None:
        """A thread ended: only now does it stop counting, even if its run timed out long ago."""
        job_id, ended = self._threads.pop(call)
        self._release(job_id)
        self._inflight.discard(ended)
        if not ended.done():
            if call.cancelled():
                ended.cancel()
            else:
                ended.set_result(call)
        if ended in self._timed_out:
            self._timed_out.discard(ended)
            exc = None if call.cancelled() else call.exception()
            outcome = "cancelled" if call.cancelled() else _describe(exc) if exc else "ok"
            logger.warning("job %s: the timed-out run has now ended (%s)", job_id, outcome)

    def _release(self, job_id: str) -> None:
        running = self.running_count(job_id) - 1
        if running > 0:
            self._running[job_id] = running
        else:
            self._running.pop(job_id, None)

    def _finish(self, record: RunRecord, exc: BaseException | None = None) -> RunRecord:
        self.last_runs[record.job_id] = record
        _log_run(record, exc)
        for listener in self._listeners:
            try:
                listener(record)
            except Exception:
                logger.exception("run listener %r failed on job %s", listener, record.job_id)
        return record


class _ThreadEnds:
    """Hands calls that ended on pool threads back to the event loop, in batches.

    ``loop.run_in_executor`` wakes the loop once per call: a write to its self-pipe, during
    which the worker drops the GIL and then waits to get it back. With a thousand jobs due
    together, those wake-ups slowed the loop thread still submitting the rest (bench_lag.py).
    Here a worker queues its ended call and wakes the loop only when no hand-back is pending.
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


def _import_func(path: str) -> Callable[..., Any]:
    module_name, attribute = split_func_path(path)
    func: Callable[..., Any] = getattr(importlib.import_module(module_name), attribute)
    return func


def _is_coroutine_function(func: Callable[..., Any]) -> bool:
    return inspect.iscoroutinefunction(func) or inspect.iscoroutinefunction(
        getattr(func, "__call__", None)  # noqa: B004  # an object with ``async def __call__``
    )


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _log_run(record: RunRecord, exc: BaseException | None) -> None:
    """The one line per occurrence; a failure carries its traceback.

    Its arguments are built only when the line is wanted: with a thousand runs due together,
    formatting lines nobody reads delayed the last run's start.
    """
    level = _OUTCOME_LEVELS[record.status]
    if not logger.isEnabledFor(level):
        return
    duration = record.duration_seconds
    logger.log(
        level,
        "job %s scheduled_for=%s duration=%s outcome=%s%s",
        record.job_id,
        record.scheduled_for.isoformat(),
        "-" if duration is None else f"{duration:.3f}s",
        record.status.value,
        f" error={record.error}" if record.error else "",
        exc_info=exc,
        extra={
            "job_id": record.job_id,
            "scheduled_for": record.scheduled_for.isoformat(),
            "duration": duration,
            "outcome": record.status.value,
        },
    )
