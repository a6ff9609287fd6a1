"""The minutes a schedule fires in over a window, counted fast: for lints over many jobs.

Stepping a trigger costs about ten microseconds a fire time; a week of thousands of distinct
schedules is tens of thousands of steps, which ``validate`` would pay on every run. Here the
window is cut into constant-offset pieces of the zone and each piece's matching wall-clock
minutes are enumerated from the parsed value sets as plain integers, then shifted by the
piece's offset, applying the same DST rule as ``StandardCronTrigger`` (fixed-time jobs: once
at the jump in a gap, once at the first pass of a fold; others follow the clock). A test
checks the answer against that trigger's fire times.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, tzinfo

from scheduler.cron.hashed import resolve_for
from scheduler.cron.parse import CronSchedule, parse_expression
from scheduler.cron.zones import OffsetPiece, offset_pieces, resolve_zone

__all__ = ["fire_minutes_between"]

_EPOCH = datetime(1970, 1, 1)
_MINUTE = timedelta(minutes=1)


def _minute_of(moment: datetime) -> int:
    """Minutes since the epoch of a naive (wall or UTC) time, rounded down."""
    return (moment - _EPOCH) // _MINUTE


def _wall_minutes(schedule: CronSchedule, low: int, high: int) -> Iterator[int]:
    """Matching wall-clock minutes (since the epoch, as if UTC) in ``[low, high)``."""
    hours, minutes = sorted(schedule.hours), sorted(schedule.minutes)
    day = _EPOCH.date() + timedelta(days=low // 1440)
    while (day_start := (day - _EPOCH.date()).days * 1440) < high:
        if day.month in schedule.months and schedule.matches_day(day):
            for hour in hours:
                for minute in minutes:
                    wall = day_start + hour * 60 + minute
                    if low <= wall < high:
                        yield wall
        day += timedelta(days=1)


def _in_gap(schedule: CronSchedule, piece: OffsetPiece) -> bool:
    changed = _minute_of(piece.changed_at.replace(tzinfo=None))
    low = changed + int(piece.previous_offset / _MINUTE)
    high = changed + int(piece.offset / _MINUTE)
    return next(_wall_minutes(schedule, low, high), None) is not None


def _piece_minutes(schedule: CronSchedule, piece: OffsetPiece, low: int, high: int) -> list[int]:
    """Fire minutes (UTC) in ``[low, high)`` within one constant-offset piece."""
    offset = int(piece.offset / _MINUTE)
    start = max(low, _minute_of(piece.start.replace(tzinfo=None)))
    end = min(high, _minute_of(piece.end.replace(tzinfo=None)))
    found: list[int] = []
    jumped = piece.start == piece.changed_at and piece.offset > piece.previous_offset
    at_jump = start == _minute_of(piece.start.replace(tzinfo=None))
    if schedule.is_fixed_time and jumped and at_jump and _in_gap(schedule, piece):
        found.append(start)  # spring forward: a fixed-time occurrence in the gap runs at the jump
    wall_low = start + offset
    if schedule.is_fixed_time and piece.offset < piece.previous_offset:
        # fall back: fixed-time jobs ran at the first pass; the repeated wall times are skipped
        changed = _minute_of(piece.changed_at.replace(tzinfo=None))
        wall_low = max(wall_low, changed + int(piece.previous_offset / _MINUTE))
    found.extend(wall - offset for wall in _wall_minutes(schedule, wall_low, end + offset))
    return found


def fire_minutes_between(
    expression: str,
    *,
    start: datetime,
    end: datetime,
    timezone: str | tzinfo = "UTC",
    job_id: str | None = None,
) -> list[int]:
    """The minutes (since the epoch, UTC) in which the schedule fires in ``[start, end)``,
    ascending, each once however many seconds of it match; ``start`` counts from its minute.
    """
    schedule = parse_expression(resolve_for(expression, job_id))
    zone = resolve_zone(timezone)
    low = _minute_of(start.astimezone(UTC).replace(tzinfo=None))
    high = _minute_of((end.astimezone(UTC) - timedelta(microseconds=1)).replace(tzinfo=None)) + 1
    minutes: list[int] = []
    for year in range(start.astimezone(UTC).year, end.astimezone(UTC).year + 1):
        for piece in offset_pieces(zone, year):
            piece_low = _minute_of(piece.start.replace(tzinfo=None))
            piece_high = _minute_of(piece.end.replace(tzinfo=None))
            if piece_high > low and piece_low < high:
                minutes.extend(_piece_minutes(schedule, piece, low, high))
    return sorted(set(minutes))
