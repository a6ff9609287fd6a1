"""The cross-file step of a load: what each file contributed, joined into one set of jobs.

The first definition of a ``job_id`` (files in sorted order) wins and each later one is a
located problem. An :class:`Assembly` keeps the joined set between loads so that a reload
which re-read a few files patches it for those files only: at 10,000 files, passes over every
file's results were most of a hinted reload's time, and their cost grows when the reload
touches memory that sat idle since the previous one.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import NamedTuple

from scheduler.loader.results import LoadedJob
from scheduler.loader.scope import JobPath
from scheduler.problems import Problem
from scheduler.sources import Position, PositionIndex, SourceKind, parse_source

__all__ = ["Assembly", "Candidate", "FileOutcome"]


# Records are NamedTuples: created once per job per load, and a frozen dataclass's
# __init__ (object.__setattr__ per field) showed up in the benchmark.


class Candidate(NamedTuple):
    """A job seen in a file, valid (``job`` set) or not, kept for the duplicate check."""

    job_id: str
    job: LoadedJob | None
    path: JobPath


class FileOutcome(NamedTuple):
    """What one file contributed; cached with the bytes it came from.

    Positions are not kept: the few problems found after a file's own checks (duplicate
    job ids) re-parse its bytes, which keeps the cache small for the garbage collector.
    ``import_failed`` marks an outcome that must not be reused for the same bytes: a module
    that could not be imported may exist by the next load.
    """

    file: str
    content: bytes
    candidates: tuple[Candidate, ...]
    problems: tuple[Problem, ...]
    import_failed: bool = False

    def positions(self) -> PositionIndex:
        """Parse the file's bytes again, for positions; callers keep the answer per load."""
        kind: SourceKind = "toml" if self.file.endswith(".toml") else "yaml"
        return parse_source(self.content, file=self.file, kind=kind).positions


class Assembly:
    """The jobs and problems of a list of files' outcomes, patched file by file.

    ``outcomes`` lines up with the loaded file list; ``None`` marks a file that could not be
    read (its problem is reported by the load that tried).
    """

    def __init__(self, outcomes: Sequence[FileOutcome | None]) -> None:
        self._outcomes = list(outcomes)
        present = [outcome for outcome in self._outcomes if outcome is not None]
        self._counts = Counter(
            candidate.job_id for outcome in present for candidate in outcome.candidates
        )
        self._repeated = {job_id for job_id, count in self._counts.items() if count > 1}
        self._sizes = [len(_valid_jobs(outcome)) for outcome in self._outcomes]
        self._jobs = [job for outcome in present for job in _valid_jobs(outcome)]
        self._troubled = {
            index: outcome.problems
            for index, outcome in enumerate(self._outcomes)
            if outcome is not None and outcome.problems
        }
        self._unread = {index for index, outcome in enumerate(self._outcomes) if outcome is None}
        self._retry = {
            index
            for index, outcome in enumerate(self._outcomes)
            if outcome is not None and outcome.import_failed
        }

    @property
    def unread(self) -> frozenset[int]:
        """Indexes of the files that could not be read: a reload reads them again."""
        return frozenset(self._unread)

    @property
    def retry(self) -> frozenset[int]:
        """Indexes of the files whose imports failed: a reload checks them again."""
        return frozenset(self._retry)

    def replace(self, index: int, outcome: FileOutcome | None) -> None:
        """Take the new outcome of the file at ``index``; the other files stay as they were."""
        old = self._outcomes[index]
        if outcome is old:
            return
        self._outcomes[index] = outcome
        self._count(old, -1)
        self._count(outcome, +1)
        jobs = _valid_jobs(outcome)
        start = sum(self._sizes[:index])  # a C-level pass over small ints, no job touched
        self._jobs[start : start + self._sizes[index]] = jobs
        self._sizes[index] = len(jobs)
        self._troubled.pop(index, None)
        self._unread.discard(index)
        self._retry.discard(index)
        if outcome is not None and outcome.import_failed:
            self._retry.add(index)
        if outcome is None:
            self._unread.add(index)
        elif outcome.problems:
            self._troubled[index] = outcome.problems

    def jobs(self, problems: list[Problem]) -> tuple[LoadedJob, ...]:
        """Every job, first definitions only; a repeated ``job_id`` adds located problems."""
        if not self._repeated:
            return tuple(self._jobs)
        present = [outcome for outcome in self._outcomes if outcome is not None]
        return tuple(_first_definitions(present, problems))

    def problems(self) -> list[Problem]:
        """The files' own problems, in file order."""
        return [problem for index in sorted(self._troubled) for problem in self._troubled[index]]

    def _count(self, outcome: FileOutcome | None, step: int) -> None:
        for candidate in outcome.candidates if outcome is not None else ():
            count = self._counts[candidate.job_id] = self._counts[candidate.job_id] + step
            if count > 1:
                self._repeated.add(candidate.job_id)
            else:
                self._repeated.discard(candidate.job_id)


def _valid_jobs(outcome: FileOutcome | None) -> list[LoadedJob]:
    candidates: Iterable[Candidate] = outcome.candidates if outcome is not None else ()
    return [candidate.job for candidate in candidates if candidate.job is not None]


class _Locator:
    """Positions of job ids in the files of one load, each file re-parsed at most once.

    Re-parsing per duplicate made 1,000 ids repeated across two files take 40 s.
    """

    def __init__(self) -> None:
        self._indexes: dict[int, PositionIndex] = {}

    def locate(self, outcome: FileOutcome, candidate: Candidate) -> Position:
        index = self._indexes.get(id(outcome))
        if index is None:
            index = self._indexes[id(outcome)] = outcome.positions()
        return index.locate((*candidate.path, "job_id"))


def _first_definitions(outcomes: list[FileOutcome], problems: list[Problem]) -> list[LoadedJob]:
    """Keep the first definition of each job_id (files in sorted order); flag the others."""
    seen: dict[str, tuple[FileOutcome, Candidate]] = {}
    jobs: list[LoadedJob] = []
    locator = _Locator()
    for outcome in outcomes:
        for candidate in outcome.candidates:
            first_outcome, first = seen.setdefault(candidate.job_id, (outcome, candidate))
            if first is not candidate:
                line, col = locator.locate(outcome, candidate)
                first_line = locator.locate(first_outcome, first)[0]
                where = f"{first_outcome.file}:{first_line}"
                message = f"duplicate job_id {candidate.job_id!r}; first defined at {where}"
                problems.append(
                    Problem(outcome.file, line, col, message, candidate.job_id, "job_id")
                )
            elif candidate.job is not None:
                jobs.append(candidate.job)
    return jobs
