"""The running scheduler: ``SchedulerService``, the facade over the runtime's parts.

It keeps the seed's API (``register_job``, ``start``, ``shutdown``, ``pause_job``, ``resume_job``,
``remove_job``, ``get_jobs``, ``is_running``) and adds manifests (``load``, ``reload``), manual
runs (``trigger``), run records (``add_run_listener``, ``job_status``, ``history``) and the
state store (``open``, ``pause``, ``resume``). Its parts: the APScheduler timetable
(``scheduling``), which jobs exist and what a load changes (``catalogue``), claims in the
store (``claiming``, ``fleet``), pauses (``pausing``) and each run from admission to its
record (``execution``). Callers only see the records in ``scheduler.records``.

The service lives on one event loop (the one ``start()`` runs on). Calls from other threads
are marshalled onto it; reloads read, parse, validate and import on a worker thread, so the
loop, and the jobs it fires, never wait on loading.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
from collections.abc import Callable, Collection, Coroutine, Sequence
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from scheduler.clock import SYSTEM_CLOCK, Clock
from scheduler.cron import Trigger
from scheduler.errors import SchedulerError
from scheduler.loader import LoadResult, ManifestLoader
from scheduler.manifest import JobOptions
from scheduler.problems import Problem, render_problem
from scheduler.records import (
    JobView,
    Pause,
    ReloadStatus,
    RunKind,
    RunRecord,
    RunStatus,
    current_node,
)
from scheduler.runtime.affinity import on_loop
from scheduler.runtime.catalogue import (
    Change,
    JobCatalogue,
    Snapshot,
    first_fire_time,
    trigger_for,
)
from scheduler.runtime.claiming import ClaimedRuns
from scheduler.runtime.definition import JobDefinition
from scheduler.runtime.execution import JobRunner, RunListener
from scheduler.runtime.fleet import Fleet
from scheduler.runtime.pausing import PauseKeeper
from scheduler.runtime.scheduling import Timetable
from scheduler.settings import Settings, load_settings
from scheduler.store import ClaimRequest, StateStore, store_for_settings

logger = logging.getLogger(__name__)

_TASK_DRAIN_SECONDS = 1.0
"""After the grace, how long shutdown waits for cancelled runs to write their records."""

_Prepared = tuple[LoadResult, Change | tuple[Problem, ...]]
_T = TypeVar("_T")


class SchedulerService:
    """Cron jobs on an AsyncIOScheduler: manifest jobs and jobs registered in code.

    It runs on the event loop that ``start()`` is called on; methods called from another
    thread are run on that loop while the caller waits. A service that was shut down cannot
    be started again (``start()`` raises ``SchedulerError``): make a new one.
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        clock: Clock = SYSTEM_CLOCK,
        loader: ManifestLoader | None = None,
        store: StateStore | None = None,
    ) -> None:
        self.settings = settings if settings is not None else load_settings()
        self._clock = clock
        self.store = store if store is not None else store_for_settings(self.settings)
        self._store_open = False
        self._loader = loader or ManifestLoader(
            allowed_modules=self.settings.allowed_modules,
            default_timezone=self.settings.timezone,
            import_timeout=self.settings.import_timeout_seconds,
        )
        self._pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=self.settings.thread_pool_workers, thread_name_prefix="scheduler-job"
        )
        # Reloads load on this one thread: never two at once, and never the loop's default
        # executor, which asyncio.run() waits for without a limit at exit.
        self._loading = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="scheduler-load"
        )
        self._runner = JobRunner(clock=clock, thread_pool=self._pool)
        self._timetable = Timetable(self._run_scheduled)
        self._catalogue = JobCatalogue()
        self._catalogue.keep_pauses = True  # pauses are the store's, by job id
        self._fleet = Fleet(
            self.store,
            clock=clock,
            node=current_node(),
            history_limit=self.settings.history_limit,
            on_pauses=lambda pauses: self._pauses.apply(pauses),
            contestable=lambda: self._claims.contestable(),
        )
        self._pauses = PauseKeeper(
            self._catalogue, self._fleet, clock, hold=self._hold, release=self._release
        )
        self._claims = ClaimedRuns(
            self._runner, self._fleet, self._catalogue, clock, own=self._own, worker=self._loading
        )
        self._reload_listeners: tuple[Callable[[ReloadStatus], object], ...] = ()
        self._started = False
        self._closed = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._reload_lock: asyncio.Lock | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self.manifest_paths: tuple[Path, ...] = (self.settings.manifests_dir,)
        self.last_reload: ReloadStatus | None = None

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def is_running(self) -> bool:
        """Whether the scheduler fires jobs (false when BACKGROUND_JOBS_ENABLED is false)."""
        return self._started

    @property
    def bound_loop(self) -> asyncio.AbstractEventLoop | None:
        """The event loop the service runs on, once started."""
        return self._loop

    async def open(self) -> None:
        """Connect to the state store, off the loop, creating or checking its schema.

        Raises ``StoreError`` (``StoreUnavailable`` within the connect timeout). ``start()``
        opens it too if needed, but on the loop's thread.
        """
        if self._closed:
            raise SchedulerError("this SchedulerService was shut down; its store is closed")
        if not self._store_open:
            await self._fleet.open()
            self._store_open = True

    def start(self, *, paused: bool = False) -> None:
        """Start firing jobs, on the running event loop; call it from async code (a lifespan).

        ``paused=True`` starts without firing: tests apply plans to such a scheduler. Raises
        ``SchedulerError`` after ``shutdown()``/``aclose()``: its thread pool is gone; and
        ``StoreError`` when the state store cannot be opened. On start, occurrences that
        passed while no process ran a job are caught up or recorded as missed.
        """
        if self._closed:
            raise SchedulerError(
                "this SchedulerService was shut down and cannot start again; create a new one"
            )
        if self._started:
            return
        if not self.settings.background_jobs_enabled:
            logger.info(
                "BACKGROUND_JOBS_ENABLED is false: the scheduler is not started (%d job(s) loaded)",
                len(self._catalogue.jobs),
            )
            return
        self._loop = asyncio.get_running_loop()
        if not self._store_open:
            self.store.open()
            self._store_open = True
        self._timetable.start(paused=paused)
        self._started = True
        self._fleet.start()
        self._own(self._claims.catch_up(), "catch-up")
        enabled = sum(1 for job in self._catalogue.jobs.values() if job.options.enabled)
        logger.info("scheduler started: %d job(s), %d enabled", len(self._catalogue.jobs), enabled)

    @on_loop
    def shutdown(self, wait: bool = True) -> None:
        """Stop firing; with ``wait``, wait up to the shutdown grace for running thread jobs
        (seed API). Coroutine runs still going are cancelled. From async code prefer
        ``await aclose()``, which gives coroutines the grace too."""
        self._stop_firing()
        self._closed = True
        if wait:
            self._runner.wait_threads(self.settings.shutdown_grace_seconds)
        self._runner.cancel_all()
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._loading.shutdown(wait=False, cancel_futures=True)
        if self._store_open:
            self._store_open = False
            self._fleet.close_now()

    async def aclose(self, grace_seconds: float | None = None) -> None:
        """Stop firing, give running jobs up to the grace period, then cancel what is left.

        Coroutines still going are cancelled (recorded ``cancelled``); threads cannot be
        stopped, so their runs are recorded ``abandoned``. Returns within about a second
        after the grace, whatever the jobs do.
        """
        grace = self.settings.shutdown_grace_seconds if grace_seconds is None else grace_seconds
        self._stop_firing()
        self._closed = True
        await asyncio.sleep(0)  # runs submitted a moment ago take their first step, and count
        unfinished = await self._runner.wait_idle(grace)
        if unfinished:
            logger.warning(
                "%d job run(s) still going after the %gs shutdown grace: %s; coroutines are "
                "cancelled, threads abandoned (a thread cannot be stopped)",
                unfinished,
                grace,
                ", ".join(self._runner.still_running()),
            )
        self._runner.cancel_all()
        tasks = {*self._timetable.dispatching, *self._tasks}
        if tasks:
            await asyncio.wait(tasks, timeout=_TASK_DRAIN_SECONDS)
        await self._runner.drain_listeners(_TASK_DRAIN_SECONDS)
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._loading.shutdown(wait=False, cancel_futures=True)
        if self._store_open:
            self._store_open = False
            await self._fleet.close()
        await asyncio.sleep(0)  # AsyncIOScheduler.shutdown completes on the loop's next turn

    async def __aenter__(self) -> SchedulerService:
        await self.open()
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
            self._timetable.stop()
            self._started = False
            logger.info("scheduler stopped firing")

    # -- jobs ------------------------------------------------------------------------------

    @on_loop
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
        trigger = trigger_for(definition)
        next_run_at = (
            first_fire_time(trigger, self._clock.now()) if definition.options.enabled else None
        )
        with self._timetable.batch():
            self._schedule(definition, trigger, next_run_at)
        return self.get_job(job_id)

    @on_loop
    def pause_job(self, job_id: str, reason: str | None = None, *, who: str | None = None) -> None:
        """Stop firing a job until ``resume_job``, on every process sharing the store.

        It holds here at once; the store is written in the background (``await pause()``
        waits for it). A pause survives reloads and restarts.
        """
        pause = self._pauses.pause_here(job_id, reason, who)
        self._own(self._write_pause(job_id, pause), f"pause-{job_id}")

    @on_loop
    def resume_job(self, job_id: str) -> None:
        """Fire a paused job again, from its next occurrence after now, on every process."""
        self._pauses.resume_here(job_id)
        self._own(self._write_pause(job_id, None), f"resume-{job_id}")

    async def pause(
        self, job_id: str, *, reason: str | None = None, who: str | None = None
    ) -> Pause:
        """``pause_job``, returning once the store holds the pause; raises ``StoreError``."""
        pause = self._pauses.pause_here(job_id, reason, who)
        await self._write_pause(job_id, pause, log_failure=False)
        return pause

    async def resume(self, job_id: str) -> Pause | None:
        """``resume_job``, returning the pause lifted once the store has it.

        Raises ``StoreError``."""
        lifted = self._pauses.resume_here(job_id)
        await self._write_pause(job_id, None, log_failure=False)
        return lifted

    async def refresh_pauses(self) -> None:
        """Read the fleet's pauses from the store now (a running service does it every
        second by itself); for a service that is not started, such as ``scheduler list``."""
        await self.open()
        self._pauses.apply(await self._fleet.pauses())

    async def _write_pause(
        self, job_id: str, pause: Pause | None, *, log_failure: bool = True
    ) -> None:
        try:
            await self.open()
        except SchedulerError as exc:
            if not log_failure:
                raise
            logger.error("job %s: could not write the pause to the store: %s", job_id, exc)
            return
        await self._pauses.write(job_id, pause, log_failure=log_failure)

    def _hold(self, job_id: str) -> None:
        self._timetable.hold(job_id)

    def _release(self, job_id: str) -> None:
        self._timetable.release(job_id, self._clock.now())

    @on_loop
    def remove_job(self, job_id: str) -> None:
        """Forget a job; a manifest job comes back on the next reload that lists it."""
        self._catalogue.forget(job_id)
        self._unschedule(job_id)

    @on_loop
    def get_jobs(self) -> list[JobView]:
        """Every known job, disabled ones included, sorted by id."""
        next_runs = self._timetable.next_runs()
        jobs = self._catalogue.jobs
        return [self._view(jobs[job_id], next_runs.get(job_id)) for job_id in sorted(jobs)]

    @on_loop
    def get_job(self, job_id: str) -> JobView:
        """One job; raises ``JobNotFound``."""
        return self._view(self._catalogue.require(job_id), self._timetable.next_run(job_id))

    @on_loop
    def job_status(self, job_id: str) -> RunRecord | None:
        """The job's last RunRecord, or None before its first run; raises ``JobNotFound``."""
        self._catalogue.require(job_id)
        return self._runner.last_runs.get(job_id)

    @on_loop
    def running_runs(self) -> list[str]:
        """Runs still going, as ``job_id (coroutine|thread)``, for shutdown logs."""
        return self._runner.still_running()

    @on_loop
    def add_run_listener(self, listener: RunListener) -> None:
        """Call ``listener(record)`` after every run, skip and miss (store, metrics, tests).

        An ``async def`` listener is awaited in a task the service owns; shutdown gives such
        tasks a second to finish."""
        self._runner.add_listener(listener)

    @on_loop
    def remove_run_listener(self, listener: RunListener) -> None:
        """Stop calling ``listener``."""
        self._runner.remove_listener(listener)

    async def trigger(self, job_id: str) -> RunRecord:
        """Run a job once now, outside its schedule (disabled or paused jobs too).

        The run is claimed in the store like any occurrence (``kind=manual``), so it counts
        against ``max_instances`` on every process, and it is a task the service owns: a
        caller that goes away (a cancelled request) does not cancel the run. A run that
        shutdown stopped returns its ``cancelled`` or ``abandoned`` record.
        """
        loop = self._loop
        if loop is not None and loop is not asyncio.get_running_loop():
            running = asyncio.run_coroutine_threadsafe(self._await_trigger(job_id), loop)
            return await asyncio.wrap_future(running)
        return await self._await_trigger(job_id)

    @on_loop
    def trigger_nowait(self, job_id: str) -> str:
        """Start a manual run and return its run id at once (the HTTP API's trigger).

        Raises ``JobNotFound``; the outcome is in the run's record (``history``) when it ends.
        """
        request = self._manual_request(self._catalogue.require(job_id))
        self._own(self._run_manual(request), f"trigger-{job_id}")
        return request.run_id

    async def _await_trigger(self, job_id: str) -> RunRecord:
        request = self._manual_request(self._catalogue.require(job_id))
        task = self._own(self._run_manual(request), f"trigger-{job_id}")
        return await asyncio.shield(task)

    def _manual_request(self, definition: JobDefinition) -> ClaimRequest:
        return ClaimRequest(
            definition.job_id,
            self._clock.now(),
            RunKind.MANUAL,
            definition.options.max_instances,
        )

    async def _run_manual(self, request: ClaimRequest) -> RunRecord:
        """A manual run; stopped by a shutdown, it returns the record saying so."""
        definition = self._catalogue.require(request.job_id)
        try:
            await self.open()
            record = await self._claims.claim_and_run(definition, request)
        except asyncio.CancelledError:
            last = self._runner.last_runs.get(definition.job_id)
            if last is None or last.run_id != request.run_id:
                raise
            return last
        if record is None:  # the very same instant was claimed already
            error = "skipped: this instant was already claimed"
            skipped = RunRecord(
                request.job_id,
                request.scheduled_for,
                RunStatus.SKIPPED,
                error=error,
                kind=RunKind.MANUAL,
                run_id=request.run_id,
            )
            return self._runner.note(skipped)
        return record

    async def history(
        self,
        job_id: str | None = None,
        *,
        status: RunStatus | None = None,
        kind: RunKind | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[RunRecord]:
        """Runs from the store, newest first, filtered and paged; raises ``StoreError``."""
        await self.open()
        return await self._fleet.history(
            job_id, status=status, kind=kind, limit=limit, offset=offset
        )

    async def store_reachable(self) -> str | None:
        """``None`` when the store answers, else why not (for health checks)."""
        try:
            await self.open()
            await self._fleet.ping()
        except SchedulerError as exc:
            return str(exc)
        return None

    @property
    def unavailable_skips(self) -> int:
        """Occurrences skipped because the store could not be reached (for metrics)."""
        return self._fleet.unavailable_count

    @property
    def claims_lost(self) -> int:
        """Occurrences another process claimed first (for metrics)."""
        return self._claims.lost

    @on_loop
    def add_reload_listener(self, listener: Callable[[ReloadStatus], object]) -> None:
        """Call ``listener(status)`` after every load or reload, applied or refused."""
        self._reload_listeners = (*self._reload_listeners, listener)

    def _own(self, work: Coroutine[Any, Any, _T], name: str) -> asyncio.Task[_T]:
        """Run ``work`` in a task the service keeps (shutdown waits for it a moment)."""
        task = asyncio.get_running_loop().create_task(work, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("%s failed", task.get_name(), exc_info=task.exception())

    # -- manifests -------------------------------------------------------------------------

    def load(self, paths: Sequence[str | Path] | None = None) -> LoadResult:
        """Load manifests (folders and/or files) and apply them only if they have no errors.

        The caller renders the problems, so they are returned rather than logged. It loads
        on the calling thread: call it before ``start()``, or use ``reload_async()``.
        """
        if paths is not None:
            self.manifest_paths = tuple(Path(path) for path in paths)
        result, change = self._catalogue.prepare(
            self._loader.load(self.manifest_paths), self._clock.now()
        )
        self._apply(result, change, log_problems=False)
        return result

    @on_loop
    def reload(self, changed: Collection[Path] | None = None) -> ReloadStatus:
        """Re-read the manifests and apply them all, or nothing if any is invalid.

        It loads on the calling thread; the running scheduler reloads with ``reload_async``,
        which does not hold the event loop. ``changed``, from a watcher, names the only files
        that changed: just those are read again (the loader falls back to a full rescan when
        that cannot be done exactly). ``None`` rescans the whole folder.
        """
        result, change = self._load_and_prepare(changed, None)
        return self._apply(result, change, log_problems=True)

    async def reload_async(
        self, changed: Collection[Path] | None = None, *, announce: bool = False
    ) -> ReloadStatus:
        """``reload()`` with the reading, parsing, validation and imports on a worker thread.

        Jobs keep firing on the loop meanwhile; only the commit of the validated change runs
        on it. Reloads are serialized: one waits for the one before. ``announce`` logs a
        reload that changed nothing at INFO (an operator asked for it).
        """
        if self._reload_lock is None:
            self._reload_lock = asyncio.Lock()
        async with self._reload_lock:
            snapshot = self._catalogue.snapshot()
            loop = asyncio.get_running_loop()
            result, change = await loop.run_in_executor(
                self._loading, self._load_and_prepare, changed, snapshot
            )
            if isinstance(change, Change) and change.generation != self._catalogue.generation:
                result, change = self._catalogue.prepare(result, self._clock.now())
            return self._apply(result, change, log_problems=True, announce=announce)

    def _load_and_prepare(
        self, changed: Collection[Path] | None, snapshot: Snapshot | None
    ) -> _Prepared:
        loaded = self._loader.load(self.manifest_paths, changed=changed)
        return self._catalogue.prepare(loaded, self._clock.now(), snapshot)

    def _apply(
        self,
        result: LoadResult,
        change: Change | tuple[Problem, ...],
        *,
        log_problems: bool,
        announce: bool = False,
    ) -> ReloadStatus:
        """Commit a prepared change, or refuse the load whole, and log what happened.

        A reload that changes nothing logs at INFO only when asked for (``announce``: SIGHUP)
        or when it follows a refused one (the set is valid again); else at DEBUG.
        """
        if not isinstance(change, Change):
            return self._reject(change, log_problems)
        with self._timetable.batch():
            self._catalogue.commit(change, self._schedule, self._unschedule)
        status = change.status(self._clock.now(), result.problems)
        recovered = self.last_reload is not None and not self.last_reload.ok
        _log_applied(status, announce=announce or recovered)
        return self._reloaded(status)

    def _reloaded(self, status: ReloadStatus) -> ReloadStatus:
        self.last_reload = status
        for listener in self._reload_listeners:
            try:
                listener(status)
            except Exception:
                logger.exception("reload listener %r failed", listener)
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
        return self._reloaded(ReloadStatus(self._clock.now(), False, problems))

    # -- the timetable ---------------------------------------------------------------------

    def _schedule(
        self, definition: JobDefinition, trigger: Trigger, next_run_at: datetime | None
    ) -> None:
        """Catalogue the job and, if enabled, put it on the timetable at ``next_run_at``."""
        self._catalogue.add(definition)
        if not definition.options.enabled:
            return
        paused = definition.job_id in self._catalogue.paused
        self._timetable.add(
            definition.job_id,
            trigger,
            None if paused else next_run_at,
            coalesce=definition.options.coalesce,
            misfire_grace_time=definition.options.misfire_grace_time,
        )

    def _unschedule(self, job_id: str) -> None:
        self._timetable.remove(job_id)

    def _run_scheduled(
        self, job_id: str, run_times: list[datetime]
    ) -> Coroutine[Any, Any, list[RunRecord]]:
        """Claim and run the due occurrences of a job (inside APScheduler's job processing)."""
        return self._claims.run_due(self._catalogue.jobs[job_id], run_times)

    def _view(self, definition: JobDefinition, next_run: datetime | None) -> JobView:
        options = definition.options
        return JobView(
            job_id=definition.job_id,
            func=definition.func_path,
            cron_expression=definition.cron_expression,
            description=options.description,
            timezone=definition.timezone,
            enabled=options.enabled,
            paused=definition.job_id in self._catalogue.paused,
            pause=self._catalogue.paused.get(definition.job_id),
            next_run_at=next_run,
            running=self._runner.running_count(definition.job_id),
            last_run=self._runner.last_runs.get(definition.job_id),
            file=definition.file,
            line=definition.line,
        )


def _log_applied(status: ReloadStatus, *, announce: bool) -> None:
    """One line per applied load, naming what it did to which jobs."""
    if not status.has_changes:
        level = logging.INFO if announce else logging.DEBUG  # a no-op rescan is routine
        logger.log(level, "manifests applied: no changes (%d job(s))", len(status.unchanged))
        return
    flipped = {*status.enabled, *status.disabled}
    parts = [
        f"{label}={list(ids)}"
        for label, ids in (
            ("added", status.added),
            ("removed", status.removed),
            ("changed", [job_id for job_id in status.changed if job_id not in flipped]),
            ("enabled", status.enabled),
            ("disabled", status.disabled),
        )
        if ids
    ]
    logger.info("manifests applied: %s; unchanged=%d", " ".join(parts), len(status.unchanged))
