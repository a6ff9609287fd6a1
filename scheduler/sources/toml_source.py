"""TOML text -> data with tomllib; its syntax errors relabelled with our path."""

from __future__ import annotations

import re
import tomllib

from scheduler.problems import Problem
from scheduler.sources.context import context_of_path, toml_context_at_line
from scheduler.sources.limits import (
    INT_TOO_LARGE,
    MAX_INT_DIGITS,
    MAX_NESTING,
    NESTED_TOO_DEEP,
    first_excess,
)
from scheduler.sources.parsed import ParsedSource, failed
from scheduler.sources.toml_positions import TomlPositions

__all__ = ["parse_toml"]

_TOML_ERROR = re.compile(
    r"^(?P<message>.*) \(at (?:line (?P<line>\d+), column (?P<col>\d+)|end of document)\)$", re.S
)


def parse_toml(text: str, file: str) -> ParsedSource:
    """Parse with tomllib; positions come from a separate scan of the text.

    tomllib recurses into nested arrays and inline tables and converts digits with
    ``int()``: deep nesting and huge integers end it with ``RecursionError`` or
    ``ValueError`` and no position, so those are found in the text instead.
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        return failed(_toml_error_problem(str(exc), text, file))
    except RecursionError:
        return failed(_problem_at(file, text, _deep_bracket_position(text), NESTED_TOO_DEEP))
    except ValueError:  # int() of more than 4,300 digits
        return failed(_problem_at(file, text, _long_number_position(text), INT_TOO_LARGE))
    positions = TomlPositions(text)
    excess = first_excess(data)
    if excess is not None:
        path, message = excess
        context = context_of_path(data, path)
        return failed(Problem(file, *positions.locate(path), message, *context))
    return ParsedSource(data, positions)


def _problem_at(file: str, text: str, position: tuple[int, int], message: str) -> Problem:
    return Problem(file, *position, message, *toml_context_at_line(text, position[0]))


_LONG_NUMBER = re.compile(rf"[0-9_]{{{MAX_INT_DIGITS},}}")


def _long_number_position(text: str) -> tuple[int, int]:
    """Where the first run of more than ``MAX_INT_DIGITS`` digits starts."""
    match = _LONG_NUMBER.search(text)
    return _position(text, match.start()) if match is not None else (1, 1)


def _deep_bracket_position(text: str) -> tuple[int, int]:
    """Where brackets and braces first nest past ``MAX_NESTING`` (strings skipped)."""
    depth = 0
    quote = ""
    for offset, character in enumerate(text):
        if quote:
            quote = "" if character == quote else quote
        elif character in "\"'":
            quote = character
        elif character in "[{":
            depth += 1
            if depth > MAX_NESTING:
                return _position(text, offset)
        elif character in "]}":
            depth -= 1
    return (1, 1)


def _position(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


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
