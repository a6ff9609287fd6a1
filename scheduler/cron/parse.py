"""Parse the standard cron dialect (Vixie/Debian) into a ``CronSchedule`` of value sets.

Kept apart from triggers and zones so that validation (called by the manifest models for every
job) needs nothing but this module and ``hashed``; its errors name the field and the value.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import date

from scheduler.errors import InvalidCronExpression

__all__ = [
    "FIELDS",
    "MACROS",
    "CronSchedule",
    "FieldSpec",
    "InvalidPart",
    "consecutive_runs",
    "days_occur",
    "field_step",
    "field_value",
    "parse_expression",
    "split_fields",
]

MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_DAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
_MONTH_NAMES = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
_DAYS_IN_MONTH = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


class InvalidPart(Exception):
    """Why a piece of an expression is invalid; becomes ``InvalidCronExpression``."""


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One field of an expression: its name as errors say it, its range and its names."""

    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()  # names[i] stands for the value names_start + i
    names_start: int = 0


FIELDS = (
    FieldSpec("second", 0, 59),
    FieldSpec("minute", 0, 59),
    FieldSpec("hour", 0, 23),
    FieldSpec("day-of-month", 1, 31),
    FieldSpec("month", 1, 12, _MONTHS, 1),
    FieldSpec("day-of-week", 0, 7, _DAYS, 0),
)


@dataclass(frozen=True, slots=True)
class CronSchedule:
    """A parsed expression: explicit value sets per field plus the flags cron's rules need.

    ``weekdays`` uses cron numbering with Sunday = 0 (a 7 in the text is folded into 0).
    ``days_restricted``/``weekdays_restricted`` are false when the field text begins with
    ``*`` (Vixie's rule, so ``*/2`` counts as unrestricted); when both are true a day
    matches if either field matches.
    """

    seconds: frozenset[int]
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    days_restricted: bool
    weekdays_restricted: bool
    has_seconds: bool
    is_fixed_time: bool
    expression: str = field(default="", compare=False)

    @property
    def either_day_matches(self) -> bool:
        """Whether day-of-month and day-of-week are ORed (both restricted)."""
        return self.days_restricted and self.weekdays_restricted

    def matches_day(self, day: date) -> bool:
        """Whether cron would run on ``day`` (month not checked)."""
        in_days = day.day in self.days
        in_weekdays = (day.weekday() + 1) % 7 in self.weekdays
        if self.either_day_matches:
            return in_days or in_weekdays
        return in_days and in_weekdays


# --------------------------------------------------------------------------- parsing


def split_fields(expression: str) -> list[str]:
    """Six field texts (seconds first; ``0`` when absent), macros expanded.

    Other modules call it only on expressions ``parse_expression`` accepted: it cannot fail.
    """
    text = expression.strip()
    if text.startswith("@"):
        if text.lower() == "@reboot":
            raise InvalidPart("'@reboot' is not supported (it is not a time schedule)")
        if text.lower() not in MACROS:
            raise InvalidPart(f"unknown macro {text!r}; expected one of {', '.join(MACROS)}")
        text = MACROS[text.lower()]
    parts = text.split()
    if len(parts) not in (5, 6):
        raise InvalidPart(f"expected 5 fields (or 6 with seconds first), got {len(parts)}")
    return parts if len(parts) == 6 else ["0", *parts]


def field_value(spec: FieldSpec, text: str) -> int:
    """One number or name of a field, range-checked."""
    if text.isascii() and text.isdigit():
        number = int(text)
        if not spec.low <= number <= spec.high:
            raise InvalidPart(f"{spec.name} {number} is out of range {spec.low}-{spec.high}")
        return number
    if text.startswith("H"):
        raise InvalidPart(f"{spec.name} {text!r}: 'H' needs a job id to pick its value")
    upper = text.upper()
    if upper in spec.names:
        return spec.names.index(upper) + spec.names_start
    letters = upper.strip("0123456789")
    if letters in ("L", "W", "LW", "WL"):
        raise InvalidPart(f"'{letters[0]}' is not supported (standard cron only)")
    kind = f" or a name ({spec.names[0]}-{spec.names[-1]})" if spec.names else ""
    raise InvalidPart(f"{spec.name} value {text!r} is not a number{kind}")


