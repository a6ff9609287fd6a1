"""What a reload must do: a pure diff, by ``job_id``, of the running jobs against the desired set.

Kept apart from the service so "which jobs change" is decided without a scheduler, a clock or
an event loop, and tested as plain data (DESIGN.md section 6).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from scheduler.loader import LoadedJob


@dataclass(frozen=True, slots=True)
class Plan:
    """The changes that turn the running set into the desired one.

    ``added``, ``changed`` and ``unchanged`` hold the desired versions of the jobs (so a job that
    only moved within its file still carries its new position); ``removed`` holds ids.
    Each group is sorted by ``job_id`` so logs and statuses read the same on every run.
    """

    added: tuple[LoadedJob, ...] = ()
    removed: tuple[str, ...] = ()
    changed: tuple[LoadedJob, ...] = ()
    unchanged: tuple[LoadedJob, ...] = ()

    @property
    def has_changes(self) -> bool:
        """Whether applying the plan touches the schedule at all."""
        return bool(self.added or self.removed or self.changed)

    @property
    def added_ids(self) -> tuple[str, ...]:
        """Ids of the jobs to add."""
        return tuple(job.spec.job_id for job in self.added)

    @property
    def changed_ids(self) -> tuple[str, ...]:
        """Ids of the jobs to replace."""
        return tuple(job.spec.job_id for job in self.changed)

    @property
    def unchanged_ids(self) -> tuple[str, ...]:
        """Ids of the jobs to leave alone."""
        return tuple(job.spec.job_id for job in self.unchanged)


def job_identity(job: LoadedJob) -> tuple[Any, ...]:
    """What makes two versions of a job the same job.

    The spec (every manifest field, ``func`` as a path), plus the timezone the loader resolved,
    since a changed ``SCHEDULER_TIMEZONE`` changes when a job without ``timezone:`` fires. The
    imported callable and the source position are left out on purpose: a re-import yields the
    same function, and moving a job within its file must not reset its next run.
    """
    return (job.spec.model_dump(), job.timezone, job.spec.func)


def plan_changes(running: Mapping[str, LoadedJob], desired: Sequence[LoadedJob]) -> Plan:
    """Diff ``running`` (by job id) against ``desired``; neither argument is modified."""
    wanted = {job.spec.job_id: job for job in desired}
    added: list[LoadedJob] = []
    changed: list[LoadedJob] = []
    unchanged: list[LoadedJob] = []
    for job_id in sorted(wanted):
        job = wanted[job_id]
        current = running.get(job_id)
        if current is None:
            added.append(job)
        elif job_identity(current) == job_identity(job):
            unchanged.append(job)
        else:
            changed.append(job)
    removed = tuple(sorted(job_id for job_id in running if job_id not in wanted))
    return Plan(tuple(added), removed, tuple(changed), tuple(unchanged))
