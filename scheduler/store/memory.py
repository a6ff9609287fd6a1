"""``MemoryStore``: the state store in one process's memory, for tests and single-process use.

Same semantics as the SQL stores (the same contract tests run against all of them), one lock
instead of transactions. Tests inject it where they would otherwise need a database, as httpx
tests inject a mock transport.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Collection, Sequence
from datetime import datetime, timedelta

from scheduler.records import Pause, RunKind, RunRecord, RunStatus
from scheduler.store import decide
from scheduler.store.base import (
    DEFAULT_HEARTBEAT_TTL,
    ClaimOutcome,
    ClaimRequest,
    MissedRange,
)
from scheduler.store.urls import MEMORY_URL


@dataclasses.dataclass(slots=True)
class _Row:
    record: RunRecord
    missed_until: datetime | None = None

    @property
    def covers_until(self) -> datetime:
        return self.missed_until or self.record.scheduled_for


class MemoryStore:
    """A ``StateStore`` held in a dict; shared by the threads of one process only."""

    def __init__(self, *, heartbeat_ttl: timedelta = DEFAULT_HEARTBEAT_TTL) -> None:
        self._ttl = heartbeat_ttl
        self._lock = threading.Lock()
        self._rows: dict[str, _Row] = {}
        self._keys: dict[tuple[str, datetime], str] = {}
        self._pauses: dict[str, Pause] = {}
        self._heartbeats: dict[str, datetime] = {}
        self._running: dict[str, set[str]] = {}  # job id -> run ids now ``running``

    @property
    def url(self) -> str:
        """``memory://``."""
        return MEMORY_URL

    @property
    def heartbeat_ttl(self) -> timedelta:
        """How long a node counts as live after its last heartbeat."""
        return self._ttl

    def open(self) -> None:
        """Nothing to connect to."""

    def close(self) -> None:
        """Nothing to release; the data stays for the next ``open``."""

    def ping(self) -> None:
        """Always answers."""

    def __enter__(self) -> MemoryStore:
        self.open()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def claim(
        self, requests: Sequence[ClaimRequest], *, node: str, now: datetime
    ) -> list[ClaimOutcome]:
        """Claim a batch of occurrences atomically (see ``StateStore.claim``)."""
        now = decide.utc(now)
        with self._lock:
            job_ids = {request.job_id for request in requests}
            keys = {(request.job_id, decide.utc(request.scheduled_for)) for request in requests}
            facts = decide.ClaimFacts(
                paused=job_ids & self._pauses.keys(),
                running=self._running_counts(job_ids, now),
                existing={key: self._keys[key] for key in keys if key in self._keys},
            )
            planned = decide.plan_claims(requests, facts, node=node, now=now)
            rows = [claim.row for claim in planned if claim.row is not None]
            inserted = {row.run_id for row in self._insert(rows)}
            earlier = {
                run_id: self._rows[run_id].record
                for run_id in decide.not_landed(planned, inserted)
                if run_id in self._rows
            }
        return decide.outcomes(planned, inserted, earlier)

    def finish(self, records: Sequence[RunRecord]) -> None:
        """Write how runs ended, by run id."""
        with self._lock:
            for record in map(decide.utc_record, records):
                row = self._rows.get(record.run_id)
                if row is not None:
                    self._set(
                        row,
                        dataclasses.replace(
                            row.record,
                            status=record.status,
                            started_at=record.started_at or row.record.started_at,
                            finished_at=record.finished_at,
                            error=record.error,
                        ),
                    )

    def record(self, records: Sequence[RunRecord]) -> list[RunRecord]:
        """Insert rows that need no claim, once per ``(job_id, scheduled_for)``."""
        with self._lock:
            return self._insert(list(records))

    def record_missed(
        self, ranges: Sequence[MissedRange], *, node: str, now: datetime
    ) -> list[RunRecord]:
        """One ``missed`` row per range, once."""
        now = decide.utc(now)
        with self._lock:
            inserted = []
            for missed in ranges:
                row = decide.missed_row(missed, node=node, now=now)
                if self._insert([row], missed_until=decide.utc(missed.last)):
                    inserted.append(row)
            return inserted

    def heartbeat(self, node: str, now: datetime) -> None:
        """Say that ``node`` is alive at ``now``."""
        with self._lock:
            self._heartbeats[node] = decide.utc(now)

    def reap(self, now: datetime) -> list[RunRecord]:
        """Mark ``abandoned`` the running runs that are no longer live."""
        now = decide.utc(now)
        with self._lock:
            reaped = []
            running = [self._rows[run_id] for ids in self._running.values() for run_id in ids]
            for row in running:
                record = row.record
                if not self._is_live(record, now):
                    abandoned = dataclasses.replace(
                        record,
                        status=RunStatus.ABANDONED,
                        finished_at=now,
                        error=decide.abandoned_message(record.node),
                    )
                    self._set(row, abandoned)
                    reaped.append(abandoned)
            cutoff = now - self._ttl
            for node in [node for node, seen in self._heartbeats.items() if seen < cutoff]:
                del self._heartbeats[node]
            return reaped

    def pause(self, job_id: str, *, who: str, reason: str | None, now: datetime) -> Pause:
        """Pause a job on every user of this store."""
        pause = Pause(job_id=job_id, paused_at=decide.utc(now), who=who, reason=reason)
        with self._lock:
            self._pauses[job_id] = pause
        return pause

    def resume(self, job_id: str) -> Pause | None:
        """Lift a job's pause."""
        with self._lock:
            return self._pauses.pop(job_id, None)

    def pauses(self) -> dict[str, Pause]:
        """Every pause, by job id."""
        with self._lock:
            return dict(self._pauses)

    def history(
        self,
        job_id: str | None = None,
        *,
        status: RunStatus | Collection[RunStatus] | None = None,
        kind: RunKind | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[RunRecord]:
        """Runs, newest first, filtered and paged."""
        statuses = _statuses(status)
        with self._lock:
            matching = [
                row.record
                for row in self._rows.values()
                if (job_id is None or row.record.job_id == job_id)
                and (statuses is None or row.record.status in statuses)
                and (kind is None or row.record.kind is kind)
            ]
        matching.sort(key=lambda record: (record.scheduled_for, record.run_id), reverse=True)
        return matching[offset : offset + limit]

    def latest_scheduled_for(self, job_ids: Collection[str]) -> dict[str, datetime]:
        """The latest occurrence each job has a row for."""
        wanted = set(job_ids)
        latest: dict[str, datetime] = {}
        with self._lock:
            for row in self._rows.values():
                record = row.record
                if record.job_id in wanted and record.kind in decide.OCCURRENCE_KINDS:
                    current = latest.get(record.job_id)
                    if current is None or row.covers_until > current:
                        latest[record.job_id] = row.covers_until
        return latest

    def prune(self, *, keep_per_job: int, now: datetime, contestable: timedelta) -> int:
        """Delete all but the newest rows of each job, keeping running and contestable ones."""
        decide.check_keep_per_job(keep_per_job)
        cutoff = decide.utc(now) - contestable
        with self._lock:
            by_job: dict[str, list[_Row]] = {}
            for row in self._rows.values():
                by_job.setdefault(row.record.job_id, []).append(row)
            doomed: list[_Row] = []
            for rows in by_job.values():
                rows.sort(key=lambda r: (r.record.scheduled_for, r.record.run_id), reverse=True)
                doomed.extend(
                    row
                    for row in rows[keep_per_job:]
                    if row.record.status is not RunStatus.RUNNING and row.covers_until < cutoff
                )
            for row in doomed:
                del self._rows[row.record.run_id]
                del self._keys[(row.record.job_id, row.record.scheduled_for)]
            return len(doomed)

    def _insert(
        self, records: Sequence[RunRecord], *, missed_until: datetime | None = None
    ) -> list[RunRecord]:
        inserted = []
        for record in map(decide.utc_record, records):
            key = (record.job_id, record.scheduled_for)
            if key in self._keys or record.run_id in self._rows:
                continue
            self._keys[key] = record.run_id
            self._rows[record.run_id] = _Row(record, missed_until)
            if record.status is RunStatus.RUNNING:
                self._running.setdefault(record.job_id, set()).add(record.run_id)
            inserted.append(record)
        return inserted

    def _set(self, row: _Row, record: RunRecord) -> None:
        """Replace a row's record, keeping the index of running runs right."""
        running = self._running.setdefault(record.job_id, set())
        if record.status is RunStatus.RUNNING:
            running.add(record.run_id)
        else:
            running.discard(record.run_id)
        row.record = record

    def _is_live(self, record: RunRecord, now: datetime) -> bool:
        cutoff = now - self._ttl
        if (record.started_at or record.scheduled_for) >= cutoff:
            return True
        seen = self._heartbeats.get(record.node)
        return seen is not None and seen >= cutoff

    def _running_counts(self, job_ids: Collection[str], now: datetime) -> dict[str, int]:
        counts: dict[str, int] = {}
        for job_id in job_ids:
            live = sum(
                1
                for run_id in self._running.get(job_id, ())
                if self._is_live(self._rows[run_id].record, now)
            )
            if live:
                counts[job_id] = live
        return counts


def _statuses(status: RunStatus | Collection[RunStatus] | None) -> frozenset[RunStatus] | None:
    if status is None:
        return None
    if isinstance(status, RunStatus):
        return frozenset({status})
    return frozenset(status)
