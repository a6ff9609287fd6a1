"""Start-up with 10,000 manifest jobs: SchedulerService vs. bare APScheduler 3.11.

Ours: ``SchedulerService.load(folder)`` (parse with positions, validate every field, import and
bind every ``func``, DST checks, plan) then ``start()``, until all jobs are on the job store.
Bare: safe YAML loading of the same files (libyaml's CSafeLoader, as ours), ``importlib`` for
each func, ``add_job`` with the same triggers (``scheduler.cron.build_trigger``), ``start()``.
No validation on that side. A second bare run shares one trigger per distinct schedule, as
the service does, to separate that saving from the rest.

Run: ``.venv/bin/python tests/benchmarks/bench_startup.py [--jobs 10000] [--repeat 3]``
Prints a markdown table (median of the repeats) and the ratio ours / bare.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT))

import yaml  # noqa: E402
from apscheduler.schedulers.asyncio import AsyncIOScheduler  # noqa: E402

from scheduler.cron import build_trigger  # noqa: E402
from scheduler.manifest import split_func_path  # noqa: E402
from scheduler.runtime.service import SchedulerService  # noqa: E402
from scheduler.settings import Settings  # noqa: E402

SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml, as sources.py uses
JOBS_PER_FILE = 100
CRONS = (
    "*/5 * * * *",
    "0 3 * * *",
    "15 9 * * 1-5",
    "0 0 1 * *",
    "30 */2 * * *",
    "0 12 * * 0",
    "*/10 * * * * *",
    "0 0 * * *",
    "5 4 * * sun",
    "0 22 * * 1-5",
)
ZONES = ("UTC", "UTC", "UTC", "Europe/Berlin", "America/New_York")


def write_manifests(folder: Path, job_count: int) -> None:
    """``job_count`` jobs in files of ``JOBS_PER_FILE``, with varied crons and zones."""
    for file_index in range(0, job_count, JOBS_PER_FILE):
        lines = ["jobs:"]
        for index in range(file_index, min(file_index + JOBS_PER_FILE, job_count)):
            lines += [
                f"  - job_id: job_{index:05d}",
                "    func: tests.jobfuncs.record",
                f'    cron_expression: "{CRONS[index % len(CRONS)]}"',
                f"    timezone: {ZONES[index % len(ZONES)]}",
                f"    args: [{index}]",
            ]
        (folder / f"jobs_{file_index // JOBS_PER_FILE:04d}.yaml").write_text("\n".join(lines))


async def ours(folder: Path, job_count: int) -> dict[str, float]:
    """Seconds for load, apply+start, and total, with the service's defaults."""
    started = time.perf_counter()
    service = SchedulerService(Settings(allowed_modules=("tests.jobfuncs",), store_url="memory://"))
    result = service.load([folder])
    loaded = time.perf_counter()
    service.start()
    scheduled = len(service._timetable.next_runs())
    done = time.perf_counter()
    assert result.ok and scheduled == job_count, (result.problems[:3], scheduled)
    await service.aclose(0)
    return {"load": loaded - started, "start": done - loaded, "total": done - started}


async def bare(folder: Path, job_count: int, *, share: bool = False) -> dict[str, float]:
    """The same set on AsyncIOScheduler with the seed's defaults and no validation.

    ``share`` reuses one trigger per distinct (expression, zone), as the service does.
    """
    started = time.perf_counter()
    scheduler = AsyncIOScheduler(
        timezone=UTC, job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 60}
    )
    functions: dict[str, Callable[..., Any]] = {}
    triggers: dict[tuple[str, str], Any] = {}
    for path in sorted(folder.glob("*.yaml")):
        for job in yaml.load(path.read_text(), Loader=SAFE_LOADER)["jobs"]:
            func = functions.get(job["func"])
            if func is None:
                module, attribute = split_func_path(job["func"])
                func = functions[job["func"]] = getattr(importlib.import_module(module), attribute)
            key = (job["cron_expression"], job.get("timezone", "UTC"))
            trigger = triggers.get(key) if share else None
            if trigger is None:
                trigger = triggers[key] = build_trigger(*key)
            scheduler.add_job(func, trigger=trigger, id=job["job_id"], args=job.get("args"))
    loaded = time.perf_counter()
    scheduler.start()
    scheduled = len(scheduler.get_jobs())
    done = time.perf_counter()
    assert scheduled == job_count
    scheduler.shutdown(wait=False)
    await asyncio.sleep(0)
    return {"load": loaded - started, "start": done - loaded, "total": done - started}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_manifests(folder, options.jobs)
        runs: dict[str, list[dict[str, float]]] = {"ours": [], "bare": [], "shared": []}
        for _ in range(options.repeat):  # alternate, so warm caches favour neither side
            runs["ours"].append(asyncio.run(ours(folder, options.jobs)))
            runs["bare"].append(asyncio.run(bare(folder, options.jobs)))
            runs["shared"].append(asyncio.run(bare(folder, options.jobs, share=True)))
    print(
        f"Start-up with {options.jobs:,} jobs in {options.jobs // JOBS_PER_FILE} files "
        f"(median of {options.repeat}; Python {sys.version.split()[0]})\n"
    )
    print(
        "| phase | SchedulerService | bare APScheduler 3.11 | ratio "
        "| bare, shared triggers | ratio |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for phase in ("load", "start", "total"):
        mine, theirs, shared = (
            statistics.median(run[phase] for run in runs[side])
            for side in ("ours", "bare", "shared")
        )
        print(
            f"| {phase} | {mine:.3f} s | {theirs:.3f} s | {mine / theirs:.2f}x "
            f"| {shared:.3f} s | {mine / shared:.2f}x |"
        )
    print(
        "\nload = read + parse (+ validate, import, bind, plan, add for ours); "
        "start = scheduler.start() until every job is on the job store."
    )


if __name__ == "__main__":
    main()
