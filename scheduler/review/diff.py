"""What a manifest change does to the schedule: jobs added, removed, enabled, disabled, changed.

Pure: two sets of loaded jobs and ``now`` in, a ``Review`` out, so ``scheduler plan`` can
render it for people, scripts, pull requests and annotations without deciding anything. Next
fire times are computed in each job's own zone, with ``H`` resolved, so a reviewer sees when
the job will really run before and after the change.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from scheduler.cron import next_fire_times
from scheduler.loader import LoadedJob
from scheduler.manifest import JobSpec

__all__ = [
    "CHANGE_KINDS",
    "ChangeKind",
    "FieldChange",
    "JobChange",
    "Review",
    "compared_fields",
    "review_changes",
]

ChangeKind = Literal["added", "changed", "enabled", "disabled", "removed"]
CHANGE_KINDS: tuple[ChangeKind, ...] = ("added", "changed", "enabled", "disabled", "removed")
PREVIEW_COUNT = 3

# The order reviewers read a job in; the rest follow in the model's order. ``enabled`` is
# what the change kind says, and ``job_id`` is what jobs are matched by: neither is listed.
_FIRST_FIELDS = ("func", "cron_expression", "timezone")
_NOT_COMPARED = frozenset({"job_id", "enabled"})


def compared_fields() -> tuple[str, ...]:
    """The fields a change is described by, in reading order."""
    rest = (name for name in JobSpec.model_fields if name not in _FIRST_FIELDS)
    return (*_FIRST_FIELDS, *(name for name in rest if name not in _NOT_COMPARED))


@dataclass(frozen=True, slots=True)
class FieldChange:
    """One field of a job, before and after (plain data, as a manifest would hold it)."""

    field: str
    before: Any
    after: Any


@dataclass(frozen=True, slots=True)
class JobChange:
    """One job the change touches, with its next fire times before and after.

    ``next_before`` is empty when the job did not run before (added, or enabled), and
    ``next_after`` when it will not run after (disabled, removed).
    """

    kind: ChangeKind
    job_id: str
    before: LoadedJob | None
    after: LoadedJob | None
    fields: tuple[FieldChange, ...] = ()
    next_before: tuple[datetime, ...] = ()
    next_after: tuple[datetime, ...] = ()

    @property
    def job(self) -> LoadedJob:
        """The job as it is after the change, or as it was when it is removed."""
        job = self.after or self.before
        assert job is not None, "a change has a job before or after it"
        return job


@dataclass(frozen=True, slots=True)
class Review:
    """Every job a change touches, in kind order then by id, and how many it leaves alone."""

    changes: tuple[JobChange, ...]
    unchanged: int

    @property
    def has_changes(self) -> bool:
        """Whether the schedule changes at all."""
        return bool(self.changes)

    def count(self, kind: ChangeKind) -> int:
        """How many jobs changed this way."""
        return sum(1 for change in self.changes if change.kind == kind)


def _field_values(job: LoadedJob) -> dict[str, Any]:
    """The job's fields as the change compares them: the zone it runs in, not ``None``."""
    values = job.spec.model_dump(mode="json")
    values["timezone"] = job.timezone
    return values


def _field_changes(before: LoadedJob, after: LoadedJob) -> tuple[FieldChange, ...]:
    if before.spec == after.spec and before.timezone == after.timezone:
        return ()  # most jobs of a change: skip dumping both models
    old, new = _field_values(before), _field_values(after)
    return tuple(
        FieldChange(name, old.get(name), new.get(name))
        for name in compared_fields()
        if old.get(name) != new.get(name)
    )


def _upcoming(job: LoadedJob | None, now: datetime) -> tuple[datetime, ...]:
    if job is None or not job.spec.enabled:
        return ()
    spec = job.spec
    times = next_fire_times(
        spec.cron_expression,
        after=now,
        count=PREVIEW_COUNT,
        timezone=job.timezone,
        job_id=spec.job_id,
    )
    return tuple(times)


def _kind(
    before: LoadedJob | None, after: LoadedJob | None, fields: tuple[FieldChange, ...]
) -> ChangeKind | None:
    if before is None:
        return "added"
    if after is None:
        return "removed"
    if before.spec.enabled != after.spec.enabled:
        return "enabled" if after.spec.enabled else "disabled"
    return "changed" if fields else None


def review_changes(
    base: Iterable[LoadedJob], head: Iterable[LoadedJob], *, now: datetime
) -> Review:
    """Compare two job sets by ``job_id``; ``now`` is where the fire-time previews start.

    A job that moved to another file but reads the same is unchanged. Enabled or disabled
    jobs also list any other field that changed with them.
    """
    old = {job.job_id: job for job in base}
    new = {job.job_id: job for job in head}
    changes: list[JobChange] = []
    unchanged = 0
    for job_id in sorted(old.keys() | new.keys()):
        before, after = old.get(job_id), new.get(job_id)
        fields = _field_changes(before, after) if before and after else ()
        kind = _kind(before, after, fields)
        if kind is None:
            unchanged += 1
            continue
        previews = kind != "removed"
        changes.append(
            JobChange(
                kind,
                job_id,
                before,
                after,
                fields,
                _upcoming(before, now) if previews else (),
                _upcoming(after, now) if previews else (),
            )
        )
    changes.sort(key=lambda change: CHANGE_KINDS.index(change.kind))
    return Review(tuple(changes), unchanged)
