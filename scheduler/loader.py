"""Manifest folder -> files -> data -> validated jobs, with every problem located.

Bad input never raises here: each file contributes the jobs that validated and the
problems it has, so ``scheduler validate`` can show all of them at once and a reload can
decide all-or-nothing. A loader keeps a per-file cache keyed by content, so a reload
re-parses only files whose bytes changed; cross-file checks always run again.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import os
import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from pydantic import ValidationError

from scheduler import cron
from scheduler.errors import JobNotFound
from scheduler.manifest import (
    DEFAULTS_FIELDS,
    FILE_FIELDS,
    JOB_FIELDS,
    Defaults,
    JobSpec,
    split_func_path,
)
from scheduler.problems import Problem, Severity, has_errors, sorted_problems
from scheduler.sources import (
    MAX_MANIFEST_BYTES,
    ParsedSource,
    Position,
    Segment,
    SourceKind,
    parse_source,
)

__all__ = [
    "MANIFEST_SUFFIXES",
    "LoadResult",
    "LoadedJob",
    "ManifestLoader",
    "discover_manifest_files",
    "load_manifests",
]

MANIFEST_SUFFIXES = (".yaml", ".yml", ".toml")
_IGNORED_SUFFIXES = ("~", ".swp")

JobPath = tuple[Segment, ...]


@dataclass(frozen=True, slots=True)
class LoadedJob:
    """A job that validated, with where it was defined and what it resolved to."""

    spec: JobSpec
    file: str
    line: int
    timezone: str
    func: Callable[..., Any] | None


@dataclass(frozen=True, slots=True)
class LoadResult:
    """Every job that validated, every problem found, and the files read."""

    jobs: tuple[LoadedJob, ...]
    problems: tuple[Problem, ...]
    files: tuple[str, ...]

    @property
    def ok(self) -> bool:
        """Whether there is no error (warnings do not count)."""
        return not has_errors(list(self.problems))

    def job(self, job_id: str) -> LoadedJob:
        """The loaded job with this id; raises ``JobNotFound``."""
        for loaded in self.jobs:
            if loaded.spec.job_id == job_id:
                return loaded
        raise JobNotFound(job_id)


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


class _JobEntry(NamedTuple):
    """One job mapping of a file, with the file's (valid) defaults under it."""

    path: JobPath
    raw: dict[Any, Any]
    defaults: dict[Any, Any]

    @property
    def job_id(self) -> str | None:
        job_id = self.raw.get("job_id")
        return job_id if isinstance(job_id, str) else None


class _FileScope:
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
        line, col = self.positions.locate(path, key=key)
        self.problems.append(Problem(self.file, line, col, message, job_id, field, severity))

    def job_field_path(self, entry: _JobEntry, field_path: Sequence[Segment]) -> JobPath:
        """Where a job's field was written: in the job, in ``defaults:``, or nowhere."""
        if not field_path or field_path[0] in entry.raw:
            return (*entry.path, *field_path)
        if field_path[0] in entry.defaults:
            return ("defaults", *field_path)
        return entry.path


