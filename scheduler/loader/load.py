"""``ManifestLoader``: files -> validated jobs, with a per-file cache and cross-file checks.

Bad input never raises here: each file contributes the jobs that validated and the
problems it has, so ``scheduler validate`` can show all of them at once and a reload can
decide all-or-nothing. A loader keeps a per-file cache keyed by content, so a reload
re-parses only files whose bytes changed; cross-file checks always run again.

A reload that knows which paths changed (the watcher does) can say so: the loader then
reuses its last file list and cached results and reads only those paths, instead of
listing, reading and comparing every file of the folder (about 100 ms at 10,000 files).
The result is the one a full load would give, as long as nothing else changed; whenever
the hint cannot be applied exactly (a folder changed, the folder is gone, several paths
were given) it does the full load instead.
"""

from __future__ import annotations

import bisect
import os
import threading
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import NamedTuple

from pydantic import ValidationError

from scheduler import cron
from scheduler.loader.assembly import Assembly, Candidate, FileOutcome
from scheduler.loader.documents import job_entries, report_duplicate_keys, report_validation
from scheduler.loader.files import (
    NO_MANIFESTS,
    listed_name,
    manifest_files,
    read_manifest,
    would_discover,
)
from scheduler.loader.importing import DEFAULT_IMPORT_TIMEOUT
from scheduler.loader.imports import FuncChecker
from scheduler.loader.results import LoadedJob, LoadResult
from scheduler.loader.scope import FileScope, JobEntry
from scheduler.manifest import JobSpec
from scheduler.problems import Problem, has_errors, sorted_problems
from scheduler.sources import SourceKind, parse_source

__all__ = ["ManifestLoader", "load_manifests"]


class _Listing(NamedTuple):
    """The last load of one folder, sorted, with what each file gave: a hinted reload's base."""

    folder: str
    files: tuple[str, ...]
    assembly: Assembly
    warnings: tuple[Problem, ...]  # about the listing (skipped files): repeated when reused


