"""The congestion lint: too many enabled jobs firing in the same minute.

A hundred jobs written ``0 0 * * *`` all start at midnight: a burst on the worker pool, the
database and whatever the jobs call, while the rest of the day is idle. This lint looks a
week ahead and warns, suggesting ``H``, which spreads such jobs by their ids. It is a review
aid for ``validate`` and ``plan``; the running scheduler does not ask it.

It is pure (jobs, ``now`` and the limit in; warnings out) and fast at 10,000 jobs: jobs are
grouped by the schedule they really run on (``H`` resolved, and zone), so each distinct
schedule is counted once however many jobs share it, and a schedule's minutes are counted
from its value sets rather than by stepping a trigger.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from scheduler.cron import fire_minutes_between
from scheduler.loader import LoadedJob, LoadResult
from scheduler.problems import Problem, sorted_problems
from scheduler.sources import Position

__all__ = ["CONGESTION_DAYS", "congestion_problems", "with_congestion"]

CONGESTION_DAYS = 7
_NAMED_JOBS = 5
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MINUTE = timedelta(minutes=1)

Locate = Callable[[LoadedJob, str], Position]
"""Where a job's field was written (``FieldLocator.locate``); the default is the job's line."""


def _job_line(job: LoadedJob, field: str) -> Position:
    del field
    return (job.line, 1)


def _groups(jobs: Iterable[LoadedJob]) -> dict[tuple[str, str], list[LoadedJob]]:
    groups: dict[tuple[str, str], list[LoadedJob]] = defaultdict(list)
    for job in jobs:
        if job.spec.enabled:
            groups[(job.spec.resolved_expression, job.timezone)].append(job)
    return groups


def _busy_minutes(
    groups: Sequence[tuple[tuple[str, str], list[LoadedJob]]], now: datetime, limit: int
) -> dict[int, list[int]]:
    """Minutes (since the epoch, UTC) where more than ``limit`` jobs fire -> their groups."""
    end = now + timedelta(days=CONGESTION_DAYS)
    counts: dict[int, int] = defaultdict(int)
    members: dict[int, list[int]] = defaultdict(list)
    for index, ((expression, zone), jobs) in enumerate(groups):
        for minute in fire_minutes_between(expression, start=now, end=end, timezone=zone):
            counts[minute] += len(jobs)
            members[minute].append(index)
    return {minute: members[minute] for minute, count in counts.items() if count > limit}


def _suggestion(expression: str) -> str:
    """``H`` in place of a fixed or stepped minute: ``0 3 * * *`` -> ``H 3 * * *``,
    ``*/15 * * * *`` -> ``H/15 * * * *``."""
    macros = {"@hourly": "H * * * *", "@daily": "H 0 * * *", "@midnight": "H 0 * * *"}
    if expression.strip().lower() in macros:
        return f"e.g. {macros[expression.strip().lower()]!r} for {expression.strip()!r}"
    parts = expression.split()
    minute = 1 if len(parts) == 6 else 0
    if len(parts) in (5, 6) and (parts[minute].isdigit() or parts[minute].startswith("*/")):
        spread = "H" + parts[minute][1:] if parts[minute].startswith("*/") else "H"
        suggested = " ".join([*parts[:minute], spread, *parts[minute + 1 :]])
        return f"e.g. {suggested!r} for {expression!r}"
    return "e.g. H in the minute field"


def _warning(jobs: list[LoadedJob], minute: int, more: int, limit: int, locate: Locate) -> Problem:
    first = jobs[0]
    instant = (_EPOCH + minute * _MINUTE).astimezone(ZoneInfo(first.timezone))
    names = ", ".join(job.job_id for job in jobs[:_NAMED_JOBS])
    if len(jobs) > _NAMED_JOBS:
        names += f" and {len(jobs) - _NAMED_JOBS} more"
    again = f" (and in {more} more minutes within {CONGESTION_DAYS} days)" if more else ""
    message = (
        f"{len(jobs)} enabled jobs fire in the same minute, "
        f"{instant.isoformat(timespec='minutes')}{again}: {names}; more than "
        f"SCHEDULER_CONGESTION_LIMIT ({limit}): spread them with H "
        f"({_suggestion(first.spec.cron_expression)})"
    )
    line, col = locate(first, "cron_expression")
    return Problem(first.file, line, col, message, first.job_id, "cron_expression", "warning")


def congestion_problems(
    jobs: Iterable[LoadedJob], *, now: datetime, limit: int, locate: Locate = _job_line
) -> list[Problem]:
    """Warnings for minutes within a week of ``now`` where more than ``limit`` enabled jobs
    fire: one per schedule that is the biggest in such minutes, at its first one, located
    at the ``cron_expression`` of its first job (by file and line) and naming its jobs
    first."""
    groups = list(_groups(jobs).items())
    busy = _busy_minutes(groups, now, limit)

    weights = [
        (-len(members), min((job.file, job.line) for job in members)) for _key, members in groups
    ]
    # A crowded minute is blamed on its biggest schedule: one warning per such schedule, at
    # its first crowded minute, however many others join it there or in later minutes.
    first_minute: dict[int, int] = {}
    occurrences: dict[int, int] = defaultdict(int)
    for minute in sorted(busy):
        lead = min(busy[minute], key=weights.__getitem__)
        first_minute.setdefault(lead, minute)
        occurrences[lead] += 1
    problems = []
    for lead, minute in first_minute.items():
        others = [job for index in busy[minute] if index != lead for job in groups[index][1]]
        crowd = _in_file_order(groups[lead][1]) + _in_file_order(others)
        problems.append(_warning(crowd, minute, occurrences[lead] - 1, limit, locate))
    return problems


def _in_file_order(jobs: list[LoadedJob]) -> list[LoadedJob]:
    return sorted(jobs, key=lambda job: (job.file, job.line, job.job_id))


def with_congestion(
    result: LoadResult, *, now: datetime, limit: int, locate: Locate = _job_line
) -> LoadResult:
    """``result`` with its congestion warnings among its problems, in file order."""
    extra = congestion_problems(result.jobs, now=now, limit=limit, locate=locate)
    if not extra:
        return result
    problems = tuple(sorted_problems([*result.problems, *extra]))
    return dataclasses.replace(result, problems=problems)
