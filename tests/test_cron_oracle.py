"""Next fire times agree with cronsim, an independent standard-cron implementation (UTC).

Expressions are generated from a fixed seed, so a failure is reproducible: the message
names the expression and the start time.
"""

from __future__ import annotations

import functools
import random
import re
from datetime import UTC, datetime, timedelta

import cronsim
import pytest

from scheduler.cron import (
    StandardCronTrigger,
    build_trigger,
    describe,
    next_fire_times,
    parse_expression,
)
from scheduler.errors import InvalidCronExpression

SEED = 20240229
EXPRESSION_COUNT = 5000
FIRE_TIMES = 10
STARTS = (
    datetime(2025, 12, 31, 23, 59, 59, tzinfo=UTC),
    datetime(2024, 2, 28, 12, 34, 56, 500000, tzinfo=UTC),
    datetime(2026, 6, 15, tzinfo=UTC),
    datetime(2027, 2, 1, 5, 5, 5, tzinfo=UTC),
)
MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
DAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]
# (low, high, names) per field, seconds first; day-of-week allows 7 (Sunday).
FIELDS = ((0, 59, ()), (0, 59, ()), (0, 23, ()), (1, 31, ()), (1, 12, MONTHS), (0, 7, DAYS))


def _atom(rng: random.Random, low: int, high: int, names: tuple[str, ...] | list[str]) -> str:
    value = rng.randint(low, high)
    if names and value - low < len(names) and rng.random() < 0.4:
        name = names[value - low]
        return rng.choice((name, name.lower(), name.title()))
    return str(value)


def _term(rng: random.Random, low: int, high: int, names: tuple[str, ...] | list[str]) -> str:
    kind = rng.choice(("value", "value", "range", "star-step", "range-step", "start-step"))
    if kind == "value":
        return _atom(rng, low, high, names)
    step = rng.choice((1, 2, 3, 4, 5, 7, 10, 15, 30))
    if kind == "star-step":
        return f"*/{step}"
    if kind == "start-step":
        return f"{_atom(rng, low, high, names)}/{step}"
    first, last = sorted((rng.randint(low, high), rng.randint(low, high)))
    base = f"{first}-{last}"
    return base if kind == "range" else f"{base}/{step}"


def _field(rng: random.Random, index: int) -> str:
    low, high, names = FIELDS[index]
    roll = rng.random()
    if roll < 0.3:
        return "*"
    if roll < 0.75:
        return _term(rng, low, high, names)
    return ",".join(_term(rng, low, high, names) for _ in range(rng.randint(2, 3)))


def _expression(rng: random.Random) -> str:
    fields = [_field(rng, index) for index in range(6)]
    if rng.random() < 0.5:
        # Keep most schedules sparse enough that ten fire times span days, not seconds.
        fields[0] = str(rng.randint(0, 59))
        if rng.random() < 0.5:
            fields[1] = _term(rng, 0, 59, ())
    if rng.random() < 0.25:
        fields[3], fields[5] = _term(rng, 1, 31, ()), _term(rng, 0, 7, DAYS)  # both restricted
    return " ".join(fields if rng.random() < 0.2 else fields[1:])


@functools.cache
def _cases() -> tuple[tuple[str, datetime], ...]:
    rng = random.Random(SEED)
    return tuple((_expression(rng), rng.choice(STARTS)) for _ in range(EXPRESSION_COUNT))


@functools.cache
def _cronsim_times(expression: str, start: datetime) -> tuple[str, ...] | None:
    """cronsim's next fire times, or None when cronsim rejects the expression."""
    try:
        iterator = cronsim.CronSim(expression, start)
    except cronsim.CronSimError:
        return None
    times = []
    for fire_time in iterator:
        times.append(fire_time.isoformat())
        if len(times) == FIRE_TIMES:
            break
    return tuple(times)


def _is_valid(expression: str) -> bool:
    try:
        parse_expression(expression)
    except InvalidCronExpression:
        return False
    return True


def _valid_cases() -> list[tuple[str, datetime]]:
    return [case for case in _cases() if _is_valid(case[0])]


def test_generated_expressions_cover_the_dialect() -> None:
    expressions = [expression for expression, _start in _cases()]
    assert len(set(expressions)) > 0.95 * EXPRESSION_COUNT
    assert len(_valid_cases()) >= EXPRESSION_COUNT - 100
    schedules = [parse_expression(expression) for expression, _start in _valid_cases()]
    assert sum(schedule.either_day_matches for schedule in schedules) > 500
    assert sum(schedule.has_seconds for schedule in schedules) > 500
    assert sum("7" in expression.split()[-1] for expression in expressions) > 200
    assert sum(any(day in expression.upper() for day in DAYS) for expression in expressions) > 500


