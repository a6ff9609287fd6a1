"""Running occurrences through the state store's claims, and catching up on start.

Each due occurrence is claimed before it runs: the process whose claim lands runs it, the
others leave it be. An occurrence past its misfire grace is recorded missed without a claim;
one the store cannot answer for is recorded skipped and not run, so no occurrence ever runs
twice. On start, what passed while no process ran a job is caught up or recorded as missed
(``scheduler.runtime.catchup``).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
from collections.abc import Callable, Coroutine, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from scheduler.clock import Clock
from scheduler.records import RunKind, RunRecord
from scheduler.runtime.catalogue import JobCatalogue, occurrence_trigger
from scheduler.runtime.catchup import Backlog, backlog
from scheduler.runtime.definition import JobDefinition
from scheduler.runtime.execution import JobRunner
from scheduler.runtime.fleet import Fleet, skipped_for_store
from scheduler.store import ClaimOutcome, ClaimRequest, ClaimResult

__all__ = ["ClaimedRuns"]

logger = logging.getLogger(__name__)

Own = Callable[[Coroutine[Any, Any, Any], str], object]
_Begun = RunRecord | tuple[ClaimRequest, "asyncio.Future[ClaimOutcome | None]"]
"""Start a coroutine in a task the service keeps (and shutdown waits for)."""


class ClaimedRuns:
    """Claims occurrences in the store and runs the ones this process wins."""

    def __init__(
        self,
        runner: JobRunner,
        fleet: Fleet,
        catalogue: JobCatalogue,
        clock: Clock,
        *,
        own: Own,
        worker: concurrent.futures.Executor,
    ) -> None:
        self._runner = runner
        self._fleet = fleet
        self._catalogue = catalogue
        self._clock = clock
        self._own = own
        self._worker = worker
        self.lost = 0
        """Occurrences another process claimed first (for metrics)."""

    def run_due(
        self, definition: JobDefinition, run_times: list[datetime]
    ) -> Coroutine[Any, Any, list[RunRecord]]:
        """Claim each due occurrence in the store; run the ones this process won.

        Not ``async def`` on purpose: the first claim is queued before this returns, while
        APScheduler is still submitting the jobs due with it, so the whole batch goes to the
        store as soon as that pass ends rather than after every task's first step.
        """
        first = (
            self._begin(definition, self._request(definition, run_times[0])) if run_times else None
        )
        return self._run_rest(definition, first, run_times[1:])

    async def _run_rest(
        self, definition: JobDefinition, first: _Begun | None, rest: Sequence[datetime]
    ) -> list[RunRecord]:
        records = []
        begun = [] if first is None else [first]
        for item in (
            *begun,
            *(self._begin(definition, self._request(definition, t)) for t in rest),
        ):
            record = await self._end(definition, item)
            if record is not None:
                records.append(record)
        return records

    def _request(self, definition: JobDefinition, run_time: datetime) -> ClaimRequest:
        return ClaimRequest(
            definition.job_id,
            run_time.astimezone(UTC),
            RunKind.SCHEDULED,
            definition.options.max_instances,
        )

    async def claim_and_run(
        self, definition: JobDefinition, request: ClaimRequest
    ) -> RunRecord | None:
        """One occurrence: misfire check, claim, then run it if won; None when it was not
        this process's to run (another won it, or the job is paused fleet-wide)."""
        return await self._end(definition, self._begin(definition, request))

    def _begin(self, definition: JobDefinition, request: ClaimRequest) -> _Begun:
        """A missed record (past the grace: nothing to claim), or the claim, queued."""
        if request.kind is RunKind.SCHEDULED:
            missed = self._runner.misfire(definition, request.scheduled_for)
            if missed is not None:
                self._fleet.note(missed)
                return missed
        return request, self._fleet.claim(request)

    async def _end(self, definition: JobDefinition, begun: _Begun) -> RunRecord | None:
        if isinstance(begun, RunRecord):
            return begun
        request, answer = begun
        outcome = await answer
        if outcome is None:
            return self._runner.note(skipped_for_store(request))
        if outcome.result is ClaimResult.WON:
            record = await self._runner.run(
                definition, request.scheduled_for, kind=request.kind, run_id=request.run_id
            )
            self._fleet.finish(record)
            return record
        if outcome.result is ClaimResult.BUSY and outcome.record is not None:
            return self._runner.note(outcome.record)  # this process recorded the skip
        if outcome.result is ClaimResult.LOST:
            self.lost += 1
        logger.debug(
            "job %s scheduled_for=%s: %s",
            request.job_id,
            request.scheduled_for.isoformat(),
            "paused in the store" if outcome.result is ClaimResult.PAUSED else "not ours to run",
            extra={"job_id": request.job_id},
        )
        return None

    async def catch_up(self) -> None:
        """On start: run each ``catchup`` job's latest unattended occurrence once, and record
        the other occurrences that passed with no process running as one ``missed`` row each."""
        jobs = [job for job in self._catalogue.jobs.values() if job.options.enabled]
        if not jobs:
            return
        now = self._clock.now()
        latest = await self._fleet.latest_scheduled_for([job.job_id for job in jobs])
        known = [job for job in jobs if job.job_id in latest]
        loop = asyncio.get_running_loop()
        backlogs = await loop.run_in_executor(self._worker, _backlogs, known, latest, now)
        missed = [item.missed for item in backlogs if item.missed is not None]
        for record in await self._fleet.record_missed(missed):
            self._runner.note(record)
        for item in backlogs:
            if item.catch_up_at is not None:
                definition = self._catalogue.jobs.get(item.job_id)
                if definition is None:
                    continue
                request = ClaimRequest(
                    item.job_id, item.catch_up_at, RunKind.CATCHUP, definition.options.max_instances
                )
                self._own(self.claim_and_run(definition, request), f"catch-up-{item.job_id}")

    def contestable(self) -> timedelta:
        """How long a past occurrence may still be claimed: the largest misfire grace."""
        graces = [
            job.options.misfire_grace_time
            for job in self._catalogue.jobs.values()
            if job.options.misfire_grace_time is not None
        ]
        unlimited = any(
            job.options.misfire_grace_time is None for job in self._catalogue.jobs.values()
        )
        seconds = 86_400 if unlimited else max([60, *graces])
        return timedelta(seconds=seconds)


def _backlogs(
    jobs: Sequence[JobDefinition], latest: dict[str, datetime], now: datetime
) -> list[Backlog]:
    """What each job left unattended since its latest row (on a worker thread: it counts)."""
    found = []
    for job in jobs:
        grace = job.options.misfire_grace_time
        found.append(
            backlog(
                job.job_id,
                occurrence_trigger(job),
                latest=latest[job.job_id],
                now=now,
                catchup=job.options.catchup,
                grace=None if grace is None else timedelta(seconds=grace),
            )
        )
    return found
