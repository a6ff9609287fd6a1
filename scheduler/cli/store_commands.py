"""``history``, ``pause`` and ``resume``: commands that read and write the state store directly.

They need no running scheduler: the store is what every scheduler process shares. Store
problems (unreachable, newer schema) print ``error: ...`` with the URL's password masked and
exit 1; a URL the store does not understand is a settings error (exit 2).
"""

from __future__ import annotations

import argparse
import difflib
import getpass
import json
import socket
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from rich.console import Console
from rich.table import Table
from rich.text import Text

from scheduler.cli import render
from scheduler.cli.arguments import positive_int
from scheduler.clock import SYSTEM_CLOCK
from scheduler.loader import ManifestLoader
from scheduler.records import RunKind, RunRecord, RunStatus
from scheduler.settings import Settings, load_settings
from scheduler.store import InvalidStoreUrl, MemoryStore, Pause, StateStore, store_for_settings

EXIT_OK, EXIT_INVALID, EXIT_USAGE = 0, 1, 2

T = TypeVar("T")


def add_history(sub: Any) -> None:
    """``scheduler history [JOB_ID]``."""
    parser = sub.add_parser("history", help="show recorded runs from the state store, newest first")
    parser.add_argument("job_id", nargs="?", metavar="JOB_ID", help="only this job's runs")
    parser.add_argument(
        "--limit", type=positive_int, default=20, metavar="N", help="at most N runs (default: 20)"
    )
    parser.add_argument(
        "--status",
        choices=[status.value for status in RunStatus],
        metavar="S",
        help=f"only runs with this status: {', '.join(status.value for status in RunStatus)}",
    )
    parser.add_argument(
        "--kind",
        choices=[kind.value for kind in RunKind],
        metavar="K",
        help=f"only runs of this kind: {', '.join(kind.value for kind in RunKind)}",
    )
    parser.add_argument(
        "--format", choices=("table", "json"), default="table", help="output (default: table)"
    )
    parser.set_defaults(handler=run_history)


def add_pause(sub: Any) -> None:
    """``scheduler pause JOB_ID [--reason TEXT]``."""
    parser = sub.add_parser("pause", help="record a pause of a job in the state store")
    parser.add_argument("job_id", metavar="JOB_ID", help="a job id from the manifests")
    parser.add_argument("--reason", default=None, help="why, shown with the pause")
    _add_manifests_option(parser)
    parser.set_defaults(handler=run_pause)


def add_resume(sub: Any) -> None:
    """``scheduler resume JOB_ID``."""
    parser = sub.add_parser("resume", help="lift a job's pause in the state store")
    parser.add_argument(
        "job_id", metavar="JOB_ID", help="a paused job (also one no longer in the manifests)"
    )
    _add_manifests_option(parser)
    parser.set_defaults(handler=run_resume)


def _add_manifests_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--manifests",
        type=Path,
        default=None,
        help="manifest folder (default: SCHEDULER_MANIFESTS_DIR)",
    )


def run_history(args: argparse.Namespace) -> int:
    """Print runs from the store as a table or a JSON list."""
    status = RunStatus(args.status) if args.status else None
    kind = RunKind(args.kind) if args.kind else None

    def query(store: StateStore) -> list[RunRecord]:
        return store.history(args.job_id, status=status, kind=kind, limit=args.limit)

    runs = _with_store(load_settings(), query)
    if runs is None:
        return EXIT_USAGE
    if args.format == "json":
        print(json.dumps([run_json(run) for run in runs], indent=2))
    elif not runs:
        print("no runs recorded" + (f" for {args.job_id!r}" if args.job_id else ""))
    else:
        Console(width=None if sys.stdout.isatty() else 200).print(_history_table(runs))
    return EXIT_OK


def run_pause(args: argparse.Namespace) -> int:
    """Pause a job named in the manifests; 1 for an id the manifests do not have."""
    settings = load_settings()
    folder = args.manifests if args.manifests is not None else settings.manifests_dir
    known, errors = _manifest_job_ids(settings, folder)
    if args.job_id not in known:
        _report_unknown(args.job_id, known, errors, folder)
        return EXIT_INVALID
    who = operator()

    def pause(store: StateStore) -> Pause:
        return store.pause(args.job_id, who=who, reason=args.reason, now=SYSTEM_CLOCK.now())

    done = _with_store(settings, pause)
    if done is None:
        return EXIT_USAGE
    print(f"paused {args.job_id!r} by {who}{_reason(done)} in {store_url(settings)}")
    return EXIT_OK


