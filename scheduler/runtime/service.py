"""The running scheduler: ``SchedulerService`` owns an APScheduler 3 ``AsyncIOScheduler``.

It keeps the seed's API (``register_job``, ``start``, ``shutdown``, ``pause_job``, ``resume_job``,
``remove_job``, ``get_jobs``, ``is_running``) and adds manifests (``load``, ``reload``), manual
runs (``trigger``) and run records (``add_run_listener``, ``job_status``). APScheduler is untyped;
it stays inside this module (STYLE.md rule 3) and callers only see the dataclasses below. Each
run goes through ``scheduler.runtime.execution.JobRunner`` (timeout, overlap, misfire, RunRecord).
Which jobs exist, and what a manifest load changes, is ``scheduler.runtime.catalogue``'s to track.

Use it from a FastAPI lifespan::

    from contextlib import asynccontextmanager
    from fastapi import FastAPI
    from scheduler.errors import InvalidManifests
    from scheduler.runtime.service import SchedulerService
    from scheduler.settings import load_settings

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        settings = load_settings()
        service = SchedulerService(settings)
        result = service.load([settings.manifests_dir])
        if not result.ok:
            raise InvalidManifests(list(result.problems))
        async with service:  # start(); on exit stop firing and wait for running jobs
            app.state.scheduler = service
            yield

    app = FastAPI(lifespan=lifespan)
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import logging
from collections.abc import Callable, Collection, Coroutine, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from apscheduler.executors.base import BaseExecutor
from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.schedulers.base import STATE_RUNNING

from scheduler.clock import SYSTEM_CLOCK, Clock
from scheduler.cron import Trigger
from scheduler.loader import LoadResult, ManifestLoader
from scheduler.manifest import JobOptions
from scheduler.problems import Problem, render_problem
from scheduler.records import JobView, ReloadStatus, RunRecord
from scheduler.runtime.catalogue import Change, JobCatalogue, trigger_for
from scheduler.runtime.execution import JobDefinition, JobRunner, RunListener
from scheduler.settings import Settings, load_settings

logger = logging.getLogger(__name__)

# The run wrapper enforces max_instances itself, because a timed-out thread still runs and must
# still count; APScheduler's own limit would forget it and would skip without a RunRecord.
_APSCHEDULER_MAX_INSTANCES = 2**31
_SEED_JOB_DEFAULTS = {"coalesce": True, "max_instances": 1, "misfire_grace_time": 60}


class _ServiceExecutor(BaseExecutor):  # type: ignore[misc]  # APScheduler is untyped
    """APScheduler executor that hands due run times to the service's run wrapper.

    APScheduler's own executors call the job function without its scheduled time and judge
    misfires by the wall clock; handing over ``run_times`` lets the wrapper record each
    occurrence by ``scheduled_for`` and judge grace with the injected clock.
    """

    def __init__(
        self, dispatch: Callable[[str, list[datetime]], Coroutine[Any, Any, object]]
    ) -> None:
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


class SchedulerService:
    """Cron jobs on an AsyncIOScheduler: manifest jobs and jobs registered in code.

    Everything runs on the event loop thread; call its methods from there.
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        clock: Clock = SYSTEM_CLOCK,
        loader: ManifestLoader | None = None,
    ) -> None:
        self.settings = settings if settings is not None else load_settings()
        self._clock = clock
        self._loader = loader or ManifestLoader(
            allowed_modules=self.settings.allowed_modules,
            default_timezone=self.settings.timezone,
            import_timeout=self.settings.import_timeout_seconds,
        )
        self._pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=self.settings.thread_pool_workers, thread_name_prefix="scheduler-job"
        )
        self._runner = JobRunner(clock=clock, thread_pool=self._pool)
        self._executor = _ServiceExecutor(self._run_scheduled)
        self._scheduler = AsyncIOScheduler(
            timezone=UTC,
            job_defaults=dict(_SEED_JOB_DEFAULTS),
            executors={"default": self._executor},
        )
        self._catalogue = JobCatalogue()
        self._started = False
        self.manifest_paths: tuple[Path, ...] = (self.settings.manifests_dir,)
        self.last_reload: ReloadStatus | None = None

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def is_running(self) -> bool:
        """Whether the scheduler fires jobs (false when BACKGROUND_JOBS_ENABLED is false)."""
        return self._started

    def start(self, *, paused: bool = False) -> None:
        """Start firing jobs, on the running event loop; call it from async code (a lifespan).

        ``paused=True`` starts without firing: tests apply plans to such a scheduler.
        """
        if self._started:
            return
        if not self.settings.background_jobs_enabled:
            logger.info(
                "BACKGROUND_JOBS_ENABLED is false: the scheduler is not started (%d job(s) loaded)",
                len(self._catalogue.jobs),
            )
            return
        self._scheduler.start(paused=paused)
        self._started = True
        enabled = sum(1 for job in self._catalogue.jobs.values() if job.options.enabled)
        logger.info("scheduler started: %d job(s), %d enabled", len(self._catalogue.jobs), enabled)

    def shutdown(self, wait: bool = True) -> None:
        """Stop firing; with ``wait``, block until running thread jobs end (seed API).

        Running coroutine jobs are left to finish on the loop; ``aclose`` bounds that wait.
        """
        self._stop_firing()
        self._pool.shutdown(wait=wait, cancel_futures=True)

    async def aclose(self, grace_seconds: float | None = None) -> None:
        """Stop firing, give running jobs up to the grace period, then cancel what is left."""
        grace = self.settings.shutdown_grace_seconds if grace_seconds is None else grace_seconds
        self._stop_firing()
        await asyncio.sleep(0)  # runs submitted a moment ago take their first step, and count
        unfinished = await self._runner.wait_idle(grace)
        if unfinished:
            logger.warning(
                "%d job run(s) still going after the %gs shutdown grace; cancelling "
                "coroutines (threads cannot be cancelled)",
                unfinished,
                grace,
            )
        self._runner.cancel_all()
        if self._executor.tasks:
            await asyncio.wait(set(self._executor.tasks), timeout=1.0)
        self._pool.shutdown(wait=False, cancel_futures=True)
        await asyncio.sleep(0)  # AsyncIOScheduler.shutdown completes on the loop's next turn

    async def __aenter__(self) -> SchedulerService:
        self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def _stop_firing(self) -> None:
        if self._started:
            self._scheduler.pause()  # at once; shutdown() only lands on the loop's next turn
            self._scheduler.shutdown(wait=False)
            self._started = False
            logger.info("scheduler stopped firing")

    # -- jobs ------------------------------------------------------------------------------

    def register_job(
        self,
        job_id: str,
        func: Callable[..., Any],
        cron_expression: str,
        *args: Any,
        job_options: JobOptions | None = None,
        **kwargs: Any,
    ) -> JobView:
        """Schedule ``func(*args, **kwargs)`` on a cron expression (seed API).

        Raises ``DuplicateJob`` for a known id and ``InvalidCronExpression`` for a bad
        expression; ``job_options`` sets what a manifest would (timezone, timeout, ...).
        """
        definition = self._catalogue.define(
            job_id, func, cron_expression, args, kwargs, job_options, self.settings.timezone
        )
        with self._batch():
            self._schedule(definition, trigger_for(definition), self._clock.now())
        return self.get_job(job_id)

    def pause_job(self, job_id: str) -> None:
        """Stop firing a job until ``resume_job``; it stays paused across reloads."""
        self._catalogue.pause(job_id)
        if self._scheduler.get_job(job_id) is not None:
            self._scheduler.modify_job(job_id, next_run_time=None)

    def resume_job(self, job_id: str) -> None:
        """Fire a paused job again, from its next occurrence after now."""
        self._catalogue.resume(job_id)
        scheduled = self._scheduler.get_job(job_id)
        if scheduled is not None:
            next_run = scheduled.trigger.get_next_fire_time(None, self._clock.now())
            self._scheduler.modify_job(job_id, next_run_time=next_run)

    def remove_job(self, job_id: str) -> None:
        """Forget a job; a manifest job comes back on the next reload that lists it."""
        self._catalogue.forget(job_id)
        self._unschedule(job_id)

    def get_jobs(self) -> list[JobView]:
        """Every known job, disabled ones included, sorted by id."""
        scheduled = {job.id: job for job in self._scheduler.get_jobs()}
        jobs = self._catalogue.jobs
        return [self._view(jobs[job_id], scheduled.get(job_id)) for job_id in sorted(jobs)]

    def get_job(self, job_id: str) -> JobView:
        """One job; raises ``JobNotFound``."""
        return self._view(self._catalogue.require(job_id), self._scheduler.get_job(job_id))

    def job_status(self, job_id: str) -> RunRecord | None:
        """The job's last RunRecord, or None before its first run; raises ``JobNotFound``."""
        self._catalogue.require(job_id)
        return self._runner.last_runs.get(job_id)

    def add_run_listener(self, listener: RunListener) -> None:
        """Call ``listener(record)`` after every run, skip and miss (store, metrics, tests)."""
        self._runner.add_listener(listener)

    def remove_run_listener(self, listener: RunListener) -> None:
        """Stop calling ``listener``."""
        self._runner.remove_listener(listener)

    async def trigger(self, job_id: str) -> RunRecord:
        """Run a job once now, outside its schedule (disabled or paused jobs too)."""
        definition = self._catalogue.require(job_id)
        return await self._runner.run(definition, self._clock.now())

    # -- manifests -------------------------------------------------------------------------

    def load(self, paths: Sequence[str | Path] | None = None) -> LoadResult:
        """Load manifests (folders and/or files) and apply them only if they have no errors.

        The caller renders the problems, so they are returned rather than logged.
        """
        if paths is not None:
            self.manifest_paths = tuple(Path(path) for path in paths)
        result = self._catalogue.with_conflicts(self._loader.load(self.manifest_paths))
        self._apply_result(result, log_problems=False)
        return result

    def reload(self, changed: Collection[Path] | None = None) -> ReloadStatus:
        """Re-read the manifests and apply them all, or nothing if any is invalid.

        ``changed``, from a watcher, names the only files that changed: just those are read
        again (the loader falls back to a full rescan when that cannot be done exactly).
        ``None`` rescans the whole folder.
        """
        loaded = self._loader.load(self.manifest_paths, changed=changed)
        return self._apply_result(self._catalogue.with_conflicts(loaded), log_problems=True)

    def _apply_result(self, result: LoadResult, *, log_problems: bool) -> ReloadStatus:
        """Apply a load through the catalogue, or refuse it whole, and log what happened."""
        change = self._catalogue.prepare(result)
        if not isinstance(change, Change):
            return self._reject(change, log_problems)
        with self._batch():
            schedule = functools.partial(self._schedule, now=self._clock.now())
            self._catalogue.commit(change, schedule, self._unschedule)
        status = change.status(self._clock.now(), result.problems)
        logger.log(
            logging.INFO if status.has_changes else logging.DEBUG,  # a no-op reload is routine
            "manifests applied: added=%s removed=%s changed=%s unchanged=%d",
            list(status.added),
            list(status.removed),
            list(status.changed),
            len(status.unchanged),
        )
        self.last_reload = status
        return status

    def _reject(self, problems: tuple[Problem, ...], log_problems: bool) -> ReloadStatus:
        errors = [problem for problem in problems if problem.is_error]
        for problem in errors if log_problems else ():
            logger.error("manifest %s", render_problem(problem))
        if log_problems or self._started or self._catalogue.manifest_jobs:
            logger.error(
                "manifests rejected (%d error(s)); the running schedule is unchanged", len(errors)
            )
        else:  # a first load: nothing runs yet, and the caller renders the problems
            logger.debug("manifests rejected (%d error(s)); nothing was applied", len(errors))
        self.last_reload = ReloadStatus(self._clock.now(), False, problems)
        return self.last_reload

    # -- APScheduler plumbing --------------------------------------------------------------

    def _schedule(self, definition: JobDefinition, trigger: Trigger, now: datetime) -> None:
        """Catalogue the job and, if enabled, put it on APScheduler with an exact next run."""
        self._catalogue.add(definition)
        if not definition.options.enabled:
            return
        paused = definition.job_id in self._catalogue.paused
        self._scheduler.add_job(
            _dispatched_by_service,
            trigger=trigger,
            id=definition.job_id,
            name=definition.job_id,
            next_run_time=None if paused else trigger.get_next_fire_time(None, now),
            coalesce=definition.options.coalesce,
            misfire_grace_time=definition.options.misfire_grace_time,
            max_instances=_APSCHEDULER_MAX_INSTANCES,
        )

    def _unschedule(self, job_id: str) -> None:
        with contextlib.suppress(JobLookupError):  # disabled, or no further occurrence
            self._scheduler.remove_job(job_id)

    @contextlib.contextmanager
    def _batch(self) -> Iterator[None]:
        """Hold job processing while changing many jobs: one wake-up instead of one per job."""
        holding = self._scheduler.state == STATE_RUNNING
        if holding:
            self._scheduler.pause()
        try:
            yield
        finally:
            if holding:
                self._scheduler.resume()

    def _run_scheduled(
        self, job_id: str, run_times: list[datetime]
    ) -> Coroutine[Any, Any, list[RunRecord]]:
        """Start the due occurrences of a job (called inside APScheduler's job processing)."""
        return self._runner.run_due(self._catalogue.jobs[job_id], run_times)

    def _view(self, definition: JobDefinition, scheduled: Any) -> JobView:
        next_run: datetime | None = getattr(scheduled, "next_run_time", None)
        options = definition.options
        return JobView(
            job_id=definition.job_id,
            func=definition.func_path,
            cron_expression=definition.cron_expression,
            description=options.description,
            timezone=definition.timezone,
            enabled=options.enabled,
            paused=definition.job_id in self._catalogue.paused,
            next_run_at=next_run.astimezone(UTC) if next_run is not None else None,
            running=self._runner.running_count(definition.job_id),
            last_run=self._runner.last_runs.get(definition.job_id),
            file=definition.file,
            line=definition.line,
        )


def _dispatched_by_service() -> None:
    """Stand-in APScheduler job function: ``_ServiceExecutor`` runs the real one instead."""
    raise AssertionError("scheduler jobs run through the service's executor")
