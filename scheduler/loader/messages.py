"""Problem messages in manifest words: what is wrong, what is expected, did you mean.

pydantic's error types become sentences about the manifest (``expected true or false
(unquoted), got the string 'yes'``), with its ``Value error, `` prefix dropped.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection
from typing import Any

from scheduler.problems import shorten
from scheduler.sources import Segment

__all__ = ["describe", "error_message", "unknown_field"]

_EXPECTED = {
    "bool_type": "true or false (unquoted)",
    "string_type": "a string",
    "int_type": "an integer",
    "float_type": "a number",
    "list_type": "a list",
    "dict_type": "a mapping",
}
_PATTERNS = {
    "job_id": "1-128 letters, digits, '_', '.' or '-', not starting with '.' or '-'",
    "func": "a dotted import path like 'jobs.cleanup.cleanup_job' or 'jobs.cleanup:cleanup_job'",
}
_BOUNDS = {
    "greater_than_equal": ">=",
    "greater_than": ">",
    "less_than_equal": "<=",
    "less_than": "<",
}
_VALUE_ERROR_PREFIX = "Value error, "
_YAML11_BOOLEANS = frozenset({"yes", "no", "on", "off", "y", "n"})


def error_message(kind: str, loc: tuple[Segment, ...], error: Any, allowed: Collection[str]) -> str:
    """Say what is wrong and what is expected, in manifest words rather than pydantic's."""
    value = error.get("input")
    name = str(loc[-1]) if loc else ""
    if kind == "missing":
        return f"missing required field {name!r}"
    if kind == "extra_forbidden":
        return unknown_field(loc[-1], allowed)
    if kind == "invalid_key":
        return f"field names must be strings, got {describe(loc[-1])}"
    if kind == "bool_type" and isinstance(value, str):
        return _bool_hint(value)
    if kind in _EXPECTED:
        return f"expected {_EXPECTED[kind]}, got {describe(value)}"
    if kind == "finite_number":
        return f"expected a finite number, got {describe(value)}"
    if kind == "string_pattern_mismatch" and name in _PATTERNS:
        return f"expected {_PATTERNS[name]}, got {describe(value)}"
    if kind in _BOUNDS:
        limit = next(iter(error.get("ctx", {}).values()), "?")
        return f"expected a value {_BOUNDS[kind]} {limit}, got {describe(value)}"
    message = str(error["msg"])
    return message.removeprefix(_VALUE_ERROR_PREFIX)


def _bool_hint(value: str) -> str:
    """A string where a boolean belongs: quoted ``"false"``, or YAML 1.1's ``yes``/``off``,
    which YAML 1.2 (and this loader) reads as a string."""
    message = f"expected true or false (unquoted), got the string {shorten(value)}"
    if value.lower() in ("true", "false"):
        return f"{message}; write {value.lower()} without quotes"
    if value.lower() in _YAML11_BOOLEANS:
        return f"{message}; write true or false"
    return message


def unknown_field(name: object, allowed: Collection[str]) -> str:
    """Name the unknown field with a did-you-mean, or list the fields allowed there."""
    matches = difflib.get_close_matches(str(name), sorted(allowed), n=1)
    if matches:
        return f"unknown field {name!r}; did you mean {matches[0]!r}?"
    return f"unknown field {name!r}; expected one of: {', '.join(sorted(allowed))}"


def describe(value: object) -> str:
    """A value as the manifest author wrote it (YAML words: null, true)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f"the string {shorten(value)}"
    if isinstance(value, int | float):
        return f"the number {shorten(value)}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return f"a {type(value).__name__}"
