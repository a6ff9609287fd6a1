"""Response and request bodies of the HTTP API, as pydantic models.

They are the API's contract: FastAPI publishes them in the OpenAPI document, so a client can
be generated from it. Records from the running scheduler are turned into these here, and
nowhere else, so a field's name and meaning are written down once.
"""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from scheduler.cron import describe, resolve_hashed
from scheduler.errors import SchedulerError
from scheduler.problems import Problem, render_problem
from scheduler.records import JobView, Pause, ReloadStatus, RunKind, RunRecord, RunStatus

__all__ = [
    "ErrorBody",
    "Health",
    "HourCount",
    "JobDetail",
    "JobOut",
    "PauseOut",
    "PauseRequest",
    "ProblemOut",
    "ReloadOut",
    "RunOut",
    "RunsPage",
    "TimelineOut",
    "TimelineRunOut",
    "TriggerAccepted",
    "english",
    "job_detail",
    "job_out",
    "pause_out",
    "problem_out",
    "reload_out",
    "run_out",
]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ErrorBody(_Model):
    """Every error the API answers itself (401, 403, 404, 503) has this body."""

    error: str = Field(description="machine-readable code, e.g. `not_found`, `unauthorized`")
    message: str = Field(description="what went wrong, for a person")


class PauseRequest(_Model):
    """Optional body of `POST /api/jobs/{id}/pause`."""

    reason: str | None = Field(default=None, max_length=500, description="why, for the record")
    who: str | None = Field(
        default=None, max_length=200, description="who pauses (default: `api@<client address>`)"
    )


class PauseOut(_Model):
    """A fleet-wide pause: when, by whom, and why."""

    paused_at: datetime
    who: str
    reason: str | None


class RunOut(_Model):
    """One occurrence of a job, as the state store recorded it."""

    run_id: str
    job_id: str
    kind: RunKind
    status: RunStatus
    scheduled_for: datetime
    started_at: datetime | None
    finished_at: datetime | None
    duration_seconds: float | None
    error: str | None
    node: str


class JobOut(_Model):
    """A job of the loaded manifests (or registered in code), disabled ones too."""

    job_id: str
    func: str
    cron_expression: str = Field(description="as written in the manifest")
    resolved_expression: str = Field(description="what runs: `H` fields resolved for the job id")
    schedule_text: str = Field(description="the schedule in English")
    description: str | None
    timezone: str
    enabled: bool = Field(description="the manifest's `enabled` flag")
    paused: bool = Field(description="paused at run time (fleet-wide), whatever `enabled` says")
    pause: PauseOut | None
    next_run_at: datetime | None = Field(description="null when disabled, paused or never due")
    running: int = Field(description="runs of this job going on in this process now")
    last_run: RunOut | None
    file: str | None
    line: int | None


class JobDetail(JobOut):
    """A job with its most recent runs from the store, newest first."""

    recent_runs: list[RunOut]


class TriggerAccepted(_Model):
    """A manual run was started; its outcome will be in `GET /api/runs`."""

    job_id: str
    run_id: str
    runs_url: str = Field(description="where the run's record appears")


class RunsPage(_Model):
    """One page of run records, newest first."""

    runs: list[RunOut]
    limit: int
    offset: int
    next: str | None = Field(description="the next page's URL, null on the last page")


class ProblemOut(_Model):
    """One located problem of a manifest load."""

    severity: Literal["error", "warning"]
    file: str
    line: int | None
    col: int | None
    job_id: str | None
    field: str | None
    message: str
    text: str = Field(description="`path:line:col: severity: [job_id] field: message`")


class ReloadOut(_Model):
    """The last attempt to apply the manifests; a refused one changed nothing."""

    at: datetime
    ok: bool
    problems: list[ProblemOut]
    added: list[str]
    removed: list[str]
    changed: list[str]
    enabled: list[str]
    disabled: list[str]


class TimelineRunOut(_Model):
    """One upcoming run."""

    job_id: str
    at: datetime


class HourCount(_Model):
    """How many runs start in one hour of the window."""

    hour: datetime
    runs: int


class TimelineOut(_Model):
    """Upcoming runs of every enabled, unpaused job, in time order."""

    start: datetime
    end: datetime
    truncated: bool = Field(description="true when more runs fall in the window than listed")
    runs: list[TimelineRunOut]
    hourly: list[HourCount]


class Health(_Model):
    """Whether this scheduler is fit to serve; `reasons` says what is wrong when not."""

    status: Literal["ok", "unavailable"]
    running: bool
    store_reachable: bool
    last_reload_ok: bool
    reasons: list[str]


def english(expression: str, job_id: str) -> str:
    """The schedule in English (as written, when the describer cannot read it)."""
    try:
        return _english(resolve_hashed(expression, job_id))
    except (SchedulerError, ValueError):  # registered in code with a form it does not know
        return expression


@functools.lru_cache(maxsize=4096)
def _english(resolved: str) -> str:
    """Describing is slow (cron-descriptor loads its translations each time) and a large set
    repeats few schedules: each resolved expression is described once."""
    return describe(resolved)


def pause_out(pause: Pause | None) -> PauseOut | None:
    """A ``Pause`` without its job id (the job carries it)."""
    if pause is None:
        return None
    return PauseOut(paused_at=pause.paused_at, who=pause.who, reason=pause.reason)


def run_out(record: RunRecord) -> RunOut:
    """A ``RunRecord`` as the API shows it."""
    return RunOut(
        run_id=record.run_id,
        job_id=record.job_id,
        kind=record.kind,
        status=record.status,
        scheduled_for=record.scheduled_for,
        started_at=record.started_at,
        finished_at=record.finished_at,
        duration_seconds=record.duration_seconds,
        error=record.error,
        node=record.node,
    )


def _job_fields(job: JobView) -> dict[str, object]:
    return {
        "job_id": job.job_id,
        "func": job.func,
        "cron_expression": job.cron_expression,
        "resolved_expression": resolve_hashed(job.cron_expression, job.job_id),
        "schedule_text": english(job.cron_expression, job.job_id),
        "description": job.description,
        "timezone": job.timezone,
        "enabled": job.enabled,
        "paused": job.paused,
        "pause": pause_out(job.pause),
        "next_run_at": job.next_run_at,
        "running": job.running,
        "last_run": run_out(job.last_run) if job.last_run is not None else None,
        "file": job.file,
        "line": job.line,
    }


def job_out(job: JobView) -> JobOut:
    """A ``JobView`` as the API shows it."""
    return JobOut.model_validate(_job_fields(job))


def job_detail(job: JobView, recent: list[RunRecord]) -> JobDetail:
    """A job with its recent runs."""
    return JobDetail.model_validate(
        {**_job_fields(job), "recent_runs": [run_out(record) for record in recent]}
    )


def problem_out(problem: Problem) -> ProblemOut:
    """A located problem, with its one text rendering."""
    return ProblemOut(
        severity=problem.severity,
        file=problem.file,
        line=problem.line,
        col=problem.col,
        job_id=problem.job_id,
        field=problem.field,
        message=problem.message,
        text=render_problem(problem),
    )


def reload_out(status: ReloadStatus) -> ReloadOut:
    """A ``ReloadStatus`` as the API shows it."""
    return ReloadOut(
        at=status.at,
        ok=status.ok,
        problems=[problem_out(problem) for problem in status.problems],
        added=list(status.added),
        removed=list(status.removed),
        changed=list(status.changed),
        enabled=list(status.enabled),
        disabled=list(status.disabled),
    )
