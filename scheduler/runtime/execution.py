"""The run wrapper: one occurrence of a job, from admission to its ``RunRecord``.

``JobRunner`` owns what APScheduler does not: a timeout per run, an overlap count that keeps a
timed-out thread counted until it really ends, misfire grace judged with the injected clock,
and one ``RunRecord`` plus one log line per occurrence, handed to listeners. Whatever a job
does (raise ``SystemExit`` or ``KeyboardInterrupt``, return a coroutine from a plain ``def``,
block the loop) ends as that run's record, never as the scheduler's end. It knows nothing of
APScheduler: ``scheduler.runtime.service`` feeds it the run times its scheduler finds due.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import logging
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

from scheduler.clock import Clock
from scheduler.records import RunKind, RunRecord, RunStatus, new_run_id
from scheduler.runtime.definition import JobDefinition
from scheduler.runtime.lanes import ThreadCall, ThreadEnds, TimedSteps, call_timed

__all__ = ["JobRunner", "RunListener", "describe_exception"]

logger = logging.getLogger(__name__)

RunListener = Callable[[RunRecord], object]
"""Called with every record; may be ``async def`` (then awaited in a task the runner owns)."""

_Call = concurrent.futures.Future[ThreadCall]

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
_SHUT_DOWN = "cancelled: the scheduler shut down"
_ABANDONED = "abandoned: its thread was still running when the scheduler stopped"


class _Outcome(NamedTuple):
    """How the job's own code ended, and when it really ran (None: the lane cannot tell)."""

    status: RunStatus
    error: str | None = None
    exc: BaseException | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class _Started:
    """An admitted occurrence, counted as running; ``deadline`` is in event-loop time.

    A sync job is already on the pool (``call``; ``ended`` gets it once it ended, on the
    loop); a coroutine runs when awaited.
    """

    job: JobDefinition
    scheduled_for: datetime
    admitted_at: datetime
    kind: RunKind
    run_id: str
    deadline: float | None
    call: _Call | None = None
    ended: asyncio.Future[_Call] | None = None


