"""What a reload must do: a pure diff, by ``job_id``, of the running jobs against the desired set.

Kept apart from the service so "which jobs change" is decided without a scheduler, a clock or
an event loop, and tested as plain data.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from scheduler.loader import LoadedJob


@dataclass(frozen=True, slots=True)
class Plan:
    """The changes that turn the running set into the desired one.

    ``added``, ``changed`` and ``unchanged`` hold the desired versions of the jobs (so a job that
    only moved within its file still carries its new position); ``removed`` holds ids.
    Each group is sorted by ``job_id`` so logs and statuses read the same on every run.
    ``refreshed`` is the part of ``unchanged`` given as a new object (its file was read
    again, so its position may have moved): the rest is the very object already running, and
    with 10,000 jobs only these few need their records updated. ``unchanged_ids`` is kept
    from the diff rather than derived, since it is as long as the whole set.
    """

    added: tuple[LoadedJob, ...] = ()
    removed: tuple[str, ...] = ()
    changed: tuple[LoadedJob, ...] = ()
    unchanged: tuple[LoadedJob, ...] = ()
    unchanged_ids: tuple[str, ...] = ()
    refreshed: tuple[LoadedJob, ...] = ()
    enabled_ids: tuple[str, ...] = ()
    disabled_ids: tuple[str, ...] = ()
    """Changed jobs whose ``enabled`` flag flipped (also in ``changed``)."""

    @property
    def has_changes(self) -> bool:
        """Whether applying the plan touches the schedule at all."""
        return bool(self.added or self.removed or self.changed)

    @property
    def added_ids(self) -> tuple[str, ...]:
        """Ids of the jobs to add."""
        return tuple(job.job_id for job in self.added)

    @property
    def changed_ids(self) -> tuple[str, ...]:
        """Ids of the jobs to replace."""
        return tuple(job.job_id for job in self.changed)


def is_same_job(running: LoadedJob, desired: LoadedJob) -> bool:
    """Whether two versions of a job are the same job, so the running one is left alone.

    Same spec (every manifest field, ``func`` as a path) and same resolved timezone, since a
    changed ``SCHEDULER_TIMEZONE`` changes when a job without ``timezone:`` fires. The imported
    callable and the source position are left out on purpose: a re-import yields the same
    function, and moving a job within its file must not reset its next run.

    The loader hands back the very same ``LoadedJob`` for a file it did not re-parse, so the
    identity check settles almost every job of a large set; specs are frozen pydantic models,
    whose ``==`` compares field values (a ``model_dump()`` per job cost tens of milliseconds
    per reload at 10,000 jobs).
    """
    return running is desired or (
        running.timezone == desired.timezone and running.spec == desired.spec
    )


def plan_changes(running: Mapping[str, LoadedJob], desired: Sequence[LoadedJob]) -> Plan:
    """Diff ``running`` (by job id) against ``desired``; neither argument is modified."""
    wanted = {job.job_id: job for job in desired}
    added: list[LoadedJob] = []
    changed: list[LoadedJob] = []
    unchanged: list[LoadedJob] = []
    unchanged_ids: list[str] = []
    refreshed: list[LoadedJob] = []
    enabled: list[str] = []
    disabled: list[str] = []
    for job_id in sorted(wanted):
        job = wanted[job_id]
        current = running.get(job_id)
        if current is job or (current is not None and is_same_job(current, job)):
            unchanged.append(job)
            unchanged_ids.append(job_id)
            if current is not job:
                refreshed.append(job)
        elif current is None:
            added.append(job)
        else:
            changed.append(job)
            if current.spec.enabled != job.spec.enabled:
                (enabled if job.spec.enabled else disabled).append(job_id)
    kept = len(unchanged) + len(changed)  # running jobs still wanted: all of them, usually
    removed = () if kept == len(running) else tuple(sorted(running.keys() - wanted.keys()))
    return Plan(
        tuple(added),
        removed,
        tuple(changed),
        tuple(unchanged),
        tuple(unchanged_ids),
        tuple(refreshed),
        tuple(enabled),
        tuple(disabled),
    )