def run_resume(args: argparse.Namespace) -> int:
    """Lift a pause; works for a job no longer in the manifests, refuses an id with neither."""
    settings = load_settings()
    folder = args.manifests if args.manifests is not None else settings.manifests_dir
    known, errors = _manifest_job_ids(settings, folder)

    def resume(store: StateStore) -> tuple[Pause | None, set[str]]:
        lifted = store.resume(args.job_id)
        return lifted, set() if lifted is not None else set(store.pauses())

    done = _with_store(settings, resume)
    if done is None:
        return EXIT_USAGE
    lifted, paused = done
    if lifted is not None:
        absent = "" if args.job_id in known else f" (it is not in the manifests at {folder})"
        print(
            f"resumed {args.job_id!r}, paused since {lifted.paused_at.isoformat()} "
            f"by {lifted.who}{_reason(lifted)}{absent}"
        )
        return EXIT_OK
    if args.job_id in known:
        print(f"{args.job_id!r} was not paused")
        return EXIT_OK
    _report_unknown(args.job_id, known | paused, errors, folder)
    return EXIT_INVALID


def operator() -> str:
    """Who is pausing: ``user@host``, as the pause records it."""
    try:
        user = getpass.getuser()
    except (OSError, KeyError):  # no login name and no passwd entry (some containers)
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def store_url(settings: Settings) -> str:
    """The store's URL as shown to people (password masked)."""
    return store_for_settings(settings).url


def run_json(run: RunRecord) -> dict[str, Any]:
    """A run as ``history --format json`` prints it (a stable shape for scripts)."""
    return {
        "job_id": run.job_id,
        "run_id": run.run_id,
        "kind": run.kind.value,
        "scheduled_for": run.scheduled_for.isoformat(),
        "status": run.status.value,
        "node": run.node,
        "started_at": run.started_at.isoformat() if run.started_at else None,
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "error": run.error,
    }


def _with_store(settings: Settings, action: Callable[[StateStore], T]) -> T | None:
    """Open the store, do one thing, close it; ``None`` (reported) for a URL it cannot use.

    Other store errors propagate as ``SchedulerError``: ``main`` prints them and exits 1.
    """
    try:
        store = store_for_settings(settings)
    except InvalidStoreUrl as error:
        print(f"error: SCHEDULER_STORE_URL: {error}", file=sys.stderr)
        return None
    if isinstance(store, MemoryStore):
        print(
            "error: SCHEDULER_STORE_URL: memory:// lives inside one process; "
            "these commands need a shared store (sqlite:///PATH or postgresql+psycopg://...)",
            file=sys.stderr,
        )
        return None
    store.open()
    try:
        return action(store)
    finally:
        store.close()


def _manifest_job_ids(settings: Settings, folder: Path) -> tuple[set[str], int]:
    """The job ids the manifests define, and how many errors they have (no imports)."""
    loader = ManifestLoader(
        allowed_modules=settings.allowed_modules,
        default_timezone=settings.timezone,
        import_check=False,
    )
    result = loader.load([folder])
    errors = sum(1 for problem in result.problems if problem.is_error)
    return {job.job_id for job in result.jobs}, errors


def _report_unknown(job_id: str, known: set[str], errors: int, folder: Path) -> None:
    message = f"error: no job {job_id!r} in the manifests at {folder}"
    close = difflib.get_close_matches(job_id, sorted(known), n=3)
    if close:
        message += f"; did you mean {' or '.join(repr(name) for name in close)}?"
    if errors:
        message += f" (they have {render.plural(errors, 'error')}: run scheduler validate)"
    print(message, file=sys.stderr)


def _reason(pause: Pause) -> str:
    return f": {pause.reason}" if pause.reason else ""


def _history_table(runs: Sequence[RunRecord]) -> Table:
    table = Table(title=render.plural(len(runs), "run"))
    for column in ("scheduled for (UTC)", "job_id", "kind", "status", "took", "node", "error"):
        table.add_column(column, overflow="fold")
    for run in runs:
        took = run.duration_seconds
        error = (run.error or "").splitlines()
        table.add_row(
            run.scheduled_for.isoformat(sep=" ", timespec="seconds").removesuffix("+00:00"),
            Text(run.job_id),
            run.kind.value,
            run.status.value,
            f"{took:.3f}s" if took is not None else "-",
            Text(run.node),
            Text(error[0] if error else ""),
        )
    return table
