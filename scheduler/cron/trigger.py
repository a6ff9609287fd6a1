"""``StandardCronTrigger``: fire times found on the wall clock, mapped by the DST rule below.

APScheduler 3.11's CronTrigger can return nonexistent local times next to a transition
(agronholm/apscheduler#529, #606), so zones with DST get this trigger instead. It searches
naive wall-clock times field by field (like cronsim) and maps them to instants one
constant-offset piece of UTC time at a time.
"""

from __future__ import annotations

from bisect import bisect_left
from datetime import UTC, datetime, time, timedelta, tzinfo
from typing import TYPE_CHECKING, Any, Protocol

from scheduler.cron.parse import CronSchedule, parse_expression
from scheduler.cron.zones import OffsetPiece, offset_pieces, resolve_zone

if TYPE_CHECKING:

    class _TriggerBase:
        """Typed stand-in for APScheduler's untyped ``BaseTrigger``."""

        def _apply_jitter(
            self, next_fire_time: datetime | None, jitter: float | None, now: datetime
        ) -> datetime | None: ...

else:
    from apscheduler.triggers.base import BaseTrigger as _TriggerBase

__all__ = ["StandardCronTrigger", "Trigger", "WallClockMatcher"]

_MICROSECOND = timedelta(microseconds=1)
_HORIZON_YEARS = 100  # a valid schedule fires within 40 years (Feb 29 on a given weekday)


class Trigger(Protocol):
    """What a scheduler needs from a trigger: APScheduler 3's ``BaseTrigger`` interface."""

    def get_next_fire_time(
        self, previous_fire_time: datetime | None, now: datetime
    ) -> datetime | None: ...


class WallClockMatcher:
    """Finds matching naive wall-clock times field by field, like cronsim, without a zone."""

    __slots__ = ("_hours", "_minutes", "_months", "_seconds", "schedule")

    def __init__(self, schedule: CronSchedule) -> None:
        self.schedule = schedule
        self._months = tuple(sorted(schedule.months))
        self._hours = tuple(sorted(schedule.hours))
        self._minutes = tuple(sorted(schedule.minutes))
        self._seconds = tuple(sorted(schedule.seconds))

    def next_match(self, start: datetime, end: datetime) -> datetime | None:
        """First matching wall time in ``[start, end)``, or None."""
        when: datetime | None = start
        while when is not None and when < end:
            candidate = self._skip(when)
            if candidate is None:
                return when
            when = candidate
        return None

    def _skip(self, when: datetime) -> datetime | None:
        """None when ``when`` matches, else the next wall time worth checking."""
        schedule = self.schedule
        if when.month not in schedule.months:
            index = bisect_left(self._months, when.month)
            if index < len(self._months):
                return datetime(when.year, self._months[index], 1)
            return None if when.year >= 9998 else datetime(when.year + 1, self._months[0], 1)
        next_day = datetime.combine(when.date() + timedelta(days=1), time())
        if not schedule.matches_day(when.date()):
            return next_day
        if when.hour not in schedule.hours:
            hour = _next_value(self._hours, when.hour)
            return next_day if hour is None else when.replace(hour=hour, minute=0, second=0)
        if when.minute not in schedule.minutes:
            minute = _next_value(self._minutes, when.minute)
            next_hour = when.replace(minute=0, second=0) + timedelta(hours=1)
            return next_hour if minute is None else when.replace(minute=minute, second=0)
        if when.second not in schedule.seconds:
            second = _next_value(self._seconds, when.second)
            next_minute = when.replace(second=0) + timedelta(minutes=1)
            return next_minute if second is None else when.replace(second=second)
        return None


def _next_value(values: tuple[int, ...], current: int) -> int | None:
    index = bisect_left(values, current)
    return values[index] if index < len(values) else None


