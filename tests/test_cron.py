"""The cron dialect: parsing, errors, fire-time tables, triggers, English."""

from __future__ import annotations

import pickle
import random
from datetime import UTC, datetime, timedelta, timezone

import pytest
import time_machine
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.combining import OrTrigger
from apscheduler.triggers.cron import CronTrigger

from scheduler.cron import (
    StandardCronTrigger,
    build_trigger,
    describe,
    next_fire_times,
    parse_expression,
    validate_expression,
)
from scheduler.errors import InvalidCronExpression

AFTER = datetime(2026, 1, 1, tzinfo=UTC)  # a Thursday


def _iso(times: list[datetime]) -> list[str]:
    return [fire_time.isoformat() for fire_time in times]


def _utc(*stamps: str) -> list[str]:
    """Short ``MM-DDTHH:MM[:SS]`` stamps in 2026 (or full dates) as UTC isoformat."""
    full = [stamp if len(stamp) > 14 else f"2026-{stamp}" for stamp in stamps]
    return [datetime.fromisoformat(stamp).replace(tzinfo=UTC).isoformat() for stamp in full]


FIRE_TIME_CASES = {
    # every example of the seed's table
    "seed every minute": ("* * * * *", _utc("01-01T00:01", "01-01T00:02", "01-01T00:03")),
    "seed every 5 minutes": ("*/5 * * * *", _utc("01-01T00:05", "01-01T00:10", "01-01T00:15")),
    "seed every hour": ("0 * * * *", _utc("01-01T01:00", "01-01T02:00", "01-01T03:00")),
    "seed midnight": ("0 0 * * *", _utc("01-02T00:00", "01-03T00:00", "01-04T00:00")),
    "seed weekdays 9am": ("0 9 * * 1-5", _utc("01-01T09:00", "01-02T09:00", "01-05T09:00")),
    "seed first of month": ("0 0 1 * *", _utc("02-01T00:00", "03-01T00:00", "04-01T00:00")),
    "seed sunday": ("0 0 * * 0", _utc("01-04T00:00", "01-11T00:00", "01-18T00:00")),
    "seed 6 fields 8:00:30": (
        "30 0 8 * * *",
        _utc("01-01T08:00:30", "01-02T08:00:30", "01-03T08:00:30"),
    ),
    # Sunday as 7 and by name, any case
    "sunday as 7": ("0 0 * * 7", _utc("01-04T00:00", "01-11T00:00", "01-18T00:00")),
    "sunday by name": ("0 0 * * SUN", _utc("01-04T00:00", "01-11T00:00", "01-18T00:00")),
    "sunday lower case": ("0 0 * * sun", _utc("01-04T00:00", "01-11T00:00", "01-18T00:00")),
    "friday to sunday via 7": (
        "0 0 * * 5-7",
        _utc("01-02T00:00", "01-03T00:00", "01-04T00:00", "01-09T00:00"),
    ),
    "month and day names": (
        "0 12 * JAN,jul Mon",
        _utc("01-05T12:00", "01-12T12:00", "01-19T12:00", "01-26T12:00", "07-06T12:00"),
    ),
    # macros
    "@yearly": ("@yearly", _utc("2027-01-01T00:00", "2028-01-01T00:00")),
    "@annually": ("@annually", _utc("2027-01-01T00:00", "2028-01-01T00:00")),
    "@monthly": ("@monthly", _utc("02-01T00:00", "03-01T00:00")),
    "@weekly": ("@weekly", _utc("01-04T00:00", "01-11T00:00")),
    "@daily": ("@daily", _utc("01-02T00:00", "01-03T00:00")),
    "@midnight": ("@midnight", _utc("01-02T00:00", "01-03T00:00")),
    "@hourly": ("@hourly", _utc("01-01T01:00", "01-01T02:00")),
    "@DAILY any case": ("@DAILY", _utc("01-02T00:00", "01-03T00:00")),
    # the day OR rule (Vixie)
    "both days restricted: OR": (
        "0 0 1 * MON",
        _utc("01-05T00:00", "01-12T00:00", "01-19T00:00", "01-26T00:00", "02-01T00:00"),
    ),
    "*/2 day-of-month is unrestricted: AND": (
        "0 0 */2 * 1",
        _utc("01-05T00:00", "01-19T00:00", "02-09T00:00"),
    ),
    "*/2 day-of-week is unrestricted: AND": (
        "0 0 1 * */2",
        _utc("02-01T00:00", "03-01T00:00", "08-01T00:00", "09-01T00:00"),
    ),
    "OR with an impossible day-of-month": ("0 0 31 2 MON", _utc("02-02T00:00", "02-09T00:00")),
    "1-31 is restricted: OR": ("0 0 1-31 * MON", _utc("01-02T00:00", "01-03T00:00")),
    # steps as cronsim reads them
    "9-9/3 runs to the max": (
        "0 9-9/3 * * *",
        _utc(
            "01-01T09:00", "01-01T12:00", "01-01T15:00", "01-01T18:00", "01-01T21:00", "01-02T09:00"
        ),
    ),
    "a/n in day-of-week reaches 7": (
        "0 0 * * 1/2",
        _utc("01-02T00:00", "01-04T00:00", "01-05T00:00", "01-07T00:00"),
    ),
    "5/1 in day-of-week is Fri-Sun": (
        "0 0 * * 5/1",
        _utc("01-02T00:00", "01-03T00:00", "01-04T00:00", "01-09T00:00"),
    ),
    "a/n minutes": (
        "5/20 * * * *",
        _utc("01-01T00:05", "01-01T00:25", "01-01T00:45", "01-01T01:05"),
    ),
    "range with step": (
        "0 1-10/4 * * *",
        _utc("01-01T01:00", "01-01T05:00", "01-01T09:00", "01-02T01:00"),
    ),
    "lists of ranges": (
        "0 8-10,14 * * *",
        _utc("01-01T08:00", "01-01T09:00", "01-01T10:00", "01-01T14:00", "01-02T08:00"),
    ),
    "seconds step": ("*/20 * * * * *", _utc("01-01T00:00:20", "01-01T00:00:40", "01-01T00:01")),
    # calendar corners
    "31st skips short months": ("0 0 31 * *", _utc("01-31T00:00", "03-31T00:00", "05-31T00:00")),
    "leap day": ("0 0 29 2 *", _utc("2028-02-29T00:00", "2032-02-29T00:00")),
    "last minute of the year": ("59 23 31 12 *", _utc("12-31T23:59", "2027-12-31T23:59")),
}


