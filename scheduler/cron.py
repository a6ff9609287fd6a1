"""Standard cron (Vixie/Debian dialect) -> APScheduler 3 triggers, previews and descriptions.

We parse cron ourselves instead of using ``CronTrigger.from_crontab``: APScheduler 3 reads
day-of-week 0 as Monday (agronholm/apscheduler#286) and ANDs day-of-month with day-of-week,
where cron treats 0 and 7 as Sunday and ORs two restricted day fields.
"""

from __future__ import annotations

import functools
import re
from bisect import bisect_left
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from typing import TYPE_CHECKING, Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.combining import OrTrigger
from apscheduler.triggers.cron import CronTrigger
from cron_descriptor import ExpressionDescriptor, Options

from scheduler.clock import SYSTEM_CLOCK
from scheduler.errors import InvalidCronExpression

if TYPE_CHECKING:

    class _TriggerBase:
        """Typed stand-in for APScheduler's untyped ``BaseTrigger``."""

        def _apply_jitter(
            self, next_fire_time: datetime | None, jitter: float | None, now: datetime
        ) -> datetime | None: ...

else:
    from apscheduler.triggers.base import BaseTrigger as _TriggerBase

__all__ = [
    "CronSchedule",
    "StandardCronTrigger",
    "Trigger",
    "build_trigger",
    "describe",
    "dst_warnings",
    "next_fire_times",
    "parse_expression",
    "validate_expression",
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
_MONTH_NAMES = ("January", "February", "March", "April", "May", "June", "July", "August",
                "September", "October", "November", "December")
_DAYS_IN_MONTH = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
_APS_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_SECOND = timedelta(seconds=1)
_MICROSECOND = timedelta(microseconds=1)
_PROBE_STEP = timedelta(hours=6)  # offset changes closer together than this are not seen
_HORIZON_YEARS = 100  # a valid schedule fires within 40 years (Feb 29 on a given weekday)


class _Reason(Exception):
    """Why a piece of an expression is invalid; becomes ``InvalidCronExpression``."""


@dataclass(frozen=True, slots=True)
class _FieldSpec:
    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()  # names[i] stands for the value names_start + i
    names_start: int = 0


_FIELDS = (
    _FieldSpec("second", 0, 59),
    _FieldSpec("minute", 0, 59),
    _FieldSpec("hour", 0, 23),
    _FieldSpec("day-of-month", 1, 31),
    _FieldSpec("month", 1, 12, _MONTHS, 1),
    _FieldSpec("day-of-week", 0, 7, _DAYS, 0),
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


def _split_fields(expression: str) -> list[str]:
    """Six field texts (seconds first; ``0`` when absent), macros expanded."""
    text = expression.strip()
    if text.startswith("@"):
        if text.lower() == "@reboot":
            raise _Reason("'@reboot' is not supported (it is not a time schedule)")
        if text.lower() not in MACROS:
            raise _Reason(f"unknown macro {text!r}; expected one of {', '.join(MACROS)}")
        text = MACROS[text.lower()]
    parts = text.split()
    if len(parts) not in (5, 6):
        raise _Reason(f"expected 5 fields (or 6 with seconds first), got {len(parts)}")
    return parts if len(parts) == 6 else ["0", *parts]


def _value(spec: _FieldSpec, text: str) -> int:
    """One number or name of a field, range-checked."""
    if text.isascii() and text.isdigit():
        number = int(text)
        if not spec.low <= number <= spec.high:
            raise _Reason(f"{spec.name} {number} is out of range {spec.low}-{spec.high}")
        return number
    upper = text.upper()
    if upper in spec.names:
        return spec.names.index(upper) + spec.names_start
    letters = upper.strip("0123456789")
    if letters in ("L", "W", "LW", "WL"):
        raise _Reason(f"'{letters[0]}' is not supported (standard cron only)")
    kind = f" or a name ({spec.names[0]}-{spec.names[-1]})" if spec.names else ""
    raise _Reason(f"{spec.name} value {text!r} is not a number{kind}")


def _step(spec: _FieldSpec, text: str) -> int:
    if not (text.isascii() and text.isdigit()):
        raise _Reason(f"{spec.name} step {text!r} is not a number")
    if int(text) == 0:
        raise _Reason(f"{spec.name} step 0 is not allowed (use 1 or more)")
    return int(text)


def _term_values(spec: _FieldSpec, term: str) -> range:
    """Values of one list item, stepping as cronsim does (``a/n`` and ``a-a/n`` run to the max)."""
    for symbol in "#?":
        if symbol in term:
            raise _Reason(f"'{symbol}' is not supported (standard cron only)")
    base, slash, step_text = term.partition("/")
    step = _step(spec, step_text) if slash else 1
    if base == "*":
        return range(spec.low, spec.high + 1, step)
    if "-" in base:
        low_text, _, high_text = base.partition("-")
        if not low_text or not high_text:
            raise _Reason(f"{spec.name} range {base!r} is incomplete")
        low, high = _value(spec, low_text), _value(spec, high_text)
        if high < low:
            raise _Reason(f"{spec.name} range {base} runs backwards (wrap-around is not supported)")
    else:
        low = high = _value(spec, base)
    if slash and low == high:
        high = spec.high
    return range(low, high + 1, step)


def _field_values(spec: _FieldSpec, text: str) -> frozenset[int]:
    values: set[int] = set()
    for term in text.split(","):
        if not term:
            raise _Reason(f"{spec.name} {text!r} has an empty list item")
        values.update(_term_values(spec, term))
    return frozenset(values)


def _days_occur(schedule: CronSchedule) -> bool:
    """Whether some listed month has one of the listed days of the month."""
    return any(
        day <= _DAYS_IN_MONTH[month - 1] for month in schedule.months for day in schedule.days
    )


def _check_fires(schedule: CronSchedule, day_text: str) -> None:
    """Reject day-of-month values that no listed month has (``0 0 30 2 *``)."""
    if schedule.either_day_matches or _days_occur(schedule):
        return
    months = sorted(schedule.months)
    names = [_MONTH_NAMES[month - 1] for month in months]
    listed = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"
    raise _Reason(f"never fires: day-of-month {day_text} does not occur in {listed}")


@functools.lru_cache(maxsize=4096)
def parse_expression(expression: str) -> CronSchedule:
    """Parse standard cron into value sets; cached because manifests repeat expressions.

    Raises:
        InvalidCronExpression: with a one-line reason naming the field and the value.
    """
    try:
        parts = _split_fields(expression)
        second, minute, hour, day, month, weekday = (
            _field_values(spec, text) for spec, text in zip(_FIELDS, parts, strict=True)
        )
        schedule = CronSchedule(
            seconds=second, minutes=minute, hours=hour, days=day, months=month,
            weekdays=frozenset(value % 7 for value in weekday),
            days_restricted=not parts[3].startswith("*"),
            weekdays_restricted=not parts[5].startswith("*"),
            has_seconds=len(expression.split()) == 6,
            is_fixed_time=not parts[1].startswith("*") and not parts[2].startswith("*"),
            expression=expression,
        )
        _check_fires(schedule, parts[3])
    except _Reason as reason:
        raise InvalidCronExpression(expression, str(reason)) from reason
    return schedule


def validate_expression(expression: str) -> None:
    """Raise ``InvalidCronExpression`` unless ``expression`` is valid (cached via the parser)."""
    parse_expression(expression)


# --------------------------------------------------------------------------- wall-clock search


class _WallClockMatcher:
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


# --------------------------------------------------------------------------- zone offsets


@dataclass(frozen=True, slots=True)
class _Piece:
    """A stretch of UTC time ``[start, end)`` with one UTC offset.

    ``changed_at`` is the real offset change that began this offset (it may precede
    ``start``, since pieces are cut at UTC year boundaries too) and ``previous_offset``
    the offset before it; both equal ``start``/``offset`` when no change is near.
    """

    start: datetime
    end: datetime
    offset: timedelta
    previous_offset: timedelta
    changed_at: datetime


def _offset_at(zone: tzinfo, instant: datetime) -> timedelta:
    offset = instant.astimezone(zone).utcoffset()
    return offset if offset is not None else timedelta(0)


def _offset_changes(
    zone: tzinfo, low: datetime, high: datetime
) -> list[tuple[datetime, timedelta]]:
    """Instants in ``(low, high]`` where the offset changes, with the offset before each."""
    if isinstance(zone, timezone):
        return []
    changes = []
    probe, offset = low, _offset_at(zone, low)
    while probe < high:
        following = min(probe + _PROBE_STEP, high)
        following_offset = _offset_at(zone, following)
        if following_offset != offset:
            changes.append((_bisect_change(zone, probe, following, offset), offset))
        probe, offset = following, following_offset
    return changes


def _bisect_change(zone: tzinfo, low: datetime, high: datetime, offset: timedelta) -> datetime:
    """First whole second after ``low`` (at most ``high``) whose offset is not ``offset``."""
    low_seconds, high_seconds = 0, int((high - low).total_seconds())
    while high_seconds - low_seconds > 1:
        middle = (low_seconds + high_seconds) // 2
        if _offset_at(zone, low + timedelta(seconds=middle)) == offset:
            low_seconds = middle
        else:
            high_seconds = middle
    return low + timedelta(seconds=high_seconds)


@functools.lru_cache(maxsize=4096)
def _offset_pieces(zone: tzinfo, year: int) -> tuple[_Piece, ...]:
    """The constant-offset pieces of one UTC year; cached per zone and year."""
    begin, end = datetime(year, 1, 1, tzinfo=UTC), datetime(year + 1, 1, 1, tzinfo=UTC)
    offset = _offset_at(zone, begin)
    recent = _offset_changes(zone, begin - timedelta(days=2), begin)
    changed_at, previous = recent[-1] if recent else (begin, offset)
    pieces = []
    for change, _before in _offset_changes(zone, begin, end):
        if change < end:
            pieces.append(_Piece(begin, change, offset, previous, changed_at))
            begin, previous, changed_at, offset = change, offset, change, _offset_at(zone, change)
    pieces.append(_Piece(begin, end, offset, previous, changed_at))
    return tuple(pieces)


@functools.lru_cache(maxsize=256)
def _has_constant_offset(zone: tzinfo) -> bool:
    """Whether the zone kept one UTC offset from 1970 to 2100 (sampled monthly)."""
    if isinstance(zone, timezone):
        return True
    offsets = {
        _offset_at(zone, datetime(year, month, 1, tzinfo=UTC))
        for year in range(1970, 2101)
        for month in range(1, 13)
    }
    return len(offsets) == 1


def _resolve_zone(zone: str | tzinfo) -> tzinfo:
    """An IANA name or tzinfo as a tzinfo usable with ``astimezone`` (pytz zones by name)."""
    if isinstance(zone, str):
        try:
            return ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            message = f"unknown timezone {zone!r}; expected an IANA name like 'Europe/Berlin'"
            raise ValueError(message) from exc
    pytz_name = getattr(zone, "zone", None)
    if isinstance(pytz_name, str) and not isinstance(zone, ZoneInfo):
        return _resolve_zone(pytz_name)
    return zone


# --------------------------------------------------------------------------- triggers


class Trigger(Protocol):
    """What a scheduler needs from a trigger: APScheduler 3's ``BaseTrigger`` interface."""

    def get_next_fire_time(
        self, previous_fire_time: datetime | None, now: datetime
    ) -> datetime | None: ...


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


def _first_in_piece(matcher: _WallClockMatcher, piece: _Piece, start: datetime) -> datetime | None:
    """First fire instant ``>= start`` inside ``piece``, applying DESIGN's DST rule."""
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


def _next_instant(matcher: _WallClockMatcher, zone: tzinfo, start: datetime) -> datetime | None:
    """First fire instant (UTC) at or after ``start`` (UTC, whole seconds)."""
    for year in range(start.year, min(start.year + _HORIZON_YEARS, 9998)):
        for piece in _offset_pieces(zone, year):
            if piece.end > start:
                found = _first_in_piece(matcher, piece, start)
                if found is not None:
                    return found
    return None


class StandardCronTrigger(_TriggerBase):
    """A standard-cron APScheduler trigger that is right across DST changes.

    APScheduler 3.11's CronTrigger can return nonexistent local times next to a
    transition (agronholm/apscheduler#529, #606). This one searches naive wall-clock
    times and maps them to instants by DESIGN's rule: fixed-time jobs run once at the
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
        self.timezone = _resolve_zone(timezone)
        self.jitter = jitter
        self._matcher = _WallClockMatcher(schedule)

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
        return {"version": 1, "schedule": self.schedule, "timezone": self.timezone,
                "jitter": self.jitter}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.schedule = state["schedule"]
        self.timezone = state["timezone"]
        self.jitter = state["jitter"]
        self._matcher = _WallClockMatcher(self.schedule)

    def __str__(self) -> str:
        return f"cron[{self.schedule.expression}]"

    def __repr__(self) -> str:
        jitter = f", jitter={self.jitter}" if self.jitter else ""
        expression = self.schedule.expression
        return f"<StandardCronTrigger ({expression!r}, timezone='{self.timezone}'{jitter})>"


def _runs(values: list[int]) -> list[tuple[int, int]]:
    runs: list[tuple[int, int]] = []
    for value in values:
        if runs and runs[-1][1] == value - 1:
            runs[-1] = (runs[-1][0], value)
        else:
            runs.append((value, value))
    return runs


def _aps_field(values: frozenset[int], low: int, high: int, names: tuple[str, ...] = ()) -> str:
    """Explicit APScheduler field text (``*`` when every value is in), ranges compressed."""
    if values == frozenset(range(low, high + 1)):
        return "*"
    label = (lambda value: names[value]) if names else str
    return ",".join(
        label(first) if first == last else f"{label(first)}-{label(last)}"
        for first, last in _runs(sorted(values))
    )


def _cron_trigger(schedule: CronSchedule, zone: tzinfo, *, day: str, day_of_week: str,
                  jitter: float | None) -> Any:
    return CronTrigger(
        month=_aps_field(schedule.months, 1, 12), day=day, day_of_week=day_of_week,
        hour=_aps_field(schedule.hours, 0, 23), minute=_aps_field(schedule.minutes, 0, 59),
        second=_aps_field(schedule.seconds, 0, 59), timezone=zone, jitter=jitter,
    )


def _apscheduler_trigger(schedule: CronSchedule, zone: tzinfo, jitter: float | None) -> Trigger:
    """APScheduler's own triggers for constant-offset zones, weekdays renumbered (#286)."""
    days = _aps_field(schedule.days, 1, 31)
    # APScheduler counts weekdays from Monday = 0; cron from Sunday = 0.
    monday_first = frozenset((day + 6) % 7 for day in schedule.weekdays)
    weekdays = _aps_field(monday_first, 0, 6, _APS_WEEKDAYS)
    trigger: Trigger
    if schedule.either_day_matches and not _days_occur(schedule):
        # "0 0 31 2 MON": a CronTrigger for Feb 31 would search up to year 9999 on every call.
        trigger = _cron_trigger(schedule, zone, day="*", day_of_week=weekdays, jitter=jitter)
    elif schedule.either_day_matches:
        trigger = OrTrigger(
            [_cron_trigger(schedule, zone, day=days, day_of_week="*", jitter=None),
             _cron_trigger(schedule, zone, day="*", day_of_week=weekdays, jitter=None)],
            jitter=jitter,
        )
    else:
        trigger = _cron_trigger(schedule, zone, day=days, day_of_week=weekdays, jitter=jitter)
    return trigger


def build_trigger(
    expression: str, timezone: str | tzinfo = "UTC", *, jitter: float | None = None
) -> Trigger:
    """An APScheduler 3 trigger for a standard cron expression in ``timezone``.

    Constant-offset zones get APScheduler's CronTrigger (or an OrTrigger of two for the
    day OR rule); zones with DST get ``StandardCronTrigger``, since CronTrigger is wrong
    next to transitions there.
    """
    schedule = parse_expression(expression)
    zone = _resolve_zone(timezone)
    if _has_constant_offset(zone):
        return _apscheduler_trigger(schedule, zone, jitter)
    return StandardCronTrigger(schedule, zone, jitter=jitter)


def next_fire_times(
    expression: str, *, after: datetime, count: int, timezone: str | tzinfo = "UTC"
) -> list[datetime]:
    """The next ``count`` fire times strictly after ``after``, aware, in ``timezone``.

    Uses the trigger ``build_trigger`` returns, so previews show what will really run.
    """
    if after.tzinfo is None or after.utcoffset() is None:
        raise ValueError("'after' must be a timezone-aware datetime")
    if count < 0:
        raise ValueError(f"'count' must be 0 or more, got {count}")
    zone = _resolve_zone(timezone)
    trigger = build_trigger(expression, zone)
    times: list[datetime] = []
    after_utc = after.astimezone(UTC)  # arithmetic on local times would lose the fold
    while len(times) < count:
        fire_time = trigger.get_next_fire_time(None, after_utc + _MICROSECOND)
        if fire_time is None:
            break
        times.append(fire_time.astimezone(zone))
        after_utc = fire_time.astimezone(UTC)
    return times


# --------------------------------------------------------------------------- descriptions


def _values_text(values: frozenset[int]) -> str:
    return ",".join(
        str(first) if first == last else f"{first}-{last}" for first, last in _runs(sorted(values))
    )


def _describable(parts: list[str], schedule: CronSchedule) -> str:
    """Rewrite fields cron-descriptor reads differently from cronsim, as a 7-field string.

    cron-descriptor cannot parse lists mixing steps ("10,*/2"), reads "a-a/n" as "a",
    day-of-week "1/2" as "*/2", and repeats Sunday for "0,7": those fields are
    spelled out from the parsed values instead.
    """
    values = (schedule.seconds, schedule.minutes, schedule.hours, schedule.days,
              schedule.months, schedule.weekdays)
    fields = []
    for text, field_values in zip(parts, values, strict=True):
        text = re.sub(r"^(\w+)-\1/", r"\1/", text)  # cronsim reads "9-9/3" as "9/3"
        fields.append(_values_text(field_values) if "," in text and "/" in text else text)
    weekday_numbers = set(re.findall(r"\d+", parts[5]))
    if schedule.weekdays_restricted and ("/" in parts[5] or {"0", "7"} <= weekday_numbers):
        days = sorted(schedule.weekdays)
        fields[5] = _values_text(schedule.weekdays) if len(_runs(days)) == 1 else (
            ",".join(map(str, days))
        )
    return " ".join([*fields, "*"])  # 7 fields: no guessing whether 6 means seconds or year


def describe(expression: str) -> str:
    """Plain English for an expression, 24-hour clock ("At 09:00, Monday through Friday")."""
    schedule = parse_expression(expression)
    options = Options()
    options.use_24hour_time_format = True
    text = _describable(_split_fields(expression), schedule)
    description: str = ExpressionDescriptor(text, options).get_description()
    if not schedule.either_day_matches:
        # cron-descriptor says "or on" whenever day-of-month is not "*", e.g. for "*/2".
        description = description.replace(", or on ", ", only on ")
    return description


# --------------------------------------------------------------------------- DST warnings


def _wall_times_between(matcher: _WallClockMatcher, low: datetime, high: datetime) -> list[str]:
    found: list[str] = []
    when = matcher.next_match(low, high)
    while when is not None:
        found.append(when.strftime("%H:%M:%S" if when.second else "%H:%M"))
        when = matcher.next_match(when + _SECOND, high)
    return found


def _listed(times: list[str]) -> str:
    if len(times) == 1:
        return f"{times[0]} falls"
    if len(times) <= 3:
        return f"{', '.join(times[:-1])} and {times[-1]} fall"
    return f"{', '.join(times[:3])} and {len(times) - 3} more fall"


def _transition_warning(
    matcher: _WallClockMatcher, piece: _Piece, zone_name: str
) -> tuple[str, str] | None:
    """(kind, message) when the fixed-time schedule hits this transition's gap or fold."""
    wall = piece.start.replace(tzinfo=None)
    before, after = wall + piece.previous_offset, wall + piece.offset
    if after > before:
        times = _wall_times_between(matcher, before, after)
        runs_at = after.strftime("%H:%M")
        where, outcome = "daylight-saving gap", f"it runs once at {runs_at}"
    else:
        times = _wall_times_between(matcher, after, before)
        minutes = int((before - after).total_seconds() // 60)
        where = "repeated hour" if minutes == 60 else f"repeated {minutes} minutes"
        outcome = "it runs once, at the first pass"
    if not times:
        return None
    day = min(before, after).date().isoformat()
    message = f"{_listed(times)} in the {where} on {day} in {zone_name}: {outcome}"
    return ("gap" if after > before else "fold"), message


def dst_warnings(
    expression: str, timezone: str | tzinfo, *, now: datetime | None = None, years: int = 3
) -> list[str]:
    """Warnings for a fixed-time schedule that hits a DST gap or fold in the next ``years``.

    One message per kind (gap, fold), naming the first date it happens; jobs whose minute
    or hour field begins with ``*`` follow the clock and get none.
    """
    schedule = parse_expression(expression)
    zone = _resolve_zone(timezone)
    if not schedule.is_fixed_time or _has_constant_offset(zone):
        return []
    start = (now or SYSTEM_CLOCK.now()).astimezone(UTC)
    horizon = start + timedelta(days=365 * years)
    matcher = _WallClockMatcher(schedule)
    found: dict[str, str] = {}
    for year in range(start.year, start.year + years + 1):
        for piece in _offset_pieces(zone, year):
            if piece.start != piece.changed_at or piece.offset == piece.previous_offset:
                continue
            if start <= piece.start < horizon:
                warning = _transition_warning(matcher, piece, str(timezone))
                if warning is not None:
                    found.setdefault(*warning)
    return list(found.values())