class ManifestLoader:
    """Keeps a per-file cache so a reload re-parses only files whose bytes changed."""

    def __init__(
        self,
        *,
        allowed_modules: Sequence[str] = ("jobs",),
        default_timezone: str = "UTC",
        import_check: bool = True,
    ) -> None:
        self._allowed_modules = tuple(allowed_modules)
        self._default_timezone = default_timezone
        self._import_check = import_check
        self._cache: dict[str, _FileOutcome] = {}
        self._imports: dict[str, _Resolved | str] = {}
        self._parse_count = 0
        self._allowed: dict[str, bool] = {}
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
        files = _manifest_files(paths, problems)
        outcomes: list[_FileOutcome] = []
        for file in files:
            content = _read(file, problems)
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
        scope = _FileScope(file, parsed)
        entries = _job_entries(scope, parsed.data)
        _report_duplicate_keys(scope, parsed, entries)
        candidates = [self._check_job(scope, entry) for entry in entries]
        found = tuple(candidate for candidate in candidates if candidate is not None)
        return _FileOutcome(file, content, found, tuple(scope.problems))

    def _check_job(self, scope: _FileScope, entry: _JobEntry) -> _Candidate | None:
        """Validate one job; a candidate is returned whenever its job_id is known."""
        merged = {**entry.defaults, **entry.raw} if entry.defaults else entry.raw
        try:
            spec = JobSpec.model_validate(merged)
        except ValidationError as exc:
            job_id = entry.job_id
            _report_validation(scope, exc, entry, job_id)
            if job_id is None:
                return None
            return _Candidate(job_id, None, entry.path)
        before = len(scope.problems)
        func = self._check_func(scope, entry, spec)
        job = None
        if len(scope.problems) == before:
            timezone = spec.timezone or self._default_timezone
            self._report_dst(scope, entry, spec, timezone)
            line = scope.positions.locate(entry.path)[0]
            job = LoadedJob(spec, scope.file, line, timezone, func)
        return _Candidate(spec.job_id, job, entry.path)

    def _check_func(
        self, scope: _FileScope, entry: _JobEntry, spec: JobSpec
    ) -> Callable[..., Any] | None:
        """Allowlist always; import, callable and argument binding when the check is on."""
        if not self._is_allowed(spec.func):
            allowed = ", ".join(repr(prefix) for prefix in self._allowed_modules) or "none"
            message = (
                f"module {spec.module_name!r} is outside the allowed modules ({allowed}); "
                "see SCHEDULER_ALLOWED_MODULES"
            )
            scope.add(
                scope.job_field_path(entry, ("func",)), message, job_id=spec.job_id, field="func"
            )
            return None
        if not self._import_check:
            return None
        resolved = self._imports.get(spec.func)
        if resolved is None:
            resolved = self._imports[spec.func] = _resolve(spec.func)
        if isinstance(resolved, str):
            where = scope.job_field_path(entry, ("func",))
            scope.add(where, resolved, job_id=spec.job_id, field="func")
            return None
        _report_binding(scope, entry, spec, resolved)
        return resolved.func

    def _report_dst(
        self, scope: _FileScope, entry: _JobEntry, spec: JobSpec, timezone: str
    ) -> None:
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

    def _is_allowed(self, func: str) -> bool:
        """Whether func's module is, or is inside, an allowed package (memoized per func)."""
        allowed = self._allowed.get(func)
        if allowed is None:
            module = split_func_path(func)[0]
            prefixes = self._allowed_modules
            allowed = any(module == name or module.startswith(name + ".") for name in prefixes)
            self._allowed[func] = allowed
        return allowed


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


# --- discovery ----------------------------------------------------------------------------


def discover_manifest_files(folder: Path) -> list[Path]:
    """Manifest files below ``folder``, sorted; hidden entries and editor droppings skipped."""
    return [Path(file) for file in _discover(os.fspath(folder), [])]


def _is_ignored(name: str) -> bool:
    """Hidden entries (also ConfigMap ``..data``) and droppings (``*~``, ``*.swp``, ``.#*``)."""
    return name.startswith(".") or name.endswith(_IGNORED_SUFFIXES)


def _discover(folder: str, problems: list[Problem]) -> list[str]:
    """Walk with ``os.scandir`` (strings, no ``Path``): it runs once per reload on every file.

    Symlinks to files are followed; symlinked folders are not descended into, so a link
    cycle cannot loop.
    """
    found: list[str] = []
    pending = [folder]
    while pending:
        current = pending.pop()
        try:
            with os.scandir(current) as entries:
                for entry in entries:
                    if _is_ignored(entry.name):
                        continue
                    if entry.is_dir(follow_symlinks=False):
                        pending.append(entry.path)
                    elif entry.name.endswith(MANIFEST_SUFFIXES) and entry.is_file():
                        found.append(entry.path)
        except OSError as exc:
            problems.append(Problem(current, None, None, f"cannot read folder: {exc.strerror}"))
    found.sort()
    return found


def _manifest_files(paths: Sequence[str | Path], problems: list[Problem]) -> list[str]:
    """Files to load, as the caller wrote them (relative stays relative), sorted, once each."""
    files: set[str] = set()
    for given in paths:
        path = os.fspath(given)
        if os.path.isdir(path):
            files.update(_discover(path, problems))
        elif not os.path.exists(path):
            problems.append(Problem(path, None, None, "no such file or directory"))
        elif not path.endswith(MANIFEST_SUFFIXES):
            message = "not a manifest file; expected a .yaml, .yml or .toml file"
            problems.append(Problem(path, None, None, message))
        else:
            files.add(path)
    return sorted(files)


