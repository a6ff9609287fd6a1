"""Records that several layers share: run outcomes, reload outcomes and job views.

They sit below the loader so the store and the HTTP layer can use them without importing the
running scheduler.
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from scheduler.problems import Problem


class RunStatus(StrEnum):
    """How one occurrence of a job ended, or that it is still going (``running``).

    ``cancelled``: a coroutine cancelled at shutdown. ``abandoned``: a thread still running
    when its process exited, or a run of a process that stopped heartbeating.
    """

    RUNNING = "running"
    SUCCESS = "success"
    FAILED = "failed"
    TIMEOUT = "timeout"
    SKIPPED = "skipped"
    MISSED = "missed"
    CANCELLED = "cancelled"
    ABANDONED = "abandoned"


class RunKind(StrEnum):
    """Why a run happened: its schedule, an operator, or a catch-up of a missed occurrence."""

    SCHEDULED = "scheduled"
    MANUAL = "manual"
    CATCHUP = "catchup"


def new_run_id() -> str:
    """A fresh, unique run id (32 hex digits)."""
    return uuid.uuid4().hex


def current_node() -> str:
    """This process as the run history names it: ``host:pid`` (read again after a fork)."""
    pid = os.getpid()
    cached = _NODE.get(pid)
    if cached is None:
        cached = _NODE[pid] = f"{socket.gethostname()}:{pid}"
    return cached


_NODE: dict[int, str] = {}


@dataclass(frozen=True, slots=True)
class Pause:
    """A pause of one job by an operator: when, by whom, and why (fleet-wide with a store)."""

    job_id: str
    paused_at: datetime
    who: str
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class RunRecord:
    """One occurrence of a job: when it was due, when it ran, how it ended, and where."""

    job_id: str
    scheduled_for: datetime
    status: RunStatus
    started_at: datetime | None = None
    finished_at: datetime | None = None
    error: str | None = None
    kind: RunKind = RunKind.SCHEDULED
    run_id: str = field(default_factory=new_run_id)
    node: str = field(default_factory=current_node)

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
    enabled: tuple[str, ...] = ()
    disabled: tuple[str, ...] = ()
    """Changed jobs whose ``enabled`` flag was turned on or off (they are in ``changed`` too)."""

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
    pause: Pause | None = None
