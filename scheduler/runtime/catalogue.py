"""The job catalogue: every known job by id, which came from manifests, which are paused.

``SchedulerService`` keeps the AsyncIOScheduler and the public API; the bookkeeping behind it
lives here, apart from APScheduler (STYLE.md rule 3), so "what does this reload change" is
answered from plain data. A ``LoadResult`` becomes a ``Change`` only when every added or
changed job builds its definition and trigger, so committing one cannot fail half-way and a
reload applies all of its jobs or none. The service hands ``commit`` the callables that
touch APScheduler, in the order the catalogue needs them.
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
from scheduler.records import ReloadStatus
from scheduler.runtime.execution import JobDefinition
from scheduler.runtime.plan import Plan, plan_changes

__all__ = ["Change", "JobCatalogue", "PreparedJob", "Schedule", "Unschedule", "trigger_for"]

Schedule = Callable[[JobDefinition, Trigger], None]
"""Catalogue a definition and, if enabled, put it on the scheduler (the service's part)."""
Unschedule = Callable[[str], None]
"""Take a job id off the scheduler; a job that is not on it is no error."""


@dataclass(frozen=True, slots=True)
class PreparedJob:
    """A manifest job whose definition and trigger are built: scheduling it cannot fail."""

    loaded: LoadedJob
    definition: JobDefinition
    trigger: Trigger


@dataclass(frozen=True, slots=True)
class Change:
    """A plan whose added and changed jobs all built, so it can be committed whole."""

    plan: Plan
    prepared: tuple[PreparedJob, ...]

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
        self.paused: set[str] = set()

    def require(self, job_id: str) -> JobDefinition:
        """The job's definition; raises ``JobNotFound`` rather than a bare ``KeyError``."""
        try:
            return self.jobs[job_id]
        except KeyError:
            raise JobNotFound(job_id) from None

    def add(self, definition: JobDefinition) -> None:
        """Catalogue a definition, replacing the one with its id."""
        self.jobs[definition.job_id] = definition

    def pause(self, job_id: str) -> None:
        """Mark a known job paused; raises ``JobNotFound``."""
        self.require(job_id)
        self.paused.add(job_id)

    def resume(self, job_id: str) -> None:
        """Clear a known job's pause; raises ``JobNotFound``."""
        self.require(job_id)
        self.paused.discard(job_id)

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

    def with_conflicts(self, result: LoadResult) -> LoadResult:
        """Refuse manifest jobs whose id a ``register_job`` call already took."""
        if len(self.jobs) == len(self.manifest_jobs):
            return result  # no job registered in code: skip a pass over every loaded job
        clashes = [
            Problem(
                job.file,
                job.line,
                None,
                f"job_id {job.spec.job_id!r} is already registered in code",
                job_id=job.spec.job_id,
                field="job_id",
            )
            for job in result.jobs
            if job.spec.job_id in self.jobs and job.spec.job_id not in self.manifest_jobs
        ]
        if not clashes:
            return result
        problems = tuple(sorted_problems([*result.problems, *clashes]))
        return dataclasses.replace(result, problems=problems)

    def prepare(self, result: LoadResult) -> Change | tuple[Problem, ...]:
        """Plan the load against the running manifest jobs and build what it adds or changes.

        Nothing changes here; the problems that refuse the whole load are returned instead of a
        ``Change``: the load's own when it has errors, else those of the jobs that did not build.
        """
        if not result.ok:
            return result.problems
        plan = plan_changes(self.manifest_jobs, result.jobs)
        prepared, problems = _prepare(plan)
        if problems:
            return tuple(problems)
        return Change(plan, tuple(prepared))

    def commit(self, change: Change, schedule: Schedule, unschedule: Unschedule) -> None:
        """Apply a prepared change: unschedule, forget removed jobs, schedule, refresh positions.

        Jobs left unchanged keep their schedule, so their next run is not reset.
        """
        plan = change.plan
        for job_id in (*plan.removed, *plan.changed_ids):
            unschedule(job_id)
        for job_id in plan.removed:
            self._drop(job_id)
        for prepared in change.prepared:
            self.manifest_jobs[prepared.definition.job_id] = prepared.loaded
            schedule(prepared.definition, prepared.trigger)
        for loaded in plan.refreshed:  # new source position only; the schedule is not touched
            job_id = loaded.spec.job_id
            self.manifest_jobs[job_id] = loaded
            definition = self.jobs[job_id]
            if (definition.file, definition.line) != (loaded.file, loaded.line):
                self.jobs[job_id] = dataclasses.replace(
                    definition, file=loaded.file, line=loaded.line
                )

    def _drop(self, job_id: str) -> None:
        del self.jobs[job_id]
        self.manifest_jobs.pop(job_id, None)
        self.paused.discard(job_id)


def trigger_for(definition: JobDefinition) -> Trigger:
    """The definition's trigger, shared with every job on the same schedule (``H`` resolved
    for its job id, so jobs that resolve alike share one too)."""
    jitter = definition.options.jitter or None
    expression = resolve_hashed(definition.cron_expression, definition.job_id)
    return _shared_trigger(expression, definition.timezone, jitter)


def _prepare(plan: Plan) -> tuple[list[PreparedJob], list[Problem]]:
    """Build every definition and trigger before changing anything, so a reload is all or none."""
    prepared: list[PreparedJob] = []
    problems: list[Problem] = []
    for job in (*plan.added, *plan.changed):
        try:
            definition = JobDefinition.from_loaded(job)
            prepared.append(PreparedJob(job, definition, trigger_for(definition)))
        except (SchedulerError, ValueError, ImportError, AttributeError) as exc:
            problems.append(
                Problem(job.file, job.line, None, f"cannot schedule: {exc}", job_id=job.spec.job_id)
            )
    return prepared, problems


@functools.lru_cache(maxsize=4096)
def _shared_trigger(expression: str, timezone: str, jitter: int | None) -> Trigger:
    """One trigger per distinct schedule: triggers hold no per-job state, and building
    thousands of identical ones dominated start-up (tests/benchmarks/bench_startup.py).
    Shared, it answers once for all its jobs when they fall due together (bench_lag.py)."""
    return shared_trigger(build_trigger(expression, timezone, jitter=jitter))
