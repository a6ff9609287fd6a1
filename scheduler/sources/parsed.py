"""What parsing a manifest gives back: data, positions, problems and duplicate keys."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

from scheduler.problems import Problem
from scheduler.sources.positions import NO_POSITIONS, PositionIndex, Segment

__all__ = ["DuplicateKey", "ParsedSource", "failed"]


@dataclass(frozen=True, slots=True)
class DuplicateKey:
    """A key written twice in one mapping; the last value wins, so this is an error."""

    path: tuple[Segment, ...]
    line: int
    col: int
    first_line: int

    @property
    def message(self) -> str:
        """The problem text, naming the key and where it was first written."""
        return f"duplicate key {self.path[-1]!r}; first defined at line {self.first_line}"


class ParsedSource(NamedTuple):
    """A parsed manifest: ``data`` is None when the file cannot be used at all."""

    data: dict[Any, Any] | None
    positions: PositionIndex
    problems: tuple[Problem, ...] = ()
    duplicate_keys: tuple[DuplicateKey, ...] = ()


def failed(problem: Problem) -> ParsedSource:
    """A file that cannot be used at all, for this one reason."""
    return ParsedSource(None, NO_POSITIONS, (problem,))
