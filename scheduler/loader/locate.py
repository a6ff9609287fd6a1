"""Where a loaded job's fields were written, for reports about a few jobs after a load.

A load keeps only each job's own line: remembering every field's position for 10,000 jobs
would cost every load for the sake of the rare report that needs it. A review of a change
or a lint about one schedule asks here instead; the file is parsed again, once per file.
"""

from __future__ import annotations

from scheduler.loader.documents import job_entries
from scheduler.loader.files import read_manifest
from scheduler.loader.results import LoadedJob
from scheduler.loader.scope import FileScope, JobEntry
from scheduler.problems import Problem
from scheduler.sources import Position, parse_source

__all__ = ["FieldLocator"]


class FieldLocator:
    """Finds ``(line, col)`` of a job's field; caches each file's parse for the next question."""

    def __init__(self) -> None:
        self._files: dict[str, tuple[FileScope, dict[str, JobEntry]] | None] = {}

    def locate(self, job: LoadedJob, field: str) -> Position:
        """Where ``field`` of ``job`` was written: in the job, in ``defaults:``, or (neither)
        the job itself; the job's line when the file no longer reads as it did."""
        found = self._file(job.file)
        if found is None or job.job_id not in found[1]:
            return (job.line, 1)
        scope, entries = found
        entry = entries[job.job_id]
        return scope.positions.locate(scope.job_field_path(entry, (field,)))

    def _file(self, file: str) -> tuple[FileScope, dict[str, JobEntry]] | None:
        if file not in self._files:
            self._files[file] = _parse(file)
        return self._files[file]


def _parse(file: str) -> tuple[FileScope, dict[str, JobEntry]] | None:
    problems: list[Problem] = []
    content = read_manifest(file, problems)
    if content is None:
        return None
    parsed = parse_source(content, file=file, kind="toml" if file.endswith(".toml") else "yaml")
    if parsed.data is None:
        return None
    scope = FileScope(file, parsed)
    entries = {
        entry.job_id: entry for entry in job_entries(scope, parsed.data) if entry.job_id is not None
    }
    return scope, entries
