"""``build_trigger`` and ``next_fire_times``: the APScheduler trigger for an expression and zone.

Zones that never change offset get APScheduler's own ``CronTrigger`` (an ``OrTrigger`` of two
for cron's day-of-month OR day-of-week rule, weekdays renumbered for agronholm/apscheduler#286);
zones with DST get ``StandardCronTrigger``. Previews use the same choice, so they show what runs.
``shared_trigger`` wraps one for many jobs on the same schedule to share.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.combining import OrTrigger
from apscheduler.triggers.cron import CronTrigger

from scheduler.cron.hashed import resolve_for
from scheduler.cron.parse import CronSchedule, consecutive_runs, days_occur, parse_expression
from scheduler.cron.trigger import StandardCronTrigger, Trigger
from scheduler.cron.zones import has_constant_offset, resolve_zone

__all__ = [
    "SharedTrigger",
    "build_trigger",
    "fire_times_between",
    "next_fire_times",
    "shared_trigger",
]

_APS_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_MICROSECOND = timedelta(microseconds=1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_UTC_NAMES = frozenset({"UTC", "Etc/UTC", "Etc/UCT", "Etc/Universal", "Etc/Zulu", "UCT", "Zulu"})


def _aps_field(values: frozenset[int], low: int, high: int, names: tuple[str, ...] = ()) -> str:
    """Explicit APScheduler field text (``*`` when every value is in), ranges compressed."""
    if values == frozenset(range(low, high + 1)):
        return "*"
    label = (lambda value: names[value]) if names else str
    return ",".join(
        label(first) if first == last else f"{label(first)}-{label(last)}"
        for first, last in consecutive_runs(sorted(values))
    )


def _cron_trigger(
    schedule: CronSchedule, zone: tzinfo, *, day: str, day_of_week: str, jitter: float | None
) -> Any:
    return CronTrigger(
        month=_aps_field(schedule.months, 1, 12),
        day=day,
        day_of_week=day_of_week,
        hour=_aps_field(schedule.hours, 0, 23),
        minute=_aps_field(schedule.minutes, 0, 59),
        second=_aps_field(schedule.seconds, 0, 59),
        timezone=zone,
        jitter=jitter,
    )


def _apscheduler_trigger(schedule: CronSchedule, zone: tzinfo, jitter: float | None) -> Trigger:
    """APScheduler's own triggers for constant-offset zones, weekdays renumbered (#286)."""
    days = _aps_field(schedule.days, 1, 31)
    # APScheduler counts weekdays from Monday = 0; cron from Sunday = 0.
    monday_first = frozenset((day + 6) % 7 for day in schedule.weekdays)
    weekdays = _aps_field(monday_first, 0, 6, _APS_WEEKDAYS)
    trigger: Trigger
    if schedule.either_day_matches and not days_occur(schedule):
        # "0 0 31 2 MON": a CronTrigger for Feb 31 would search up to year 9999 on every call.
        trigger = _cron_trigger(schedule, zone, day="*", day_of_week=weekdays, jitter=jitter)
    elif schedule.either_day_matches:
        trigger = OrTrigger(
            [
                _cron_trigger(schedule, zone, day=days, day_of_week="*", jitter=None),
                _cron_trigger(schedule, zone, day="*", day_of_week=weekdays, jitter=None),
            ],
            jitter=jitter,
        )
    else:
        trigger = _cron_trigger(schedule, zone, day=days, day_of_week=weekdays, jitter=jitter)
    return trigger


def build_trigger(
    expression: str,
    timezone: str | tzinfo = "UTC",
    *,
    jitter: float | None = None,
    job_id: str | None = None,
) -> Trigger:
    """An APScheduler 3 trigger for a standard cron expression in ``timezone``.

    Constant-offset zones get APScheduler's CronTrigger (or an OrTrigger of two for the
    day OR rule); zones with DST get ``StandardCronTrigger``, since CronTrigger is wrong
    next to transitions there. ``H`` fields are resolved for ``job_id`` first.
    """
    schedule = parse_expression(resolve_for(expression, job_id))
    zone = resolve_zone(timezone)
    if has_constant_offset(zone):
        return _apscheduler_trigger(schedule, _plain_utc(zone), jitter)
    return StandardCronTrigger(schedule, zone, jitter=jitter)


