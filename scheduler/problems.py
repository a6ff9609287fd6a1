"""Located problems: bad input becomes data, not exceptions thrown across layers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with the input, with where it is.

    ``line`` and ``col`` are 1-based; either may be ``None`` when the problem has no
    position (a missing folder, an unreadable file).
    """

    file: str
    line: int | None
    col: int | None
    message: str
    job_id: str | None = None
    field: str | None = None
    severity: Severity = "error"

    @property
    def is_error(self) -> bool:
        """Whether this problem makes the input invalid (warnings do not)."""
        return self.severity == "error"

    def sort_key(self) -> tuple[str, int, int, str]:
        """Order problems by file, then position, then message."""
        return (self.file, self.line or 0, self.col or 0, self.message)


def sorted_problems(problems: list[Problem]) -> list[Problem]:
    """Return problems ordered by file, line and column."""
    return sorted(problems, key=Problem.sort_key)


def has_errors(problems: list[Problem]) -> bool:
    """Whether any problem is an error rather than a warning."""
    return any(problem.is_error for problem in problems)
