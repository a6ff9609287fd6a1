"""``fire_minutes_between`` counts the same minutes as stepping ``StandardCronTrigger``."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from scheduler.cron import fire_minutes_between, fire_times_between
from scheduler.errors import InvalidCronExpression

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ZONES = ("UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Tokyo")
# windows around DST changes (spring and autumn, both hemispheres) and a quiet one
STARTS = (
    datetime(2026, 3, 28, 20, 0, 30, tzinfo=UTC),
    datetime(2026, 10, 24, 20, 0, tzinfo=UTC),
    datetime(2026, 3, 7, 20, 0, tzinfo=UTC),
    datetime(2026, 11, 1, 0, 0, tzinfo=UTC),
    datetime(2026, 4, 4, 0, 0, tzinfo=UTC),
    datetime(2026, 6, 10, 12, 34, 56, tzinfo=UTC),
)
FIXED = ("30 2 * * *", "0 1 * * *", "15 1,2,3 * * *", "0 30 2 * * *", "H H * * *")
FLOATING = ("*/15 * * * *", "*/20 2 * * *", "* 2 * * *", "0 * * * *", "*/30 * * * * *")


def _minutes_by_trigger(expression: str, start: datetime, end: datetime, zone: str) -> list[int]:
    times = fire_times_between(expression, start=start, end=end, timezone=zone, job_id="j")
    return sorted({(moment - EPOCH) // timedelta(minutes=1) for moment in times})


def _random_expression(rng: random.Random) -> str:
    minute = rng.choice(("0", "30", "*/7", "5-10", "*", "H"))
    hour = rng.choice(("2", "1-3", "*/2", "*", "0,2,23", "H"))
    day = rng.choice(("*", "*", "1-15", "10"))
    weekday = rng.choice(("*", "*", "1-5", "0", "SAT"))
    return f"{minute} {hour} {day} * {weekday}"


@pytest.mark.parametrize("zone", ZONES)
@pytest.mark.parametrize("start", STARTS, ids=lambda moment: moment.strftime("%m-%d"))
def test_same_minutes_as_the_trigger(zone: str, start: datetime) -> None:
    rng = random.Random(f"{zone}{start}")
    expressions = [*FIXED, *FLOATING, *(_random_expression(rng) for _ in range(20))]
    end = start + timedelta(days=2)
    for expression in expressions:
        try:
            expected = _minutes_by_trigger(expression, start, end, zone)
        except InvalidCronExpression:
            continue
        got = fire_minutes_between(expression, start=start, end=end, timezone=zone, job_id="j")
        # the lint counts from the start's minute: drop the one the trigger skipped by seconds
        first = (start - EPOCH) // timedelta(minutes=1)
        assert [m for m in got if m != first] == [m for m in expected if m != first], expression
