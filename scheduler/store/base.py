"""The state store as the running scheduler sees it: a small, synchronous, batch-oriented interface.

Every process that loads the same manifests with the same store URL computes the same
occurrences; the store decides which process runs each one. A claim is a row under a unique
``(job_id, scheduled_for)`` key: the process whose insert lands runs the occurrence, and that row
is the run's history, updated by ``finish`` when the run ends. Everything is batched so that
1,000 jobs due in one second cost one transaction per process, and nothing here is async: the
runtime calls the store from a worker thread, never on its event loop.

Times are aware datetimes; the store keeps them in UTC with microsecond precision and returns
them in UTC.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

from scheduler.records import Pause, RunKind, RunRecord, RunStatus, new_run_id

SCHEMA_VERSION = 1
DEFAULT_HEARTBEAT_TTL = timedelta(seconds=30)


@dataclass(frozen=True, slots=True)
class ClaimRequest:
    """One occurrence a process wants to run.

    ``max_instances`` is the job's limit of concurrent runs across every process. ``run_id`` is
    the id the run gets if the claim is won (the caller makes it, so it can log it before).
    """

    job_id: str
    scheduled_for: datetime
    kind: RunKind = RunKind.SCHEDULED
    max_instances: int = 1
    run_id: str = field(default_factory=new_run_id)


class ClaimResult(StrEnum):
    """What a claim came to.

    ``won``: the row was inserted as ``running``; run it. ``lost``: the occurrence already has a
    row (another process claimed or recorded it); do nothing. ``paused``: the job is paused
    fleet-wide; nothing was inserted. ``busy``: ``max_instances`` runs of the job are still
    ``running`` on live processes; a ``skipped`` row was inserted (once, fleet-wide).
    """

    WON = "won"
    LOST = "lost"
    PAUSED = "paused"
    BUSY = "busy"


@dataclass(frozen=True, slots=True)
class ClaimOutcome:
    """A claim request with its result; ``record`` is the row inserted (won or busy), if any."""

    request: ClaimRequest
    result: ClaimResult
    record: RunRecord | None = None


@dataclass(frozen=True, slots=True)
class MissedRange:
    """Occurrences of one job that passed while no process ran it: first, last and how many."""

    job_id: str
    first: datetime
    last: datetime
    count: int


class StateStore(Protocol):
    """Claims, runs, pauses and heartbeats, shared by every process with the same store URL.

    Methods raise ``StoreUnavailable`` when the store cannot be reached (a later call may
    succeed) and ``StoreError`` for anything else the store refused; never a driver exception.
    """

    @property
    def url(self) -> str:
        """The store's URL with any password masked, for logs and messages."""
        ...

    @property
    def heartbeat_ttl(self) -> timedelta:
        """How long a run counts as live after its start or its node's last heartbeat."""
        ...

    def open(self) -> None:
        """Connect, create the schema on first use and check its version.

        Raises ``StoreUnavailable`` (within the connect timeout) when the store cannot be
        reached, and ``StoreVersionTooNew`` when a newer scheduler wrote it. Idempotent.
        """
        ...

    def close(self) -> None:
        """Release connections; the store can be opened again."""
        ...

    def ping(self) -> None:
        """Check that the store answers (health checks); raises ``StoreUnavailable``."""
        ...

    def claim(
        self, requests: Sequence[ClaimRequest], *, node: str, now: datetime
    ) -> list[ClaimOutcome]:
        """Claim a batch of occurrences in one transaction; one outcome per request, in order.

        Pauses hold for ``scheduled`` and ``catchup`` claims; a ``manual`` claim ignores them.
        A run counts against ``max_instances`` while it is ``running`` and live: it started
        less than ``heartbeat_ttl`` before ``now``, or its node heartbeated within that time.
        Runs this batch wins count too (requests of one job are taken in ``scheduled_for``
        order). Claiming does not heartbeat: call ``heartbeat`` every fraction of the TTL.

        A claim can be retried with the same requests (same run ids) after
        ``StoreUnavailable``: if the first attempt did commit, the retry reports its outcome
        (``won``, with the stored record) rather than ``lost``.
        """
        ...

    def finish(self, records: Sequence[RunRecord]) -> None:
        """Write how runs ended (status, started_at, finished_at, error), by ``run_id``.

        A run a survivor already marked ``abandoned`` gets its real outcome; an unknown
        ``run_id`` is ignored.
        """
        ...

    def record(self, records: Sequence[RunRecord]) -> list[RunRecord]:
        """Insert rows that need no claim (``missed``, ``skipped``, a finished manual run).

        Idempotent on ``(job_id, scheduled_for)``: returns the records actually inserted, so
        the first process to record an occurrence is the one that logs it.
        """
        ...

    def record_missed(
        self, ranges: Sequence[MissedRange], *, node: str, now: datetime
    ) -> list[RunRecord]:
        """One ``missed`` row per range (its ``scheduled_for`` is ``first``), recorded once.

        The row keeps ``last`` and ``count``; its ``error`` says them in words. Returns the
        rows inserted (several starting processes computing the same range record it once).
        """
        ...

    def heartbeat(self, node: str, now: datetime) -> None:
        """Say that ``node`` is alive at ``now``: its running runs stay live for another TTL."""
        ...

    def reap(self, now: datetime) -> list[RunRecord]:
        """Mark ``abandoned`` every ``running`` run that is no longer live; return them.

        Live as ``claim`` counts it: started within ``heartbeat_ttl`` of ``now``, or on a node
        that heartbeated within it. Heartbeats older than the TTL are forgotten.
        """
        ...

    def pause(self, job_id: str, *, who: str, reason: str | None, now: datetime) -> Pause:
        """Pause a job on every process (a second pause replaces who, when and why)."""
        ...

    def resume(self, job_id: str) -> Pause | None:
        """Lift a job's pause; returns the pause lifted, or ``None`` if it was not paused."""
        ...

    def pauses(self) -> dict[str, Pause]:
        """Every pause, by job id."""
        ...

    def history(
        self,
        job_id: str | None = None,
        *,
        status: RunStatus | Collection[RunStatus] | None = None,
        kind: RunKind | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[RunRecord]:
        """Runs, newest ``scheduled_for`` first (ties by ``run_id``), filtered and paged."""
        ...

    def latest_scheduled_for(self, job_ids: Collection[str]) -> dict[str, datetime]:
        """The latest occurrence each job has a row for (``missed`` rows count to ``last``).

        Manual runs do not count: they are not occurrences. Jobs without any row are absent.
        """
        ...

    def prune(self, *, keep_per_job: int, now: datetime, contestable: timedelta) -> int:
        """Delete all but the newest ``keep_per_job`` rows of each job; return how many went.

        Never deletes a ``running`` row, nor one whose occurrence is younger than
        ``contestable`` (the largest misfire grace): a late process could claim it again.
        """
        ...