@pytest.mark.parametrize(
    ("expression", "expected"), FIRE_TIME_CASES.values(), ids=FIRE_TIME_CASES.keys()
)
def test_next_fire_times(expression: str, expected: list[str]) -> None:
    assert _iso(next_fire_times(expression, after=AFTER, count=len(expected))) == expected


@pytest.mark.parametrize(
    ("expression", "expected"), FIRE_TIME_CASES.values(), ids=FIRE_TIME_CASES.keys()
)
def test_our_trigger_matches_the_table_too(expression: str, expected: list[str]) -> None:
    trigger = StandardCronTrigger(parse_expression(expression), "UTC")
    fired, previous = [], None
    for _ in expected:
        previous = trigger.get_next_fire_time(previous, previous or AFTER + timedelta(seconds=1))
        assert previous is not None
        fired.append(previous.isoformat())
    assert fired == expected


ERROR_CASES = {
    "empty": ("", "expected 5 fields (or 6 with seconds first), got 0"),
    "4 fields": ("* * * *", "expected 5 fields (or 6 with seconds first), got 4"),
    "7 fields": ("0 0 0 * * * 2026", "expected 5 fields (or 6 with seconds first), got 7"),
    "second 60": ("60 0 0 * * *", "second 60 is out of range 0-59"),
    "minute 60": ("60 * * * *", "minute 60 is out of range 0-59"),
    "hour 24": ("0 24 * * *", "hour 24 is out of range 0-23"),
    "day 0": ("0 0 0 * *", "day-of-month 0 is out of range 1-31"),
    "day 32": ("0 0 32 * *", "day-of-month 32 is out of range 1-31"),
    "month 13": ("0 0 * 13 *", "month 13 is out of range 1-12"),
    "weekday 8": ("0 0 * * 8", "day-of-week 8 is out of range 0-7"),
    "range end out of range": ("0 0 * * 1-8", "day-of-week 8 is out of range 0-7"),
    "L": ("0 0 L * *", "'L' is not supported (standard cron only)"),
    "5L": ("0 0 * * 5L", "'L' is not supported (standard cron only)"),
    "LW": ("0 0 LW * *", "'L' is not supported (standard cron only)"),
    "W": ("0 0 15W * *", "'W' is not supported (standard cron only)"),
    "#": ("0 0 * * MON#2", "'#' is not supported (standard cron only)"),
    "?": ("0 0 ? * MON", "'?' is not supported (standard cron only)"),
    "@reboot": ("@reboot", "'@reboot' is not supported (it is not a time schedule)"),
    "unknown macro": (
        "@fortnightly",
        "unknown macro '@fortnightly'; expected one of @yearly, "
        "@annually, @monthly, @weekly, @daily, @midnight, @hourly",
    ),
    "Feb 30": ("0 0 30 2 *", "never fires: day-of-month 30 does not occur in February"),
    "Apr/Jun 31": ("0 0 31 4,6 *", "never fires: day-of-month 31 does not occur in April or June"),
    "Feb 30-31 by name": (
        "0 0 30-31 feb *",
        "never fires: day-of-month 30-31 does not occur in February",
    ),
    "never with */2 weekday": (
        "0 0 31 2,4,6 */2",
        "never fires: day-of-month 31 does not occur in February, April or June",
    ),
    "never, 6 fields": ("0 0 0 30 2 *", "never fires: day-of-month 30 does not occur in February"),
    "reversed range": (
        "5-1 * * * *",
        "minute range 5-1 runs backwards (wrap-around is not supported)",
    ),
    "reversed day names": (
        "0 0 * * FRI-MON",
        "day-of-week range FRI-MON runs backwards (wrap-around is not supported)",
    ),
    "step 0": ("*/0 * * * *", "minute step 0 is not allowed (use 1 or more)"),
    "step not a number": ("0 */x * * *", "hour step 'x' is not a number"),
    "empty list item": ("1,,2 * * * *", "minute '1,,2' has an empty list item"),
    "negative": ("-5 * * * *", "minute range '-5' is incomplete"),
    "decimal": ("1.5 * * * *", "minute value '1.5' is not a number"),
    "long day name": (
        "0 0 * * MONDAY",
        "day-of-week value 'MONDAY' is not a number or a name (SUN-SAT)",
    ),
    "long month name": (
        "0 0 * January *",
        "month value 'January' is not a number or a name (JAN-DEC)",
    ),
    "name in minute field": ("MON * * * *", "minute value 'MON' is not a number"),
}


