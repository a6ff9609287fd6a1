"""libyaml errors and refused tags -> problems, with hints for the known traps."""

from __future__ import annotations

import re
from typing import Any

import yaml

from scheduler.problems import Problem
from scheduler.sources.yaml_loader import YAML_TAG_PREFIX, mark_position

__all__ = ["reader_error_problem", "tag_problem", "yaml_error_problem"]


def tag_problem(tag: str, mark: Any, file: str) -> Problem:
    """A refused tag, shown as written (``!!python/object``), marked unsafe or unknown."""
    shown = "!!" + tag[len(YAML_TAG_PREFIX) :] if tag.startswith(YAML_TAG_PREFIX) else tag
    kind = "unsafe" if "python/" in tag else "unknown"
    line, col = mark_position(mark)
    message = f"{kind} YAML tag {shown!r} is not allowed; use plain YAML data"
    return Problem(file, line, col, message)


def yaml_error_problem(exc: yaml.MarkedYAMLError, text: str, file: str) -> Problem:
    """Relabel a libyaml error with our path, in our words for the known traps."""
    mark = exc.problem_mark or exc.context_mark
    if exc.context == "expected a single document in the stream" and mark is not None:
        message = "expected one YAML document per file, found a second one ('---')"
        return Problem(file, *mark_position(mark), message)
    trap = _unquoted_value_trap(exc, text)
    if trap is not None:
        return Problem(file, *trap)
    unclosed = _unclosed_start(exc)
    if unclosed is not None:
        return unclosed_problem(exc, unclosed, file)
    line, col = mark_position(mark) if mark is not None else (None, None)
    context = exc.context
    if context and exc.context_mark is not None:
        start = mark_position(exc.context_mark)
        if start != (line, col):
            context += f" (from line {start[0]}, column {start[1]})"
    label = (
        "YAML error" if isinstance(exc, yaml.constructor.ConstructorError) else "YAML syntax error"
    )
    message = f"{label}: " + ", ".join(part for part in (context, exc.problem) if part)
    return Problem(file, line, col, message)


_OPENED = {
    "while parsing a flow sequence": "the list opened here ('[') is not closed",
    "while parsing a flow mapping": "the mapping opened here ('{') is not closed",
    "while scanning a quoted scalar": "the quoted string that starts here is not closed",
}


def _unclosed_start(exc: yaml.MarkedYAMLError) -> Any:
    """The mark of a bracket or quote left open, when the parser only noticed it later.

    libyaml reports where it gave up (often the end of the file, or the next line); the
    fault is where the list, mapping or string began.
    """
    start, end = exc.context_mark, exc.problem_mark
    if exc.context not in _OPENED or start is None or end is None:
        return None
    return start if end.line > start.line else None


def unclosed_problem(exc: yaml.MarkedYAMLError, start: Any, file: str) -> Problem:
    """Point at the opening bracket or quote; say where the parser noticed."""
    line, col = mark_position(start)
    end_line, end_col = mark_position(exc.problem_mark)
    what = _OPENED[exc.context or ""]
    noticed = f"{exc.problem} at line {end_line}, column {end_col}"
    return Problem(file, line, col, f"YAML syntax error: {what} ({noticed})")


def _unquoted_value_trap(exc: yaml.MarkedYAMLError, text: str) -> tuple[int, int, str] | None:
    """An unquoted ``*/5 * * * *`` reads as a YAML alias and ``@daily`` starts with a
    reserved character: point at the value and say how to write it instead."""
    alias = "a value starting with '*' is read as a YAML alias"
    if exc.context == "while scanning an alias" and exc.context_mark is not None:
        mark, reason = exc.context_mark, alias
    elif exc.problem == "found undefined alias" and exc.problem_mark is not None:
        mark, reason = exc.problem_mark, alias + " (and there is no such anchor)"
    elif "cannot start any token" in (exc.problem or "") and exc.problem_mark is not None:
        mark = exc.problem_mark
        character = text[mark.index : mark.index + 1]
        if character not in ("@", "`"):
            return None
        reason = f"a value cannot start with {character!r} unless it is quoted"
    else:
        return None
    line, col = mark_position(mark)
    return line, col, f"YAML syntax error: {reason}{_quote_hint(text, line - 1)}"


_KEY_VALUE_LINE = re.compile(r"^\s*(?:-\s+)?([\w.-]+):\s+(.*?)\s*(?:\s#.*)?$")
_CRON_LIKE = re.compile(r"^(@\w+|(\S+\s+){4,5}\S+)$")


def _quote_hint(text: str, line_index: int) -> str:
    """An unquoted ``*/5 * * * *`` reads as a YAML alias and ``@daily`` as a reserved
    character: say how to write it instead."""
    lines = text.splitlines()
    match = _KEY_VALUE_LINE.match(lines[line_index]) if line_index < len(lines) else None
    if match is None:
        return ""
    key, value = match.groups()
    if value[:1] in ("'", '"'):
        return ""  # quoted already: the fault is an unclosed quote before it
    what = (
        "the cron expression"
        if key == "cron_expression" or _CRON_LIKE.match(value)
        else "the value"
    )
    return f'; quote {what}: {key}: "{value}"'


def reader_error_problem(exc: yaml.YAMLError, text: str, file: str) -> Problem:
    """Reader errors (control characters) carry a character offset instead of a mark."""
    offset = getattr(exc, "position", None)
    if not isinstance(offset, int):
        return Problem(file, None, None, f"YAML error: {exc}")
    line = text.count("\n", 0, offset) + 1
    col = offset - (text.rfind("\n", 0, offset) + 1) + 1
    reason = getattr(exc, "reason", "unacceptable character")
    return Problem(file, line, col, f"YAML syntax error: {reason}")
