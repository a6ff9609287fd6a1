"""Benchmark: time from writing one manifest to the running service having applied it.

Runs the real thing: ``scheduler run``'s ``serve()`` (initial load, ``gc.freeze()``, a started
``SchedulerService`` and ``watch_manifests`` on its default watchfiles source) with the
production timings (debounce 50 ms, step 50 ms). For 100 and
10,000 jobs, in two layouts (one job per file; 100 jobs per file), it edits one job's cron
expression repeatedly, at random moments, and measures from the end of the write to the end
of the ``service.reload()`` that reports the job as changed. It splits that time into the
reload itself and the rest (filesystem event, watchfiles' grouping, the loop).

Targets: p50 < 120 ms, and 10,000 jobs no slower than
1.2x the 100-job time. Prints a markdown table; exit status 0 whatever the numbers.

    .venv/bin/python tests/benchmarks/bench_reload.py            # full run, about a minute
    .venv/bin/python tests/benchmarks/bench_reload.py --edits 10 --sizes 100 10000
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT))  # for tests.jobfuncs, which the manifests name

from scheduler.loader import LoadResult  # noqa: E402
from scheduler.records import ReloadStatus  # noqa: E402
from scheduler.runtime.serve import serve  # noqa: E402
from scheduler.runtime.service import SchedulerService  # noqa: E402
from scheduler.settings import load_settings  # noqa: E402

FUNC = "tests.jobfuncs.noop"
TARGET = "job5"
APPLY_DEADLINE = 10.0  # seconds; a lost change fails the run instead of hanging it
ARM_DEADLINE = 120.0  # seconds; the initial load of 10,000 jobs comes first
LAYOUTS = {"1 job/file": 1, "100 jobs/file": 100}


def job_lines(job_id: str, minute: int) -> list[str]:
    return [f"job_id: {job_id}", f"func: {FUNC}", f'cron_expression: "{minute} 3 * * *"']


def file_text(first_job: int, per_file: int, target_minute: int) -> str:
    """A manifest holding jobs ``first_job ..``; ``TARGET`` gets ``target_minute``."""
    jobs = [f"job{index}" for index in range(first_job, first_job + per_file)]
    minutes = [target_minute if job_id == TARGET else 0 for job_id in jobs]
    if per_file == 1:
        return "\n".join(job_lines(jobs[0], minutes[0])) + "\n"
    lines = ["jobs:"]
    for job_id, minute in zip(jobs, minutes, strict=True):
        first, *rest = job_lines(job_id, minute)
        lines += [f"  - {first}", *(f"    {line}" for line in rest)]
    return "\n".join(lines) + "\n"


def write_manifests(folder: Path, jobs: int, per_file: int) -> Path:
    """Write the set; return the file that holds ``TARGET``."""
    for first in range(0, jobs, per_file):
        path = folder / f"m{first:05d}.yaml"
        path.write_text(file_text(first, per_file, 0), encoding="utf-8")
    target_first = (5 // per_file) * per_file
    return folder / f"m{target_first:05d}.yaml"


@dataclass
class ReloadRecorder:
    """Wraps ``service.reload_async`` to time each reload and flag the one applying an edit."""

    service: SchedulerService
    expected_cron: str = ""
    applied: asyncio.Event = field(default_factory=asyncio.Event)
    applied_at: float = 0.0
    reload_seconds: float = 0.0
    reloads: int = 0

    def install(self) -> None:
        original = self.service.reload_async

        async def timed_reload(
            changed: Collection[Path] | None = None, *, announce: bool = False
        ) -> ReloadStatus:
            started = time.perf_counter()
            status = await original(changed, announce=announce)
            finished = time.perf_counter()
            self.reloads += 1
            if TARGET in status.changed and self._target_cron() == self.expected_cron:
                self.applied_at, self.reload_seconds = finished, finished - started
                self.applied.set()
            return status

        self.service.reload_async = timed_reload  # type: ignore[method-assign]

    def _target_cron(self) -> str:
        return self.service.get_job(TARGET).cron_expression


@dataclass(frozen=True)
class Sample:
    total_ms: float
    reload_ms: float


async def measure(jobs: int, per_file: int, edits: int, rng: random.Random) -> list[Sample]:
    """Edit ``TARGET`` ``edits`` times in a live service on ``jobs`` jobs."""
    with tempfile.TemporaryDirectory(prefix="bench-reload-") as temp:
        folder = Path(temp) / "manifests"
        folder.mkdir()
        target = write_manifests(folder, jobs, per_file)
        first_job = (5 // per_file) * per_file
        settings = load_settings(
            manifests_dir=folder, allowed_modules=("tests.jobfuncs",), store_url="memory://"
        )
        service = SchedulerService(settings)
        recorder = ReloadRecorder(service)
        recorder.install()
        stop = asyncio.Event()

        def check_loaded(result: LoadResult) -> None:
            assert result.ok and len(result.jobs) == jobs, result.problems[:3]

        running = asyncio.create_task(
            serve(
                settings,
                stop_event=stop,
                service=service,
                on_loaded=check_loaded,
                install_signal_handlers=False,
            )
        )
        try:
            await wait_armed(recorder, running)
            samples = []
            for edit in range(1, edits + 1):
                await asyncio.sleep(rng.uniform(0.02, 0.12))  # land at a random step phase
                samples.append(await edit_once(recorder, target, first_job, per_file, edit))
            return samples
        finally:
            stop.set()
            await asyncio.wait_for(running, 10.0)
            shutil.rmtree(folder, ignore_errors=True)


async def wait_armed(recorder: ReloadRecorder, running: asyncio.Task[int]) -> None:
    """The watch reloads once when armed; wait for it so edits are seen as events."""
    deadline = time.monotonic() + ARM_DEADLINE
    while recorder.reloads == 0:
        if running.done():
            raise SystemExit(f"serve() ended before the watch armed: {running.result()}")
        if time.monotonic() > deadline:
            raise SystemExit("the watch never armed")
        await asyncio.sleep(0.01)


async def edit_once(
    recorder: ReloadRecorder, target: Path, first_job: int, per_file: int, edit: int
) -> Sample:
    minute = edit % 60
    recorder.expected_cron = f"{minute} 3 * * *"
    recorder.applied.clear()
    target.write_text(file_text(first_job, per_file, minute), encoding="utf-8")
    written_at = time.perf_counter()
    await asyncio.wait_for(recorder.applied.wait(), APPLY_DEADLINE)
    total = recorder.applied_at - written_at
    return Sample(total * 1000, recorder.reload_seconds * 1000)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def row(jobs: int, layout: str, samples: list[Sample]) -> tuple[str, float]:
    totals = [sample.total_ms for sample in samples]
    reloads = [sample.reload_ms for sample in samples]
    p50 = statistics.median(totals)
    watch = statistics.median(total - reload for total, reload in zip(totals, reloads, strict=True))
    cells = [
        f"{jobs:,}",
        layout,
        str(len(samples)),
        f"{p50:.1f}",
        f"{percentile(totals, 0.95):.1f}",
        f"{statistics.median(reloads):.1f}",
        f"{watch:.1f}",
        "yes" if p50 < 120 else "no",
    ]
    return "| " + " | ".join(cells) + " |", p50


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edits", type=int, default=30, help="edits per configuration")
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 10_000])
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    print(
        "| jobs | layout | edits | p50 ms | p95 ms | reload() p50 ms | watch p50 ms | p50 < 120 |"
    )
    print("|---:|---|---:|---:|---:|---:|---:|---|")
    medians: dict[tuple[str, int], float] = {}
    for layout, per_file in LAYOUTS.items():
        for jobs in args.sizes:
            samples = await measure(jobs, min(per_file, jobs), args.edits, rng)
            line, medians[layout, jobs] = row(jobs, layout, samples)
            print(line, flush=True)
    smallest, largest = min(args.sizes), max(args.sizes)
    if smallest != largest:
        print()
        for layout in LAYOUTS:
            ratio = medians[layout, largest] / medians[layout, smallest]
            verdict = "ok" if ratio <= 1.2 else "over the 1.2x target"
            print(
                f"- {layout}: p50 at {largest:,} jobs is {ratio:.2f}x the {smallest:,}-job p50 "
                f"({verdict})"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
