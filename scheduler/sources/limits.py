"""Bounds on what a manifest's data may hold, so no later step can crash on it.

Python refuses to turn an integer of more than 4,300 digits into text, and its recursion
limit ends any recursive walk of data nested about 1,000 deep (pydantic, ``json.dumps``,
our own builders). Manifests need neither: they are refused here, with a position.
"""

from __future__ import annotations

from typing import Any

from scheduler.sources.positions import Segment

__all__ = [
    "INT_TOO_LARGE",
    "MAX_INT_DIGITS",
    "MAX_NESTING",
    "NESTED_TOO_DEEP",
    "first_excess",
    "is_int_too_large",
]

MAX_NESTING = 100
"""Deepest nesting of lists and mappings a manifest may have; real ones use four or five."""

MAX_INT_DIGITS = 4000
"""Longest integer a manifest may hold, in decimal digits (Python prints up to 4,300)."""

_MAX_INT_BITS = 13_287  # 2**13_287 has 4,000 decimal digits: hex and octal are bounded too

INT_TOO_LARGE = f"integer has more than {MAX_INT_DIGITS:,} digits; no field takes one that large"
NESTED_TOO_DEEP = f"lists and mappings are nested more than {MAX_NESTING} levels deep"


def is_int_too_large(value: int) -> bool:
    """Whether ``value`` has more than ``MAX_INT_DIGITS`` digits (by its size in bits)."""
    return value.bit_length() > _MAX_INT_BITS


def first_excess(data: object) -> tuple[tuple[Segment, ...], str] | None:
    """The path of the first value past a bound, and which bound; None when all are within.

    Iterative, so it works on data of any depth a parser could give back.
    """
    stack: list[tuple[Any, tuple[Segment, ...]]] = [(data, ())]
    while stack:
        current, path = stack.pop()
        if isinstance(current, bool):
            continue
        if isinstance(current, int) and is_int_too_large(current):
            return path, INT_TOO_LARGE
        if isinstance(current, dict | list) and len(path) >= MAX_NESTING:
            return path, NESTED_TOO_DEEP
        if isinstance(current, dict):
            stack.extend((value, (*path, key)) for key, value in reversed(current.items()))
        elif isinstance(current, list):
            items = list(enumerate(current))
            stack.extend((value, (*path, index)) for index, value in reversed(items))
    return None
