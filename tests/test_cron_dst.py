"""DST: Debian cron(8)'s fixed-time rule, in zones on both hemispheres and odd transitions.

Fixed-time jobs (neither minute nor hour begins with ``*``) run once at the jump for a
gap and once at the first pass of a fold; other jobs follow the clock. Times are compared
by ``isoformat()`` because ``==`` ignores ``fold`` within one zone.

2026 transitions used below (local wall clock):
- Europe/Berlin: gap 2026-03-29 02:00-03:00, fold 2026-10-25 02:00-03:00
- America/New_York: gap 2026-03-08 02:00-03:00, fold 2026-11-01 01:00-02:00
- Australia/Sydney: fold 2026-04-05 02:00-03:00, gap 2026-10-04 02:00-03:00
- Australia/Lord_Howe: 30-minute shifts, fold 2026-04-05 01:30-02:00, gap 2026-10-04 02:00-02:30
- America/Santiago: gap at midnight, 2026-09-06 00:00-01:00
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

import pytest
from apscheduler.triggers.cron import CronTrigger

from scheduler.cron import (
    CronSchedule,
    StandardCronTrigger,
    build_trigger,
    dst_warnings,
    next_fire_times,
    parse_expression,
)

BERLIN = ZoneInfo("Europe/Berlin")


def _iso(times: list[datetime]) -> list[str]:
    return [fire_time.isoformat() for fire_time in times]


def _local(text: str, zone: str) -> datetime:
    """An aware datetime from an ISO string with offset, shown in ``zone``."""
    return datetime.fromisoformat(text).astimezone(ZoneInfo(zone))


DST_CASES = [
    # (expression, zone, after, expected fire times)
    (
        "30 2 * * *",
        "Europe/Berlin",
        "2026-03-28T12:00:00+01:00",
        ["2026-03-29T03:00:00+02:00", "2026-03-30T02:30:00+02:00"],
    ),
    (
        "0 2 * * *",
        "Europe/Berlin",
        "2026-03-28T12:00:00+01:00",
        ["2026-03-29T03:00:00+02:00", "2026-03-30T02:00:00+02:00"],
    ),
    (
        "0,30 2 * * *",
        "Europe/Berlin",
        "2026-03-28T12:00:00+01:00",
        ["2026-03-29T03:00:00+02:00", "2026-03-30T02:00:00+02:00", "2026-03-30T02:30:00+02:00"],
    ),
    (
        "30 2-3 * * *",
        "Europe/Berlin",
        "2026-03-29T00:00:00+01:00",
        ["2026-03-29T03:00:00+02:00", "2026-03-29T03:30:00+02:00", "2026-03-30T02:30:00+02:00"],
    ),
    (
        "0 30 2 * * *",
        "Europe/Berlin",
        "2026-03-28T12:00:00+01:00",
        ["2026-03-29T03:00:00+02:00", "2026-03-30T02:30:00+02:00"],
    ),
    (
        "30 * * * *",
        "Europe/Berlin",
        "2026-03-29T01:00:00+01:00",
        ["2026-03-29T01:30:00+01:00", "2026-03-29T03:30:00+02:00"],
    ),
    (
        "*/30 * * * *",
        "Europe/Berlin",
        "2026-03-29T01:00:00+01:00",
        ["2026-03-29T01:30:00+01:00", "2026-03-29T03:00:00+02:00", "2026-03-29T03:30:00+02:00"],
    ),
    (
        "@hourly",
        "Europe/Berlin",
        "2026-03-29T00:30:00+01:00",
        ["2026-03-29T01:00:00+01:00", "2026-03-29T03:00:00+02:00", "2026-03-29T04:00:00+02:00"],
    ),
    (
        "30 2 * * *",
        "Europe/Berlin",
        "2026-10-24T12:00:00+02:00",
        ["2026-10-25T02:30:00+02:00", "2026-10-26T02:30:00+01:00"],
    ),
    (
        "*/30 * * * *",
        "Europe/Berlin",
        "2026-10-25T01:30:00+02:00",
        [
            "2026-10-25T02:00:00+02:00",
            "2026-10-25T02:30:00+02:00",
            "2026-10-25T02:00:00+01:00",
            "2026-10-25T02:30:00+01:00",
            "2026-10-25T03:00:00+01:00",
        ],
    ),
    (
        "@hourly",
        "Europe/Berlin",
        "2026-10-25T01:00:00+02:00",
        ["2026-10-25T02:00:00+02:00", "2026-10-25T02:00:00+01:00", "2026-10-25T03:00:00+01:00"],
    ),
    (
        "15 * * * *",
        "Europe/Berlin",
        "2026-10-25T02:20:00+02:00",
        ["2026-10-25T02:15:00+01:00", "2026-10-25T03:15:00+01:00"],
    ),
    (
        "30 2 * * *",
        "America/New_York",
        "2026-03-07T12:00:00-05:00",
        ["2026-03-08T03:00:00-04:00", "2026-03-09T02:30:00-04:00"],
    ),
    (
        "30 1 * * *",
        "America/New_York",
        "2026-10-31T12:00:00-04:00",
        ["2026-11-01T01:30:00-04:00", "2026-11-02T01:30:00-05:00"],
    ),
    (
        "*/30 * * * *",
        "America/New_York",
        "2026-11-01T00:30:00-04:00",
        [
            "2026-11-01T01:00:00-04:00",
            "2026-11-01T01:30:00-04:00",
            "2026-11-01T01:00:00-05:00",
            "2026-11-01T01:30:00-05:00",
            "2026-11-01T02:00:00-05:00",
        ],
    ),
    (
        "30 2 * * *",
        "Australia/Sydney",
        "2026-10-03T12:00:00+10:00",
        ["2026-10-04T03:00:00+11:00", "2026-10-05T02:30:00+11:00"],
    ),
    (
        "30 2 * * *",
        "Australia/Sydney",
        "2026-04-04T12:00:00+11:00",
        ["2026-04-05T02:30:00+11:00", "2026-04-06T02:30:00+10:00"],
    ),
    (
        "0 * * * *",
        "Australia/Sydney",
        "2026-04-05T01:30:00+11:00",
        ["2026-04-05T02:00:00+11:00", "2026-04-05T02:00:00+10:00", "2026-04-05T03:00:00+10:00"],
    ),
    (
        "15 2 * * *",
        "Australia/Lord_Howe",
        "2026-10-03T12:00:00+10:30",
        ["2026-10-04T02:30:00+11:00", "2026-10-05T02:15:00+11:00"],
    ),
    (
        "45 1 * * *",
        "Australia/Lord_Howe",
        "2026-04-04T12:00:00+11:00",
        ["2026-04-05T01:45:00+11:00", "2026-04-06T01:45:00+10:30"],
    ),
    (
        "0 0 * * *",
        "America/Santiago",
        "2026-09-05T12:00:00-04:00",
        ["2026-09-06T01:00:00-03:00", "2026-09-07T00:00:00-03:00"],
    ),
]


@pytest.mark.parametrize(
    ("expression", "zone", "after", "expected"),
    DST_CASES,
    ids=[f"{zone}|{expression}|{after[:10]}" for expression, zone, after, _ in DST_CASES],
)
def test_fire_times_across_transitions(
    expression: str, zone: str, after: str, expected: list[str]
) -> None:
    start = _local(after, zone)
    times = next_fire_times(expression, after=start, count=len(expected), timezone=zone)
    assert _iso(times) == expected


def test_gap_occurrence_fires_when_now_is_the_jump_itself() -> None:
    trigger = build_trigger("30 2 * * *", "Europe/Berlin")
    jump = datetime(2026, 3, 29, 1, 0, tzinfo=UTC)
    first = trigger.get_next_fire_time(None, jump)
    assert first is not None and first.isoformat() == "2026-03-29T03:00:00+02:00"
    second = trigger.get_next_fire_time(first, first)
    assert second is not None and second.isoformat() == "2026-03-30T02:30:00+02:00"


def test_previous_fire_time_in_the_second_pass_keeps_its_fold() -> None:
    """Passing the second-pass fire time back must not restart from the first pass."""
    trigger = build_trigger("*/30 * * * *", "Europe/Berlin")
    second_pass = datetime(2026, 10, 25, 2, 30, tzinfo=BERLIN, fold=1)
    following = trigger.get_next_fire_time(second_pass, second_pass)
    assert following is not None and following.isoformat() == "2026-10-25T03:00:00+01:00"


def test_jitter_is_added_in_utc_so_the_fold_survives() -> None:
    trigger = build_trigger("*/30 * * * *", "Europe/Berlin", jitter=20)
    now = datetime(2026, 10, 25, 0, 45, tzinfo=UTC)  # 02:45 CEST; next: 02:00 CET, 2nd pass
    random.seed(7)
    for _ in range(20):
        fire_time = trigger.get_next_fire_time(None, now)
        assert fire_time is not None
        delay = fire_time.astimezone(UTC) - datetime(2026, 10, 25, 1, 0, tzinfo=UTC)
        assert timedelta(0) <= delay <= timedelta(seconds=20)
        assert fire_time.utcoffset() == timedelta(hours=1)


def test_apschedulers_own_crontrigger_is_wrong_where_ours_is_right() -> None:
    """agronholm/apscheduler#529/#606 corners; if this starts failing, upstream fixed it."""
    now = datetime(2026, 3, 28, 12, tzinfo=UTC)
    theirs = CronTrigger(hour="2", minute="30", timezone=BERLIN).get_next_fire_time(None, now)
    ours = build_trigger("30 2 * * *", "Europe/Berlin").get_next_fire_time(None, now)
    assert theirs.isoformat() == "2026-03-29T02:30:00+01:00"  # a wall time that never exists
    assert theirs.astimezone(UTC).astimezone(BERLIN).isoformat() == "2026-03-29T03:30:00+02:00"
    assert ours is not None and ours.isoformat() == "2026-03-29T03:00:00+02:00"

    fold_trigger = CronTrigger(hour="2", minute="30", timezone=BERLIN)
    first = fold_trigger.get_next_fire_time(None, datetime(2026, 10, 24, 12, tzinfo=UTC))
    second = fold_trigger.get_next_fire_time(first, first)
    assert [first.isoformat(), second.isoformat()] == [
        "2026-10-25T02:30:00+02:00",
        "2026-10-25T02:30:00+01:00",  # a fixed-time job run twice on one day
    ]


