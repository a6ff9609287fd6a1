"""Rendering problems and summaries for people (text), scripts (json) and GitHub (annotations)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from scheduler.loader import LoadResult
from scheduler.problems import Problem, escape_text, format_subject


@dataclass(frozen=True, slots=True)
class Summary:
    """Counts for the one-line summary of a validation."""

    jobs: int
    files: int
    enabled: int
    disabled: int
    errors: int
    warnings: int

    @property
    def ok(self) -> bool:
        """Whether the set is valid (warnings allowed)."""
        return self.errors == 0


def _escape_github_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_github_property(text: str) -> str:
    return _escape_github_data(text).replace(":", "%3A").replace(",", "%2C")


def github_line(problem: Problem) -> str:
    """A GitHub Actions workflow command that annotates the file at the problem's position."""
    properties = [
        f"file={_escape_github_property(escape_text(problem.file))}",
        f"line={problem.line or 1}",  # a whole-file problem annotates the first line
        f"col={problem.col or 1}",
    ]
    message = _escape_github_data(format_subject(problem))
    return f"::{problem.severity} {','.join(properties)}::{message}"


def github_command(command: str, message: str, **properties: str | int | None) -> str:
    """Any GitHub Actions workflow command (``::notice file=..,line=..::message``), escaped."""
    given = [
        f"{name}={_escape_github_property(str(value))}"
        for name, value in properties.items()
        if value is not None
    ]
    separator = " " if given else ""
    return f"::{command}{separator}{','.join(given)}::{_escape_github_data(message)}"


def problem_to_json(problem: Problem) -> dict[str, Any]:
    """A stable JSON object for one problem."""
    return {
        "file": problem.file,
        "line": problem.line,
        "col": problem.col,
        "severity": problem.severity,
        "job_id": problem.job_id,
        "field": problem.field,
        "message": problem.message,
    }


def plural(count: int, noun: str) -> str:
    """``1 job``, ``2 jobs``."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


def summary_line(summary: Summary) -> str:
    """One line: the verdict, then jobs, files, enabled and disabled."""
    counts = (
        f"{plural(summary.jobs, 'job')} in {plural(summary.files, 'file')} "
        f"({summary.enabled} enabled, {summary.disabled} disabled)"
    )
    warnings = f", {plural(summary.warnings, 'warning')}" if summary.warnings else ""
    if summary.ok:
        return f"ok: {counts}{warnings}"
    return f"invalid: {plural(summary.errors, 'error')}{warnings}; {counts}"


def validation_json(
    summary: Summary, problems: Sequence[Problem], jobs: Sequence[dict[str, Any]]
) -> str:
    """The ``--format json`` document of ``scheduler validate``."""
    document = {
        "ok": summary.ok,
        "summary": {
            "jobs": summary.jobs,
            "files": summary.files,
            "enabled": summary.enabled,
            "disabled": summary.disabled,
            "errors": summary.errors,
            "warnings": summary.warnings,
        },
        "problems": [problem_to_json(problem) for problem in problems],
        "jobs": list(jobs),
    }
    return json.dumps(document, indent=2)


def summarize(result: LoadResult, problems: Sequence[Problem] | None = None) -> Summary:
    """The counts printed under a load's problems (``problems``: as reported, e.g. with
    warnings turned into errors by ``--strict``; default the load's own)."""
    reported = result.problems if problems is None else problems
    enabled = sum(1 for job in result.jobs if job.spec.enabled)
    return Summary(
        jobs=len(result.jobs),
        files=len(result.files),
        enabled=enabled,
        disabled=len(result.jobs) - enabled,
        errors=sum(1 for problem in reported if problem.is_error),
        warnings=sum(1 for problem in reported if not problem.is_error),
    )
