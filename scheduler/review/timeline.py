"""The upcoming runs of many jobs, merged in time order: what the next hours look like.

Takes plain ``(job_id, cron_expression, timezone)`` triples so the command line (from loaded
manifests) and an HTTP endpoint (from the running service's jobs) share it. Jobs on the same
schedule are walked once; a cap on the number of runs keeps an every-second job over a long
window from turning into millions of rows.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from scheduler.cron import fire_times_between, resolve_hashed
from scheduler.loader import LoadedJob

__all__ = [
    "MAX_RUNS",
    "Run",
    "ScheduledJob",
    "Timeline",
    "build_timeline",
    "hourly_counts",
    "scheduled_jobs",
]

MAX_RUNS = 100_000
_HOUR = timedelta(hours=1)


class ScheduledJob(NamedTuple):
    """What the timeline needs of a job: its id, its expression as written, and its zone."""

    job_id: str
    cron_expression: str
    timezone: str


@dataclass(frozen=True, slots=True)
class Run:
    """One upcoming run: which job, and when (aware, UTC)."""

    job_id: str
    at: datetime


@dataclass(frozen=True, slots=True)
class Timeline:
    """Runs in ``[start, end)`` in time order (then by job id); ``truncated`` when capped."""

    start: datetime
    end: datetime
    runs: tuple[Run, ...]
    truncated: bool


def scheduled_jobs(jobs: Iterable[LoadedJob]) -> list[ScheduledJob]:
    """The enabled ones of loaded manifest jobs, as the timeline takes them."""
    return [
        ScheduledJob(job.job_id, job.spec.cron_expression, job.timezone)
        for job in jobs
        if job.spec.enabled
    ]


def build_timeline(
    jobs: Iterable[ScheduledJob], *, start: datetime, hours: float, limit: int = MAX_RUNS
) -> Timeline:
    """Every run of ``jobs`` from ``start`` (inclusive) for ``hours``, at most ``limit``.

    The first ``limit`` runs are exact even when capped: no schedule can contribute more
    than ``limit`` runs to them, so each is walked at most that far.
    """
    end = start + timedelta(hours=hours)
    groups: dict[tuple[str, str], list[str]] = defaultdict(list)
    for job in jobs:
        expression = resolve_hashed(job.cron_expression, job.job_id)
        groups[(expression, job.timezone)].append(job.job_id)
    runs: list[Run] = []
    capped = False
    for (expression, zone), job_ids in groups.items():
        times = fire_times_between(expression, start=start, end=end, timezone=zone, limit=limit)
        capped = capped or len(times) == limit
        runs.extend(Run(job_id, moment.astimezone(UTC)) for moment in times for job_id in job_ids)
    runs.sort(key=lambda run: (run.at, run.job_id))
    truncated = capped or len(runs) > limit
    return Timeline(start, end, tuple(runs[:limit]), truncated)


def hourly_counts(timeline: Timeline) -> list[tuple[datetime, int]]:
    """Runs per hour of the window, empty hours included; hours start on the hour in the
    zone of ``timeline.start``."""
    first = timeline.start.replace(minute=0, second=0, microsecond=0)
    counts: dict[datetime, int] = defaultdict(int)
    for run in timeline.runs:
        local = run.at.astimezone(timeline.start.tzinfo)
        counts[local.replace(minute=0, second=0, microsecond=0)] += 1
    hours = []
    hour = first
    while hour < timeline.end:
        hours.append((hour, counts.get(hour, 0)))
        hour = (hour.astimezone(UTC) + _HOUR).astimezone(timeline.start.tzinfo)
    return hours
