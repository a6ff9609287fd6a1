"""The APScheduler side of the service: which jobs are on the timetable, and when each fires.

APScheduler 3 is untyped; it stays in this module, behind ``Timetable``'s typed methods. Its
``AsyncIOScheduler`` keeps each enabled, unpaused job's next fire time and wakes when one is
due; what then happens to the occurrence (claim, run, record) is not APScheduler's to decide,
so a custom executor hands the due run times to the service instead of calling the job.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Callable, Coroutine, Iterator
from datetime import UTC, datetime
from typing import Any

from apscheduler.executors.base import BaseExecutor
from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.schedulers.base import STATE_RUNNING

from scheduler.cron import Trigger

__all__ = ["Dispatch", "Timetable"]

logger = logging.getLogger(__name__)

Dispatch = Callable[[str, list[datetime]], Coroutine[Any, Any, object]]
"""Take the due run times of a job (by id) from here on: claim, run and record them."""

# The run wrapper enforces max_instances itself, because a timed-out thread still runs and must
# still count; APScheduler's own limit would forget it and would skip without a RunRecord.
_APSCHEDULER_MAX_INSTANCES = 2**31
_SEED_JOB_DEFAULTS = {"coalesce": True, "max_instances": 1, "misfire_grace_time": 60}


class _DispatchingExecutor(BaseExecutor):  # type: ignore[misc]  # APScheduler is untyped
    """APScheduler executor that hands due run times to the service's run wrapper.

    APScheduler's own executors call the job function without its scheduled time and judge
    misfires by the wall clock; handing over ``run_times`` lets the wrapper record each
    occurrence by ``scheduled_for`` and judge grace with the injected clock.
    """

    def __init__(self, dispatch: Dispatch) -> None:
        super().__init__()
        self._dispatch = dispatch
        self.tasks: set[asyncio.Task[object]] = set()

    def _do_submit_job(self, job: Any, run_times: list[datetime]) -> None:
        task = asyncio.get_running_loop().create_task(self._dispatch(job.id, run_times))
        self.tasks.add(task)
        task.add_done_callback(functools.partial(self._done, job.id))

    def _done(self, job_id: str, task: asyncio.Task[object]) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("dispatching job %s failed", job_id, exc_info=task.exception())
        self._run_job_success(job_id, [])


class Timetable:
    """The jobs on the ``AsyncIOScheduler`` (UTC), each with its next fire time."""

    def __init__(self, dispatch: Dispatch) -> None:
        self._executor = _DispatchingExecutor(dispatch)
        self._scheduler = AsyncIOScheduler(
            timezone=UTC,
            job_defaults=dict(_SEED_JOB_DEFAULTS),
            executors={"default": self._executor},
        )

    @property
    def dispatching(self) -> set[asyncio.Task[object]]:
        """Tasks handling due occurrences right now (shutdown waits for them a moment)."""
        return set(self._executor.tasks)

    def start(self, *, paused: bool = False) -> None:
        """Start waking for due jobs on the running loop (``paused``: not yet)."""
        self._scheduler.start(paused=paused)

    def stop(self) -> None:
        """Stop at once: ``shutdown()`` alone only lands on the loop's next turn."""
        self._scheduler.pause()
        self._scheduler.shutdown(wait=False)

    def add(
        self,
        job_id: str,
        trigger: Trigger,
        next_run_at: datetime | None,
        *,
        coalesce: bool,
        misfire_grace_time: int | None,
    ) -> None:
        """Put a job on the timetable; ``next_run_at=None`` keeps it there without a run."""
        self._scheduler.add_job(
            _dispatched_elsewhere,
            trigger=trigger,
            id=job_id,
            name=job_id,
            next_run_time=next_run_at,
            coalesce=coalesce,
            misfire_grace_time=misfire_grace_time,
            max_instances=_APSCHEDULER_MAX_INSTANCES,
        )

    def remove(self, job_id: str) -> None:
        """Take a job off; one that is not on it (disabled, no further run) is no error."""
        with contextlib.suppress(JobLookupError):
            self._scheduler.remove_job(job_id)

    def hold(self, job_id: str) -> None:
        """Keep a job on the timetable without a next run (paused)."""
        if self._scheduler.get_job(job_id) is not None:
            self._scheduler.modify_job(job_id, next_run_time=None)

    def release(self, job_id: str, now: datetime) -> None:
        """Give a held job its next run after ``now`` again."""
        scheduled = self._scheduler.get_job(job_id)
        if scheduled is not None:
            next_run = scheduled.trigger.get_next_fire_time(None, now)
            self._scheduler.modify_job(job_id, next_run_time=next_run)

    def next_run(self, job_id: str) -> datetime | None:
        """When the job fires next (UTC); None when held, disabled or not on the timetable."""
        return _next_run_of(self._scheduler.get_job(job_id))

    def next_runs(self) -> dict[str, datetime | None]:
        """Every job on the timetable with its next run (UTC)."""
        return {job.id: _next_run_of(job) for job in self._scheduler.get_jobs()}

    def triggers(self) -> dict[str, Trigger]:
        """Every job on the timetable with its trigger (tests and benchmarks look at them)."""
        return {job.id: job.trigger for job in self._scheduler.get_jobs()}

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Hold wake-ups while changing many jobs: one wake-up instead of one per job."""
        holding = self._scheduler.state == STATE_RUNNING
        if holding:
            self._scheduler.pause()
        try:
            yield
        finally:
            if holding:
                self._scheduler.resume()


def _next_run_of(job: Any) -> datetime | None:
    next_run: datetime | None = getattr(job, "next_run_time", None)
    return next_run.astimezone(UTC) if next_run is not None else None


def _dispatched_elsewhere() -> None:
    """Stand-in APScheduler job function: the executor hands the run times on instead."""
    raise AssertionError("scheduler jobs run through the service's executor")
