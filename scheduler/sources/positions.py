"""Where the parts of a parsed document were written: the index later layers ask.

Paths address the data as the loader sees it (mapping keys and list indexes); answers are
1-based ``(line, col)``. Each format has its own index (``YamlPositions``,
``TomlPositions``); a document that did not parse has ``NO_POSITIONS``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, Protocol

__all__ = [
    "NO_POSITIONS",
    "START",
    "Position",
    "PositionIndex",
    "Segment",
    "SourceKind",
]

Segment = str | int
Position = tuple[int, int]
SourceKind = Literal["yaml", "toml"]

START: Position = (1, 1)


class PositionIndex(Protocol):
    """Where the parts of a parsed document were written."""

    def locate(self, path: Sequence[Segment], *, key: bool = False) -> Position:
        """1-based (line, col) of the value at ``path``, or of its key when ``key`` is set.

        Segments the document lacks are skipped: the answer falls back to the nearest
        enclosing node, so a missing key points at the mapping that should hold it.
        """
        ...


class _NoPositions:
    """Position index of a document that did not parse: everything is at its start."""

    def locate(self, path: Sequence[Segment], *, key: bool = False) -> Position:
        return START


NO_POSITIONS: PositionIndex = _NoPositions()
