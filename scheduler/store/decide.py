"""The decisions every store implementation shares: which claim becomes which row.

A store gathers the facts inside its transaction (which jobs are paused, how many runs of
each are running on live nodes), asks ``plan_claims`` what to insert, inserts those rows with
"do nothing on conflict", and reads the outcome off which run ids landed (``outcomes``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from scheduler.records import RunKind, RunRecord, RunStatus
from scheduler.store.base import ClaimOutcome, ClaimRequest, ClaimResult, MissedRange

PAUSABLE_KINDS = frozenset({RunKind.SCHEDULED, RunKind.CATCHUP})
OCCURRENCE_KINDS = PAUSABLE_KINDS


@dataclass(frozen=True, slots=True)
class PlannedClaim:
    """A request, the row it would insert, or its result when decided without a row."""

    request: ClaimRequest
    row: RunRecord | None
    decided: ClaimResult | None = None


def busy_message(running: int) -> str:
    """Why an occurrence was skipped fleet-wide."""
    return f"max_instances reached: {running} run(s) still running"


def abandoned_message(node: str) -> str:
    """Why a run was marked abandoned by another process."""
    return f"process {node} stopped heartbeating while the run was running"


def missed_message(missed: MissedRange) -> str:
    """A missed range in words, as its row's ``error``."""
    if missed.count == 1:
        return f"missed 1 occurrence ({missed.first.isoformat()}) while no process was running"
    return (
        f"missed {missed.count} occurrences from {missed.first.isoformat()} "
        f"to {missed.last.isoformat()} while no process was running"
    )


def utc(moment: datetime) -> datetime:
    """An instant in UTC; a naive datetime is refused, not guessed at.

    Converting first also sidesteps Python comparing a ``fold=1`` time unequal to the same
    instant in another zone.
    """
    if moment.tzinfo is None:
        raise ValueError(f"naive datetime {moment.isoformat()} given to the state store")
    return moment.astimezone(UTC)


def utc_or_none(moment: datetime | None) -> datetime | None:
    """``utc`` for optional instants."""
    return None if moment is None else utc(moment)


def utc_record(record: RunRecord) -> RunRecord:
    """A run record with its instants in UTC."""
    return dataclasses.replace(
        record,
        scheduled_for=utc(record.scheduled_for),
        started_at=utc_or_none(record.started_at),
        finished_at=utc_or_none(record.finished_at),
    )


def check_keep_per_job(keep_per_job: int) -> None:
    """Pruning must keep each job's newest row: catch-up reads it to find missed occurrences."""
    if keep_per_job < 1:
        raise ValueError("keep_per_job must be at least 1: catch-up needs each job's last row")


def split_by_job(requests: Sequence[ClaimRequest], max_jobs: int) -> list[list[int]]:
    """Request indices in parts of at most ``max_jobs`` jobs, each job's requests together."""
    parts: list[list[int]] = []
    part_of: dict[str, int] = {}
    jobs_in_last = 0
    for index, request in enumerate(requests):
        if request.job_id not in part_of:
            if not parts or jobs_in_last == max_jobs:
                parts.append([])
                jobs_in_last = 0
            part_of[request.job_id] = len(parts) - 1
            jobs_in_last += 1
        parts[part_of[request.job_id]].append(index)
    return parts


@dataclass(frozen=True, slots=True)
class ClaimFacts:
    """What a store reads, inside the claim's transaction, about the jobs of a batch.

    ``existing`` maps each requested occurrence that already has a row to that row's run id.
    """

    paused: Collection[str] = frozenset()
    running: Mapping[str, int] = field(default_factory=dict)
    existing: Mapping[tuple[str, datetime], str] = field(default_factory=dict)


def plan_claims(
    requests: Sequence[ClaimRequest], facts: ClaimFacts, *, node: str, now: datetime
) -> list[PlannedClaim]:
    """Each request's row: ``running`` if a slot is free, ``skipped`` if not, none if decided.

    Paused jobs and occurrences that already have a row are decided without a row (an
    occurrence whose row carries the request's own run id is a retry: ``outcomes`` reads the
    stored row). Requests of one job take slots in ``scheduled_for`` order; one that later
    loses a conflict keeps its slot, so a batch never exceeds ``max_instances``.
    """
    taken = dict(facts.running)
    planned: dict[int, PlannedClaim] = {}
    order = sorted(range(len(requests)), key=lambda i: requests[i].scheduled_for)
    for index in order:
        request = requests[index]
        owner = facts.existing.get((request.job_id, utc(request.scheduled_for)))
        if request.kind in PAUSABLE_KINDS and request.job_id in facts.paused:
            planned[index] = PlannedClaim(request, None, ClaimResult.PAUSED)
        elif owner is not None:
            decided = None if owner == request.run_id else ClaimResult.LOST
            planned[index] = PlannedClaim(request, None, decided)
        else:
            in_use = taken.get(request.job_id, 0)
            if in_use >= request.max_instances:
                row = _row(request, RunStatus.SKIPPED, node, now, busy_message(in_use))
            else:
                taken[request.job_id] = in_use + 1
                row = _row(request, RunStatus.RUNNING, node, now, None)
            planned[index] = PlannedClaim(request, row)
    return [planned[index] for index in range(len(requests))]


def _row(
    request: ClaimRequest, status: RunStatus, node: str, now: datetime, error: str | None
) -> RunRecord:
    now = utc(now)
    return RunRecord(
        job_id=request.job_id,
        scheduled_for=utc(request.scheduled_for),
        status=status,
        started_at=now if status is RunStatus.RUNNING else None,
        finished_at=now if status is RunStatus.SKIPPED else None,
        error=error,
        kind=request.kind,
        run_id=request.run_id,
        node=node,
    )


def not_landed(planned: Sequence[PlannedClaim], inserted: Collection[str]) -> list[str]:
    """Run ids to look up after the insert: retries, and rows that lost a conflict."""
    return [
        claim.request.run_id
        for claim in planned
        if claim.decided is None and (claim.row is None or claim.row.run_id not in inserted)
    ]


def outcomes(
    planned: Sequence[PlannedClaim],
    inserted: Collection[str],
    earlier: Mapping[str, RunRecord],
) -> list[ClaimOutcome]:
    """Outcomes, given the run ids whose rows landed and rows an earlier attempt wrote.

    ``earlier`` holds the stored rows of ``not_landed`` run ids: a retry of a claim whose
    first attempt committed (its answer lost with the connection) gets that attempt's
    outcome back instead of ``lost``.
    """
    result: list[ClaimOutcome] = []
    for claim in planned:
        if claim.decided is not None:
            result.append(ClaimOutcome(claim.request, claim.decided))
            continue
        row = claim.row
        if row is None or row.run_id not in inserted:
            row = earlier.get(claim.request.run_id)
        if row is None or row.status not in _CLAIMED:
            result.append(ClaimOutcome(claim.request, ClaimResult.LOST))
        else:
            result.append(ClaimOutcome(claim.request, _CLAIMED[row.status], row))
    return result


_CLAIMED = {RunStatus.RUNNING: ClaimResult.WON, RunStatus.SKIPPED: ClaimResult.BUSY}


def missed_row(missed: MissedRange, *, node: str, now: datetime) -> RunRecord:
    """The one ``missed`` row of a range."""
    return RunRecord(
        job_id=missed.job_id,
        scheduled_for=utc(missed.first),
        status=RunStatus.MISSED,
        finished_at=utc(now),
        error=missed_message(missed),
        kind=RunKind.SCHEDULED,
        node=node,
    )