@pytest.mark.parametrize(("expression", "reason"), ERROR_CASES.values(), ids=ERROR_CASES.keys())
def test_invalid_expressions_say_why(expression: str, reason: str) -> None:
    with pytest.raises(InvalidCronExpression) as caught:
        validate_expression(expression)
    assert (caught.value.expression, caught.value.reason, str(caught.value)) == (
        expression,
        reason,
        reason,
    )
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize(
    "expression", ["0 0 29 2 *", "0 0 30 2 MON", "0 0 31 * *", "0 0 30 1-2 *", "00 09 * * 01"]
)
def test_valid_corners(expression: str) -> None:
    validate_expression(expression)


def test_parse_expression_gives_value_sets_and_flags() -> None:
    schedule = parse_expression("0 9 * * 1-5")
    assert schedule.seconds == {0} and schedule.minutes == {0} and schedule.hours == {9}
    assert schedule.days == frozenset(range(1, 32)) and schedule.months == frozenset(range(1, 13))
    assert schedule.weekdays == {1, 2, 3, 4, 5}
    assert (schedule.days_restricted, schedule.weekdays_restricted) == (False, True)
    assert (schedule.has_seconds, schedule.is_fixed_time) == (False, True)


@pytest.mark.parametrize(
    ("expression", "fixed"),
    [
        ("0 3 * * *", True),
        ("30 0 8 * * *", True),
        ("0-30/10 2,3 * * *", True),
        ("@daily", True),
        ("*/5 3 * * *", False),
        ("0 */2 * * *", False),
        ("* * * * *", False),
        ("@hourly", False),
        ("0 * * * * *", False),
    ],
)
def test_fixed_time_means_neither_minute_nor_hour_begins_with_a_star(
    expression: str, fixed: bool
) -> None:
    assert parse_expression(expression).is_fixed_time is fixed


def test_sunday_spellings_parse_to_the_same_schedule() -> None:
    spellings = ["0 0 * * 0", "0 0 * * 7", "0 0 * * SUN", "0 0 * * sun", "0 0 * * 0,7", "@weekly"]
    assert {parse_expression(spelling) for spelling in spellings} == {parse_expression("0 0 * * 0")}
    assert parse_expression("0 0 * * 7").weekdays == {0}


def test_parsing_is_cached() -> None:
    assert parse_expression("0 9 * * 1-5") is parse_expression("0 9 * * 1-5")


