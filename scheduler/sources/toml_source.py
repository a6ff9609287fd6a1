"""TOML text -> data with tomllib; its syntax errors relabelled with our path."""

from __future__ import annotations

import re
import tomllib

from scheduler.problems import Problem
from scheduler.sources.parsed import ParsedSource, failed
from scheduler.sources.toml_positions import TomlPositions

__all__ = ["parse_toml"]

_TOML_ERROR = re.compile(
    r"^(?P<message>.*) \(at (?:line (?P<line>\d+), column (?P<col>\d+)|end of document)\)$", re.S
)


def parse_toml(text: str, file: str) -> ParsedSource:
    """Parse with tomllib; positions come from a separate scan of the text."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        return failed(_toml_error_problem(str(exc), text, file))
    return ParsedSource(data, TomlPositions(text))


def _toml_error_problem(error: str, text: str, file: str) -> Problem:
    """tomllib (3.11) puts the position only in the message: parse it back out."""
    match = _TOML_ERROR.match(error)
    if match is None:
        return Problem(file, None, None, f"TOML syntax error: {error}")
    if match.group("line") is not None:
        line, col = int(match.group("line")), int(match.group("col"))
    else:
        lines = text.split("\n")
        line, col = len(lines), len(lines[-1]) + 1
    message = f"TOML syntax error: {match.group('message')}"
    line_text = text.split("\n")[line - 1] if line <= text.count("\n") + 1 else ""
    if re.match(r"\s*cron_expression\s*=\s*[^\s\"']", line_text):
        message += "; quote the cron expression"
    return Problem(file, line, col, message)
