"""Rendering a ``Review`` for ``scheduler plan``: text, JSON, markdown and GitHub annotations.

Values from manifests are shown JSON-quoted (text, annotations) or in code spans with their
pipes, backticks and newlines neutralised (markdown), so a description holding a newline, a
pipe or a backtick cannot forge a line or break a table. Times are shown in each job's own
zone, as its cron expression is read.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from scheduler.cli import render
from scheduler.cron import has_hashed_field
from scheduler.loader import LoadedJob
from scheduler.problems import Problem, format_location, format_subject, render_problem
from scheduler.review import CHANGE_KINDS, JobChange, Review
from scheduler.sources import Position

__all__ = ["PlanReport", "plan_github", "plan_json", "plan_markdown", "plan_text"]

Locate = Callable[[LoadedJob, str], Position]
_MARKS = {"added": "+", "changed": "~", "enabled": "+", "disabled": "-", "removed": "-"}


@dataclass(frozen=True, slots=True)
class PlanReport:
    """Everything a plan shows: what was compared, HEAD's validation, and the review.

    ``review`` is ``None`` when HEAD is invalid: a plan of a set that will not load would
    show invalid jobs as removed.
    """

    base_label: str
    head_label: str
    summary: render.Summary
    problems: tuple[Problem, ...]
    base_errors: int
    review: Review | None


def _quoted(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def _when(moment: datetime) -> str:
    spec = "seconds" if moment.second else "minutes"
    return f"{moment:%a} {moment.isoformat(sep=' ', timespec=spec)}"


def _resolved(job: LoadedJob | None) -> str | None:
    """The expression that really runs, when ``H`` makes it differ from the written one."""
    if job is None or not has_hashed_field(job.spec.cron_expression):
        return None
    return job.spec.resolved_expression


def _counts(review: Review) -> str:
    parts = [f"{review.count(kind)} {kind}" for kind in CHANGE_KINDS if review.count(kind)]
    changed = ", ".join(parts) if parts else "no changes"
    return f"{changed}; {review.unchanged} unchanged"


# --------------------------------------------------------------------------- text


def _field_text(change: JobChange, field: str, before: Any, after: Any) -> str:
    text = f"{_quoted(before)} -> {_quoted(after)}"
    if field == "cron_expression":
        resolved = _resolved(change.after)
        if resolved is not None:
            text += f" (resolves to {_quoted(resolved)})"
    return f"    {field}: {text}"


def _schedule_text(job: LoadedJob) -> str:
    resolved = _resolved(job)
    extra = f" (resolves to {_quoted(resolved)})" if resolved else ""
    return f"    runs {_quoted(job.spec.cron_expression)}{extra} in {job.timezone}"


def _change_text(change: JobChange) -> list[str]:
    job = change.job
    where = f"was {job.file}:{job.line}" if change.kind == "removed" else f"{job.file}:{job.line}"
    lines = [f"{_MARKS[change.kind]} {change.kind:<8} {change.job_id}  {where}"]
    if change.kind in ("added", "enabled"):
        lines.append(_schedule_text(job))
    lines.extend(_field_text(change, f.field, f.before, f.after) for f in change.fields)
    if change.next_before:
        lines.append("    next before: " + ", ".join(map(_when, change.next_before)))
    if change.next_after:
        lines.append("    next after:  " + ", ".join(map(_when, change.next_after)))
    return lines


def plan_text(report: PlanReport) -> list[str]:
    """Lines for people: HEAD's problems and summary exactly as ``validate`` prints them,
    then each change."""
    lines = [render_problem(problem) for problem in report.problems]
    lines.append(render.summary_line(report.summary))
    review = report.review
    if review is None:
        lines.append("plan: not computed, HEAD is invalid")
        return lines
    lines.append(f"plan: {report.head_label} against {report.base_label}: {_counts(review)}")
    if report.base_errors:
        lines.append(_base_errors_note(report.base_errors))
    for change in review.changes:
        lines.extend(_change_text(change))
    return lines


def _base_errors_note(errors: int) -> str:
    return (
        f"note: the base has {render.plural(errors, 'error')}; "
        "jobs that did not validate there are shown as added"
    )


# --------------------------------------------------------------------------- json


def _job_json(job: LoadedJob | None) -> dict[str, Any] | None:
    if job is None:
        return None
    return {
        "cron_expression": job.spec.cron_expression,
        "resolved_expression": job.spec.resolved_expression,
        "timezone": job.timezone,
        "enabled": job.spec.enabled,
        "file": job.file,
        "line": job.line,
    }


def _change_json(change: JobChange) -> dict[str, Any]:
    return {
        "kind": change.kind,
        "job_id": change.job_id,
        "before": _job_json(change.before),
        "after": _job_json(change.after),
        "fields": [
            {"field": item.field, "before": item.before, "after": item.after}
            for item in change.fields
        ],
        "next_before": [moment.isoformat() for moment in change.next_before],
        "next_after": [moment.isoformat() for moment in change.next_after],
    }


def plan_json(report: PlanReport) -> str:
    """One stable JSON document; ``changes`` is null when HEAD is invalid."""
    review = report.review
    summary = report.summary
    document: dict[str, Any] = {
        "ok": summary.ok,
        "base": report.base_label,
        "head": report.head_label,
        "validation": {
            "jobs": summary.jobs,
            "files": summary.files,
            "enabled": summary.enabled,
            "disabled": summary.disabled,
            "errors": summary.errors,
            "warnings": summary.warnings,
        },
        "problems": [render.problem_to_json(problem) for problem in report.problems],
        "base_errors": report.base_errors,
        "summary": None
        if review is None
        else {**{kind: review.count(kind) for kind in CHANGE_KINDS}, "unchanged": review.unchanged},
        "changes": None if review is None else [_change_json(c) for c in review.changes],
    }
    return json.dumps(document, indent=2)


# --------------------------------------------------------------------------- markdown


def _code(value: Any, *, table: bool = True) -> str:
    """A value as a code span that no backtick, newline or (in a table) pipe breaks out of.

    Code spans are not parsed for emphasis, so cron's ``*`` stays literal; GitHub's tables
    split cells on ``|`` even inside code spans unless it is escaped.
    """
    text = value if isinstance(value, str) else _quoted(value)
    text = text.replace("\r", "\\r").replace("\n", "\\n")
    if table:
        text = text.replace("|", "\\|")
    longest = max((len(run) for run in re.findall("`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _md_text(text: str) -> str:
    """Free text with every markdown or HTML character escaped, on one line."""
    one_line = text.replace("\r", " ").replace("\n", " ")
    return re.sub(r"([\\`*_{}\[\]()#+\-.!|<>~&])", r"\\\1", one_line)


def _md_expression(job: LoadedJob | None) -> str:
    if job is None:
        return ""
    resolved = _resolved(job)
    arrow = f" → {_code(resolved)}" if resolved else ""
    return f"{_code(job.spec.cron_expression)}{arrow}"


def _md_summary_row(change: JobChange) -> str:
    job = change.job
    where = f"{_code(f'{job.file}:{job.line}')}"
    if change.kind == "removed":
        where = f"was {where}"
    what = ", ".join(item.field for item in change.fields)
    schedule = _md_expression(change.after or change.before)
    return (
        f"| **{change.kind}** | {_code(change.job_id)} | {schedule} {job.timezone} | "
        f"{what} | {where} |"
    )


def _md_details(change: JobChange) -> list[str]:
    lines = ["", f"#### {change.kind} {_code(change.job_id)}", ""]
    if change.fields:
        lines += ["| field | before | after |", "|---|---|---|"]
        for item in change.fields:
            before, after = _code(item.before), _code(item.after)
            if item.field == "cron_expression":
                before, after = _md_expression(change.before), _md_expression(change.after)
            lines.append(f"| {item.field} | {before} | {after} |")
        lines.append("")
    rows = max(len(change.next_before), len(change.next_after))
    if rows:
        lines += [f"| next runs ({change.job.timezone}) | before | after |", "|---|---|---|"]
        for index in range(rows):
            before = _when(change.next_before[index]) if index < len(change.next_before) else ""
            after = _when(change.next_after[index]) if index < len(change.next_after) else ""
            lines.append(f"| {index + 1} | {before or '—'} | {after or '—'} |")
    return lines


def _md_problems(problems: Sequence[Problem]) -> list[str]:
    if not problems:
        return []
    lines = ["", "### Problems", ""]
    for problem in problems:
        where = _code(format_location(problem), table=False)
        lines.append(f"- **{problem.severity}** {where} {_md_text(format_subject(problem))}")
    return lines


def plan_markdown(report: PlanReport) -> list[str]:
    """A pull-request comment or GitHub job summary (``>> "$GITHUB_STEP_SUMMARY"``)."""
    title = f"## Schedule plan: {_code(report.head_label)} against {_code(report.base_label)}"
    lines = [title, "", render.summary_line(report.summary)]
    review = report.review
    if review is None:
        return [*lines, "", "**HEAD is invalid**: no plan.", *_md_problems(report.problems)]
    lines += ["", f"**{_counts(review)}**"]
    if report.base_errors:
        lines += ["", _base_errors_note(report.base_errors)]
    if review.changes:
        lines += ["", "| change | job | schedule | fields | where |", "|---|---|---|---|---|"]
        lines += [_md_summary_row(change) for change in review.changes]
        for change in review.changes:
            if change.kind != "removed":
                lines += _md_details(change)
    return [*lines, *_md_problems(report.problems)]


# --------------------------------------------------------------------------- github


def _notice(job: LoadedJob, line: int, title: str, message: str) -> str:
    return render.github_command("notice", message, file=job.file, line=line, title=title)


def _next_runs(change: JobChange) -> str:
    parts = []
    if change.next_before:
        parts.append("before: " + ", ".join(map(_when, change.next_before)))
    if change.next_after:
        parts.append("after: " + ", ".join(map(_when, change.next_after)))
    return f"; next runs {'; '.join(parts)}" if parts else ""


def _change_github(change: JobChange, locate: Locate) -> list[str]:
    title = f"schedule {change.kind}: {change.job_id}"
    job = change.job
    if change.kind == "removed":
        message = f"removed (was {job.file}:{job.line})"
        return [render.github_command("notice", message, title=title)]
    notes: list[tuple[str, str]] = []  # (field whose line is annotated, message)
    if change.kind == "added":
        notes.append(("cron_expression", _schedule_text(job).strip()))
    elif change.kind == "enabled":
        notes.append(("enabled", f"enabled, {_schedule_text(job).strip()}"))
    elif change.kind == "disabled":
        notes.append(("enabled", "disabled"))
    notes += [
        (item.field, _field_text(change, item.field, item.before, item.after).strip())
        for item in change.fields
    ]
    field, first = notes[0]
    notes[0] = (field, first + _next_runs(change))  # the next runs go on the first notice
    return [_notice(job, locate(job, field)[0], title, message) for field, message in notes]


def plan_github(report: PlanReport, locate: Locate) -> list[str]:
    """Workflow commands: HEAD's problems as ``validate --format github`` prints them, a
    notice on the line of each changed field, then the summary."""
    lines = [render.github_line(problem) for problem in report.problems]
    review = report.review
    if review is not None:
        for change in review.changes:
            lines.extend(_change_github(change, locate))
    lines.append(render.summary_line(report.summary))
    if review is not None:
        lines.append(f"plan: {report.head_label} against {report.base_label}: {_counts(review)}")
    return lines