def test_next_fire_times_needs_an_aware_after() -> None:
    with pytest.raises(ValueError, match="'after' must be a timezone-aware datetime"):
        next_fire_times("* * * * *", after=datetime(2026, 1, 1), count=1)


def test_next_fire_times_is_strictly_after_and_in_the_requested_zone() -> None:
    half_second = datetime(2026, 1, 1, 0, 0, 0, 500000, tzinfo=UTC)
    assert _iso(next_fire_times("* * * * * *", after=half_second, count=1)) == _utc(
        "01-01T00:00:01"
    )
    on_the_dot = datetime(2026, 1, 1, 9, tzinfo=UTC)
    assert _iso(next_fire_times("0 9 * * *", after=on_the_dot, count=1)) == _utc("01-02T09:00")
    in_berlin = next_fire_times("0 9 * * *", after=AFTER, count=1, timezone="Europe/Berlin")
    assert _iso(in_berlin) == ["2026-01-01T09:00:00+01:00"]
    assert next_fire_times("0 9 * * *", after=AFTER, count=0) == []


def test_fixed_offset_zones_use_apschedulers_trigger() -> None:
    india = timezone(timedelta(hours=5, minutes=30))
    assert isinstance(build_trigger("0 9 * * *", india), CronTrigger)
    assert _iso(next_fire_times("0 9 * * *", after=AFTER, count=1, timezone=india)) == [
        "2026-01-01T09:00:00+05:30"
    ]
    assert _iso(next_fire_times("0 9 * * *", after=AFTER, count=1, timezone="Asia/Kolkata")) == [
        "2026-01-01T09:00:00+05:30"
    ]


def test_unknown_timezone_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="unknown timezone 'Mars/Olympus'"):
        build_trigger("* * * * *", "Mars/Olympus")


@pytest.mark.parametrize(
    ("expression", "rendered"),
    [
        (
            "0 9 * * 1-5",
            "cron[month='*', day='*', day_of_week='mon-fri', hour='9', minute='0', second='0']",
        ),
        (
            "0 0 * * 0",
            "cron[month='*', day='*', day_of_week='sun', hour='0', minute='0', second='0']",
        ),
        (
            "0 0 * * 5-7",
            "cron[month='*', day='*', day_of_week='fri-sun', hour='0', minute='0', second='0']",
        ),
        (
            "*/20 1-3,5 * 1,15 jan *",
            "cron[month='1', day='1,15', day_of_week='*', hour='*', "
            "minute='1-3,5', second='0,20,40']",
        ),
    ],
)
def test_apscheduler_trigger_gets_explicit_values_and_monday_first_names(
    expression: str, rendered: str
) -> None:
    assert str(build_trigger(expression)) == rendered


def test_or_rule_becomes_an_or_trigger_carrying_the_jitter() -> None:
    trigger = build_trigger("0 0 1 * MON", jitter=30)
    assert isinstance(trigger, OrTrigger)
    assert trigger.jitter == 30 and [part.jitter for part in trigger.triggers] == [None, None]
    random.seed(3)
    fire_time = trigger.get_next_fire_time(None, AFTER + timedelta(seconds=1))
    assert fire_time is not None
    assert timedelta(0) <= fire_time - datetime(2026, 1, 5, tzinfo=UTC) <= timedelta(seconds=30)


def test_or_rule_with_an_impossible_day_half_needs_no_or_trigger() -> None:
    """A CronTrigger for February 31 would search up to year 9999 on every call."""
    assert isinstance(build_trigger("0 0 31 2 MON"), CronTrigger)


def test_our_trigger_honours_apschedulers_previous_fire_time_contract() -> None:
    trigger = build_trigger("0 9 * * *", "Europe/Berlin")
    nine = datetime(2026, 1, 2, 9, tzinfo=trigger.timezone)
    assert trigger.get_next_fire_time(None, nine) == nine  # >= now without a previous run
    following = trigger.get_next_fire_time(nine, nine)
    assert following is not None and following.isoformat() == "2026-01-03T09:00:00+01:00"
    late = nine + timedelta(hours=3)  # a missed run: APScheduler starts from the earlier time
    assert trigger.get_next_fire_time(nine - timedelta(days=1), late) == nine


