"""``run``, ``list`` and ``trigger``: the commands that need the manifests loaded as jobs."""

from __future__ import annotations

import argparse
import asyncio
import difflib
import json
import logging
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from scheduler import cron
from scheduler.cli import render
from scheduler.cli.commands import missing_folder_message, stdout_kept_clean
from scheduler.cli.process_exit import finish_process, force_exit_on
from scheduler.clock import SYSTEM_CLOCK
from scheduler.cron import resolve_hashed
from scheduler.errors import JobNotFound, SchedulerError
from scheduler.loader import LoadedJob, LoadResult, ManifestLoader
from scheduler.logs import configure_logging
from scheduler.problems import Problem, escape_text, render_problem
from scheduler.records import JobView, Pause, RunStatus
from scheduler.runtime.serve import serve
from scheduler.runtime.service import SchedulerService
from scheduler.settings import Settings
from scheduler.store import store_for_settings

EXIT_OK, EXIT_INVALID, EXIT_USAGE = 0, 1, 2


def add_run(sub: Any) -> None:
    """``scheduler run``."""
    parser = sub.add_parser(
        "run",
        help="run the scheduler on a manifest folder, hot-reloading it",
        description="Load the manifest folder, refuse to start if anything is invalid, then "
        "run jobs until SIGTERM/SIGINT; edits to the folder are applied live, SIGHUP reloads.",
    )
    _add_manifests_option(parser)
    parser.add_argument(
        "--log-format",
        choices=("text", "json"),
        default="text",
        help="log lines as text or JSON objects (default: text)",
    )
    parser.add_argument(
        "--http",
        metavar="HOST:PORT",
        default=None,
        help="also serve the API, dashboard and /metrics here (':8080' is 127.0.0.1:8080; "
        "a non-loopback host needs SCHEDULER_API_TOKEN; default: no HTTP)",
    )
    parser.set_defaults(handler=run_run)


def add_list(sub: Any) -> None:
    """``scheduler list``."""
    parser = sub.add_parser(
        "list",
        help="list every job, enabled or not, with its next run",
        description="List every job of the manifests with its state, cron, next run (in "
        "the job's zone; UTC in JSON) and source. With invalid files the valid jobs are "
        "listed, then the problems, and the exit code is 1.",
    )
    _add_manifests_option(parser)
    parser.add_argument(
        "--format",
        choices=("table", "json"),
        default="table",
        help="a table for people or JSON for scripts (default: table)",
    )
    parser.set_defaults(handler=run_list)


def add_trigger(sub: Any) -> None:
    """``scheduler trigger JOB_ID``."""
    parser = sub.add_parser(
        "trigger",
        help="run one job now, once, in the foreground",
        description="Run one job now and print its outcome. Exit 0 on success, 1 if it "
        "failed (or the manifests are invalid), 2 for an unknown or disabled job.",
    )
    parser.add_argument("job_id", metavar="JOB_ID", help="the job_id of the job to run")
    _add_manifests_option(parser)
    parser.add_argument("--force", action="store_true", help="run the job even if it is disabled")
    parser.set_defaults(handler=run_trigger)


def _add_manifests_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--manifests",
        type=Path,
        default=None,
        metavar="DIR",
        help="manifest folder (default: SCHEDULER_MANIFESTS_DIR, 'manifests')",
    )


def _folder(args: argparse.Namespace) -> Path:
    settings: Settings = args.settings
    return args.manifests if args.manifests is not None else settings.manifests_dir


def _missing_folder(folder: Path) -> bool:
    """Say which folder is missing and how to point elsewhere; whether it is missing."""
    if folder.exists():
        return False
    print(f"error: {missing_folder_message(folder)}", file=sys.stderr)
    return True


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
    settings: Settings = args.settings
    configure_logging(args.log_format)
    if not settings.background_jobs_enabled:
        print("BACKGROUND_JOBS_ENABLED is false: not starting the scheduler", file=sys.stderr)
        return EXIT_OK
    folder = _folder(args)
    if _missing_folder(folder):
        return EXIT_USAGE
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
            manifests_dir=folder,
            service=service,
            on_loaded=_report_load,
            on_force_exit=force_exit_on,
            companion=companion,
        )
    )
    return finish_process(code)