def test_validity_agrees_with_cronsim() -> None:
    """We reject exactly what cronsim rejects (for generated, L/W/#-free input)."""
    disagreements = [
        (expression, _is_valid(expression))
        for expression, start in _cases()
        if _is_valid(expression) != (_cronsim_times(expression, start) is not None)
    ]
    assert disagreements == []


def test_next_fire_times_agree_with_cronsim() -> None:
    """What ``build_trigger`` returns in UTC (APScheduler's CronTrigger/OrTrigger)."""
    mismatches = []
    for expression, start in _valid_cases():
        ours = tuple(
            fire_time.isoformat()
            for fire_time in next_fire_times(expression, after=start, count=FIRE_TIMES)
        )
        if ours != _cronsim_times(expression, start):
            mismatches.append((expression, start.isoformat(), ours[:3]))
    assert mismatches[:5] == []


def test_standard_trigger_forced_in_utc_agrees_with_cronsim() -> None:
    """Our own DST-aware trigger, used in zones with DST, is also right where cronsim is."""
    mismatches = []
    for expression, start in _valid_cases():
        trigger = StandardCronTrigger(parse_expression(expression), "UTC")
        times: list[str] = []
        now = start + timedelta(microseconds=1)
        while len(times) < FIRE_TIMES:
            fire_time = trigger.get_next_fire_time(None, now)
            assert fire_time is not None
            times.append(fire_time.isoformat())
            now = fire_time + timedelta(microseconds=1)
        if tuple(times) != _cronsim_times(expression, start):
            mismatches.append((expression, start.isoformat(), times[:3]))
    assert mismatches[:5] == []


@pytest.mark.parametrize("chunk", range(0, EXPRESSION_COUNT, 1000), ids=lambda c: f"from-{c}")
def test_every_generated_expression_builds_and_describes(chunk: int) -> None:
    for expression, _start in _cases()[chunk : chunk + 1000]:
        if _is_valid(expression):
            assert build_trigger(expression, "Europe/Berlin") is not None
            assert describe(expression)


MUTATIONS = (
    lambda field, rng: field.replace(rng.choice("0123456789"), str(rng.randint(60, 99)), 1),
    lambda field, rng: field + ",",
    lambda field, rng: field.replace("-", "--", 1),
    lambda field, rng: field + "/0",
    lambda field, rng: f"{field}/{rng.randint(61, 200)}",
    lambda field, rng: "-" + field,
    lambda field, rng: field.replace("*", "**", 1),
    lambda field, rng: field + "-",
    lambda field, rng: rng.choice(("L", "W", "?", "#", "5L", "1#2", "15W", "LW", "x")),
    lambda field, rng: field.upper().replace("0", "O", 1),
    lambda field, rng: f"{rng.randint(0, 7)}-{rng.randint(0, 7)}",
    lambda field, rng: f"*/{rng.randint(1, 100)}",
    lambda field, rng: f"{rng.randint(0, 100)}/{rng.randint(1, 100)}",
)
# Quartz/cronsim extensions that the standard dialect rejects on purpose: L, W, LW, 5L, 15W, 1#2.
EXTENSION = re.compile(r"(^|[\s,])(\d*L|\d*W|LW|\d*#\d*)($|[\s,])")


def _mutated_cases() -> list[tuple[str, datetime]]:
    rng = random.Random(SEED + 1)
    cases = []
    for expression, start in _cases()[:3000]:
        fields = expression.split()
        index = rng.randrange(len(fields))
        fields[index] = rng.choice(MUTATIONS)(fields[index], rng)
        cases.append((" ".join(fields), start))
    return cases


def test_validity_of_mutated_expressions_agrees_with_cronsim() -> None:
    """Out-of-range values, bad steps, reversed ranges, stray commas: rejected as cronsim does."""
    cases = _mutated_cases()
    invalid = sum(not _is_valid(expression) for expression, _start in cases)
    assert invalid > 1000  # the mutations really produce bad input
    disagreements = [
        expression
        for expression, start in cases
        if _is_valid(expression) != (_cronsim_times(expression, start) is not None)
        and not EXTENSION.search(expression)
    ]
    assert disagreements == []
