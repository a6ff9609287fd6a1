"""Claim overhead per run: what the state store adds to each occurrence, per back end.

For each store (in-memory as the baseline measured in the same run, a SQLite file,
PostgreSQL when reachable) it times:

- single: one occurrence per ``claim`` call (a job due alone), median over ``--single`` calls;
- single + finish: that claim and the ``finish`` that writes the run's outcome (a run's whole
  cost to the store: two transactions);
- batch: ``--batch`` occurrences claimed in one call (jobs due in the same second), per
  claim, median over ``--repeat`` batches; plus the ``finish`` of the whole batch.

The store is first filled with ``--history`` finished rows (realistic: 1,000 jobs keep 100
each at the default history limit), so indexes, not an empty table, are measured.

Then, for each SQL store, ``--processes`` processes claim the same batch of occurrences at
the same moment, ``--repeat`` times (one wins each occurrence, the others lose it): the time
each process's ``claim`` call takes, as every process of a fleet pays it when jobs fall due.

Run: ``.venv/bin/python tests/benchmarks/bench_claims.py [--single 500] [--batch 1000]
[--repeat 7] [--history 20000] [--processes 3] [--postgres URL]``. Prints markdown tables in
milliseconds.
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from sqlalchemy import create_engine

from scheduler.records import RunRecord, RunStatus
from scheduler.store import (
    ClaimRequest,
    ClaimResult,
    MemoryStore,
    SqlStore,
    StateStore,
    StoreError,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)
NODE = "bench:1"


class Clock:
    """Hands out fresh, increasing occurrence instants, so every claim is a new one."""

    def __init__(self) -> None:
        self._next = T0 + timedelta(days=30)

    def tick(self) -> datetime:
        self._next += timedelta(seconds=1)
        return self._next


def fill(store: StateStore, rows: int, jobs: int) -> None:
    """Finished history rows, spread over ``jobs`` jobs."""
    batch: list[RunRecord] = []
    for index in range(rows):
        at = T0 + timedelta(seconds=index // jobs)
        batch.append(
            RunRecord(
                f"job{index % jobs:04}",
                at,
                RunStatus.SUCCESS,
                started_at=at,
                finished_at=at,
                node=NODE,
            )
        )
        if len(batch) == 1000:
            store.record(batch)
            batch = []
    store.record(batch)


def finished(record: RunRecord | None) -> RunRecord:
    assert record is not None
    return RunRecord(
        record.job_id,
        record.scheduled_for,
        RunStatus.SUCCESS,
        started_at=record.started_at,
        finished_at=record.started_at,
        run_id=record.run_id,
        node=record.node,
    )


def time_single(store: StateStore, clock: Clock, calls: int) -> tuple[float, float]:
    """Median ms of one claim, and of one claim plus its finish."""
    claims, runs = [], []
    for index in range(calls):
        at = clock.tick()
        started = time.perf_counter()
        [outcome] = store.claim([ClaimRequest(f"job{index % 1000:04}", at)], node=NODE, now=at)
        claimed = time.perf_counter()
        store.finish([finished(outcome.record)])
        done = time.perf_counter()
        claims.append(claimed - started)
        runs.append(done - started)
    return statistics.median(claims) * 1e3, statistics.median(runs) * 1e3


def time_batch(store: StateStore, clock: Clock, size: int, repeat: int) -> tuple[float, float]:
    """Median ms per claim in a batch of ``size``, and per run with the batch's finish."""
    claims, runs = [], []
    for _ in range(repeat):
        at = clock.tick()
        requests = [ClaimRequest(f"job{index:04}", at) for index in range(size)]
        started = time.perf_counter()
        outcomes = store.claim(requests, node=NODE, now=at)
        claimed = time.perf_counter()
        store.finish([finished(outcome.record) for outcome in outcomes])
        done = time.perf_counter()
        assert all(outcome.record is not None for outcome in outcomes)
        claims.append((claimed - started) / size)
        runs.append((done - started) / size)
    return statistics.median(claims) * 1e3, statistics.median(runs) * 1e3


