"""What a load gives back: the jobs that validated and every problem found."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from scheduler.errors import JobNotFound
from scheduler.manifest import JobSpec
from scheduler.problems import Problem, has_errors

__all__ = ["LoadResult", "LoadedJob"]


@dataclass(frozen=True, slots=True)
class LoadedJob:
    """A job that validated, with where it was defined and what it resolved to.

    ``job_id`` repeats ``spec.job_id``: a reload diffs every job of the set by id, and at
    10,000 jobs reading it through the pydantic model, one pointer chase deeper into memory
    the reload has not touched for a while, cost a few milliseconds per reload.
    """

    spec: JobSpec
    file: str
    line: int
    timezone: str
    func: Callable[..., Any] | None
    job_id: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "job_id", self.spec.job_id)  # frozen: set once, here


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
            if loaded.job_id == job_id:
                return loaded
        raise JobNotFound(job_id)