def _plain_utc(zone: tzinfo) -> tzinfo:
    """``datetime.UTC`` for the IANA names of UTC: the same instants, and cheaper to compute
    with than ``ZoneInfo("UTC")``, which every comparison of fire times asks for its offset."""
    if isinstance(zone, ZoneInfo) and zone.key in _UTC_NAMES:
        return UTC
    return zone


class SharedTrigger(BaseTrigger):  # type: ignore[misc]  # APScheduler is untyped
    """A trigger that many jobs on one schedule share: it answers a repeated question once.

    When a thousand jobs on one schedule fall due together, APScheduler asks each job's
    trigger, twice, for the next fire time after the same ``(previous_fire_time, now)``; at
    tens of microseconds per CronTrigger answer, that was most of the time it took to fire
    them (tests/benchmarks/bench_lag.py). The answer depends only on those two instants, so
    the last one is kept, keyed by the exact instants (fold included, unlike ``==`` in one
    zone). Not for jitter: each answer is random.
    """

    __slots__ = ("_last", "trigger")

    def __init__(self, trigger: Trigger) -> None:
        self.trigger = trigger
        self._last: tuple[tuple[timedelta | None, timedelta], datetime | None] | None = None

    def get_next_fire_time(
        self, previous_fire_time: datetime | None, now: datetime
    ) -> datetime | None:
        """What the wrapped trigger answers, computed once per distinct question in a row."""
        previous = None if previous_fire_time is None else previous_fire_time - _EPOCH
        question = (previous, now - _EPOCH)
        last = self._last  # read once: another thread may replace it, never half-way
        if last is not None and last[0] == question:
            return last[1]
        answer = self.trigger.get_next_fire_time(previous_fire_time, now)
        self._last = (question, answer)
        return answer

    def __str__(self) -> str:
        return str(self.trigger)

    def __repr__(self) -> str:
        return f"<SharedTrigger {self.trigger!r}>"


def shared_trigger(trigger: Trigger) -> Trigger:
    """``trigger`` wrapped for sharing, unless it has jitter: then each answer is random."""
    if getattr(trigger, "jitter", None):
        return trigger
    return SharedTrigger(trigger)


def next_fire_times(
    expression: str,
    *,
    after: datetime,
    count: int,
    timezone: str | tzinfo = "UTC",
    job_id: str | None = None,
) -> list[datetime]:
    """The next ``count`` fire times strictly after ``after``, aware, in ``timezone``.

    Uses the trigger ``build_trigger`` returns, so previews show what will really run;
    ``H`` fields are resolved for ``job_id``.
    """
    _check_aware(after, "after")
    if count < 0:
        raise ValueError(f"'count' must be 0 or more, got {count}")
    zone = resolve_zone(timezone)
    trigger = build_trigger(expression, zone, job_id=job_id)
    times: list[datetime] = []
    after_utc = after.astimezone(UTC)  # arithmetic on local times would lose the fold
    while len(times) < count:
        fire_time = trigger.get_next_fire_time(None, after_utc + _MICROSECOND)
        if fire_time is None:
            break
        times.append(fire_time.astimezone(zone))
        after_utc = fire_time.astimezone(UTC)
    return times


def fire_times_between(
    expression: str,
    *,
    start: datetime,
    end: datetime,
    timezone: str | tzinfo = "UTC",
    job_id: str | None = None,
    limit: int | None = None,
) -> list[datetime]:
    """Fire times in ``[start, end)``, aware, in ``timezone``; at most ``limit`` of them.

    For timelines and lints over a window, which step through thousands of fire times:
    ``StandardCronTrigger`` in every zone, several times faster per step than APScheduler's
    CronTrigger, and giving the same times in constant-offset zones (both are tested against
    cronsim). ``limit`` bounds the work for a schedule that fires every second over a long
    window.
    """
    _check_aware(start, "start")
    _check_aware(end, "end")
    zone = resolve_zone(timezone)
    trigger = StandardCronTrigger(parse_expression(resolve_for(expression, job_id)), zone)
    times: list[datetime] = []
    end_utc = end.astimezone(UTC)
    fire_time = trigger.get_next_fire_time(None, start.astimezone(UTC))
    while fire_time is not None and fire_time < end_utc:
        if limit is not None and len(times) >= limit:
            break
        times.append(fire_time.astimezone(zone))
        following = fire_time.astimezone(UTC) + _MICROSECOND
        fire_time = trigger.get_next_fire_time(None, following)
    return times


def _check_aware(moment: datetime, name: str) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name!r} must be a timezone-aware datetime")