def field_step(spec: FieldSpec, text: str) -> int:
    if not (text.isascii() and text.isdigit()):
        raise InvalidPart(f"{spec.name} step {text!r} is not a number")
    if int(text) == 0:
        raise InvalidPart(f"{spec.name} step 0 is not allowed (use 1 or more)")
    return int(text)


def _term_values(spec: FieldSpec, term: str) -> range:
    """Values of one list item, stepping as cronsim does (``a/n`` and ``a-a/n`` run to the max)."""
    for symbol in "#?":
        if symbol in term:
            raise InvalidPart(f"'{symbol}' is not supported (standard cron only)")
    base, slash, step_text = term.partition("/")
    step = field_step(spec, step_text) if slash else 1
    if base == "*":
        return range(spec.low, spec.high + 1, step)
    if "-" in base:
        low_text, _, high_text = base.partition("-")
        if not low_text or not high_text:
            raise InvalidPart(f"{spec.name} range {base!r} is incomplete")
        low, high = field_value(spec, low_text), field_value(spec, high_text)
        if high < low:
            raise InvalidPart(
                f"{spec.name} range {base} runs backwards (wrap-around is not supported)"
            )
    else:
        low = high = field_value(spec, base)
    if slash and low == high:
        high = spec.high
    return range(low, high + 1, step)


def _field_values(spec: FieldSpec, text: str) -> frozenset[int]:
    values: set[int] = set()
    for term in text.split(","):
        if not term:
            raise InvalidPart(f"{spec.name} {text!r} has an empty list item")
        values.update(_term_values(spec, term))
    return frozenset(values)


def days_occur(schedule: CronSchedule) -> bool:
    """Whether some listed month has one of the listed days of the month."""
    return any(
        day <= _DAYS_IN_MONTH[month - 1] for month in schedule.months for day in schedule.days
    )


def _check_fires(schedule: CronSchedule, day_text: str) -> None:
    """Reject day-of-month values that no listed month has (``0 0 30 2 *``)."""
    if schedule.either_day_matches or days_occur(schedule):
        return
    months = sorted(schedule.months)
    names = [_MONTH_NAMES[month - 1] for month in months]
    listed = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"
    raise InvalidPart(f"never fires: day-of-month {day_text} does not occur in {listed}")


@functools.lru_cache(maxsize=4096)
def parse_expression(expression: str) -> CronSchedule:
    """Parse standard cron into value sets; cached because manifests repeat expressions.

    Raises:
        InvalidCronExpression: with a one-line reason naming the field and the value.
    """
    try:
        parts = split_fields(expression)
        second, minute, hour, day, month, weekday = (
            _field_values(spec, text) for spec, text in zip(FIELDS, parts, strict=True)
        )
        schedule = CronSchedule(
            seconds=second,
            minutes=minute,
            hours=hour,
            days=day,
            months=month,
            weekdays=frozenset(value % 7 for value in weekday),
            days_restricted=not parts[3].startswith("*"),
            weekdays_restricted=not parts[5].startswith("*"),
            has_seconds=len(expression.split()) == 6,
            is_fixed_time=not parts[1].startswith("*") and not parts[2].startswith("*"),
            expression=expression,
        )
        _check_fires(schedule, parts[3])
    except InvalidPart as reason:
        raise InvalidCronExpression(expression, str(reason)) from reason
    return schedule


def consecutive_runs(values: list[int]) -> list[tuple[int, int]]:
    """Sorted ``values`` as (first, last) runs of consecutive numbers, for compact field text."""
    runs: list[tuple[int, int]] = []
    for value in values:
        if runs and runs[-1][1] == value - 1:
            runs[-1] = (runs[-1][0], value)
        else:
            runs.append((value, value))
    return runs
