"""Benchmark: validating N one-job manifests against the floor of parsing them at all.

The floor is what any YAML-based validator must pay: read every file and
``yaml.load(text, Loader=yaml.CSafeLoader)``. The loader adds positions, duplicate-key
and alias checks, models, cron and timezone validation, the allowlist and cross-file
checks; it must stay within 1.5x of the floor.

Usage::

    python tests/benchmarks/bench_validate.py [--files 10000] [--repeat 7] [--max-ratio 1.5]

Prints a markdown table; exits 1 when a ratio is above ``--max-ratio``.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import importlib.util
import io
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from scheduler.loader import ManifestLoader

CRON_EXPRESSIONS = (
    "*/5 * * * *",
    "0 3 * * *",
    "30 8 * * MON-FRI",
    "0 */2 * * *",
    "15 4 1 * *",
    "0 0 * * 0",
    "@hourly",
    "@daily",
    "0 9-17 * * 1-5",
    "5,35 * * * *",
    "0 12 1-7 * MON",
    "*/10 6-22 * * *",
    "0 0 1 1 *",
    "45 23 * * SAT,SUN",
    "0 30 6 * * *",
)
TIMEZONES = (None, None, None, "Europe/Berlin", "America/New_York", "Asia/Tokyo")


def manifest_text(index: int) -> str:
    """One job, varied: id, cron, and now and then a timezone, description or arguments."""
    lines = [
        f"# generated job {index}",
        f"job_id: job_{index:05d}",
        f"func: jobs.generated.task_{index % 50}",
        f'cron_expression: "{CRON_EXPRESSIONS[index % len(CRON_EXPRESSIONS)]}"',
    ]
    timezone = TIMEZONES[index % len(TIMEZONES)]
    if timezone is not None:
        lines.append(f"timezone: {timezone}")
    if index % 3 == 0:
        lines.append(f"description: Generated job number {index}")
    if index % 4 == 0:
        lines.append(f"args: [{index}, true]")
        lines.append("kwargs: {dry_run: false}")
    if index % 7 == 0:
        lines.append("max_instances: 2")
    return "\n".join(lines) + "\n"


def write_manifests(folder: Path, count: int) -> list[str]:
    """Write ``count`` files, a hundred per sub-folder, as a real manifest tree might be."""
    paths: list[str] = []
    for index in range(count):
        sub = folder / f"team_{index // 100:03d}"
        if index % 100 == 0:
            sub.mkdir()
        path = sub / f"job_{index:05d}.yaml"
        path.write_text(manifest_text(index), encoding="utf-8")
        paths.append(str(path))
    return sorted(paths)


def floor(paths: list[str]) -> None:
    """Read and parse every file, nothing else."""
    for path in paths:
        with open(path, encoding="utf-8") as stream:
            yaml.load(stream.read(), Loader=yaml.CSafeLoader)


def best_times(repeat: int, steps: list[tuple[str, Callable[[], object]]]) -> list[float]:
    """Fastest of ``repeat`` runs of each step, interleaved so that load from other
    processes hits every step alike; a full collection first so earlier garbage does not
    count against the next step."""
    best = [float("inf")] * len(steps)
    for _ in range(repeat):
        for index, (_, action) in enumerate(steps):
            gc.collect()
            started = time.perf_counter()
            action()
            best[index] = min(best[index], time.perf_counter() - started)
    return best


def cli_validate(folder: Path) -> None:
    """``scheduler validate --no-import-check`` in-process, output discarded."""
    from scheduler.cli import main

    with contextlib.redirect_stdout(io.StringIO()):
        code = main(["validate", "--no-import-check", str(folder)])
    if code != 0:
        raise SystemExit(f"validate failed with exit code {code}")


def run(count: int, repeat: int) -> list[tuple[str, float]]:
    """Time each step on a fresh tree; the loader is new each run, so nothing is cached."""
    with tempfile.TemporaryDirectory(prefix="bench-validate-") as tmp:
        folder = Path(tmp)
        paths = write_manifests(folder, count)
        result = ManifestLoader(import_check=False).load([folder])
        if not result.ok or len(result.jobs) != count:
            raise SystemExit(f"generated manifests did not validate: {result.problems[:3]}")
        steps: list[tuple[str, Callable[[], object]]] = [
            ("floor: read + yaml.load (CSafeLoader)", lambda: floor(paths)),
            (
                "ManifestLoader(import_check=False).load",
                lambda: ManifestLoader(import_check=False).load([folder]),
            ),
        ]
        if importlib.util.find_spec("scheduler.cli") is not None:
            steps.append(("scheduler validate --no-import-check", lambda: cli_validate(folder)))
        times = best_times(repeat, steps)
        return [(name, seconds) for (name, _), seconds in zip(steps, times, strict=True)]


def table(rows: list[tuple[str, float]], count: int) -> str:
    floor_seconds = rows[0][1]
    lines = ["| step | total (s) | per file (µs) | ratio to floor |", "|---|---:|---:|---:|"]
    for name, seconds in rows:
        per_file = seconds / count * 1e6
        lines.append(f"| {name} | {seconds:.3f} | {per_file:.1f} | {seconds / floor_seconds:.2f} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--max-ratio", type=float, default=1.5)
    args = parser.parse_args()
    rows = run(args.files, args.repeat)
    print(f"{args.files} one-job files, best of {args.repeat}, Python {sys.version.split()[0]}, "
          f"libyaml {yaml.__with_libyaml__}, {os.cpu_count()} CPUs\n")  # fmt: skip
    print(table(rows, args.files))
    worst = max(seconds for _, seconds in rows[1:]) / rows[0][1]
    print(f"\nworst ratio {worst:.2f} (limit {args.max_ratio})")
    return 0 if worst <= args.max_ratio else 1


if __name__ == "__main__":
    raise SystemExit(main())