def test_build_trigger_picks_our_trigger_only_where_offsets_change() -> None:
    assert isinstance(build_trigger("0 3 * * *", "Europe/Berlin"), StandardCronTrigger)
    assert isinstance(build_trigger("0 3 * * *", "America/Sao_Paulo"), StandardCronTrigger)
    assert isinstance(build_trigger("0 3 * * *", "Asia/Kolkata"), CronTrigger)
    assert isinstance(build_trigger("0 3 * * *", "UTC"), CronTrigger)


# --------------------------------------------------------------------------- brute force


def _transitions(zone: tzinfo, year: int) -> list[datetime]:
    """UTC instants where the zone's offset changes, found by 15-minute steps."""
    found, instant = [], datetime(year, 1, 1, tzinfo=UTC)
    previous = instant.astimezone(zone).utcoffset()
    while instant.year == year:
        offset = instant.astimezone(zone).utcoffset()
        if offset != previous:
            found.append(instant)
        previous, instant = offset, instant + timedelta(minutes=15)
    return found


def _wall_matches(schedule: CronSchedule, wall: datetime) -> bool:
    return (
        wall.minute in schedule.minutes
        and wall.hour in schedule.hours
        and wall.month in schedule.months
        and schedule.matches_day(wall.date())
    )


def _brute_force(schedule: CronSchedule, zone: tzinfo, low: datetime, high: datetime) -> list[str]:
    """Judge every UTC minute of ``[low, high)`` on its own by the DST rule."""
    fired, instant = [], low
    while instant < high:
        local = instant.astimezone(zone)
        wall = local.replace(tzinfo=None)
        fires = _wall_matches(schedule, wall) and not (schedule.is_fixed_time and local.fold)
        offset_before = (instant - timedelta(seconds=1)).astimezone(zone).utcoffset()
        offset = local.utcoffset()
        assert offset is not None and offset_before is not None
        if schedule.is_fixed_time and offset > offset_before:
            gap_start = instant.replace(tzinfo=None) + offset_before
            minutes = range((offset - offset_before) // timedelta(minutes=1))
            gap = [gap_start + timedelta(minutes=minute) for minute in minutes]
            fires = fires or any(_wall_matches(schedule, gap_wall) for gap_wall in gap)
        if fires:
            fired.append(local.isoformat())
        instant += timedelta(minutes=1)
    return fired


def _trigger_times(trigger: StandardCronTrigger, low: datetime, high: datetime) -> list[str]:
    fired: list[str] = []
    previous, now = None, low
    while True:
        fire_time = trigger.get_next_fire_time(previous, now)
        assert fire_time is not None
        if fire_time >= high:
            return fired
        fired.append(fire_time.isoformat())
        previous = now = fire_time


def _random_expression(rng: random.Random) -> str:
    minute = rng.choice(["*", "*/15", "0", "30", "0,30", "15-45/15", "59", "*/7", "10/20"])
    hour = rng.choice(["*", "*/2", "0", "1", "2", "3", "1-3", "2,3", "*/3", "0-4/2", "1/1", "23"])
    day = rng.choice(["*", "*", "*", "1-15", "4,5", "*/2", "25-31"])
    weekday = rng.choice(["*", "*", "*", "0", "SAT,SUN", "1-5", "*/2"])
    return f"{minute} {hour} {day} * {weekday}"


ZONES = [
    "Europe/Berlin",
    "America/New_York",
    "Australia/Sydney",
    "Australia/Lord_Howe",
    "America/Santiago",
]


@pytest.mark.parametrize("zone_name", ZONES)
def test_standard_trigger_agrees_with_a_minute_by_minute_brute_force(zone_name: str) -> None:
    zone = ZoneInfo(zone_name)
    rng = random.Random(zone_name)
    jumps = _transitions(zone, 2026)
    windows = [(jump - timedelta(hours=5), jump + timedelta(hours=5)) for jump in jumps]
    assert len(windows) == 2
    mismatches = []
    for _ in range(120):
        expression = _random_expression(rng)
        trigger = StandardCronTrigger(parse_expression(expression), zone)
        for low, high in windows:
            expected = _brute_force(trigger.schedule, zone, low, high)
            if _trigger_times(trigger, low, high) != expected:
                mismatches.append((expression, low.isoformat()))
    assert mismatches == []


# --------------------------------------------------------------------------- warnings

NEW_YEAR = datetime(2026, 1, 1, tzinfo=UTC)

WARNING_CASES = [
    (
        "30 2 * * *",
        "Europe/Berlin",
        [
            "02:30 falls in the daylight-saving gap on 2026-03-29"
            " in Europe/Berlin: it runs once at 03:00",
            "02:30 falls in the repeated hour on 2026-10-25"
            " in Europe/Berlin: it runs once, at the first pass",
        ],
    ),
    (
        "0,30 2 * * 0",
        "Europe/Berlin",
        [
            "02:00 and 02:30 fall in the daylight-saving gap on 2026-03-29"
            " in Europe/Berlin: it runs once at 03:00",
            "02:00 and 02:30 fall in the repeated hour on 2026-10-25"
            " in Europe/Berlin: it runs once, at the first pass",
        ],
    ),
    (
        "0-59 2 * * *",
        "Australia/Sydney",
        [
            "02:00, 02:01, 02:02 and 57 more fall in the repeated hour on 2026-04-05"
            " in Australia/Sydney: it runs once, at the first pass",
            "02:00, 02:01, 02:02 and 57 more fall in the daylight-saving gap on 2026-10-04"
            " in Australia/Sydney: it runs once at 03:00",
        ],
    ),
    (
        "30 1 * * *",
        "America/New_York",
        [
            "01:30 falls in the repeated hour on 2026-11-01"
            " in America/New_York: it runs once, at the first pass",
        ],
    ),
    (
        "45 1 * * *",
        "Australia/Lord_Howe",
        [
            "01:45 falls in the repeated 30 minutes on 2026-04-05"
            " in Australia/Lord_Howe: it runs once, at the first pass",
        ],
    ),
    (
        "30 2 28 3 *",
        "Europe/Berlin",
        [
            "02:30 falls in the daylight-saving gap on 2027-03-28"
            " in Europe/Berlin: it runs once at 03:00",
        ],
    ),
    ("30 2 * * 1-5", "Europe/Berlin", []),  # transitions there are on Sundays
    ("0 9 * * *", "Europe/Berlin", []),
    ("*/15 2 * * *", "Europe/Berlin", []),  # follows the clock: nothing to warn about
    ("@hourly", "Europe/Berlin", []),
    ("30 2 * * *", "UTC", []),
    ("30 2 * * *", "Asia/Kolkata", []),
]


@pytest.mark.parametrize(
    ("expression", "zone", "expected"),
    WARNING_CASES,
    ids=[f"{zone}|{expression}" for expression, zone, _ in WARNING_CASES],
)
def test_dst_warnings(expression: str, zone: str, expected: list[str]) -> None:
    assert dst_warnings(expression, zone, now=NEW_YEAR) == expected


def test_dst_warnings_look_only_ahead_of_now() -> None:
    after_spring = datetime(2026, 6, 1, tzinfo=UTC)
    assert dst_warnings("30 2 * * *", "Europe/Berlin", now=after_spring, years=1) == [
        "02:30 falls in the repeated hour on 2026-10-25"
        " in Europe/Berlin: it runs once, at the first pass",
        "02:30 falls in the daylight-saving gap on 2027-03-28"
        " in Europe/Berlin: it runs once at 03:00",
    ]
