"""``ManifestLoader``: files -> validated jobs, with a per-file cache and cross-file checks.

Bad input never raises here: each file contributes the jobs that validated and the
problems it has, so ``scheduler validate`` can show all of them at once and a reload can
decide all-or-nothing. A loader keeps a per-file cache keyed by content, so a reload
re-parses only files whose bytes changed; cross-file checks always run again.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

from pydantic import ValidationError

from scheduler import cron
from scheduler.loader.documents import job_entries, report_duplicate_keys, report_validation
from scheduler.loader.files import manifest_files, read_manifest
from scheduler.loader.imports import FuncChecker
from scheduler.loader.results import LoadedJob, LoadResult
from scheduler.loader.scope import FileScope, JobEntry, JobPath
from scheduler.manifest import JobSpec
from scheduler.problems import Problem, sorted_problems
from scheduler.sources import Position, SourceKind, parse_source

__all__ = ["ManifestLoader", "load_manifests"]


# Internal records are NamedTuples: created once per job per load, and a frozen
# dataclass's __init__ (object.__setattr__ per field) showed up in the benchmark.


class _Candidate(NamedTuple):
    """A job seen in a file, valid (``job`` set) or not, kept for the duplicate check."""

    job_id: str
    job: LoadedJob | None
    path: JobPath


class _FileOutcome(NamedTuple):
    """What one file contributed; cached with the bytes it came from.

    Positions are not kept: the few problems found after a file's own checks (duplicate
    job ids) re-parse its bytes, which keeps the cache small for the garbage collector.
    """

    file: str
    content: bytes
    candidates: tuple[_Candidate, ...]
    problems: tuple[Problem, ...]

    def locate(self, path: JobPath) -> Position:
        kind: SourceKind = "toml" if self.file.endswith(".toml") else "yaml"
        return parse_source(self.content, file=self.file, kind=kind).positions.locate(path)


class ManifestLoader:
    """Keeps a per-file cache so a reload re-parses only files whose bytes changed."""

    def __init__(
        self,
        *,
        allowed_modules: Sequence[str] = ("jobs",),
        default_timezone: str = "UTC",
        import_check: bool = True,
    ) -> None:
        self._default_timezone = default_timezone
        self._funcs = FuncChecker(tuple(allowed_modules), import_check=import_check)
        self._cache: dict[str, _FileOutcome] = {}
        self._parse_count = 0
        self._dst_memo: dict[tuple[str, str], tuple[str, ...]] = {}

    @property
    def parse_count(self) -> int:
        """How many files were actually parsed (cache misses), for tests of the cache."""
        return self._parse_count

    def load(self, paths: Sequence[str | Path]) -> LoadResult:
        """Load folders (recursively) and/or files; never raises for bad input."""
        if isinstance(paths, str | Path):
            paths = [paths]
        problems: list[Problem] = []
        self._dst_memo = {}
        files = manifest_files(paths, problems)
        outcomes: list[_FileOutcome] = []
        for file in files:
            content = read_manifest(file, problems)
            if content is not None:
                outcomes.append(self._outcome(file, content))
        self._cache = {outcome.file: outcome for outcome in outcomes}
        jobs = _unique_jobs(outcomes, problems)
        for outcome in outcomes:
            problems.extend(outcome.problems)
        return LoadResult(tuple(jobs), tuple(sorted_problems(problems)), tuple(files))

    def _outcome(self, file: str, content: bytes) -> _FileOutcome:
        cached = self._cache.get(file)
        if cached is not None and cached.content == content:
            return cached
        self._parse_count += 1
        kind: SourceKind = "toml" if file.endswith(".toml") else "yaml"
        parsed = parse_source(content, file=file, kind=kind)
        if parsed.data is None:
            return _FileOutcome(file, content, (), parsed.problems)
        scope = FileScope(file, parsed)
        entries = job_entries(scope, parsed.data)
        report_duplicate_keys(scope, parsed, entries)
        candidates = [self._check_job(scope, entry) for entry in entries]
        found = tuple(candidate for candidate in candidates if candidate is not None)
        return _FileOutcome(file, content, found, tuple(scope.problems))

    def _check_job(self, scope: FileScope, entry: JobEntry) -> _Candidate | None:
        """Validate one job; a candidate is returned whenever its job_id is known."""
        merged = {**entry.defaults, **entry.raw} if entry.defaults else entry.raw
        try:
            spec = JobSpec.model_validate(merged)
        except ValidationError as exc:
            job_id = entry.job_id
            report_validation(scope, exc, entry, job_id)
            if job_id is None:
                return None
            return _Candidate(job_id, None, entry.path)
        before = len(scope.problems)
        func = self._funcs.check(scope, entry, spec)
        job = None
        if len(scope.problems) == before:
            timezone = spec.timezone or self._default_timezone
            self._report_dst(scope, entry, spec, timezone)
            line = scope.positions.locate(entry.path)[0]
            job = LoadedJob(spec, scope.file, line, timezone, func)
        return _Candidate(spec.job_id, job, entry.path)

    def _report_dst(self, scope: FileScope, entry: JobEntry, spec: JobSpec, timezone: str) -> None:
        """Warn (not fail) about fixed-time jobs that land in a DST gap or fold of their zone.

        Memoized per ``load()``: many jobs share an expression and zone, and the warnings
        name dates relative to today, so they are not kept across loads.
        """
        memo_key = (spec.cron_expression, timezone)
        warnings = self._dst_memo.get(memo_key)
        if warnings is None:
            warnings = self._dst_memo[memo_key] = tuple(cron.dst_warnings(*memo_key))
        if not warnings:
            return
        where = scope.job_field_path(entry, ("cron_expression",))
        for warning in warnings:
            scope.add(
                where, warning, job_id=spec.job_id, field="cron_expression", severity="warning"
            )


def load_manifests(
    paths: Sequence[str | Path],
    *,
    allowed_modules: Sequence[str] = ("jobs",),
    default_timezone: str = "UTC",
    import_check: bool = True,
) -> LoadResult:
    """One-shot load with a fresh loader (no cache carried over)."""
    loader = ManifestLoader(
        allowed_modules=allowed_modules,
        default_timezone=default_timezone,
        import_check=import_check,
    )
    return loader.load(paths)


def _unique_jobs(outcomes: list[_FileOutcome], problems: list[Problem]) -> list[LoadedJob]:
    """Keep the first definition of each job_id (files in sorted order); flag the others."""
    seen: dict[str, tuple[_FileOutcome, _Candidate]] = {}
    jobs: list[LoadedJob] = []
    for outcome in outcomes:
        for candidate in outcome.candidates:
            first_outcome, first = seen.setdefault(candidate.job_id, (outcome, candidate))
            if first is not candidate:
                line, col = outcome.locate((*candidate.path, "job_id"))
                first_line = first_outcome.locate((*first.path, "job_id"))[0]
                where = f"{first_outcome.file}:{first_line}"
                message = f"duplicate job_id {candidate.job_id!r}; first defined at {where}"
                problems.append(
                    Problem(outcome.file, line, col, message, candidate.job_id, "job_id")
                )
            elif candidate.job is not None:
                jobs.append(candidate.job)
    return jobs
