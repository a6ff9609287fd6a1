"""Code that runs in child processes of the store tests (importable under ``spawn``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from scheduler.store import ClaimRequest, ClaimResult, SqlStore, StoreError

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def occurrences(jobs: int, instants: int) -> list[tuple[str, datetime]]:
    """``jobs`` jobs due at each of ``instants`` consecutive seconds."""
    return [
        (f"job{job:03}", T0 + timedelta(seconds=second))
        for second in range(instants)
        for job in range(jobs)
    ]


def claim_everything(
    url: str, prefix: str, node: str, jobs: int, instants: int, batch: int, start: Any, out: Any
) -> None:
    """Open the store when every worker is ready, claim all occurrences, report what was won."""
    store = SqlStore(url, table_prefix=prefix, connect_timeout=10)
    won: list[tuple[str, str]] = []
    error = None
    try:
        start.wait(timeout=30)
        store.open()
        wanted = occurrences(jobs, instants)
        for offset in range(0, len(wanted), batch):
            requests = [
                ClaimRequest(job, at, max_instances=1_000_000)
                for job, at in wanted[offset : offset + batch]
            ]
            for outcome in store.claim(requests, node=node, now=T0):
                if outcome.result is ClaimResult.WON:
                    won.append((outcome.request.job_id, outcome.request.scheduled_for.isoformat()))
    except StoreError as failure:
        error = str(failure)
    finally:
        store.close()
    out.put((node, won, error))