@pytest.mark.parametrize("expression", ["0 9 * * 1-5", "0 0 1 * MON", "30 0 8 * * *"])
@pytest.mark.parametrize("zone", ["UTC", "Europe/Berlin"])
def test_triggers_survive_pickling(expression: str, zone: str) -> None:
    """APScheduler's persistent job stores pickle triggers."""
    trigger = build_trigger(expression, zone)
    copy = pickle.loads(pickle.dumps(trigger))
    assert copy.get_next_fire_time(None, AFTER) == trigger.get_next_fire_time(None, AFTER)
    assert type(copy) is type(trigger)


def test_our_trigger_reads_well_in_logs() -> None:
    trigger = build_trigger("0 9 * * 1-5", "Europe/Berlin", jitter=5)
    assert str(trigger) == "cron[0 9 * * 1-5]"
    assert repr(trigger) == (
        "<StandardCronTrigger ('0 9 * * 1-5', timezone='Europe/Berlin', jitter=5)>"
    )


def _job() -> None:
    """A job that is never run: the schedulers below stay paused."""


@pytest.mark.parametrize(
    ("expression", "zone", "expected"),
    [
        ("0 9 * * 1-5", "UTC", "2026-01-01T09:00:00+00:00"),
        ("0 0 1 * MON", "UTC", "2026-01-01T00:00:00+00:00"),  # now itself counts
        ("30 2 * * *", "Europe/Berlin", "2026-03-29T03:00:00+02:00"),
    ],
)
def test_background_scheduler_computes_next_run_time(
    expression: str, zone: str, expected: str
) -> None:
    with time_machine.travel(
        datetime(2026, 3, 28, 23, tzinfo=UTC) if zone != "UTC" else AFTER, tick=False
    ):
        scheduler = BackgroundScheduler(timezone="UTC")
        scheduler.start(paused=True)
        try:
            job = scheduler.add_job(_job, trigger=build_trigger(expression, zone), id="job")
            assert job.next_run_time.isoformat() == expected
        finally:
            scheduler.shutdown(wait=False)


async def test_asyncio_scheduler_computes_next_run_time() -> None:
    with time_machine.travel(AFTER, tick=False):
        scheduler = AsyncIOScheduler(timezone="UTC")
        scheduler.start(paused=True)
        try:
            job = scheduler.add_job(_job, trigger=build_trigger("0 9 * * 1-5", "Europe/Berlin"))
            assert job.next_run_time.isoformat() == "2026-01-01T09:00:00+01:00"
        finally:
            scheduler.shutdown(wait=False)


DESCRIPTION_CASES = {
    "seed weekdays": ("0 9 * * 1-5", "At 09:00, Monday through Friday"),
    "seed seconds": ("30 0 8 * * *", "At 08:00:30"),
    "seed every minute": ("* * * * *", "Every minute"),
    "seed every 5 minutes": ("*/5 * * * *", "Every 5 minutes"),
    "seed every hour": ("0 * * * *", "Every hour"),
    "seed midnight": ("0 0 * * *", "At 00:00"),
    "seed first of month": ("0 0 1 * *", "At 00:00, on day 1 of the month"),
    "seed sunday": ("0 0 * * 0", "At 00:00, only on Sunday"),
    "7 is Sunday": ("0 0 * * 7", "At 00:00, only on Sunday"),
    "0 and 7 once": ("0 0 * * 0,7", "At 00:00, only on Sunday"),
    "names": ("0 12 * JAN,jul mon", "At 12:00, only on Monday, only in January and July"),
    "@weekly": ("@weekly", "At 00:00, only on Sunday"),
    "@hourly": ("@hourly", "Every hour"),
    "@yearly": ("@yearly", "At 00:00, on day 1 of the month, only in January"),
    "OR rule": ("0 0 1,15 * MON", "At 00:00, on day 1 and 15 of the month, or on Monday"),
    "*/2 day is AND": ("0 0 */2 * 1", "At 00:00, every 2 days, only on Monday"),
    "a/n weekdays": ("0 0 * * 1/2", "At 00:00, only on Sunday, Monday, Wednesday, and Friday"),
    "9-9/3 as cronsim": ("0 9-9/3 * * *", "Every 3 hours, starting at 09:00"),
    "mixed list": ("10,*/20 * * * *", "At 0, 10, 20, and 40 minutes past the hour"),
}


@pytest.mark.parametrize(
    ("expression", "expected"), DESCRIPTION_CASES.values(), ids=DESCRIPTION_CASES.keys()
)
def test_describe(expression: str, expected: str) -> None:
    assert describe(expression) == expected


def test_describe_rejects_invalid_expressions() -> None:
    with pytest.raises(InvalidCronExpression, match="day-of-week 8 is out of range 0-7"):
        describe("0 0 * * 8")
