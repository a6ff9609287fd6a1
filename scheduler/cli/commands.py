"""``validate``, ``next`` and ``schema``: the commands that need no running scheduler."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from scheduler import cron
from scheduler.cli import render
from scheduler.cli.arguments import aware_datetime, positive_int
from scheduler.clock import SYSTEM_CLOCK
from scheduler.errors import InvalidCronExpression
from scheduler.loader import LoadResult, ManifestLoader
from scheduler.loader.locate import FieldLocator
from scheduler.manifest import manifest_json_schema
from scheduler.problems import escape_text, render_problem
from scheduler.review import with_congestion
from scheduler.settings import Settings
from scheduler.timezones import timezone_problem

EXIT_OK, EXIT_INVALID, EXIT_USAGE = 0, 1, 2


def add_validate(sub: Any) -> None:
    """``scheduler validate [PATH...]``."""
    parser = sub.add_parser(
        "validate",
        help="validate manifests; report every problem with its location",
        description="Validate manifests and report every problem as path:line:col. "
        "Exit 0 when valid (warnings allowed), 1 when not, 2 on a usage or settings error.",
    )
    parser.add_argument(
        "paths",
        nargs="*",
        metavar="PATH",
        help="manifest files or folders (default: SCHEDULER_MANIFESTS_DIR, 'manifests')",
    )
    parser.add_argument(
        "--format",
        choices=("text", "json", "github"),
        default="text",
        help="text lines, one JSON document, or GitHub annotations (default: text)",
    )
    parser.add_argument(
        "--no-import-check",
        action="store_true",
        help="do not import func: for CI that does not install the application (the "
        "allowlist, cron, timezone and type checks still run)",
    )
    parser.add_argument(
        "--strict", action="store_true", help="treat warnings as errors (exit 1 on any)"
    )
    parser.set_defaults(handler=run_validate)


def add_next(sub: Any) -> None:
    """``scheduler next EXPR``."""
    parser = sub.add_parser(
        "next",
        help="preview the next fire times of a cron expression",
        description="Preview a cron expression: its meaning in English and its next fire "
        "times in a zone.",
    )
    parser.add_argument("expression", metavar="EXPR", help='cron expression, e.g. "0 9 * * 1-5"')
    parser.add_argument(
        "--count", type=positive_int, default=5, help="how many fire times (default: 5)"
    )
    parser.add_argument(
        "--after",
        type=aware_datetime,
        default=None,
        help="ISO datetime to start after, exclusive; naive means UTC (default: now)",
    )
    parser.add_argument(
        "--tz", default=None, help="IANA timezone (default: SCHEDULER_TIMEZONE, 'UTC')"
    )
    parser.add_argument(
        "--format", choices=("text", "json"), default="text", help="output (default: text)"
    )
    parser.add_argument(
        "--job-id", default=None, help="the job id that resolves H fields (default: none)"
    )
    parser.set_defaults(handler=run_next)


def add_schema(sub: Any) -> None:
    """``scheduler schema``."""
    parser = sub.add_parser(
        "schema",
        help="print the manifest JSON Schema",
        description="Print the JSON Schema of a manifest file (for editors and CI).",
    )
    parser.set_defaults(handler=run_schema)


def _job_to_json(result: LoadResult) -> list[dict[str, Any]]:
    return [
        {
            "job_id": job.spec.job_id,
            "func": job.spec.func,
            "cron_expression": job.spec.cron_expression,
            "timezone": job.timezone,
            "enabled": job.spec.enabled,
            "file": job.file,
            "line": job.line,
        }
        for job in result.jobs
    ]


def run_validate(args: argparse.Namespace) -> int:
    """Validate manifests; print all problems and a summary; 0 if valid, 1 if not."""
    settings: Settings = args.settings
    if not args.paths and not settings.manifests_dir.exists():
        print(f"error: {missing_folder_message(settings.manifests_dir)}", file=sys.stderr)
        return EXIT_USAGE
    paths = [Path(path) for path in args.paths] or [settings.manifests_dir]
    loader = ManifestLoader(
        allowed_modules=settings.allowed_modules,
        default_timezone=settings.timezone,
        import_check=not args.no_import_check,
        import_timeout=settings.import_timeout_seconds,
    )
    with stdout_kept_clean():
        result = loader.load(paths)
    locate = FieldLocator().locate
    now = SYSTEM_CLOCK.now()
    result = with_congestion(result, now=now, limit=settings.congestion_limit, locate=locate)
    problems = list(result.problems)
    if args.strict:
        problems = [replace(problem, severity="error") for problem in problems]
    summary = render.summarize(result, problems)
    if args.format == "json":
        print(render.validation_json(summary, problems, _job_to_json(result)))
    elif args.format == "github":
        for problem in problems:
            print(render.github_line(problem))
        print(render.summary_line(summary))
    else:
        for problem in problems:
            print(render_problem(problem))
        print(render.summary_line(summary))
    return EXIT_OK if summary.ok else EXIT_INVALID


def missing_folder_message(folder: Path) -> str:
    """Which manifest folder is missing, and how to point at another one."""
    return (
        f"manifest folder {escape_text(str(folder))!r} does not exist (in "
        f"{escape_text(os.getcwd())}); pass --manifests DIR (validate: a PATH) or set "
        "SCHEDULER_MANIFESTS_DIR"
    )


@contextlib.contextmanager
def stdout_kept_clean() -> Iterator[None]:
    """Send what job modules print while imported to stderr, so stdout stays our output
    alone (``--format json`` must parse). File descriptor 1 is redirected as well, for
    output that bypasses ``sys.stdout``; it is put back afterwards."""
    sys.stdout.flush()
    try:
        saved = os.dup(1)
    except OSError:  # no file descriptor 1 (an embedded interpreter): Python-level only
        saved = None
    try:
        if saved is not None:
            os.dup2(2, 1)
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        sys.stderr.flush()
        if saved is not None:
            os.dup2(saved, 1)
            os.close(saved)


def run_next(args: argparse.Namespace) -> int:
    """Print the next fire times of an expression, with its English description."""
    zone = args.tz or args.settings.timezone
    problem = timezone_problem(zone)
    if problem is not None:
        print(f"error: {'--tz' if args.tz else 'SCHEDULER_TIMEZONE'}: {problem}", file=sys.stderr)
        return EXIT_USAGE
    after = args.after or SYSTEM_CLOCK.now()
    job_id = args.job_id
    try:
        resolved = cron.resolve_hashed(args.expression, job_id) if job_id else args.expression
        times = cron.next_fire_times(resolved, after=after, count=args.count, timezone=zone)
        description = cron.describe(resolved)
    except InvalidCronExpression as error:
        hint = " (give --job-id)" if cron.has_hashed_field(args.expression) and not job_id else ""
        print(f"error: {args.expression!r}: {error.reason}{hint}", file=sys.stderr)
        return EXIT_INVALID
    if args.format == "json":
        document: dict[str, Any] = {
            "expression": args.expression,
            "description": description,
            "timezone": zone,
            "next": [moment.isoformat() for moment in times],
        }
        if job_id:
            document |= {"job_id": job_id, "resolved_expression": resolved}
        print(json.dumps(document, indent=2))
        return EXIT_OK
    shown = args.expression
    if resolved != args.expression:
        shown = f"{args.expression} ({resolved} for {job_id})"
    print(f"{shown}: {description} ({zone})")
    for moment in times:
        print(f"  {moment.isoformat()}  {moment:%a}")
    return EXIT_OK


def run_schema(args: argparse.Namespace) -> int:
    """Print the manifest JSON Schema."""
    del args
    print(schema_text())
    return EXIT_OK


def schema_text() -> str:
    """The schema exactly as committed in ``schema/manifest.schema.json``."""
    return json.dumps(manifest_json_schema(), indent=2)