def _read(file: str, problems: list[Problem]) -> bytes | None:
    """Read a file; of a huge one only one byte past the size limit, refused cheaply.

    ``read(n)`` allocates ``n`` bytes up front, so the bounded read is only for files whose
    size is over the limit or unknown (0: a pipe, ``/proc``); the rest are read whole.
    """
    try:
        with open(file, "rb") as stream:
            size = os.fstat(stream.fileno()).st_size
            if 0 < size <= MAX_MANIFEST_BYTES:
                return stream.read()
            return stream.read(MAX_MANIFEST_BYTES + 1)
    except OSError as exc:
        problems.append(Problem(file, None, None, f"cannot read file: {exc.strerror}"))
        return None


# --- file shapes --------------------------------------------------------------------------


def _job_entries(scope: _FileScope, data: dict[Any, Any]) -> list[_JobEntry]:
    """A file is one job mapping, or ``jobs:`` (a list) with optional ``defaults:``."""
    if "jobs" not in data and "defaults" not in data:
        return [_JobEntry((), data, {})]
    for key in data:
        if key not in FILE_FIELDS:
            scope.add((key,), _unknown_field(key, FILE_FIELDS), key=True, field=str(key))
    defaults = _valid_defaults(scope, data.get("defaults"))
    jobs = data.get("jobs")
    if not isinstance(jobs, list):
        message = (
            "missing required field 'jobs'" if "jobs" not in data else "expected a list of jobs"
        )
        if "jobs" in data:
            message += f", got {_describe(jobs)}"
        scope.add(("jobs",), message, field="jobs")
        return []
    entries: list[_JobEntry] = []
    for index, job in enumerate(jobs):
        if isinstance(job, dict):
            entries.append(_JobEntry(("jobs", index), job, defaults))
        else:
            message = f"expected a job mapping, got {_describe(job)}"
            scope.add(("jobs", index), message, field="jobs")
    return entries


def _valid_defaults(scope: _FileScope, defaults: object) -> dict[Any, Any]:
    """Check ``defaults:`` once for the file; only its valid fields are applied to jobs."""
    if defaults is None:
        return {}
    if not isinstance(defaults, dict):
        scope.add(("defaults",), f"expected a mapping, got {_describe(defaults)}", field="defaults")
        return {}
    try:
        Defaults.model_validate(defaults)
    except ValidationError as exc:
        bad = _report_validation(scope, exc, _JobEntry(("defaults",), defaults, {}), None)
        return {key: value for key, value in defaults.items() if key not in bad}
    return defaults


def _report_duplicate_keys(
    scope: _FileScope, parsed: ParsedSource, entries: list[_JobEntry]
) -> None:
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


# --- pydantic errors -> problems -----------------------------------------------------------

_EXPECTED = {
    "bool_type": "true or false (unquoted)",
    "string_type": "a string",
    "int_type": "an integer",
    "float_type": "a number",
    "list_type": "a list",
    "dict_type": "a mapping",
}
_PATTERNS = {
    "job_id": "1-128 letters, digits, '_', '.' or '-', not starting with '.' or '-'",
    "func": "a dotted import path like 'jobs.cleanup.cleanup_job' or 'jobs.cleanup:cleanup_job'",
}
_BOUNDS = {
    "greater_than_equal": ">=",
    "greater_than": ">",
    "less_than_equal": "<=",
    "less_than": "<",
}
_VALUE_ERROR_PREFIX = "Value error, "


def _report_validation(
    scope: _FileScope, exc: ValidationError, entry: _JobEntry, job_id: str | None
) -> set[Any]:
    """Add one problem per pydantic error; return the top fields that had errors."""
    allowed = DEFAULTS_FIELDS if entry.path == ("defaults",) else JOB_FIELDS
    bad: set[Any] = set()
    for error in exc.errors(include_url=False):
        loc: tuple[Segment, ...] = tuple(error["loc"])
        kind = error["type"]
        field = str(loc[0]) if loc else None
        bad.add(loc[0] if loc else None)
        message = _error_message(kind, loc, error, allowed)
        if kind == "missing":
            path = scope.job_field_path(entry, loc[:-1])
        else:
            path = scope.job_field_path(entry, loc)
        key = kind in ("extra_forbidden", "invalid_key")
        scope.add(path, message, key=key, job_id=job_id, field=field)
    return bad