# -- list ------------------------------------------------------------------------------------


def _next_run(job: LoadedJob, now: datetime) -> datetime | None:
    """The job's next fire time after ``now`` (aware, in its zone); None when disabled."""
    if not job.spec.enabled:
        return None
    times = cron.next_fire_times(
        job.spec.cron_expression, after=now, count=1, timezone=job.timezone, job_id=job.job_id
    )
    return times[0] if times else None


def _state(job: LoadedJob, pause: Pause | None) -> str:
    if not job.spec.enabled:
        return "disabled"
    if pause is None:
        return "enabled"
    why = f": {pause.reason}" if pause.reason else ""
    return f"paused by {pause.who} at {pause.paused_at:%Y-%m-%d %H:%M}Z{why}"


def _cron(job: LoadedJob) -> str:
    """The expression as written, and beside it what ``H`` resolved it to."""
    written = job.spec.cron_expression
    resolved = resolve_hashed(written, job.job_id)
    return written if resolved == written else f"{written} ({resolved})"


def _job_json(job: LoadedJob, next_run: datetime | None, pause: Pause | None) -> dict[str, Any]:
    return {
        "job_id": job.job_id,
        "func": job.spec.func,
        "cron_expression": job.spec.cron_expression,
        "resolved_expression": resolve_hashed(job.spec.cron_expression, job.job_id),
        "description": job.spec.description,
        "timezone": job.timezone,
        "enabled": job.spec.enabled,
        "paused": pause is not None,
        "pause": None
        if pause is None
        else {"paused_at": pause.paused_at.isoformat(), "who": pause.who, "reason": pause.reason},
        "next_run_at": next_run.astimezone(UTC).isoformat() if next_run else None,
        "file": job.file,
        "line": job.line,
    }


def _when(moment: datetime | None, timezone: str) -> str:
    """A fire time in the job's own zone, as people read its cron expression, with the
    zone's abbreviation in force then (``CET``, ``CEST``)."""
    if moment is None:
        return "-"
    local = moment.astimezone(ZoneInfo(timezone))
    return f"{local:%Y-%m-%d %H:%M:%S} {local.tzname() or timezone}"


def _cell(text: str) -> Text:
    """Untrusted text as a table cell: escaped, and never read as rich markup."""
    return Text(escape_text(text))


def _job_table(
    jobs: Sequence[tuple[LoadedJob, datetime | None]], folder: Path, pauses: dict[str, Pause]
) -> Table:
    """Four columns that fit 80 characters: the source sits under the job id and the zone
    under the cron expression, so no value has to be cut."""
    title = f"{render.plural(len(jobs), 'job')} in {escape_text(str(folder))}"
    table = Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False, title_justify="left")
    table.add_column("job_id / source", overflow="fold")
    table.add_column("state", overflow="fold")
    table.add_column("cron / zone", overflow="fold", min_width=14)
    table.add_column("next run", overflow="fold", min_width=23)
    for job, next_run in jobs:
        source = Text(f"{escape_text(_relative(job.file, folder))}:{job.line}", style="dim")
        table.add_row(
            Text.assemble(escape_text(job.job_id), "\n", source),
            _cell(_state(job, pauses.get(job.job_id))),
            Text.assemble(escape_text(_cron(job)), "\n", (job.timezone, "dim")),
            _cell(_when(next_run, job.timezone)),
        )
    return table


def _relative(file: str, folder: Path) -> str:
    """``file`` below ``folder`` without the folder's name, which the title shows."""
    prefix = str(folder).rstrip("/") + "/"
    return file[len(prefix) :] if file.startswith(prefix) else file


def list_console() -> Console:
    """Where the table goes: the terminal's width, or 100 columns into a pipe."""
    return Console(width=None if sys.stdout.isatty() else 100, highlight=False)


