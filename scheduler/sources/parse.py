"""``parse_source``: a manifest's bytes -> data and positions, or the problems why not."""

from __future__ import annotations

from scheduler.problems import Problem
from scheduler.sources.parsed import ParsedSource, failed
from scheduler.sources.positions import SourceKind
from scheduler.sources.text import manifest_text
from scheduler.sources.toml_source import parse_toml
from scheduler.sources.yaml_source import parse_yaml

__all__ = ["parse_source"]


def parse_source(content: bytes, *, file: str, kind: SourceKind) -> ParsedSource:
    """Turn a manifest's bytes into data and positions; bad input becomes problems.

    Args:
        content: the file's bytes (read at most ``MAX_MANIFEST_BYTES + 1`` of them).
        file: the path as shown in problems.
        kind: ``"yaml"`` or ``"toml"``.
    """
    text = manifest_text(content, file)
    if isinstance(text, Problem):
        return failed(text)
    parsed = parse_toml(text, file) if kind == "toml" else parse_yaml(text, file)
    return _check_top_level(parsed, file)


_SHAPES = {list: "a list", str: "a string", int: "a number", float: "a number", bool: "a boolean"}


def _check_top_level(parsed: ParsedSource, file: str) -> ParsedSource:
    """A manifest is one mapping: refuse empty files and other shapes."""
    if parsed.problems and parsed.data is None:
        return parsed
    data: object = parsed.data
    if data is None or data == {}:
        message = "empty manifest; expected a job mapping or a 'jobs:' list"
        return ParsedSource(None, parsed.positions, (Problem(file, 1, 1, message),))
    if not isinstance(data, dict):
        line, col = parsed.positions.locate(())
        shape = _SHAPES.get(type(data), type(data).__name__)
        message = f"expected a mapping at the top level (one job, or 'jobs:'), got {shape}"
        return ParsedSource(None, parsed.positions, (Problem(file, line, col, message),))
    return parsed
