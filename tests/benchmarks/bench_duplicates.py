"""Benchmark: job ids duplicated across two files, against the same files without duplicates.

Every duplicate ``job_id`` is a located problem that names both places, so the cross-file
check needs the position of each repeated id in both files. It must stay linear: 1,000 ids
repeated across two files validate in well under a second, and the duplicate case costs at
most a small factor over the same two files with distinct ids (the baseline, measured in the
same run).

Usage::

    python tests/benchmarks/bench_duplicates.py [--jobs 250,500,1000] [--repeat 3] [--limit 1.0]

Prints a markdown table; exits 1 when the largest duplicate case takes over ``--limit``
seconds.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from scheduler.loader import ManifestLoader


def jobs_file(count: int, prefix: str) -> str:
    """One ``jobs:`` file of ``count`` jobs named ``{prefix}{index}``."""
    lines = ["jobs:"]
    for index in range(count):
        lines += [
            f"  - job_id: {prefix}{index:05d}",
            "    func: jobs.example.run",
            '    cron_expression: "*/5 * * * *"',
        ]
    return "\n".join(lines) + "\n"


def write_pair(folder: Path, count: int, *, duplicated: bool) -> None:
    """``a.yaml`` and ``b.yaml``; with ``duplicated`` both define the same ids."""
    (folder / "a.yaml").write_text(jobs_file(count, "job_"), encoding="utf-8")
    second = "job_" if duplicated else "other_"
    (folder / "b.yaml").write_text(jobs_file(count, second), encoding="utf-8")


def best_time(folder: Path, repeat: int, expected_errors: int) -> float:
    """Fastest of ``repeat`` loads by a fresh loader (nothing cached between runs)."""
    best = float("inf")
    for _ in range(repeat):
        gc.collect()
        started = time.perf_counter()
        result = ManifestLoader(import_check=False).load([folder])
        best = min(best, time.perf_counter() - started)
        errors = sum(1 for problem in result.problems if problem.is_error)
        if errors != expected_errors:
            raise SystemExit(f"expected {expected_errors} errors, got {errors}")
    return best


def run(counts: list[int], repeat: int) -> list[tuple[int, float, float]]:
    """(jobs per file, distinct ids seconds, duplicated ids seconds) per count."""
    rows = []
    for count in counts:
        times = []
        for duplicated in (False, True):
            with tempfile.TemporaryDirectory(prefix="bench-duplicates-") as tmp:
                write_pair(Path(tmp), count, duplicated=duplicated)
                times.append(best_time(Path(tmp), repeat, count if duplicated else 0))
        rows.append((count, times[0], times[1]))
    return rows


def table(rows: list[tuple[int, float, float]]) -> str:
    lines = [
        "| ids per file | distinct ids (s) | duplicated ids (s) | ratio | µs per duplicate |",
        "|---:|---:|---:|---:|---:|",
    ]
    for count, distinct, duplicated in rows:
        extra = (duplicated - distinct) / count * 1e6
        lines.append(
            f"| {count:,} | {distinct:.3f} | {duplicated:.3f} | {duplicated / distinct:.2f} "
            f"| {extra:.1f} |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", default="250,500,1000", help="comma-separated counts per file")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--limit", type=float, default=1.0, help="seconds for the largest case")
    args = parser.parse_args()
    counts = [int(part) for part in args.jobs.split(",")]
    rows = run(counts, args.repeat)
    print(f"two files, best of {args.repeat}, Python {sys.version.split()[0]}, "
          f"{os.cpu_count()} CPUs\n")  # fmt: skip
    print(table(rows))
    largest = rows[-1][2]
    print(f"\n{counts[-1]:,} duplicated ids: {largest:.3f} s (limit {args.limit} s)")
    return 0 if largest <= args.limit else 1


if __name__ == "__main__":
    raise SystemExit(main())