def _search_start(previous_fire_time: datetime | None, now: datetime) -> datetime:
    """Where to start looking, exactly as APScheduler's CronTrigger does, ceiled to seconds."""
    start = now.astimezone(UTC)
    if previous_fire_time is not None:
        previous = previous_fire_time.astimezone(UTC)
        start = min(start, previous + _MICROSECOND)
        if start == previous:
            start += _MICROSECOND
    if start.microsecond:
        start += timedelta(seconds=1, microseconds=-start.microsecond)
    return start


def _first_in_piece(
    matcher: WallClockMatcher, piece: OffsetPiece, start: datetime
) -> datetime | None:
    """First fire instant ``>= start`` inside ``piece``, applying the DST rule."""
    fixed = matcher.schedule.is_fixed_time
    changed_wall = piece.changed_at.replace(tzinfo=None)
    if fixed and piece.offset > piece.previous_offset and piece.start == piece.changed_at:
        # Spring forward: a fixed-time occurrence in the gap runs at the jump itself.
        gap = (changed_wall + piece.previous_offset, changed_wall + piece.offset)
        if start <= piece.start and matcher.next_match(*gap) is not None:
            return piece.start
    wall_from = max(start, piece.start).replace(tzinfo=None) + piece.offset
    if fixed and piece.offset < piece.previous_offset:
        # Fall back: fixed-time jobs ran at the first pass; skip the repeated wall times.
        wall_from = max(wall_from, changed_wall + piece.previous_offset)
    wall = matcher.next_match(wall_from, piece.end.replace(tzinfo=None) + piece.offset)
    return None if wall is None else (wall - piece.offset).replace(tzinfo=UTC)


def _next_instant(matcher: WallClockMatcher, zone: tzinfo, start: datetime) -> datetime | None:
    """First fire instant (UTC) at or after ``start`` (UTC, whole seconds)."""
    for year in range(start.year, min(start.year + _HORIZON_YEARS, 9998)):
        for piece in offset_pieces(zone, year):
            if piece.end > start:
                found = _first_in_piece(matcher, piece, start)
                if found is not None:
                    return found
    return None


class StandardCronTrigger(_TriggerBase):
    """A standard-cron APScheduler trigger that is right across DST changes.

    APScheduler 3.11's CronTrigger can return nonexistent local times next to a
    transition (agronholm/apscheduler#529, #606). This one searches naive wall-clock
    times and maps them to instants by the rule cron(8) documents: fixed-time jobs run once at the
    jump in a gap and once at the first pass of a fold; other jobs follow the clock.
    """

    __slots__ = ("_matcher", "jitter", "schedule", "timezone")

    def __init__(
        self,
        schedule: CronSchedule | str,
        timezone: str | tzinfo = "UTC",
        *,
        jitter: float | None = None,
    ) -> None:
        if isinstance(schedule, str):
            schedule = parse_expression(schedule)
        self.schedule = schedule
        self.timezone = resolve_zone(timezone)
        self.jitter = jitter
        self._matcher = WallClockMatcher(schedule)

    def get_next_fire_time(
        self, previous_fire_time: datetime | None, now: datetime
    ) -> datetime | None:
        """Next fire time ``>= now`` (or after ``previous_fire_time``), APScheduler's contract."""
        start = _search_start(previous_fire_time, now)
        instant = _next_instant(self._matcher, self.timezone, start)
        if instant is None:
            return None
        jittered = self._apply_jitter(instant, self.jitter, now) or instant  # in UTC: keeps fold
        return jittered.astimezone(self.timezone)

    def __getstate__(self) -> dict[str, Any]:
        return {
            "version": 1,
            "schedule": self.schedule,
            "timezone": self.timezone,
            "jitter": self.jitter,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.schedule = state["schedule"]
        self.timezone = state["timezone"]
        self.jitter = state["jitter"]
        self._matcher = WallClockMatcher(self.schedule)

    def __str__(self) -> str:
        return f"cron[{self.schedule.expression}]"

    def __repr__(self) -> str:
        jitter = f", jitter={self.jitter}" if self.jitter else ""
        expression = self.schedule.expression
        return f"<StandardCronTrigger ({expression!r}, timezone='{self.timezone}'{jitter})>"
