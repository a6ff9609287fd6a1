"""The running scheduler's side of the state store, kept off the event loop.

Every process with the same manifests and store URL computes the same occurrences; the store
decides which one runs each. ``Fleet`` is how the runtime talks to it:

- **claims** made during one turn of the loop (all the jobs APScheduler found due at one
  instant) go to the store as one batch, on a thread of their own, so 1,000 jobs due together
  cost one round trip and the loop never waits on the database;
- **records** (how runs ended, skips, misses) are written behind, in batches, on the same
  thread as the claims, so a claim always sees the runs that ended before it; a store that
  is down keeps them queued and they are written once it is back;
- **upkeep** on a second thread: a heartbeat (and reaping the runs of processes that stopped
  heartbeating), a refresh of the fleet-wide pauses every ``PAUSE_REFRESH_SECONDS``, and
  pruning the history.

A claim the store cannot answer (unreachable, locked) is not run: ``claim`` answers ``None``
and the caller records the occurrence as skipped. Nothing is run twice: only a won claim runs.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar

from scheduler.clock import Clock
from scheduler.records import Pause, RunKind, RunRecord, RunStatus
from scheduler.store import ClaimOutcome, ClaimRequest, MissedRange, StateStore, StoreError

__all__ = ["PAUSE_REFRESH_SECONDS", "PRUNE_INTERVAL_SECONDS", "Fleet"]

logger = logging.getLogger(__name__)

PAUSE_REFRESH_SECONDS = 1.0
"""How often each process reads the fleet's pauses: a pause holds everywhere within this."""

PRUNE_INTERVAL_SECONDS = 300.0
"""How often the history is pruned to ``SCHEDULER_HISTORY_LIMIT`` runs per job."""

MAX_QUEUED_RECORDS = 100_000
"""Records waiting for a store that is down; past this the oldest are dropped (and logged)."""

_RETRY_SECONDS = 1.0
_T = TypeVar("_T")
PausesListener = Callable[[dict[str, Pause]], None]


