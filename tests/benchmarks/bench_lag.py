"""1,000 jobs due in the same second: lag from scheduled time to job start, ours vs. bare.

Every job has the same cron (a fixed second of each minute, two seconds ahead) and writes
``time.time()`` when its function starts; lag = start - scheduled second. Coroutine jobs run
on the event loop, sync jobs on a 10-worker thread pool, on both sides:

- ours: ``SchedulerService.register_job`` (run wrapper: overlap count, timeout, RunRecord,
  listeners, one log line per run);
- bare: APScheduler 3.11 ``AsyncIOScheduler`` with ``CronTrigger(second=S)``, one trigger
  object for all jobs, its ``AsyncIOExecutor`` for coroutines and its ``ThreadPoolExecutor(10)``
  for sync functions;
- bare + our trigger: the same with the trigger the service schedules (our dialect's trigger,
  shared as ``shared_trigger`` does), so the last ratio is the cost of the service's executor
  and run wrapper alone.

``--distinct`` gives every job its own expression (``S M,m H,h * * *``: all due at the same
second, then apart), so no side can answer for many jobs at once; bare then builds one
``CronTrigger`` per job.

Logging stays at Python's default (WARNING), so neither side pays for its per-run lines. Each
side starts after ``gc.collect()``, so it does not pay for collecting the previous side's
scheduler; collections its own registering and firing cause still count.

Run: ``.venv/bin/python tests/benchmarks/bench_lag.py [--jobs 1000] [--repeat 3] [--distinct]``
Prints a markdown table (p50/p99/max in milliseconds, median over repeats) and ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
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
from scheduler.cron.build import shared_trigger
from scheduler.runtime.service import SchedulerService
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
    gc.collect()  # the previous side's scheduler is garbage now; collect it before, not during
    return (datetime.now(UTC) + timedelta(seconds=LEAD_SECONDS)).replace(microsecond=0)


def cron_fields(due: datetime, index: int, *, distinct: bool) -> tuple[str, str, str]:
    """(second, minute, hour) of job ``index``: all due at ``due``, each distinct if asked."""
    if not distinct:
        return str(due.second), "*", "*"
    other_hour, other_minute = divmod(index, 59)
    if other_hour >= 23:
        raise SystemExit("--distinct supports up to 1,357 jobs")
    minute = (due.minute + 1 + other_minute) % 60
    hour = (due.hour + 1 + other_hour) % 24
    return str(due.second), f"{due.minute},{minute}", f"{due.hour},{hour}"


async def wait_for_all(count: int, limit: float) -> None:
    async def poll() -> None:
        while len(STARTS) < count:
            await asyncio.sleep(0.005)

    await asyncio.wait_for(poll(), limit)


def lags_ms(due: datetime) -> list[float]:
    return sorted((start - due.timestamp()) * 1000 for start in STARTS.values())


async def ours(func: Callable[..., Any], count: int, *, distinct: bool = False) -> list[float]:
    STARTS.clear()
    service = SchedulerService(Settings(allowed_modules=("tests",), store_url="memory://"))
    due = due_second()
    for index in range(count):
        second, minute, hour = cron_fields(due, index, distinct=distinct)
        expression = f"{second} {minute} {hour} * * *"
        service.register_job(f"job_{index}", func, expression, f"job_{index}")
    async with service:
        await wait_for_all(count, 30)
    return lags_ms(due)


async def bare(
    func: Callable[..., Any], count: int, *, our_triggers: bool = False, distinct: bool = False
) -> list[float]:
    """Bare APScheduler; ``our_triggers`` uses the service's trigger to isolate its wrapper."""
    STARTS.clear()
    scheduler = AsyncIOScheduler(
        timezone=UTC,
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 60},
        executors={"default": AsyncIOExecutor(), "threads": ThreadPoolExecutor(10)},
    )
    due = due_second()
    executor = "default" if asyncio.iscoroutinefunction(func) else "threads"

    def make_trigger(index: int) -> Any:
        second, minute, hour = cron_fields(due, index, distinct=distinct)
        if our_triggers:
            return shared_trigger(build_trigger(f"{second} {minute} {hour} * * *"))
        if not distinct:
            return CronTrigger(second=second, timezone=UTC)
        return CronTrigger(second=second, minute=minute, hour=hour, timezone=UTC)

    shared = None if distinct else make_trigger(0)
    for index in range(count):
        trigger = shared if shared is not None else make_trigger(index)
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
    parser.add_argument("--distinct", action="store_true", help="one expression per job")
    options = parser.parse_args()
    schedules = "distinct schedules" if options.distinct else "one schedule"
    print(
        f"Lag from scheduled second to job start, {options.jobs:,} jobs due together, "
        f"{schedules} (median of {options.repeat}; Python {sys.version.split()[0]})\n"
    )
    print(
        "| jobs | stat | SchedulerService | bare APScheduler 3.11 | ratio "
        "| bare + our trigger | ratio |"
    )
    print("|---|---|---:|---:|---:|---:|---:|")
    for kind, func in (("coroutine", async_job), ("sync, 10 threads", sync_job)):
        runs: dict[str, list[list[float]]] = {"ours": [], "bare": [], "bare+": []}
        for _ in range(options.repeat):  # interleaved, so machine noise hits all sides
            distinct = options.distinct
            runs["ours"].append(asyncio.run(ours(func, options.jobs, distinct=distinct)))
            runs["bare"].append(asyncio.run(bare(func, options.jobs, distinct=distinct)))
            runs["bare+"].append(
                asyncio.run(bare(func, options.jobs, our_triggers=True, distinct=distinct))
            )
        rows = zip(("p50", "p99", "max"), *(summary(runs[side]) for side in runs), strict=True)
        for stat, mine, theirs, same_triggers in rows:
            print(
                f"| {kind} | {stat} | {mine:.1f} ms | {theirs:.1f} ms | {mine / theirs:.2f}x "
                f"| {same_triggers:.1f} ms | {mine / same_triggers:.2f}x |"
            )


if __name__ == "__main__":
    main()
