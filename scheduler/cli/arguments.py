"""Argument types the commands share: counts and datetimes, checked as argparse parses."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

__all__ = ["aware_datetime", "positive_int"]


def positive_int(text: str) -> int:
    """A whole number of at least 1."""
    try:
        value = int(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from error
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def aware_datetime(text: str) -> datetime:
    """An ISO datetime; one without an offset is read as UTC."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"not an ISO datetime: {text!r}") from error
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
