"""One file's job mappings and problems, and where in the file each piece was written."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from scheduler.problems import Problem, Severity
from scheduler.sources import ParsedSource, Segment

__all__ = ["FileScope", "JobEntry", "JobPath"]

JobPath = tuple[Segment, ...]


class JobEntry(NamedTuple):
    """One job mapping of a file, with the file's (valid) defaults under it."""

    path: JobPath
    raw: dict[Any, Any]
    defaults: dict[Any, Any]

    @property
    def job_id(self) -> str | None:
        """The job's ``job_id`` when it is a string, even if the job is otherwise invalid."""
        job_id = self.raw.get("job_id")
        return job_id if isinstance(job_id, str) else None


class FileScope:
    """Problems of one file, and where its pieces are."""

    def __init__(self, file: str, parsed: ParsedSource) -> None:
        self.file = file
        self.positions = parsed.positions
        self.problems: list[Problem] = list(parsed.problems)

    def add(
        self,
        path: Sequence[Segment],
        message: str,
        *,
        key: bool = False,
        job_id: str | None = None,
        field: str | None = None,
        severity: Severity = "error",
    ) -> None:
        """Record a problem at ``path`` (at its key when ``key`` is set)."""
        line, col = self.positions.locate(path, key=key)
        self.problems.append(Problem(self.file, line, col, message, job_id, field, severity))

    def job_field_path(self, entry: JobEntry, field_path: Sequence[Segment]) -> JobPath:
        """Where a job's field was written: in the job, in ``defaults:``, or nowhere."""
        if not field_path or field_path[0] in entry.raw:
            return (*entry.path, *field_path)
        if field_path[0] in entry.defaults:
            return ("defaults", *field_path)
        return entry.path
