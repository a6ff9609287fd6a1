"""TEMPORARY placeholder until the real dialect lands."""
from __future__ import annotations


def validate_expression(expression: str) -> None:
    if len(expression.split()) not in (5, 6) and not expression.startswith("@"):
        raise ValueError("expected 5 or 6 fields")
