"""``validate``, ``next`` and ``schema``: the commands that need no running scheduler."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from scheduler import cron
from scheduler.cli import render
from scheduler.clock import SYSTEM_CLOCK
from scheduler.errors import InvalidCronExpression
from scheduler.loader import LoadResult, ManifestLoader
from scheduler.manifest import manifest_json_schema
from scheduler.problems import render_problem
from scheduler.settings import load_settings
from scheduler.timezones import timezone_problem

EXIT_OK, EXIT_INVALID, EXIT_USAGE = 0, 1, 2


def add_validate(sub: Any) -> None:
    """``scheduler validate [PATH...]``."""
    parser = sub.add_parser(
        "validate", help="validate manifests; report every problem with its location"
    )
    parser.add_argument(
        "paths", nargs="*", metavar="PATH", help="files or folders (default: the manifest folder)"
    )
    parser.add_argument("--format", choices=("text", "json", "github"), default="text")
    parser.add_argument(
        "--no-import-check",
        action="store_true",
        help="do not import func (for CI that does not install the application)",
    )
    parser.set_defaults(handler=run_validate)


def add_next(sub: Any) -> None:
    """``scheduler next EXPR``."""
    parser = sub.add_parser("next", help="preview the next fire times of a cron expression")
    parser.add_argument("expression", metavar="EXPR")
    parser.add_argument("--count", type=_positive_int, default=5)
    parser.add_argument(
        "--after", type=_aware_datetime, default=None, help="ISO datetime (default: now)"
    )
    parser.add_argument("--tz", default=None, help="IANA timezone (default: SCHEDULER_TIMEZONE)")
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.set_defaults(handler=run_next)


def add_schema(sub: Any) -> None:
    """``scheduler schema``."""
    parser = sub.add_parser("schema", help="print the manifest JSON Schema")
    parser.set_defaults(handler=run_schema)


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _aware_datetime(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"not an ISO datetime: {text!r}") from error
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _summarize(result: LoadResult) -> render.Summary:
    enabled = sum(1 for job in result.jobs if job.spec.enabled)
    return render.Summary(
        jobs=len(result.jobs),
        files=len(result.files),
        enabled=enabled,
        disabled=len(result.jobs) - enabled,
        errors=sum(1 for problem in result.problems if problem.is_error),
        warnings=sum(1 for problem in result.problems if not problem.is_error),
    )


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
    settings = load_settings()
    paths = [Path(path) for path in args.paths] or [settings.manifests_dir]
    loader = ManifestLoader(
        allowed_modules=settings.allowed_modules,
        default_timezone=settings.timezone,
        import_check=not args.no_import_check,
    )
    result = loader.load(paths)
    summary = _summarize(result)
    if args.format == "json":
        print(render.validation_json(summary, result.problems, _job_to_json(result)))
    elif args.format == "github":
        for problem in result.problems:
            print(render.github_line(problem))
        print(render.summary_line(summary))
    else:
        for problem in result.problems:
            print(render_problem(problem))
        print(render.summary_line(summary))
    return EXIT_OK if summary.ok else EXIT_INVALID


def run_next(args: argparse.Namespace) -> int:
    """Print the next fire times of an expression, with its English description."""
    zone = args.tz or load_settings().timezone
    problem = timezone_problem(zone)
    if problem is not None:
        print(f"error: {'--tz' if args.tz else 'SCHEDULER_TIMEZONE'}: {problem}", file=sys.stderr)
        return EXIT_USAGE
    after = args.after or SYSTEM_CLOCK.now()
    try:
        times = cron.next_fire_times(args.expression, after=after, count=args.count, timezone=zone)
        description = cron.describe(args.expression)
    except InvalidCronExpression as error:
        print(f"error: {args.expression!r}: {error.reason}", file=sys.stderr)
        return EXIT_INVALID
    if args.format == "json":
        document = {
            "expression": args.expression,
            "description": description,
            "timezone": zone,
            "next": [moment.isoformat() for moment in times],
        }
        print(json.dumps(document, indent=2))
        return EXIT_OK
    print(f"{args.expression}: {description} ({zone})")
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
