"""1,000 jobs due in the same second: lag from scheduled time to job start, ours vs. bare.

Every job has the same cron (a fixed second of each minute, two seconds ahead) and writes
``time.time()`` when its function starts; lag = start - scheduled second. Coroutine jobs run
on the event loop, sync jobs on a 10-worker thread pool, on both sides:

- ours: ``SchedulerService.register_job`` (run wrapper: overlap count, timeout, RunRecord,
  listeners, one log line per run);
- bare: APScheduler 3.11 ``AsyncIOScheduler`` with ``CronTrigger(second=S)``, its
  ``AsyncIOExecutor`` for coroutines and its ``ThreadPoolExecutor(10)`` for sync functions;
- bare + build_trigger: the same with our dialect's trigger, so the last ratio is the cost of
  the service's executor and run wrapper alone.

Logging stays at Python's default (WARNING), so neither side pays for its per-run lines.

Run: ``.venv/bin/python tests/benchmarks/bench_lag.py [--jobs 1000] [--repeat 3]``
Prints a markdown table (p50/p99/max in milliseconds, median over repeats) and ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from apscheduler.executors.asyncio import AsyncIOExecutor
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger

from scheduler.cron import build_trigger
from scheduler.service import SchedulerService
from scheduler.settings import Settings

STARTS: dict[str, float] = {}
LEAD_SECONDS = 2


async def async_job(job_id: str) -> None:
    """Note when it started."""
    STARTS[job_id] = time.time()


def sync_job(job_id: str) -> None:
    """Note when it started (on a worker thread)."""
    STARTS[job_id] = time.time()


def due_second() -> datetime:
    """A whole second far enough ahead to register every job before it."""
    return (datetime.now(UTC) + timedelta(seconds=LEAD_SECONDS)).replace(microsecond=0)


async def wait_for_all(count: int, limit: float) -> None:
    async def poll() -> None:
        while len(STARTS) < count:
            await asyncio.sleep(0.005)

    await asyncio.wait_for(poll(), limit)


def lags_ms(due: datetime) -> list[float]:
    return sorted((start - due.timestamp()) * 1000 for start in STARTS.values())


async def ours(func: Callable[..., Any], count: int) -> list[float]:
    STARTS.clear()
    service = SchedulerService(Settings(allowed_modules=("tests",)))
    due = due_second()
    for index in range(count):
        service.register_job(f"job_{index}", func, f"{due.second} * * * * *", f"job_{index}")
    async with service:
        await wait_for_all(count, 30)
    return lags_ms(due)


async def bare(func: Callable[..., Any], count: int, *, our_triggers: bool = False) -> list[float]:
    """Bare APScheduler; ``our_triggers`` uses ``build_trigger`` to isolate the wrapper's cost."""
    STARTS.clear()
    scheduler = AsyncIOScheduler(
        timezone=UTC,
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 60},
        executors={"default": AsyncIOExecutor(), "threads": ThreadPoolExecutor(10)},
    )
    due = due_second()
    executor = "default" if asyncio.iscoroutinefunction(func) else "threads"
    trigger = (
        build_trigger(f"{due.second} * * * * *")
        if our_triggers
        else CronTrigger(second=due.second, timezone=UTC)
    )
    for index in range(count):
        scheduler.add_job(
            func, trigger, args=[f"job_{index}"], id=f"job_{index}", executor=executor
        )
    scheduler.start()
    await wait_for_all(count, 30)
    scheduler.shutdown(wait=True)
    await asyncio.sleep(0)
    return lags_ms(due)


def percentile(sorted_values: list[float], fraction: float) -> float:
    index = min(len(sorted_values) - 1, round(fraction * (len(sorted_values) - 1)))
    return sorted_values[index]


def summary(runs: list[list[float]]) -> tuple[float, float, float]:
    """Median over repeats of p50, p99 and max."""
    return (
        statistics.median(percentile(run, 0.50) for run in runs),
        statistics.median(percentile(run, 0.99) for run in runs),
        statistics.median(run[-1] for run in runs),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    options = parser.parse_args()
    print(
        f"Lag from scheduled second to job start, {options.jobs:,} jobs due together "
        f"(median of {options.repeat}; Python {sys.version.split()[0]})\n"
    )
    print(
        "| jobs | stat | SchedulerService | bare APScheduler 3.11 | ratio "
        "| bare + build_trigger | ratio |"
    )
    print("|---|---|---:|---:|---:|---:|---:|")
    for kind, func in (("coroutine", async_job), ("sync, 10 threads", sync_job)):
        runs: dict[str, list[list[float]]] = {"ours": [], "bare": [], "bare+": []}
        for _ in range(options.repeat):  # interleaved, so machine noise hits all sides
            runs["ours"].append(asyncio.run(ours(func, options.jobs)))
            runs["bare"].append(asyncio.run(bare(func, options.jobs)))
            runs["bare+"].append(asyncio.run(bare(func, options.jobs, our_triggers=True)))
        rows = zip(("p50", "p99", "max"), *(summary(runs[side]) for side in runs), strict=True)
        for stat, mine, theirs, same_triggers in rows:
            print(
                f"| {kind} | {stat} | {mine:.1f} ms | {theirs:.1f} ms | {mine / theirs:.2f}x "
                f"| {same_triggers:.1f} ms | {mine / same_triggers:.2f}x |"
            )


if __name__ == "__main__":
    main()