class JobRunner:
    """Runs occurrences of jobs and records how each one ended.

    It needs no scheduler, so tests drive it with fake jobs and a fake clock.
    """

    def __init__(self, *, clock: Clock, thread_pool: concurrent.futures.Executor) -> None:
        self._clock = clock
        self._pool = thread_pool
        self._running: dict[str, int] = {}
        self._inflight: dict[asyncio.Future[Any], _Started] = {}
        self._timed_out: dict[_Call, str] = {}
        self._abandoned: set[_Call] = set()
        self._threads: dict[_Call, tuple[str, asyncio.Future[_Call]]] = {}
        self._thread_ends = ThreadEnds(self._thread_done)
        self._listeners: tuple[RunListener, ...] = ()
        self._listener_tasks: set[asyncio.Future[Any]] = set()
        self.last_runs: dict[str, RunRecord] = {}

    def add_listener(self, listener: RunListener) -> None:
        """Call ``listener`` with every RunRecord, on the event loop thread; an ``async def``
        listener is awaited in a task the runner owns."""
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

        Not ``async def`` on purpose: the first occurrence is admitted (a thread starts)
        before this returns, while APScheduler submits it, as its own executors do; a task
        hop per job would add up to tens of milliseconds when a thousand jobs fall due
        together (tests/benchmarks/bench_lag.py).
        """
        first = self._begin_due(job, run_times[0]) if run_times else None
        return self._run_rest(job, first, run_times[1:] if len(run_times) > 1 else ())

    async def run(
        self,
        job: JobDefinition,
        scheduled_for: datetime,
        *,
        kind: RunKind = RunKind.SCHEDULED,
        run_id: str | None = None,
    ) -> RunRecord:
        """Run one occurrence now, unless ``max_instances`` runs are still going.

        ``run_id`` is the id of the run's claim in the state store, when it has one.
        """
        started = self._begin(job, scheduled_for, self._clock.now(), kind, run_id)
        return await self._end(started)

    def misfire(self, job: JobDefinition, scheduled_for: datetime) -> RunRecord | None:
        """The ``missed`` record (logged, heard) if the occurrence is past its grace, else None."""
        return self._missed(job, scheduled_for.astimezone(UTC), self._clock.now())

    def note(self, record: RunRecord) -> RunRecord:
        """Log and announce a record of a run that did not go through this runner."""
        return self._finish(record)

    async def _run_rest(
        self, job: JobDefinition, first: RunRecord | _Started | None, rest: Sequence[datetime]
    ) -> list[RunRecord]:
        records = [] if first is None else [await self._end(first)]
        for run_time in rest:
            records.append(await self._end(self._begin_due(job, run_time)))
        return records

    # -- admission ---------------------------------------------------------------------------

    def _begin_due(self, job: JobDefinition, run_time: datetime) -> RunRecord | _Started:
        now = self._clock.now()  # one read per run: it judges the grace
        scheduled_for = run_time.astimezone(UTC)
        missed = self._missed(job, scheduled_for, now)
        if missed is not None:
            return missed
        return self._begin(job, scheduled_for, now, RunKind.SCHEDULED)

    def _missed(
        self, job: JobDefinition, scheduled_for: datetime, now: datetime
    ) -> RunRecord | None:
        grace = job.options.misfire_grace_time
        if grace is None or (late := (now - scheduled_for).total_seconds()) <= grace:
            return None
        error = f"started {late:.3f}s late, past the misfire grace of {grace}s"
        return self._finish(RunRecord(job.job_id, scheduled_for, RunStatus.MISSED, error=error))

    def _begin(
        self,
        job: JobDefinition,
        scheduled_for: datetime,
        now: datetime,
        kind: RunKind,
        run_id: str | None = None,
    ) -> RunRecord | _Started:
        """Skip or refuse (a finished record), or admit the run; a thread starts now."""
        options = job.options
        running = self._running.get(job.job_id, 0)
        run_id = run_id or new_run_id()
        if running >= options.max_instances:
            why = f"{running} run(s) still going (max_instances={options.max_instances})"
            return self._finish(
                RunRecord(
                    job.job_id,
                    scheduled_for,
                    RunStatus.SKIPPED,
                    error=why,
                    kind=kind,
                    run_id=run_id,
                )
            )
        if job.is_async_generator:
            why = (
                f"{job.func_path} is an async generator function, which a schedule cannot run; "
                "write it as async def without yield"
            )
            return self._finish(
                RunRecord(job.job_id, scheduled_for, RunStatus.FAILED, now, now, why, kind, run_id)
            )
        timeout = options.timeout
        deadline = None if timeout is None else asyncio.get_running_loop().time() + timeout
        if job.is_coroutine:
            self._running[job.job_id] = running + 1
            return _Started(job, scheduled_for, now, kind, run_id, deadline)
        try:
            call, ended = self._submit_thread(job)
        except RuntimeError as exc:  # the pool was shut down: the run never started
            error = f"could not start: {describe_exception(exc)}"
            return self._finish(
                RunRecord(
                    job.job_id, scheduled_for, RunStatus.FAILED, now, now, error, kind, run_id
                )
            )
        self._running[job.job_id] = running + 1
        started = _Started(job, scheduled_for, now, kind, run_id, deadline, call, ended)
        self._inflight[ended] = started
        return started

    def _submit_thread(self, job: JobDefinition) -> tuple[_Call, asyncio.Future[_Call]]:
        """Start the call on the pool; the returned future gets the ended call, on the loop."""
        loop = asyncio.get_running_loop()
        options = job.options
        call = self._pool.submit(call_timed, self._clock, job.func, options.args, options.kwargs)
        ended: asyncio.Future[_Call] = loop.create_future()
        self._threads[call] = (job.job_id, ended)
        self._thread_ends.watch(call, loop)
        return call, ended

    # -- the run's end -----------------------------------------------------------------------

    async def _end(self, started: RunRecord | _Started) -> RunRecord:
        if isinstance(started, RunRecord):
            return started
        try:
            if started.ended is None:
                outcome = await self._run_coroutine(started)
            else:
                outcome = await self._wait_for_thread(started, started.ended)
        except asyncio.CancelledError:
            self._finish(self._stopped_record(started))
            raise
        record = RunRecord(
            started.job.job_id,
            started.scheduled_for,
            outcome.status,
            outcome.started_at or started.admitted_at,
            outcome.finished_at or self._clock.now(),
            outcome.error,
            started.kind,
            started.run_id,
        )
        return self._finish(record, outcome.exc)

    def _stopped_record(self, started: _Started) -> RunRecord:
        """The record of a run the scheduler stopped waiting for at shutdown."""
        call = started.call
        abandoned = call is not None and call in self._abandoned
        return RunRecord(
            started.job.job_id,
            started.scheduled_for,
            RunStatus.ABANDONED if abandoned else RunStatus.CANCELLED,
            started.admitted_at,
            self._clock.now(),
            _ABANDONED if abandoned else _SHUT_DOWN,
            started.kind,
            started.run_id,
        )

    async def _run_coroutine(self, started: _Started) -> _Outcome:
        """Run the coroutine in the calling task, as APScheduler does: no extra task per run."""
        job, task = started.job, asyncio.current_task()
        if task is not None:
            self._inflight[task] = started
        steps: TimedSteps | None = None
        scope = None if started.deadline is None else asyncio.timeout_at(started.deadline)
        try:
            result = job.func(*job.options.args, **job.options.kwargs)
            if inspect.iscoroutine(result):
                steps = TimedSteps(result, self._clock, job.job_id)
                result = steps
            if inspect.isawaitable(result):
                if scope is None:
                    await result
                else:
                    async with scope:
                        await result
        except TimeoutError as exc:
            if scope is None or not scope.expired():  # the job's own TimeoutError
                return self._failed(exc, steps)
            error = f"timed out after {job.options.timeout:g}s"
            return _Outcome(RunStatus.TIMEOUT, error, None, *_times(steps))
        except asyncio.CancelledError as exc:
            if task is not None and task.cancelling():
                raise  # the scheduler cancels it: shutdown
            return self._failed(exc, steps)
        except BaseException as exc:  # SystemExit, KeyboardInterrupt: the run's, not ours
            return self._failed(exc, steps)
        finally:
            if task is not None:
                self._inflight.pop(task, None)
            self._release(job.job_id)
        return _Outcome(RunStatus.SUCCESS, None, None, *_times(steps))

    def _failed(self, exc: BaseException, steps: TimedSteps | None) -> _Outcome:
        return _Outcome(RunStatus.FAILED, describe_exception(exc), exc, *_times(steps))

    async def _wait_for_thread(self, started: _Started, ended: asyncio.Future[_Call]) -> _Outcome:
        try:
            if started.deadline is None:
                call = await ended
            else:  # a thread cannot be killed: shield it so the timeout only stops the wait
                left = started.deadline - asyncio.get_running_loop().time()
                call = await asyncio.wait_for(asyncio.shield(ended), left)
        except TimeoutError:
            if started.call is not None:
                self._timed_out[started.call] = started.job.job_id
            timeout = started.job.options.timeout
            error = f"timed out after {timeout:g}s; its thread is still running"
            return _Outcome(RunStatus.TIMEOUT, error)
        return _thread_outcome(started.job, call.result())

    def _thread_done(self, call: _Call) -> None:
        """A thread ended: only now does it stop counting, even if its run timed out long ago."""
        job_id, ended = self._threads.pop(call)
        self._abandoned.discard(call)
        self._release(job_id)
        self._inflight.pop(ended, None)
        if not ended.done():
            if call.cancelled():
                ended.cancel()
            else:
                ended.set_result(call)
        if self._timed_out.pop(call, None) is not None:
            if call.cancelled():
                outcome = "cancelled"
            else:
                ended_call = call.result()
                outcome = describe_exception(ended_call.exc) if ended_call.exc else "ok"
            logger.warning(
                "job %s: the timed-out run has now ended (%s)",
                job_id,
                outcome,
                extra={"job_id": job_id},
            )

    def _release(self, job_id: str) -> None:
        running = self.running_count(job_id) - 1
        if running > 0:
            self._running[job_id] = running
        else:
            self._running.pop(job_id, None)

    # -- shutdown ----------------------------------------------------------------------------

    def still_running(self) -> list[str]:
        """What is still going, for the shutdown log: ``job_id (coroutine|thread)`` each."""
        going = [
            f"{started.job.job_id} ({'coroutine' if started.ended is None else 'thread'})"
            for started in self._inflight.values()
        ]
        going.extend(f"{job_id} (timed-out thread)" for job_id in self._timed_out.values())
        return sorted(going)

    def wait_threads(self, timeout: float) -> int:
        """Block up to ``timeout`` seconds for running thread calls; return how many did not end.

        For the seed's synchronous ``shutdown()``: coroutines cannot progress meanwhile.
        """
        calls = set(self._threads)
        if calls and timeout > 0:
            _, calls = concurrent.futures.wait(calls, timeout=timeout)
        return len(calls)

    async def wait_idle(self, timeout: float) -> int:
        """Wait up to ``timeout`` seconds for every started run to end; return how many did not."""
        pending = set(self._inflight)
        if pending and timeout > 0:
            _, pending = await asyncio.wait(pending, timeout=timeout)
        return len(pending)

    def cancel_all(self) -> None:
        """Cancel running coroutines and queued threads; a running thread is abandoned (its run
        is recorded ``abandoned``, since a thread cannot be stopped)."""
        for call in list(self._threads):
            if not call.cancel():  # already running: it will go on, unwatched
                self._abandoned.add(call)
        for future in list(self._inflight):
            future.cancel()

    async def drain_listeners(self, timeout: float) -> None:
        """Give ``async def`` listeners still going up to ``timeout`` seconds to finish."""
        if self._listener_tasks:
            await asyncio.wait(set(self._listener_tasks), timeout=timeout)

    # -- records -----------------------------------------------------------------------------

    def _finish(self, record: RunRecord, exc: BaseException | None = None) -> RunRecord:
        self.last_runs[record.job_id] = record
        _log_run(record, exc)
        for listener in self._listeners:
            try:
                result = listener(record)
            except BaseException:  # a listener's bug must not end the run's bookkeeping
                logger.exception("run listener %r failed on job %s", listener, record.job_id)
                continue
            if inspect.isawaitable(result):
                self._own_listener_task(listener, record, result)
        return record

    def _own_listener_task(self, listener: RunListener, record: RunRecord, result: Any) -> None:
        task = asyncio.ensure_future(result)
        self._listener_tasks.add(task)

        def done(finished: asyncio.Future[Any]) -> None:
            self._listener_tasks.discard(finished)
            if not finished.cancelled() and finished.exception() is not None:
                logger.error(
                    "run listener %r failed on job %s",
                    listener,
                    record.job_id,
                    exc_info=finished.exception(),
                )

        task.add_done_callback(done)


def _times(steps: TimedSteps | None) -> tuple[datetime | None, datetime | None]:
    return (None, None) if steps is None else (steps.started_at, steps.finished_at)


def _thread_outcome(job: JobDefinition, call: ThreadCall) -> _Outcome:
    """A sync job's result as a run outcome: an awaitable returned from a plain ``def`` never
    ran its body, so it is a failure, not a success."""
    if call.exc is not None:
        status, error = RunStatus.FAILED, describe_exception(call.exc)
        return _Outcome(status, error, call.exc, call.started_at, call.finished_at)
    if inspect.isawaitable(call.result):
        close = getattr(call.result, "close", None)
        if callable(close):
            close()  # never awaited: close it so it does not warn later
        error = (
            f"{job.func_path} returned {type(call.result).__name__} without running it: a "
            "plain def cannot start async work; declare the job async def"
        )
        return _Outcome(RunStatus.FAILED, error, None, call.started_at, call.finished_at)
    return _Outcome(RunStatus.SUCCESS, None, None, call.started_at, call.finished_at)


def describe_exception(exc: BaseException) -> str:
    """``Type: message``, even for an exception whose ``__str__`` raises; exits named plainly."""
    name = type(exc).__name__
    try:
        text = str(exc)
    except BaseException:  # a job's broken __str__ must not break the record
        text = "<str() of the exception raised>"
    if isinstance(exc, SystemExit):
        return f"SystemExit({text or 'None'}): the job called sys.exit(); the scheduler goes on"
    return f"{name}: {text}" if text else name


def _log_run(record: RunRecord, exc: BaseException | None) -> None:
    """The one line per occurrence; a failure carries its traceback.

    Its arguments are built only when the line is wanted: with a thousand runs due together,
    formatting lines nobody reads delayed the last run's start.
    """
    level = _OUTCOME_LEVELS[record.status]
    if not logger.isEnabledFor(level):
        return
    duration = record.duration_seconds
    lag = (
        None
        if record.started_at is None or record.kind is not RunKind.SCHEDULED
        else (record.started_at - record.scheduled_for).total_seconds()
    )
    logger.log(
        level,
        "job %s scheduled_for=%s duration=%s outcome=%s%s%s",
        record.job_id,
        record.scheduled_for.isoformat(),
        "-" if duration is None else f"{duration:.3f}s",
        record.status.value,
        "" if record.kind is RunKind.SCHEDULED else f" kind={record.kind.value}",
        f" error={record.error}" if record.error else "",
        exc_info=exc,
        extra={
            "job_id": record.job_id,
            "scheduled_for": record.scheduled_for.isoformat(),
            "duration": duration,
            "outcome": record.status.value,
            "run_id": record.run_id,
            "kind": record.kind.value,
            "lag": lag,
        },
    )