def measure(name: str, make: Callable[[], StateStore], args: argparse.Namespace) -> list[float]:
    store = make()
    store.open()
    try:
        fill(store, args.history, 1000)
        clock = Clock()
        time_single(store, clock, 20)  # warm up connections and caches
        single = time_single(store, clock, args.single)
        batch = time_batch(store, clock, args.batch, args.repeat)
    finally:
        store.close()
        if isinstance(store, SqlStore):
            drop(store)
    print(f"  {name}: done", file=sys.stderr)
    return [*single, *batch]


def contend(url: str, prefix: str, node: str, size: int, repeat: int, start: Any, out: Any) -> None:
    """One process of a contended claim: the same batches as its peers, at the same moments."""
    store = SqlStore(url, table_prefix=prefix)
    store.open()
    took = []
    for round_ in range(repeat):
        at = T0 + timedelta(days=60, seconds=round_)
        requests = [ClaimRequest(f"job{index:04}", at) for index in range(size)]
        start.wait(timeout=60)
        started = time.perf_counter()
        outcomes = store.claim(requests, node=node, now=at)
        took.append(time.perf_counter() - started)
        store.finish([finished(o.record) for o in outcomes if o.result is ClaimResult.WON])
    store.close()
    out.put(took)


def measure_contended(url: str, prefix: str, processes: int, size: int, repeat: int) -> list[float]:
    """p50 and max over every process and round of one contended ``claim`` call, in ms."""
    SqlStore(url, table_prefix=prefix).open()  # create the schema before the race
    context = multiprocessing.get_context("spawn")
    start, out = context.Barrier(processes), context.Queue()
    workers = [
        context.Process(target=contend, args=(url, prefix, f"p{i}", size, repeat, start, out))
        for i in range(processes)
    ]
    for worker in workers:
        worker.start()
    took = [seconds for _ in workers for seconds in out.get(timeout=300)]
    for worker in workers:
        worker.join(timeout=30)
    drop(SqlStore(url, table_prefix=prefix))
    return [statistics.median(took) * 1e3, max(took) * 1e3]


def drop(store: SqlStore) -> None:
    engine = create_engine(store.url)
    store.tables.metadata.drop_all(engine)
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--single", type=int, default=500)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--history", type=int, default=20_000)
    parser.add_argument("--processes", type=int, default=3)
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-claims-"))
    prefix = f"bench{uuid.uuid4().hex[:8]}_"
    stores: dict[str, Callable[[], StateStore]] = {
        "memory (baseline)": MemoryStore,
        "SQLite file": lambda: SqlStore(f"sqlite:///{folder / 'bench.db'}"),
        "PostgreSQL": lambda: SqlStore(args.postgres, table_prefix=prefix),
    }
    results: dict[str, list[float]] = {}
    for name, make in stores.items():
        try:
            results[name] = measure(name, make, args)
        except StoreError as error:
            print(f"  {name}: skipped ({error})", file=sys.stderr)
    baseline = results["memory (baseline)"]
    print(
        f"| store | single claim | single claim + finish | claim in a batch of {args.batch} "
        "| batch claim + finish, per run | overhead per run over baseline (single, batch) |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for name, (single, single_run, batch, batch_run) in results.items():
        extra_single = single_run - baseline[1]
        extra_batch = batch_run - baseline[3]
        print(
            f"| {name} | {single:.3f} ms | {single_run:.3f} ms | {batch:.4f} ms "
            f"| {batch_run:.4f} ms | {extra_single:.3f} ms, {extra_batch:.4f} ms |"
        )
    urls = {
        "SQLite file": f"sqlite:///{folder / 'contended.db'}",
        "PostgreSQL": args.postgres,
    }
    print()
    print(
        f"| store | {args.processes} processes claim the same {args.batch} occurrences: "
        "p50 per claim call | max |"
    )
    print("|---|---:|---:|")
    for name, url in urls.items():
        if name not in results:
            continue
        p50, worst = measure_contended(url, prefix, args.processes, args.batch, args.repeat)
        print(f"| {name} | {p50:.1f} ms | {worst:.1f} ms |")


if __name__ == "__main__":
    main()
