"""``run``, ``list`` and ``trigger``: the commands that drive a ``SchedulerService``."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.table import Table

from scheduler.cli import render
from scheduler.cli.process_exit import finish_process, force_exit_on
from scheduler.cron import resolve_hashed
from scheduler.loader import LoadResult
from scheduler.logs import configure_logging
from scheduler.problems import Problem, render_problem
from scheduler.records import JobView, RunStatus
from scheduler.runtime.serve import serve
from scheduler.runtime.service import SchedulerService
from scheduler.settings import Settings, load_settings

EXIT_OK, EXIT_INVALID = 0, 1


def add_run(sub: Any) -> None:
    """``scheduler run``."""
    parser = sub.add_parser("run", help="run the scheduler on a manifest folder, hot-reloading it")
    _add_manifests_option(parser)
    parser.add_argument("--log-format", choices=("text", "json"), default="text")
    parser.add_argument(
        "--http",
        metavar="HOST:PORT",
        default=None,
        help="also serve the API, dashboard and /metrics here (':8080' is 127.0.0.1:8080; "
        "a non-loopback host needs SCHEDULER_API_TOKEN)",
    )
    parser.set_defaults(handler=run_run)


def add_list(sub: Any) -> None:
    """``scheduler list``."""
    parser = sub.add_parser("list", help="list every job, enabled or not, with its next run")
    _add_manifests_option(parser)
    parser.add_argument("--format", choices=("table", "json"), default="table")
    parser.set_defaults(handler=run_list)


def add_trigger(sub: Any) -> None:
    """``scheduler trigger JOB_ID``."""
    parser = sub.add_parser("trigger", help="run one job now, once, in the foreground")
    parser.add_argument("job_id", metavar="JOB_ID")
    _add_manifests_option(parser)
    parser.set_defaults(handler=run_trigger)


def _add_manifests_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--manifests",
        type=Path,
        default=None,
        help="manifest folder (default: SCHEDULER_MANIFESTS_DIR)",
    )


def _folder(args: argparse.Namespace, settings: Settings) -> Path:
    return args.manifests if args.manifests is not None else settings.manifests_dir


def print_problems(problems: Sequence[Problem]) -> None:
    """Every problem, located, on stderr (the command's output stays clean)."""
    for problem in problems:
        print(render_problem(problem), file=sys.stderr)


def _report_load(result: LoadResult) -> None:
    print_problems(result.problems)
    if not result.ok:
        errors = sum(1 for problem in result.problems if problem.is_error)
        print(
            f"refusing to start: {render.plural(errors, 'error')} in the manifests", file=sys.stderr
        )


def run_run(args: argparse.Namespace) -> int:
    """Load, validate, start and stay up until SIGTERM/SIGINT; 1 if the manifests are invalid."""
    settings = load_settings()
    configure_logging(args.log_format)
    if not settings.background_jobs_enabled:
        print("BACKGROUND_JOBS_ENABLED is false: not starting the scheduler", file=sys.stderr)
        return EXIT_OK
    service = SchedulerService(settings)
    companion = None
    if args.http is not None:
        from scheduler.cli.http_option import http_companion_for  # loads the web framework

        served = http_companion_for(args.http, settings, service)
        if isinstance(served, int):
            return served
        companion = served
    code = asyncio.run(
        serve(
            settings,
            manifests_dir=_folder(args, settings),
            service=service,
            on_loaded=_report_load,
            on_force_exit=force_exit_on,
            companion=companion,
        )
    )
    return finish_process(code)


def _loaded_service(args: argparse.Namespace) -> tuple[SchedulerService, LoadResult]:
    settings = load_settings()
    service = SchedulerService(settings)
    result = service.load([_folder(args, settings)])
    print_problems(result.problems)
    return service, result


def _state(job: JobView) -> str:
    if not job.enabled:
        return "disabled"
    if job.pause is not None:
        why = f": {job.pause.reason}" if job.pause.reason else ""
        return f"paused by {job.pause.who} at {job.pause.paused_at:%Y-%m-%d %H:%M}Z{why}"
    return "paused" if job.paused else "enabled"


def _when(moment: datetime | None, timezone: str) -> str:
    """A fire time in the job's own zone, as people read its cron expression."""
    return moment.astimezone(ZoneInfo(timezone)).isoformat() if moment is not None else "-"


def _cron(job: JobView) -> str:
    """The expression as written, and beside it what ``H`` resolved it to."""
    resolved = resolve_hashed(job.cron_expression, job.job_id)
    return (
        job.cron_expression
        if resolved == job.cron_expression
        else f"{job.cron_expression} ({resolved})"
    )


def _job_json(job: JobView) -> dict[str, Any]:
    return {
        "job_id": job.job_id,
        "func": job.func,
        "cron_expression": job.cron_expression,
        "resolved_expression": resolve_hashed(job.cron_expression, job.job_id),
        "description": job.description,
        "timezone": job.timezone,
        "enabled": job.enabled,
        "paused": job.paused,
        "pause": None
        if job.pause is None
        else {
            "paused_at": job.pause.paused_at.isoformat(),
            "who": job.pause.who,
            "reason": job.pause.reason,
        },
        "next_run_at": job.next_run_at.isoformat() if job.next_run_at else None,
        "file": job.file,
        "line": job.line,
    }


def _job_table(jobs: Sequence[JobView]) -> Table:
    table = Table(title=f"{render.plural(len(jobs), 'job')}")
    for column in ("job_id", "state", "cron", "timezone", "next run", "source", "description"):
        table.add_column(column, overflow="fold")
    for job in jobs:
        source = f"{job.file}:{job.line}" if job.file else "(code)"
        table.add_row(
            job.job_id,
            _state(job),
            _cron(job),
            job.timezone,
            _when(job.next_run_at, job.timezone),
            source,
            job.description or "",
        )
    return table


def run_list(args: argparse.Namespace) -> int:
    """Show every job; 1 (with the problems) if the manifests are invalid."""
    service, result = _loaded_service(args)
    if not result.ok:
        return EXIT_INVALID
    asyncio.run(_read_pauses(service))
    jobs = sorted(service.get_jobs(), key=lambda job: job.job_id)
    if args.format == "json":
        print(json.dumps([_job_json(job) for job in jobs], indent=2))
    else:
        console = Console(width=None if sys.stdout.isatty() else 200)
        console.print(_job_table(jobs))
    return EXIT_OK


async def _read_pauses(service: SchedulerService) -> None:
    """The fleet's pauses, from the store, so ``list`` shows them; then let the store go."""
    try:
        await service.refresh_pauses()
    finally:
        await service.aclose(0)


async def _trigger_once(service: SchedulerService, job_id: str) -> RunStatus:
    try:
        record = await service.trigger(job_id)
    finally:
        await service.aclose()
    duration = record.duration_seconds
    took = f" in {duration:.3f}s" if duration is not None else ""
    error = f": {record.error}" if record.error else ""
    print(f"{job_id}: {record.status}{took}{error}")
    return record.status


def run_trigger(args: argparse.Namespace) -> int:
    """Run one job once in the foreground; exit 0 on success, 1 otherwise."""
    configure_logging("text")
    service, result = _loaded_service(args)
    if not result.ok:
        return EXIT_INVALID
    status = asyncio.run(_trigger_once(service, args.job_id))
    return EXIT_OK if status is RunStatus.SUCCESS else EXIT_INVALID