class ManifestLoader:
    """Keeps a per-file cache so a reload re-parses only files whose bytes changed.

    ``load`` may be called from any thread (the running scheduler loads off its event
    loop); calls are serialized. A file whose job modules failed to import is never taken
    from the cache: the next load imports again. ``import_timeout`` bounds each module's
    import (``SCHEDULER_IMPORT_TIMEOUT``).
    """

    def __init__(
        self,
        *,
        allowed_modules: Sequence[str] = ("jobs",),
        default_timezone: str = "UTC",
        import_check: bool = True,
        import_timeout: float = DEFAULT_IMPORT_TIMEOUT,
    ) -> None:
        self._default_timezone = default_timezone
        self._funcs = FuncChecker(
            tuple(allowed_modules), import_check=import_check, import_timeout=import_timeout
        )
        self._lock = threading.Lock()
        self._cache: dict[str, FileOutcome] = {}
        self._listing: _Listing | None = None
        self._parse_count = 0
        self._dst_memo: dict[tuple[str, str], tuple[str, ...]] = {}

    @property
    def parse_count(self) -> int:
        """How many files were actually parsed (cache misses), for tests of the cache."""
        return self._parse_count

    def load(
        self, paths: Sequence[str | Path], *, changed: Collection[str | Path] | None = None
    ) -> LoadResult:
        """Load folders (recursively) and/or files; never raises for bad input.

        ``changed`` names the only paths that changed since the previous load of the same
        single folder (from a watcher): only those are read again. Without it, or when the
        hint cannot be applied exactly, the folder is listed and every file read.
        """
        if isinstance(paths, str | Path):
            paths = [paths]
        with self._lock:  # one load at a time: the cache and listing are shared state
            return self._load(paths, changed)

    def _load(
        self, paths: Sequence[str | Path], changed: Collection[str | Path] | None
    ) -> LoadResult:
        self._dst_memo = {}
        self._funcs.begin_load()
        problems: list[Problem] = []
        listing = self._load_changed(paths, changed, problems) if changed is not None else None
        if listing is None:
            listing = self._load_all(paths, problems)
        else:
            problems.extend(listing.warnings)
            if not listing.files:
                problems.append(
                    Problem(listing.folder, None, None, NO_MANIFESTS, severity="warning")
                )
        jobs = listing.assembly.jobs(problems)
        problems.extend(listing.assembly.problems())
        return LoadResult(jobs, tuple(sorted_problems(problems)), listing.files)

    def _load_all(self, paths: Sequence[str | Path], problems: list[Problem]) -> _Listing:
        """List the paths, read every file and parse those whose bytes changed."""
        files = tuple(manifest_files(paths, problems))
        reusable = len(paths) == 1 and not has_errors(problems) and os.path.isdir(paths[0])
        warnings = tuple(problem for problem in problems if problem.message != NO_MANIFESTS)
        found = [self._read(file, problems) for file in files]
        self._cache = {outcome.file: outcome for outcome in found if outcome is not None}
        folder = os.fspath(paths[0]) if paths else ""
        listing = _Listing(folder, files, Assembly(found), warnings)
        self._listing = listing if reusable else None
        return listing

    def _load_changed(
        self, paths: Sequence[str | Path], changed: Collection[str | Path], problems: list[Problem]
    ) -> _Listing | None:
        """The last load with ``changed`` applied; ``None`` when only a full load can tell.

        Files that could not be read last time are read again too, as a full load would.
        """
        listing = self._listing
        if listing is None or [os.fspath(path) for path in paths] != [listing.folder]:
            return None
        if not os.path.isdir(listing.folder):
            return None  # a missing folder is a problem only a full load reports
        update = _apply_changes(listing.folder, listing.files, changed)
        if update is None:
            return None
        files, reread = update
        if files is listing.files:  # an edit: patch the assembly for the files read again
            assembly = listing.assembly
            stale = {bisect.bisect_left(files, file) for file in reread}
            stale |= assembly.unread | assembly.retry
            for index in sorted(stale):
                assembly.replace(index, self._reread(files[index], problems))
            return listing
        for file in set(listing.files).difference(files):
            self._cache.pop(file, None)
        found = [self._cache.get(file) for file in files]
        for index, file in enumerate(files):
            outcome = found[index]
            if outcome is None or outcome.import_failed or file in reread:
                found[index] = self._reread(file, problems)
        self._listing = _Listing(listing.folder, files, Assembly(found), listing.warnings)
        return self._listing

    def _read(self, file: str, problems: list[Problem]) -> FileOutcome | None:
        content = read_manifest(file, problems)
        return None if content is None else self._outcome(file, content)

    def _reread(self, file: str, problems: list[Problem]) -> FileOutcome | None:
        """``_read``, keeping the cache in step (a full load rebuilds it instead)."""
        outcome = self._read(file, problems)
        if outcome is None:
            self._cache.pop(file, None)
        else:
            self._cache[file] = outcome
        return outcome

    def _outcome(self, file: str, content: bytes) -> FileOutcome:
        cached = self._cache.get(file)
        if cached is not None and cached.content == content and not cached.import_failed:
            return cached
        self._parse_count += 1
        kind: SourceKind = "toml" if file.endswith(".toml") else "yaml"
        parsed = parse_source(content, file=file, kind=kind)
        if parsed.data is None:
            return FileOutcome(file, content, (), parsed.problems)
        scope = FileScope(file, parsed)
        entries = job_entries(scope, parsed.data)
        report_duplicate_keys(scope, parsed, entries)
        failed_before = self._funcs.failed_imports
        candidates = [self._check_job(scope, entry) for entry in entries]
        found = tuple(candidate for candidate in candidates if candidate is not None)
        import_failed = self._funcs.failed_imports != failed_before
        return FileOutcome(file, content, found, tuple(scope.problems), import_failed)

    def _check_job(self, scope: FileScope, entry: JobEntry) -> Candidate | None:
        """Validate one job; a candidate is returned whenever its job_id is known."""
        merged = {**entry.defaults, **entry.raw} if entry.defaults else entry.raw
        try:
            spec = JobSpec.model_validate(merged)
        except ValidationError as exc:
            job_id = entry.job_id
            bad = report_validation(scope, exc, entry, job_id)
            func_path = merged.get("func")
            if "func" not in bad and isinstance(func_path, str):  # report its problems too
                self._funcs.check(scope, entry, func_path, job_id, None)
            if job_id is None:
                return None
            return Candidate(job_id, None, entry.path)
        before = len(scope.problems)
        arguments = (spec.args, spec.kwargs)
        func = self._funcs.check(scope, entry, spec.func, spec.job_id, arguments)
        job = None
        if len(scope.problems) == before:
            timezone = spec.timezone or self._default_timezone
            self._report_dst(scope, entry, spec, timezone)
            line = scope.positions.locate(entry.path)[0]
            job = LoadedJob(spec, scope.file, line, timezone, func)
        return Candidate(spec.job_id, job, entry.path)

    def _report_dst(self, scope: FileScope, entry: JobEntry, spec: JobSpec, timezone: str) -> None:
        """Warn (not fail) about fixed-time jobs that land in a DST gap or fold of their zone.

        Memoized per ``load()``: many jobs share an expression and zone, and the warnings
        name dates relative to today, so they are not kept across loads.
        """
        memo_key = (spec.resolved_expression, timezone)
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
    import_timeout: float = DEFAULT_IMPORT_TIMEOUT,
) -> LoadResult:
    """One-shot load with a fresh loader (no cache carried over)."""
    loader = ManifestLoader(
        allowed_modules=allowed_modules,
        default_timezone=default_timezone,
        import_check=import_check,
        import_timeout=import_timeout,
    )
    return loader.load(paths)


def _apply_changes(
    folder: str, files: tuple[str, ...], changed: Collection[str | Path]
) -> tuple[tuple[str, ...], set[str]] | None:
    """The sorted file list after ``changed`` (``files`` itself when no file came or went),
    and the files to read again; ``None`` when only a walk of the folder can tell."""
    added: list[str] = []
    gone: set[str] = set()
    reread: set[str] = set()
    for path in changed:
        file = listed_name(folder, os.fspath(path))
        if file is None or _holds_listed_files(files, file):
            return None  # the folder itself, a path outside it, or a folder that held files
        listed = would_discover(folder, file)
        if listed is None:
            return None  # now a folder: only a walk can tell what it holds
        if listed:
            reread.add(file)
            if not _is_listed(files, file):
                added.append(file)
        elif _is_listed(files, file):
            gone.add(file)
    if added or gone:
        files = tuple(sorted({*files, *added} - gone))
    return files, reread


def _is_listed(files: tuple[str, ...], file: str) -> bool:
    """Whether ``file`` is in the sorted ``files``."""
    index = bisect.bisect_left(files, file)
    return index < len(files) and files[index] == file


def _holds_listed_files(files: tuple[str, ...], folder: str) -> bool:
    """Whether the sorted ``files`` has a file below ``folder`` (a folder deleted, say)."""
    prefix = folder.rstrip(os.sep) + os.sep
    index = bisect.bisect_left(files, prefix)
    return index < len(files) and files[index].startswith(prefix)
