"""``scheduler plan``: what a manifest change does to the schedule, for review before merging.

``plan BASE_DIR HEAD_DIR`` compares two folders; ``plan [DIR] --base GIT_REF`` compares a
folder with its state at a git revision, read from git's objects (nothing is checked out).
HEAD is validated exactly as ``validate`` does, congestion lint included; the base is loaded
without importing anything, since its code is not what is installed. Exit 0 when HEAD is
valid, 1 when it is not, 2 on usage errors, and with ``--exit-code`` 3 when HEAD is valid
and the schedule changes (as ``git diff --exit-code`` does).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from scheduler.cli import plan_render, render
from scheduler.clock import SYSTEM_CLOCK
from scheduler.loader import LoadResult, ManifestLoader
from scheduler.loader.locate import FieldLocator
from scheduler.review import RevisionError, export_folder, review_changes, with_congestion
from scheduler.settings import Settings, load_settings

__all__ = ["EXIT_CHANGES", "add_plan", "run_plan"]

EXIT_OK, EXIT_INVALID, EXIT_USAGE, EXIT_CHANGES = 0, 1, 2, 3
_USAGE = "give BASE_DIR HEAD_DIR, or [DIR] --base GIT_REF"


def add_plan(sub: Any) -> None:
    """``scheduler plan BASE_DIR HEAD_DIR`` / ``scheduler plan [DIR] --base GIT_REF``."""
    parser = sub.add_parser(
        "plan",
        help="show what a manifest change does to the schedule (for review before merging)",
        description=f"Compare two manifest sets: {_USAGE}.",
    )
    parser.add_argument("paths", nargs="*", metavar="DIR", help="BASE_DIR HEAD_DIR, or DIR")
    parser.add_argument(
        "--base", metavar="GIT_REF", default=None, help="compare DIR with its state at GIT_REF"
    )
    parser.add_argument(
        "--format",
        choices=("text", "json", "markdown", "github"),
        default="text",
        help="output: text, json, markdown (a PR comment or job summary) or github "
        "annotations (default: text)",
    )
    parser.add_argument(
        "--exit-code",
        action="store_true",
        help="exit 3 when HEAD is valid and the schedule changes",
    )
    parser.add_argument(
        "--no-import-check",
        action="store_true",
        help="do not import func (for CI that does not install the application)",
    )
    parser.set_defaults(handler=run_plan)


def _loader(settings: Settings, *, import_check: bool) -> ManifestLoader:
    return ManifestLoader(
        allowed_modules=settings.allowed_modules,
        default_timezone=settings.timezone,
        import_check=import_check,
    )


def _relabelled(result: LoadResult, exported: str, folder: str) -> LoadResult:
    """A load of an exported copy, with its paths shown as the folder's own."""

    def label(path: str) -> str:
        relative = os.path.relpath(path, exported)
        return folder if relative == "." else os.path.join(folder, relative)

    jobs = tuple(dataclasses.replace(job, file=label(job.file)) for job in result.jobs)
    problems = tuple(
        dataclasses.replace(problem, file=label(problem.file)) for problem in result.problems
    )
    return LoadResult(jobs, problems, tuple(label(file) for file in result.files))


def _load_base(args: argparse.Namespace, settings: Settings, folder: Path) -> LoadResult:
    """The base set: a folder, or ``folder`` at ``--base``; raises ``RevisionError``."""
    loader = _loader(settings, import_check=False)
    if args.base is None:
        return loader.load([Path(args.paths[0])])
    with tempfile.TemporaryDirectory(prefix="scheduler-plan-") as exported:
        export_folder(folder, args.base, Path(exported))
        return _relabelled(loader.load([Path(exported)]), exported, os.fspath(folder))


def _folders(args: argparse.Namespace, settings: Settings) -> tuple[Path, str] | None:
    """HEAD's folder and the base's label, or ``None`` for a usage error."""
    if args.base is not None:
        if len(args.paths) > 1:
            return None
        return (Path(args.paths[0]) if args.paths else settings.manifests_dir), args.base
    if len(args.paths) != 2:
        return None
    return Path(args.paths[1]), args.paths[0]


def _print(lines: list[str]) -> None:
    for line in lines:
        print(line)


def _report(
    args: argparse.Namespace,
    settings: Settings,
    folders: tuple[Path, str],
    base: LoadResult,
) -> tuple[plan_render.PlanReport, FieldLocator]:
    """HEAD loaded as ``validate`` loads it (congestion lint included), compared with the base."""
    head_folder, base_label = folders
    now = SYSTEM_CLOCK.now()
    locator = FieldLocator()
    head = _loader(settings, import_check=not args.no_import_check).load([head_folder])
    head = with_congestion(head, now=now, limit=settings.congestion_limit, locate=locator.locate)
    review = review_changes(base.jobs, head.jobs, now=now) if head.ok else None
    base_errors = sum(1 for problem in base.problems if problem.is_error)
    report = plan_render.PlanReport(
        base_label,
        os.fspath(head_folder),
        render.summarize(head),
        head.problems,
        base_errors,
        review,
    )
    return report, locator


def run_plan(args: argparse.Namespace) -> int:
    """Compare the manifest sets, print the plan in the chosen format, pick the exit code."""
    settings = load_settings()
    folders = _folders(args, settings)
    if folders is None:
        print(f"error: scheduler plan: {_USAGE}", file=sys.stderr)
        return EXIT_USAGE
    try:
        base = _load_base(args, settings, folders[0])
    except RevisionError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    report, locator = _report(args, settings, folders, base)
    if args.format == "json":
        print(plan_render.plan_json(report))
    elif args.format == "markdown":
        _print(plan_render.plan_markdown(report))
    elif args.format == "github":
        _print(plan_render.plan_github(report, locator.locate))
    else:
        _print(plan_render.plan_text(report))
    if report.review is None:
        return EXIT_INVALID
    return EXIT_CHANGES if args.exit_code and report.review.has_changes else EXIT_OK
