"""Command line: validate, run, list, next, trigger, schema, history, pause, resume, plan, timeline.

Only this package prints, picks exit codes and renders problems. Exit 0 ok, 1 invalid input
or a failed job, 2 usage or settings error (3: ``plan --exit-code`` with changes).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from scheduler import __version__
from scheduler.cli import (
    commands,
    plan_commands,
    service_commands,
    store_commands,
    timeline_commands,
)
from scheduler.errors import InvalidSettings, SchedulerError
from scheduler.problems import escape_text
from scheduler.settings import load_settings

EXIT_OK = 0
EXIT_INVALID = 1
EXIT_USAGE = 2

_EPILOG = """\
settings come from the environment or .env: SCHEDULER_MANIFESTS_DIR (manifests),
SCHEDULER_TIMEZONE (UTC), SCHEDULER_ALLOWED_MODULES (jobs: the comma-separated module
prefixes a manifest's func may name, and where that function must be defined),
SCHEDULER_IMPORT_TIMEOUT (10 s), SCHEDULER_THREAD_POOL_WORKERS (10),
SCHEDULER_SHUTDOWN_GRACE (30 s), BACKGROUND_JOBS_ENABLED (true).

exit codes: 0 ok; 1 invalid manifests or a failed job; 2 usage or settings error.
"""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="scheduler",
        description="Declarative cron scheduler: jobs in YAML/TOML manifests, validated, "
        "hot-reloaded.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_validate(sub)
    service_commands.add_run(sub)
    service_commands.add_list(sub)
    commands.add_next(sub)
    service_commands.add_trigger(sub)
    commands.add_schema(sub)
    store_commands.add_history(sub)
    store_commands.add_pause(sub)
    store_commands.add_resume(sub)
    plan_commands.add_plan(sub)
    timeline_commands.add_timeline(sub)
    return parser


def _ensure_cwd_importable() -> None:
    """Let manifests name modules of the project they run in, as uvicorn and celery do."""
    cwd = os.getcwd()
    if cwd not in sys.path and "" not in sys.path:
        sys.path.insert(0, cwd)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code instead of exiting."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_request:
        return exit_request.code if isinstance(exit_request.code, int) else EXIT_USAGE
    try:
        args.settings = load_settings()
    except InvalidSettings as error:
        for message in error.messages:
            print(f"error: {escape_text(message)}", file=sys.stderr)
        return EXIT_USAGE
    _ensure_cwd_importable()
    try:
        return int(args.handler(args))
    except SchedulerError as error:
        print(f"error: {escape_text(str(error))}", file=sys.stderr)
        return EXIT_INVALID
    except BrokenPipeError:
        # the reader went away (``scheduler list | head``): not an error of ours
        sys.stderr.close()
        return EXIT_OK