def run_list(args: argparse.Namespace) -> int:
    """Show every valid job; with problems, list them after the jobs and exit 1."""
    settings: Settings = args.settings
    folder = _folder(args)
    if _missing_folder(folder):
        return EXIT_USAGE
    loader = ManifestLoader(
        allowed_modules=settings.allowed_modules,
        default_timezone=settings.timezone,
        import_timeout=settings.import_timeout_seconds,
    )
    with stdout_kept_clean():
        result = loader.load([folder])
    now = SYSTEM_CLOCK.now()
    jobs = sorted(result.jobs, key=lambda job: job.job_id)
    pauses = _fleet_pauses(settings)
    rows = [(job, None if job.job_id in pauses else _next_run(job, now)) for job in jobs]
    if args.format == "json":
        document = [_job_json(job, run, pauses.get(job.job_id)) for job, run in rows]
        print(json.dumps(document, indent=2))
    else:
        list_console().print(_job_table(rows, folder, pauses))
    sys.stdout.flush()
    print_problems(result.problems)
    return EXIT_OK if result.ok else EXIT_INVALID


# -- trigger ---------------------------------------------------------------------------------


def _unknown_job(job_id: str, known: Sequence[str]) -> str:
    """``no job with id 'x'``, with the closest ids as suggestions."""
    close = difflib.get_close_matches(job_id, known, n=3, cutoff=0.6)
    hint = f"; did you mean {' or '.join(repr(name) for name in close)}?" if close else ""
    return f"no job with id {escape_text(repr(job_id))}{hint}"


def _runnable(service: SchedulerService, job_id: str, force: bool) -> str | None:
    """Why ``job_id`` cannot be triggered (unknown, or disabled without ``--force``)."""
    try:
        job: JobView = service.get_job(job_id)
    except JobNotFound:
        return _unknown_job(job_id, [view.job_id for view in service.get_jobs()])
    if not job.enabled and not force:
        where = f" ({job.file}:{job.line})" if job.file else ""
        return f"job {job_id!r} is disabled{where}; pass --force to run it anyway"
    return None


def _fleet_pauses(settings: Settings) -> dict[str, Pause]:
    """The fleet's pauses from the store, so ``list`` shows them; none (and a warning on
    stderr) when the store cannot be read: the listing is still worth having."""
    try:
        store = store_for_settings(settings)
        store.open()
        try:
            return store.pauses()
        finally:
            store.close()
    except SchedulerError as error:
        print(f"warning: cannot read pauses: {error}", file=sys.stderr)
        return {}


async def _trigger_once(service: SchedulerService, job_id: str) -> RunStatus:
    try:
        record = await service.trigger(job_id)
    finally:
        await service.aclose()
    duration = record.duration_seconds
    took = f" in {duration:.3f}s" if duration is not None else ""
    error = f": {escape_text(record.error)}" if record.error else ""
    print(f"{job_id}: {record.status}{took}{error}")
    return record.status


def run_trigger(args: argparse.Namespace) -> int:
    """Run one job once in the foreground and print only its outcome.

    Exit 0 on success, 1 if the job failed or the manifests are invalid, 2 if the job is
    unknown or disabled (without ``--force``). Only warnings and errors are logged, so
    the scheduler's own info lines do not bury the outcome; a failing job's traceback
    still shows.
    """
    configure_logging("text", level=logging.WARNING)
    folder = _folder(args)
    if _missing_folder(folder):
        return EXIT_USAGE
    service = SchedulerService(args.settings)
    with stdout_kept_clean():
        result = service.load([folder])
    if not result.ok:
        print_problems([problem for problem in result.problems if problem.is_error])
        return EXIT_INVALID
    refusal = _runnable(service, args.job_id, args.force)
    if refusal is not None:
        asyncio.run(service.aclose())
        print(f"error: {refusal}", file=sys.stderr)
        return EXIT_USAGE
    status = asyncio.run(_trigger_once(service, args.job_id))
    return EXIT_OK if status is RunStatus.SUCCESS else EXIT_INVALID
