"""A file's data -> job entries, with its ``defaults:``, duplicate keys and pydantic errors.

Each pydantic ``loc`` is mapped to where it was written: in the job, in ``defaults:``, or
(a missing field) at the mapping that should hold it; an unknown key points at the key.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from scheduler.loader.messages import describe, error_message, unknown_field
from scheduler.loader.scope import FileScope, JobEntry
from scheduler.manifest import DEFAULTS_FIELDS, FILE_FIELDS, JOB_FIELDS, Defaults
from scheduler.problems import Problem
from scheduler.sources import ParsedSource, Segment

__all__ = ["job_entries", "report_duplicate_keys", "report_validation"]


def job_entries(scope: FileScope, data: dict[Any, Any]) -> list[JobEntry]:
    """A file is one job mapping, or ``jobs:`` (a list) with optional ``defaults:``."""
    if "jobs" not in data and "defaults" not in data:
        misnamed = _misnamed_jobs_key(data)
        if misnamed is None:
            return [JobEntry((), data, {})]
        message = f"unknown top-level key {misnamed!r}; did you mean 'jobs'?"
        scope.add((misnamed,), message, key=True, field=str(misnamed))
        return []
    for key in data:
        if key not in FILE_FIELDS:
            scope.add((key,), unknown_field(key, FILE_FIELDS), key=True, field=str(key))
    defaults = _valid_defaults(scope, data.get("defaults"))
    jobs = data.get("jobs")
    if not isinstance(jobs, list):
        message = (
            "missing required field 'jobs'" if "jobs" not in data else "expected a list of jobs"
        )
        if "jobs" in data:
            message += f", got {describe(jobs)}"
        scope.add(("jobs",), message, field="jobs")
        return []
    entries: list[JobEntry] = []
    for index, job in enumerate(jobs):
        if isinstance(job, dict):
            entries.append(JobEntry(("jobs", index), job, defaults))
        else:
            message = f"expected a job mapping, got {describe(job)}"
            scope.add(("jobs", index), message, field="jobs")
    return entries


def _misnamed_jobs_key(data: dict[Any, Any]) -> str | None:
    """A key like ``job`` (TOML ``[[job]]``) holding a list of mappings, in a file that is
    not one job: it was meant to be ``jobs``, and reading the file as one job would only
    add noise about missing fields."""
    if "job_id" in data:
        return None
    for key, value in data.items():
        is_job_list = isinstance(value, list) and all(isinstance(item, dict) for item in value)
        if is_job_list and isinstance(key, str) and key.lower() in _JOBS_MISSPELLINGS:
            return key
    return None


_JOBS_MISSPELLINGS = frozenset({"job", "jobs", "job_list", "joblist", "tasks", "task"})


def _valid_defaults(scope: FileScope, defaults: object) -> dict[Any, Any]:
    """Check ``defaults:`` once for the file; only its valid fields are applied to jobs."""
    if defaults is None:
        return {}
    if not isinstance(defaults, dict):
        scope.add(("defaults",), f"expected a mapping, got {describe(defaults)}", field="defaults")
        return {}
    try:
        Defaults.model_validate(defaults)
    except ValidationError as exc:
        bad = report_validation(scope, exc, JobEntry(("defaults",), defaults, {}), None)
        return {key: value for key, value in defaults.items() if key not in bad}
    return defaults


def report_duplicate_keys(scope: FileScope, parsed: ParsedSource, entries: list[JobEntry]) -> None:
    """Name the job and top field a duplicate key belongs to, when it is inside a job."""
    if not parsed.duplicate_keys:
        return
    job_ids = {entry.path: entry.job_id for entry in entries}
    for duplicate in parsed.duplicate_keys:
        path = duplicate.path
        job_path = path[:2] if path[:1] == ("jobs",) and len(path) > 2 else ()
        if job_path not in job_ids:
            job_path = ()
        field_path = path[len(job_path) :]
        field = str(field_path[0]) if field_path else None
        problem = Problem(
            scope.file,
            duplicate.line,
            duplicate.col,
            duplicate.message,
            job_ids.get(job_path),
            field,
        )
        scope.problems.append(problem)


def report_validation(
    scope: FileScope, exc: ValidationError, entry: JobEntry, job_id: str | None
) -> set[Any]:
    """Add one problem per pydantic error; return the top fields that had errors."""
    allowed = DEFAULTS_FIELDS if entry.path == ("defaults",) else JOB_FIELDS
    bad: set[Any] = set()
    for error in exc.errors(include_url=False):
        loc: tuple[Segment, ...] = tuple(error["loc"])
        kind = error["type"]
        field = str(loc[0]) if loc else None
        bad.add(loc[0] if loc else None)
        message = error_message(kind, loc, error, allowed)
        if kind == "missing":
            path = scope.job_field_path(entry, loc[:-1])
        else:
            path = scope.job_field_path(entry, loc)
        key = kind in ("extra_forbidden", "invalid_key")
        scope.add(path, message, key=key, job_id=job_id, field=field)
    return bad
