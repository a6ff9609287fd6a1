"""Records that several layers share: run outcomes, reload outcomes and job views.

They sit below the loader so the store and the HTTP layer can use them without importing the
running scheduler.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from scheduler.problems import Problem


class RunStatus(StrEnum):
    """How one scheduled occurrence ended (DESIGN.md section 7 names)."""

    SUCCESS = "success"
    FAILED = "failed"
    TIMEOUT = "timeout"
    SKIPPED = "skipped"
    MISSED = "missed"


@dataclass(frozen=True, slots=True)
class RunRecord:
    """One occurrence of a job: when it was due, when it ran, how it ended."""

    job_id: str
    scheduled_for: datetime
    status: RunStatus
    started_at: datetime | None = None
    finished_at: datetime | None = None
    error: str | None = None

    @property
    def duration_seconds(self) -> float | None:
        """Wall time of the run, when it ran."""
        if self.started_at is None or self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


@dataclass(frozen=True, slots=True)
class ReloadStatus:
    """Outcome of one attempt to apply the manifests; a failed one changed nothing."""

    at: datetime
    ok: bool
    problems: tuple[Problem, ...] = ()
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = field(default=(), repr=False)

    @property
    def has_changes(self) -> bool:
        """Whether the schedule changed."""
        return bool(self.added or self.removed or self.changed)


@dataclass(frozen=True, slots=True)
class JobView:
    """A job as operators see it (``list``, HTTP): typed, immutable, no APScheduler objects.

    ``enabled`` is the manifest's flag, ``paused`` the runtime override; a disabled job is
    listed with ``next_run_at=None``.
    """

    job_id: str
    func: str
    cron_expression: str
    description: str | None
    timezone: str
    enabled: bool
    paused: bool
    next_run_at: datetime | None
    running: int
    last_run: RunRecord | None
    file: str | None
    line: int | None
