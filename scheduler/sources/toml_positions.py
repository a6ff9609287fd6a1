"""Positions in TOML text, found by scanning its lines (tomllib keeps none)."""

from __future__ import annotations

import re
from collections.abc import Sequence

from scheduler.sources.positions import START, Position, Segment

__all__ = ["TomlPositions"]

_TOML_KEY = r"""(?:[A-Za-z0-9_-]+|"(?:[^"\\]|\\.)*"|'[^']*')"""
_TOML_DOTTED = rf"{_TOML_KEY}(?:[ \t]*\.[ \t]*{_TOML_KEY})*"
_TOML_ARRAY_HEADER = re.compile(rf"([ \t]*)\[\[[ \t]*({_TOML_DOTTED})[ \t]*\]\]")
_TOML_TABLE_HEADER = re.compile(rf"([ \t]*)\[[ \t]*({_TOML_DOTTED})[ \t]*\]")
_TOML_ASSIGNMENT = re.compile(rf"([ \t]*)({_TOML_DOTTED})[ \t]*=[ \t]*")
_TOML_KEY_PART = re.compile(_TOML_KEY)
_TOML_STRING = re.compile(r""""(?:[^"\\]|\\.)*"|'[^']*'""")


def _toml_segments(dotted: str) -> list[str]:
    parts = _TOML_KEY_PART.findall(dotted)
    return [part[1:-1] if part[:1] in "\"'" else part for part in parts]


def _bracket_depth(value: str) -> int:
    """Open brackets left on a line of TOML value text (strings and comments ignored)."""
    code = _TOML_STRING.sub('""', value).split("#", 1)[0]
    return code.count("[") + code.count("{") - code.count("]") - code.count("}")


class TomlPositions:
    """Positions of a TOML document, found by scanning its lines.

    tomllib keeps no positions, so this scan reads table headers (``[defaults]``,
    ``[[jobs]]``, ``[jobs.kwargs]``) and ``key = value`` lines, skipping the insides of
    multi-line strings and arrays. It runs only on text tomllib accepted, and values inside
    inline tables or arrays fall back to the position of the key holding them.
    """

    __slots__ = ("_array_counts", "_keys", "_tables")

    def __init__(self, text: str) -> None:
        self._keys: dict[tuple[Segment, ...], tuple[Position, Position]] = {}
        self._tables: dict[tuple[Segment, ...], Position] = {}
        self._array_counts: dict[tuple[Segment, ...], int] = {}
        self._scan(text)

    def locate(self, path: Sequence[Segment], *, key: bool = False) -> Position:
        """See ``PositionIndex.locate``."""
        full = tuple(path)
        for end in range(len(full), -1, -1):
            prefix = full[:end]
            entry = self._keys.get(prefix)
            if entry is not None:
                return entry[0] if key and end == len(full) else entry[1]
            header = self._tables.get(prefix)
            if header is not None:
                return header
        return START

    def _scan(self, text: str) -> None:
        table: tuple[Segment, ...] = ()
        closing: str | None = None
        depth = 0
        for number, line in enumerate(text.split("\n"), start=1):
            if closing is not None:
                closing = None if closing in line else closing
                continue
            if depth > 0:
                depth += _bracket_depth(line)
                continue
            assignment = _TOML_ASSIGNMENT.match(line)
            if assignment is not None:
                value = line[assignment.end() :]
                self._record_key(table, assignment, number)
                closing, depth = _continuation(value)
            else:
                table = self._header(line, number, table)

    def _record_key(self, table: tuple[Segment, ...], match: re.Match[str], number: int) -> None:
        segments = _toml_segments(match.group(2))
        key_position = (number, len(match.group(1)) + 1)
        value_position = (number, match.end() + 1)
        if not self._keys and not table:
            self._tables.setdefault((), key_position)
        for end in range(1, len(segments)):
            self._keys.setdefault((*table, *segments[:end]), (key_position, key_position))
        self._keys[(*table, *segments)] = (key_position, value_position)

    def _header(self, line: str, number: int, table: tuple[Segment, ...]) -> tuple[Segment, ...]:
        """Follow ``[table]`` and ``[[array]]`` headers; anything else keeps the table."""
        array = _TOML_ARRAY_HEADER.match(line)
        if array is not None:
            segments = _toml_segments(array.group(2))
            name = (*self._resolve(segments[:-1]), segments[-1])
            count = self._array_counts.get(name, 0)
            self._array_counts[name] = count + 1
            position = (number, len(array.group(1)) + 1)
            self._tables.setdefault(name, position)
            self._tables[(*name, count)] = position
            return (*name, count)
        header = _TOML_TABLE_HEADER.match(line)
        if header is None:
            return table
        path = self._resolve(_toml_segments(header.group(2)))
        self._tables[path] = (number, len(header.group(1)) + 1)
        return path

    def _resolve(self, segments: list[str]) -> tuple[Segment, ...]:
        """Insert the current index after each segment naming an array of tables."""
        resolved: list[Segment] = []
        for segment in segments:
            resolved.append(segment)
            count = self._array_counts.get(tuple(resolved))
            if count is not None:
                resolved.append(count - 1)
        return tuple(resolved)


def _continuation(value: str) -> tuple[str | None, int]:
    """Whether a value goes on past its line: an open multi-line string, or open brackets."""
    for delimiter in ('"""', "'''"):
        if value.startswith(delimiter) and delimiter not in value[3:]:
            return delimiter, 0
    if value[:1] in "[{":
        return None, max(_bracket_depth(value), 0)
    return None, 0
