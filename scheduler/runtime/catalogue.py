"""The job catalogue: every known job by id, which came from manifests, which are paused.

``SchedulerService`` keeps the AsyncIOScheduler and the public API; the bookkeeping behind it
lives here, apart from APScheduler, so "what does this reload change" is answered from plain
data. A ``LoadResult`` becomes a ``Change`` only when every added or changed job builds its
definition and trigger and its trigger computes a next run time, so committing one cannot
fail half-way and a reload applies all of its jobs or none. The service hands ``commit`` the
callables that touch APScheduler, in the order the catalogue needs them.

Preparing a change needs no event loop: a reload prepares against a ``Snapshot`` of the
catalogue on a worker thread, and the loop commits it only if the catalogue has not changed
meanwhile (its ``generation`` says so).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from scheduler.cron import Trigger, build_trigger, resolve_hashed, validate_expression
from scheduler.cron.build import shared_trigger
from scheduler.errors import DuplicateJob, JobNotFound, SchedulerError
from scheduler.loader import LoadedJob, LoadResult
from scheduler.manifest import JobOptions
from scheduler.problems import Problem, sorted_problems
from scheduler.records import Pause, ReloadStatus
from scheduler.runtime.definition import JobDefinition
from scheduler.runtime.plan import Plan, plan_changes

__all__ = [
    "Change",
    "JobCatalogue",
    "PreparedJob",
    "Schedule",
    "Snapshot",
    "Unschedule",
    "first_fire_time",
    "occurrence_trigger",
    "trigger_for",
    "with_conflicts",
]

Schedule = Callable[[JobDefinition, Trigger, "datetime | None"], None]
"""Catalogue a definition and, if enabled, put it on the scheduler at the given next run time
(the service's part); it must not fail."""
Unschedule = Callable[[str], None]
"""Take a job id off the scheduler; a job that is not on it is no error."""


@dataclass(frozen=True, slots=True)
class PreparedJob:
    """A manifest job whose definition and trigger are built: scheduling it cannot fail."""

    loaded: LoadedJob
    definition: JobDefinition
    trigger: Trigger
    next_run_at: datetime | None


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What preparing a change reads from the catalogue, copied so another thread can read it."""

    generation: int
    manifest_jobs: dict[str, LoadedJob]
    registered_ids: frozenset[str]


@dataclass(frozen=True, slots=True)
class Change:
    """A plan whose added and changed jobs all built, so it can be committed whole."""

    plan: Plan
    prepared: tuple[PreparedJob, ...]
    generation: int

    def status(self, applied_at: datetime, problems: tuple[Problem, ...]) -> ReloadStatus:
        """The record of this change once applied; ``problems`` are the load's warnings."""
        plan = self.plan
        return ReloadStatus(
            applied_at,
            True,
            problems,
            plan.added_ids,
            plan.removed,
            plan.changed_ids,
            plan.unchanged_ids,
            plan.enabled_ids,
            plan.disabled_ids,
        )


class JobCatalogue:
    """Every job the service knows, scheduled or not: definitions, manifest jobs, pauses.

    ``jobs`` holds manifest jobs and jobs registered in code; ``manifest_jobs`` is the
    running set a reload is planned against; ``paused`` outlives reloads, since a pause is an
    operator's decision and a manifest knows nothing of it.
    """

    def __init__(self) -> None:
        self.jobs: dict[str, JobDefinition] = {}
        self.manifest_jobs: dict[str, LoadedJob] = {}
        self.paused: dict[str, Pause] = {}
        self.keep_pauses = False
        """With a state store, pauses are the store's: a removed job's pause is kept, to hold
        again if the job comes back; without one, forgetting a job forgets its pause."""
        self.generation = 0
        """Counts changes to the job set, so a change prepared elsewhere can tell it is stale."""

    def snapshot(self) -> Snapshot:
        """A copy of what ``prepare`` reads, for a worker thread."""
        registered = frozenset(self.jobs.keys() - self.manifest_jobs.keys())
        return Snapshot(self.generation, dict(self.manifest_jobs), registered)

    def require(self, job_id: str) -> JobDefinition:
        """The job's definition; raises ``JobNotFound`` rather than a bare ``KeyError``."""
        try:
            return self.jobs[job_id]
        except KeyError:
            raise JobNotFound(job_id) from None

    def add(self, definition: JobDefinition) -> None:
        """Catalogue a definition, replacing the one with its id."""
        self.jobs[definition.job_id] = definition
        self.generation += 1

    def pause(self, pause: Pause) -> None:
        """Mark a known job paused; raises ``JobNotFound``."""
        self.require(pause.job_id)
        self.paused[pause.job_id] = pause

    def resume(self, job_id: str) -> None:
        """Clear a known job's pause; raises ``JobNotFound``."""
        self.require(job_id)
        self.paused.pop(job_id, None)

    def forget(self, job_id: str) -> None:
        """Drop a known job and its pause; raises ``JobNotFound``."""
        self.require(job_id)
        self._drop(job_id)

    def define(
        self,
        job_id: str,
        func: Callable[..., Any],
        cron_expression: str,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        job_options: JobOptions | None,
        default_timezone: str,
    ) -> JobDefinition:
        """Check and build the definition of a job registered in code, without cataloguing it.

        ``args`` and ``kwargs`` go into the options, where a manifest keeps them, so both kinds
        of job run the same way. Raises ``DuplicateJob``, ``TypeError`` or
        ``InvalidCronExpression``, before anything is catalogued.
        """
        if job_id in self.jobs:
            raise DuplicateJob(job_id)
        if not callable(func):
            raise TypeError(f"func of job {job_id!r} is not callable: {func!r}")
        validate_expression(cron_expression, job_id=job_id)
        options = (job_options or JobOptions()).model_copy(
            update={"args": list(args), "kwargs": dict(kwargs)} if args or kwargs else {}
        )
        path = f"{getattr(func, '__module__', '?')}.{getattr(func, '__qualname__', repr(func))}"
        timezone = options.timezone or default_timezone
        return JobDefinition(job_id, func, path, cron_expression, timezone, options)

    def prepare(
        self, result: LoadResult, now: datetime, snapshot: Snapshot | None = None
    ) -> tuple[LoadResult, Change | tuple[Problem, ...]]:
        """Plan the load against the running manifest jobs and build what it adds or changes.

        Nothing changes here. Returns the load (with a problem for each id a ``register_job``
        call already took) and the ``Change``, or instead the problems that refuse the whole
        load: the load's own when it has errors, else those of the jobs that did not build.
        Reads ``snapshot`` instead of the catalogue when given (from a worker thread).
        """
        snapshot = snapshot if snapshot is not None else self.snapshot()
        result = with_conflicts(result, snapshot.registered_ids)
        if not result.ok:
            return result, result.problems
        plan = plan_changes(snapshot.manifest_jobs, result.jobs)
        prepared, problems = _prepare(plan, now)
        if problems:
            return result, tuple(problems)
        return result, Change(plan, tuple(prepared), snapshot.generation)

    def commit(self, change: Change, schedule: Schedule, unschedule: Unschedule) -> None:
        """Apply a prepared change: unschedule, forget removed jobs, schedule, refresh positions.

        Jobs left unchanged keep their schedule, so their next run is not reset.
        """
        if change.generation != self.generation:
            raise SchedulerError("the catalogue changed since this change was prepared")
        plan = change.plan
        for job_id in (*plan.removed, *plan.changed_ids):
            unschedule(job_id)
        for job_id in plan.removed:
            self._drop(job_id)
        for prepared in change.prepared:
            self.manifest_jobs[prepared.definition.job_id] = prepared.loaded
            schedule(prepared.definition, prepared.trigger, prepared.next_run_at)
        for loaded in plan.refreshed:  # new source position only; the schedule is not touched
            job_id = loaded.spec.job_id
            self.manifest_jobs[job_id] = loaded
            definition = self.jobs[job_id]
            if (definition.file, definition.line) != (loaded.file, loaded.line):
                self.jobs[job_id] = dataclasses.replace(
                    definition, file=loaded.file, line=loaded.line
                )
        self.generation += 1

    def _drop(self, job_id: str) -> None:
        del self.jobs[job_id]
        self.manifest_jobs.pop(job_id, None)
        if not self.keep_pauses:
            self.paused.pop(job_id, None)
        self.generation += 1


def trigger_for(definition: JobDefinition) -> Trigger:
    """The definition's trigger, shared with every job on the same schedule (``H`` resolved
    for its job id, so jobs that resolve alike share one too)."""
    jitter = definition.options.jitter or None
    expression = resolve_hashed(definition.cron_expression, definition.job_id)
    return _shared_trigger(expression, definition.timezone, jitter)


def with_conflicts(result: LoadResult, registered_ids: frozenset[str]) -> LoadResult:
    """Refuse manifest jobs whose id a ``register_job`` call already took."""
    if not registered_ids:
        return result  # no job registered in code: skip a pass over every loaded job
    clashes = [
        Problem(
            job.file,
            job.line,
            None,
            f"job_id {job.job_id!r} is already registered in code",
            job_id=job.job_id,
            field="job_id",
        )
        for job in result.jobs
        if job.job_id in registered_ids
    ]
    if not clashes:
        return result
    problems = tuple(sorted_problems([*result.problems, *clashes]))
    return dataclasses.replace(result, problems=problems)


def occurrence_trigger(definition: JobDefinition) -> Trigger:
    """The definition's trigger without jitter: when its occurrences are, not when they fire."""
    return _shared_trigger(definition.cron_expression, definition.timezone, None)


def _prepare(plan: Plan, now: datetime) -> tuple[list[PreparedJob], list[Problem]]:
    """Build every definition and trigger, and ask each trigger for its next two fire times,
    before changing anything: whatever can fail (an import, a jitter that overflows) fails
    here, so a reload is all or none."""
    prepared: list[PreparedJob] = []
    problems: list[Problem] = []
    # Jobs on one schedule share a trigger: ask it once (10,000 jobs on a few schedules would
    # otherwise ask 20,000 questions, alternating so its one-answer memory never helps).
    asked: dict[int, datetime | None] = {}
    for job in (*plan.added, *plan.changed):
        try:
            definition = JobDefinition.from_loaded(job)
            trigger = trigger_for(definition)
            next_run_at = None
            if definition.options.enabled:
                if id(trigger) not in asked or definition.options.jitter:
                    asked[id(trigger)] = first_fire_time(trigger, now)
                next_run_at = asked[id(trigger)]
        except Exception as exc:  # any failure refuses the reload, located
            problems.append(
                Problem(job.file, job.line, None, f"cannot schedule: {exc}", job_id=job.job_id)
            )
            continue
        prepared.append(PreparedJob(job, definition, trigger, next_run_at))
    return prepared, problems


def first_fire_time(trigger: Trigger, now: datetime) -> datetime | None:
    """The trigger's next fire time after ``now``, checking the one after it computes too."""
    first = trigger.get_next_fire_time(None, now)
    if first is not None:
        trigger.get_next_fire_time(first, first)
    return first


@functools.lru_cache(maxsize=4096)
def _shared_trigger(expression: str, timezone: str, jitter: int | None) -> Trigger:
    """One trigger per distinct schedule: triggers hold no per-job state, and building
    thousands of identical ones dominated start-up (tests/benchmarks/bench_startup.py).
    Shared, it answers once for all its jobs when they fall due together (bench_lag.py)."""
    return shared_trigger(build_trigger(expression, timezone, jitter=jitter))