class Fleet:
    """Claims, records and upkeep for one process, through one ``StateStore``."""

    def __init__(
        self,
        store: StateStore,
        *,
        clock: Clock,
        node: str,
        history_limit: int,
        on_pauses: PausesListener,
        contestable: Callable[[], timedelta],
    ) -> None:
        self.store = store
        self.node = node
        self._clock = clock
        self._history_limit = history_limit
        self._on_pauses = on_pauses
        self._contestable = contestable
        self._claims = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="store-claim")
        self._upkeep = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="store-write")
        self._pending: list[tuple[ClaimRequest, asyncio.Future[ClaimOutcome | None]]] = []
        self._finished: list[RunRecord] = []
        self._noted: list[RunRecord] = []
        self._flush_scheduled = False
        self._writing: asyncio.Future[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._available = True
        self.unavailable_count = 0
        """Occurrences skipped because the store could not be reached (for metrics)."""

    # -- opening and closing ---------------------------------------------------------------

    async def open(self) -> None:
        """Connect and check the schema, off the loop; raises ``StoreError``."""
        await self._on(self._upkeep, self.store.open)

    def start(self) -> None:
        """Start the heartbeat, pause refresh and pruning tasks on the running loop."""
        loop = asyncio.get_running_loop()
        heartbeat_every = max(self.store.heartbeat_ttl.total_seconds() / 3, 0.05)
        for name, step, every in (
            ("store-heartbeat", self._beat, heartbeat_every),
            ("store-pauses", self._refresh_pauses, PAUSE_REFRESH_SECONDS),
            ("store-prune", self._prune, PRUNE_INTERVAL_SECONDS),
        ):
            task = loop.create_task(self._every(every, step), name=name)
            self._tasks.add(task)

    async def close(self) -> None:
        """Stop upkeep, write what is queued and close the store."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        await self._write_queued()
        await self._on(self._upkeep, self.store.close)
        self._claims.shutdown(wait=False, cancel_futures=True)
        self._upkeep.shutdown(wait=False, cancel_futures=True)

    def close_now(self) -> None:
        """``close`` for synchronous callers (the seed's ``shutdown()``): blocks briefly."""
        for task in self._tasks:
            task.cancel()
        self._tasks.clear()
        finished, self._finished = self._finished, []
        noted, self._noted = self._noted, []
        try:
            self._write(finished, noted)
        except StoreError as exc:
            logger.warning("could not write the last run records: %s", exc)
        self.store.close()
        self._claims.shutdown(wait=False, cancel_futures=True)
        self._upkeep.shutdown(wait=False, cancel_futures=True)

    # -- claims ----------------------------------------------------------------------------

    def claim(self, request: ClaimRequest) -> asyncio.Future[ClaimOutcome | None]:
        """The store's answer to one claim, batched with every claim of this loop turn.

        ``None`` when the store could not answer: the occurrence must not run.
        """
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[ClaimOutcome | None] = loop.create_future()
        self._pending.append((request, answer))
        if not self._flush_scheduled:
            self._flush_scheduled = True
            loop.call_soon(self._send_claims)
        return answer

    def _send_claims(self) -> None:
        batch, self._pending, self._flush_scheduled = self._pending, [], False
        requests = [request for request, _ in batch]
        # Runs that ended before these claims are written first, on the same thread, so a
        # claim never counts a run that already ended (a second manual run right after one).
        finished, self._finished = self._finished, []
        sent = self._claims.submit(self._finish_then_claim, finished, requests, self._clock.now())
        done = asyncio.wrap_future(sent)
        done.add_done_callback(lambda answered: self._answer(batch, finished, answered))

    def _finish_then_claim(
        self, finished: Sequence[RunRecord], requests: Sequence[ClaimRequest], now: datetime
    ) -> list[ClaimOutcome]:
        if finished:
            self.store.finish(finished)
        return self.store.claim(requests, node=self.node, now=now)

    def _answer(
        self,
        batch: list[tuple[ClaimRequest, asyncio.Future[ClaimOutcome | None]]],
        finished: list[RunRecord],
        answered: asyncio.Future[list[ClaimOutcome]],
    ) -> None:
        error = None if answered.cancelled() else answered.exception()
        if answered.cancelled() or error is not None:
            self._finished[:0] = finished  # not written: they go with the next write
            self._store_failed(error, len(batch))
            for _, answer in batch:
                if not answer.done():
                    answer.set_result(None)
            return
        self._store_back()
        for (_, answer), outcome in zip(batch, answered.result(), strict=True):
            if not answer.done():
                answer.set_result(outcome)

    def _store_failed(self, error: BaseException | None, skipped: int) -> None:
        self.unavailable_count += skipped
        if self._available:
            self._available = False
            logger.error(
                "state store unavailable: due runs are skipped until it is back (%s)", error
            )
        if error is not None and not isinstance(error, StoreError):
            logger.error("claiming failed", exc_info=error)

    def _store_back(self) -> None:
        if not self._available:
            self._available = True
            logger.info("state store reachable again: claiming resumes")

    # -- records, written behind -----------------------------------------------------------

    def finish(self, record: RunRecord) -> None:
        """Write how a claimed run ended, soon, in a batch, off the loop."""
        self._queue(self._finished, record)

    def note(self, record: RunRecord) -> None:
        """Record a row that needed no claim (a miss), once fleet-wide, soon, off the loop."""
        self._queue(self._noted, record)

    def _queue(self, queue: list[RunRecord], record: RunRecord) -> None:
        queue.append(record)
        if len(queue) > MAX_QUEUED_RECORDS:
            del queue[0]
            logger.warning("state store write queue is full: dropped the oldest record")
        if self._writing is None or self._writing.done():
            self._writing = asyncio.ensure_future(self._write_queued())

    async def _write_queued(self) -> None:
        await asyncio.sleep(0)  # records of one loop turn go together
        while self._finished or self._noted:
            finished, self._finished = self._finished, []
            noted, self._noted = self._noted, []
            try:
                await self._on(self._claims, self._write, finished, noted)
            except StoreError as exc:
                self._finished[:0], self._noted[:0] = finished, noted
                logger.warning("could not write %d run record(s): %s", len(finished), exc)
                if not self._tasks:
                    return  # closing: give up rather than hang
                await asyncio.sleep(_RETRY_SECONDS)

    def _write(self, finished: Sequence[RunRecord], noted: Sequence[RunRecord]) -> None:
        if noted:
            self.store.record(noted)
        if finished:
            self.store.finish(finished)

    async def record_missed(self, ranges: Sequence[MissedRange]) -> list[RunRecord]:
        """Record occurrences missed while the fleet was down, one row per job, once."""
        if not ranges:
            return []
        return await self._on(
            self._upkeep, self.store.record_missed, ranges, node=self.node, now=self._clock.now()
        )

    # -- reading and pausing ---------------------------------------------------------------

    async def latest_scheduled_for(self, job_ids: Sequence[str]) -> dict[str, datetime]:
        """The latest occurrence each job has a row for (catch-up starts from there)."""
        return await self._on(self._upkeep, self.store.latest_scheduled_for, job_ids)

    async def pauses(self) -> dict[str, Pause]:
        """Every pause in the store, by job id."""
        return await self._on(self._upkeep, self.store.pauses)

    async def pause(self, job_id: str, *, who: str, reason: str | None) -> Pause:
        """Pause a job on every process."""
        now = self._clock.now()
        return await self._on(
            self._upkeep, self.store.pause, job_id, who=who, reason=reason, now=now
        )

    async def resume(self, job_id: str) -> Pause | None:
        """Lift a job's pause on every process."""
        return await self._on(self._upkeep, self.store.resume, job_id)

    async def history(self, job_id: str | None, **filters: Any) -> list[RunRecord]:
        """Runs, newest first, from the store."""
        return await self._on(self._upkeep, lambda: self.store.history(job_id, **filters))

    async def ping(self) -> None:
        """Raise ``StoreUnavailable`` when the store does not answer."""
        await self._on(self._upkeep, self.store.ping)

    # -- upkeep ----------------------------------------------------------------------------

    async def _every(self, seconds: float, step: Callable[[], Any]) -> None:
        while True:
            try:
                await step()
            except StoreError as exc:
                logger.debug("store upkeep (%s) failed: %s", getattr(step, "__name__", step), exc)
            except Exception:
                logger.exception("store upkeep failed")
            await asyncio.sleep(seconds)

    async def _beat(self) -> None:
        now = self._clock.now()
        reaped = await self._on(self._upkeep, self._beat_and_reap, now)
        for record in reaped:
            logger.warning(
                "job %s: run %s on %s abandoned (that process stopped heartbeating)",
                record.job_id,
                record.run_id,
                record.node,
                extra={"job_id": record.job_id, "run_id": record.run_id},
            )

    def _beat_and_reap(self, now: datetime) -> list[RunRecord]:
        self.store.heartbeat(self.node, now)
        return self.store.reap(now)

    async def _refresh_pauses(self) -> None:
        self._on_pauses(await self.pauses())

    async def _prune(self) -> None:
        pruned = await self._on(
            self._upkeep,
            lambda: self.store.prune(
                keep_per_job=self._history_limit,
                now=self._clock.now(),
                contestable=self._contestable(),
            ),
        )
        if pruned:
            logger.debug("pruned %d old run record(s)", pruned)

    async def _on(
        self, executor: concurrent.futures.Executor, call: Callable[..., _T], *args: Any, **kw: Any
    ) -> _T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(executor, lambda: call(*args, **kw))


def skipped_for_store(request: ClaimRequest, error: str = "state store unavailable") -> RunRecord:
    """The local record of an occurrence not run because the store could not answer."""
    return RunRecord(
        request.job_id,
        request.scheduled_for,
        RunStatus.SKIPPED,
        error=f"skipped: {error}; it cannot be claimed, so it is not run",
        kind=request.kind if isinstance(request.kind, RunKind) else RunKind.SCHEDULED,
        run_id=request.run_id,
    )
