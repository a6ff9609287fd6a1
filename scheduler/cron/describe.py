"""What a schedule means to a person: plain-English descriptions and DST warnings.

Both are read by people (``scheduler cron`` previews, load-time warnings) and neither decides
when a job runs, so they sit apart from the trigger; cron-descriptor is imported only here.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, tzinfo

from cron_descriptor import ExpressionDescriptor, Options

from scheduler.clock import SYSTEM_CLOCK
from scheduler.cron.hashed import resolve_for
from scheduler.cron.parse import CronSchedule, consecutive_runs, parse_expression, split_fields
from scheduler.cron.trigger import WallClockMatcher
from scheduler.cron.zones import OffsetPiece, has_constant_offset, offset_pieces, resolve_zone

__all__ = ["describe", "dst_warnings"]

_SECOND = timedelta(seconds=1)


def _values_text(values: frozenset[int]) -> str:
    return ",".join(
        str(first) if first == last else f"{first}-{last}"
        for first, last in consecutive_runs(sorted(values))
    )


def _describable(parts: list[str], schedule: CronSchedule) -> str:
    """Rewrite fields cron-descriptor reads differently from cronsim, as a 7-field string.

    cron-descriptor cannot parse lists mixing steps ("10,*/2"), reads "a-a/n" as "a",
    day-of-week "1/2" as "*/2", and repeats Sunday for "0,7": those fields are
    spelled out from the parsed values instead.
    """
    values = (
        schedule.seconds,
        schedule.minutes,
        schedule.hours,
        schedule.days,
        schedule.months,
        schedule.weekdays,
    )
    fields = []
    for text, field_values in zip(parts, values, strict=True):
        text = re.sub(r"^(\w+)-\1/", r"\1/", text)  # cronsim reads "9-9/3" as "9/3"
        fields.append(_values_text(field_values) if "," in text and "/" in text else text)
    weekday_numbers = set(re.findall(r"\d+", parts[5]))
    if schedule.weekdays_restricted and ("/" in parts[5] or {"0", "7"} <= weekday_numbers):
        days = sorted(schedule.weekdays)
        fields[5] = (
            _values_text(schedule.weekdays)
            if len(consecutive_runs(days)) == 1
            else (",".join(map(str, days)))
        )
    return " ".join([*fields, "*"])  # 7 fields: no guessing whether 6 means seconds or year


def describe(expression: str, *, job_id: str | None = None) -> str:
    """Plain English for an expression, 24-hour clock ("At 09:00, Monday through Friday").

    ``H`` fields are resolved for ``job_id`` first: the text says when the job really runs.
    """
    expression = resolve_for(expression, job_id)
    schedule = parse_expression(expression)
    options = Options()
    options.use_24hour_time_format = True
    text = _describable(split_fields(expression), schedule)
    description: str = ExpressionDescriptor(text, options).get_description()
    if not schedule.either_day_matches:
        # cron-descriptor says "or on" whenever day-of-month is not "*", e.g. for "*/2".
        description = description.replace(", or on ", ", only on ")
    return description


# --------------------------------------------------------------------------- DST warnings


def _wall_times_between(matcher: WallClockMatcher, low: datetime, high: datetime) -> list[str]:
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
    matcher: WallClockMatcher, piece: OffsetPiece, zone_name: str
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
    expression: str,
    timezone: str | tzinfo,
    *,
    now: datetime | None = None,
    years: int = 3,
    job_id: str | None = None,
) -> list[str]:
    """Warnings for a fixed-time schedule that hits a DST gap or fold in the next ``years``.

    One message per kind (gap, fold), naming the first date it happens; jobs whose minute
    or hour field begins with ``*`` follow the clock and get none. ``H`` is resolved for
    ``job_id``.
    """
    schedule = parse_expression(resolve_for(expression, job_id))
    zone = resolve_zone(timezone)
    if not schedule.is_fixed_time or has_constant_offset(zone):
        return []
    start = (now or SYSTEM_CLOCK.now()).astimezone(UTC)
    horizon = start + timedelta(days=365 * years)
    matcher = WallClockMatcher(schedule)
    found: dict[str, str] = {}
    for year in range(start.year, start.year + years + 1):
        for piece in offset_pieces(zone, year):
            if piece.start != piece.changed_at or piece.offset == piece.previous_offset:
                continue
            if start <= piece.start < horizon:
                warning = _transition_warning(matcher, piece, str(timezone))
                if warning is not None:
                    found.setdefault(*warning)
    return list(found.values())