def _error_message(
    kind: str, loc: tuple[Segment, ...], error: Any, allowed: Collection[str]
) -> str:
    """Say what is wrong and what is expected, in manifest words rather than pydantic's."""
    value = error.get("input")
    name = str(loc[-1]) if loc else ""
    if kind == "missing":
        return f"missing required field {name!r}"
    if kind == "extra_forbidden":
        return _unknown_field(loc[-1], allowed)
    if kind == "invalid_key":
        return f"field names must be strings, got {_describe(loc[-1])}"
    if kind in _EXPECTED:
        return f"expected {_EXPECTED[kind]}, got {_describe(value)}"
    if kind == "string_pattern_mismatch" and name in _PATTERNS:
        return f"expected {_PATTERNS[name]}, got {_describe(value)}"
    if kind in _BOUNDS:
        limit = next(iter(error.get("ctx", {}).values()), "?")
        return f"expected a value {_BOUNDS[kind]} {limit}, got {_describe(value)}"
    message = str(error["msg"])
    return message.removeprefix(_VALUE_ERROR_PREFIX)


def _unknown_field(name: object, allowed: Collection[str]) -> str:
    matches = difflib.get_close_matches(str(name), sorted(allowed), n=1)
    if matches:
        return f"unknown field {name!r}; did you mean {matches[0]!r}?"
    return f"unknown field {name!r}; expected one of: {', '.join(sorted(allowed))}"


def _describe(value: object) -> str:
    """A value as the manifest author wrote it (YAML words: null, true)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f"the string {value!r}"
    if isinstance(value, int | float):
        return f"the number {value!r}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return f"a {type(value).__name__}"


# --- func: import, callable, arguments ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Resolved:
    """An imported job callable, its signature (None: cannot tell) and how to show it."""

    func: Callable[..., Any]
    signature: inspect.Signature | None
    shown: str


def _resolve(func_path: str) -> _Resolved | str:
    """Import ``func_path``; the message of what went wrong otherwise."""
    module_name, attribute = split_func_path(func_path)
    try:
        module = importlib.import_module(module_name)
    except (Exception, SystemExit) as exc:  # any import-time failure is the manifest's problem
        return f"cannot import module {module_name!r}: {type(exc).__name__}: {exc}"
    target = getattr(module, attribute, _MISSING)
    if target is _MISSING:
        return f"module {module_name!r} has no attribute {attribute!r}"
    if not callable(target):
        return f"{func_path!r} is not callable (it is {_describe(target)})"
    try:
        signature = inspect.signature(target)
    except (TypeError, ValueError):  # some builtins have no signature: nothing to bind
        return _Resolved(target, None, attribute)
    return _Resolved(target, signature, attribute + _plain_signature(signature))


def _plain_signature(signature: inspect.Signature) -> str:
    """``(days, dry_run=False)``: annotations are noise in a manifest error."""
    empty = inspect.Parameter.empty
    parameters = [
        parameter.replace(annotation=empty) for parameter in signature.parameters.values()
    ]
    return str(signature.replace(parameters=parameters, return_annotation=empty))


_MISSING = object()
_QUOTED_NAME = re.compile(r"'([^']+)'")


def _report_binding(
    scope: _FileScope, entry: _JobEntry, spec: JobSpec, resolved: _Resolved
) -> None:
    """Bind args/kwargs to the signature now, not at 3 a.m."""
    if resolved.signature is None:
        return
    try:
        resolved.signature.bind(*spec.args, **spec.kwargs)
    except TypeError as exc:
        reason = str(exc)
        path: tuple[Segment, ...]
        if "keyword" in reason or "multiple values" in reason:
            named = _QUOTED_NAME.search(reason)
            path = ("kwargs", named.group(1)) if named else ("kwargs",)
        elif "positional" in reason or "args" in entry.raw or "kwargs" not in entry.raw:
            path = ("args",)
        else:
            path = ("kwargs",)
        message = f"arguments do not fit {resolved.shown}: {reason}"
        where = scope.job_field_path(entry, path)
        scope.add(where, message, key=len(path) > 1, job_id=spec.job_id, field=str(path[0]))


# --- warnings and cross-file checks ---------------------------------------------------------


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
