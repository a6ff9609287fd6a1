"""1,000 jobs due in one second, 3 processes sharing a store: fire lag of the winning runs.

Three processes register the same 1,000 coroutine jobs (one cron, a fixed second two seconds
ahead) on one state store; each occurrence is claimed, and only the winner runs it. Lag = when
the winning run's function starts minus the scheduled second. The baseline, measured in the
same run, is bare APScheduler 3.11 (``AsyncIOScheduler``, one ``CronTrigger``, no store) in
one process. Target: p99 of the winners at most 1.5x the baseline's p99.

It also checks the point of claiming: every job ran exactly once across the three processes.

Run: ``.venv/bin/python tests/benchmarks/bench_fleet_lag.py [--jobs 1000] [--repeat 3]
[--postgres URL]`` (PostgreSQL: a server where the benchmark may create, fill and drop a
database of its own; default: the local server, skipped when unreachable).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench_lag import async_job, bare, percentile

from scheduler.settings import Settings

PROCESSES = 3
STARTS: dict[str, float] = {}


async def winner_job(job_id: str) -> None:
    """Note when this process started the run it won."""
    STARTS[job_id] = time.time()


async def _one_process(url: str, jobs: int, due: float, prefix: str) -> dict[str, float]:
    from scheduler.runtime.service import SchedulerService

    service = SchedulerService(Settings(allowed_modules=("tests",), store_url=url))
    expression = f"{datetime.fromtimestamp(due, UTC).second} * * * * *"
    for index in range(jobs):
        job_id = f"{prefix}_{index}"
        service.register_job(job_id, winner_job, expression, job_id)
    async with service:
        await asyncio.sleep(max(due - time.time(), 0) + 3.0)  # the runs, and a margin
    return dict(STARTS)


def _process(url: str, jobs: int, due: float, prefix: str, out: Any) -> None:
    try:
        out.put(asyncio.run(_one_process(url, jobs, due, prefix)))
    except BaseException as error:  # report, so the parent does not wait forever
        out.put(repr(error))


def fleet(url: str, jobs: int) -> list[float]:
    """Lags (ms, sorted) of the winning runs of ``PROCESSES`` processes on one store."""
    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    due = (datetime.now(UTC) + timedelta(seconds=4)).replace(microsecond=0).timestamp()
    prefix = f"j{uuid.uuid4().hex[:6]}"
    workers = [
        context.Process(target=_process, args=(url, jobs, due, prefix, out))
        for _ in range(PROCESSES)
    ]
    for worker in workers:
        worker.start()
    results = [out.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join(10)
    errors = [result for result in results if isinstance(result, str)]
    if errors:
        raise SystemExit(f"a process failed: {errors[0]}")
    started = [job for result in results for job in result]
    if len(started) != jobs or len(set(started)) != jobs:
        raise SystemExit(f"{len(started)} runs of {len(set(started))} jobs: not exactly once")
    return sorted((start - due) * 1000 for result in results for start in result.values())


def fresh_postgres_database(url: str) -> tuple[str, str] | None:
    """A new database on the server ``url`` names (its URL and name), or None when the
    server cannot be reached; the benchmark drops it at the end."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import SQLAlchemyError

    name = f"bench_fleet_{uuid.uuid4().hex[:8]}"
    engine = create_engine(url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except SQLAlchemyError:
        return None
    finally:
        engine.dispose()
    return url.rsplit("/", 1)[0] + f"/{name}", name


def drop_postgres_database(url: str, name: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    options = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-fleet-"))
    stores = {"SQLite": f"sqlite:///{folder / 'store.db'}"}
    fresh = fresh_postgres_database(options.postgres)
    if fresh is not None:
        stores["PostgreSQL"] = fresh[0]
    print(
        f"Fire lag of the winning runs, {options.jobs:,} coroutine jobs due together, "
        f"{PROCESSES} processes per store (median of {options.repeat}; "
        f"Python {sys.version.split()[0]})\n"
    )
    print("| store | stat | 3 processes + store | bare APScheduler, no store | ratio |")
    print("|---|---|---:|---:|---:|")
    for name, url in stores.items():
        ours_runs, bare_runs = [], []
        for _ in range(options.repeat):  # interleaved, so machine noise hits both sides
            ours_runs.append(fleet(url, options.jobs))
            bare_runs.append(asyncio.run(bare(async_job, options.jobs)))
        for stat, fraction in (("p50", 0.5), ("p99", 0.99)):
            mine = statistics.median(percentile(run, fraction) for run in ours_runs)
            theirs = statistics.median(percentile(run, fraction) for run in bare_runs)
            print(f"| {name} | {stat} | {mine:.1f} ms | {theirs:.1f} ms | {mine / theirs:.2f}x |")
    if fresh is not None:
        drop_postgres_database(options.postgres, fresh[1])


if __name__ == "__main__":
    main()
