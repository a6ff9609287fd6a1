"""``scheduler timeline``: the upcoming runs of every enabled job, merged in time order.

Text groups the runs by hour under a bar of that hour's count, so bursts stand out; a job
running more than a few times in one hour is shown as one line (``health_check x360 until
09:59:50``) rather than hundreds. ``--format json`` gives every run as ``{job_id, at}``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

from scheduler.cli import render
from scheduler.cli.arguments import aware_datetime
from scheduler.clock import SYSTEM_CLOCK
from scheduler.loader import ManifestLoader
from scheduler.problems import render_problem
from scheduler.review import Run, Timeline, build_timeline, hourly_counts, scheduled_jobs
from scheduler.settings import load_settings

__all__ = ["add_timeline", "run_timeline", "timeline_json", "timeline_text"]

EXIT_OK, EXIT_INVALID, EXIT_USAGE = 0, 1, 2
MAX_HOURS = 24 * 366
_BAR_WIDTH = 30
_LISTED_PER_HOUR = 3  # a job with more runs than this in one hour gets one summary line


def _hours(text: str) -> int:
    try:
        hours = int(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"not a whole number of hours: {text!r}") from error
    if not 1 <= hours <= MAX_HOURS:
        raise argparse.ArgumentTypeError(f"must be 1 to {MAX_HOURS}")
    return hours


def add_timeline(sub: Any) -> None:
    """``scheduler timeline [PATH] [--from ISO] [--hours N] [--format text|json]``."""
    parser = sub.add_parser(
        "timeline", help="the upcoming runs of every enabled job, merged in time order"
    )
    parser.add_argument("path", nargs="?", type=Path, default=None, help="manifest folder or file")
    parser.add_argument(
        "--from",
        dest="start",
        type=aware_datetime,
        default=None,
        help="ISO datetime to start at (default: now; UTC unless it has an offset, which is"
        " also the offset the text shows)",
    )
    parser.add_argument("--hours", type=_hours, default=24, help="how far ahead (default 24)")
    parser.add_argument(
        "--format", choices=("text", "json"), default="text", help="output (default: text)"
    )
    parser.add_argument(
        "--no-import-check",
        action="store_true",
        help="do not import func (for CI that does not install the application)",
    )
    parser.set_defaults(handler=run_timeline)


def timeline_json(timeline: Timeline) -> str:
    """Every run as ``{"job_id", "at"}`` in time order, ``at`` in UTC."""
    return json.dumps(
        [{"job_id": run.job_id, "at": run.at.isoformat()} for run in timeline.runs], indent=2
    )


def _bar(count: int, most: int) -> str:
    if not count:
        return ""
    return "█" * max(1, round(_BAR_WIDTH * count / most))


def _hour_lines(runs: list[Run], zone: Any) -> list[str]:
    by_job: dict[str, list[Run]] = defaultdict(list)
    for run in runs:
        by_job[run.job_id].append(run)
    entries: list[tuple[datetime, str, str]] = []
    for job_id, job_runs in by_job.items():
        if len(job_runs) > _LISTED_PER_HOUR:
            last = job_runs[-1].at.astimezone(zone)
            text = f"{job_id} x{len(job_runs)} until {last:%H:%M:%S}"
            entries.append((job_runs[0].at, job_id, text))
        else:
            entries.extend((run.at, job_id, job_id) for run in job_runs)
    entries.sort()
    return [f"  {at.astimezone(zone):%H:%M:%S}  {text}" for at, _job_id, text in entries]


def timeline_text(timeline: Timeline) -> list[str]:
    """An hour per block: ``YYYY-MM-DD HH:00  bar  count``, then its runs."""
    zone = timeline.start.tzinfo
    jobs = len({run.job_id for run in timeline.runs})
    lines = [
        f"timeline {timeline.start.isoformat(timespec='minutes')} to "
        f"{timeline.end.isoformat(timespec='minutes')}: "
        f"{render.plural(len(timeline.runs), 'run')} of {render.plural(jobs, 'job')}"
    ]
    hours = hourly_counts(timeline)
    most = max((count for _hour, count in hours), default=0)
    by_hour: dict[datetime, list[Run]] = defaultdict(list)
    for run in timeline.runs:
        local = run.at.astimezone(zone)
        by_hour[local.replace(minute=0, second=0, microsecond=0)].append(run)
    for hour, count in hours:
        lines.append(f"{hour:%Y-%m-%d %H:00}  {count:>6}  {_bar(count, most)}".rstrip())
        lines.extend(_hour_lines(by_hour.get(hour, []), zone))
    if timeline.truncated:
        lines.append(f"(only the first {len(timeline.runs)} runs are shown: ask for fewer hours)")
    return lines


def run_timeline(args: argparse.Namespace) -> int:
    """Load the manifests and print their merged upcoming runs; 1 (with the problems) if
    they are invalid."""
    settings = load_settings()
    path = args.path if args.path is not None else settings.manifests_dir
    loader = ManifestLoader(
        allowed_modules=settings.allowed_modules,
        default_timezone=settings.timezone,
        import_check=not args.no_import_check,
    )
    result = loader.load([path])
    for problem in result.problems:
        print(render_problem(problem), file=sys.stderr)
    if not result.ok:
        print(render.summary_line(render.summarize(result)), file=sys.stderr)
        return EXIT_INVALID
    start = args.start or SYSTEM_CLOCK.now()
    timeline = build_timeline(scheduled_jobs(result.jobs), start=start, hours=args.hours)
    if args.format == "json":
        print(timeline_json(timeline))
    else:
        for line in timeline_text(timeline):
            print(line)
    if timeline.truncated:
        print(f"warning: timeline cut at {len(timeline.runs)} runs", file=sys.stderr)
    return EXIT_OK
