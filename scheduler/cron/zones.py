"""Time zones for cron: resolving names, spotting fixed-offset zones, finding offset changes.

The trigger works on naive wall-clock times and needs, for each stretch of UTC time, the offset
in force and the change that began it; ``build_trigger`` and ``dst_warnings`` need to know
whether a zone ever changes offset. None of that depends on cron, so it lives here.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["OffsetPiece", "has_constant_offset", "offset_pieces", "resolve_zone"]

_PROBE_STEP = timedelta(hours=6)  # offset changes closer together than this are not seen


@dataclass(frozen=True, slots=True)
class OffsetPiece:
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
def offset_pieces(zone: tzinfo, year: int) -> tuple[OffsetPiece, ...]:
    """The constant-offset pieces of one UTC year; cached per zone and year."""
    begin, end = datetime(year, 1, 1, tzinfo=UTC), datetime(year + 1, 1, 1, tzinfo=UTC)
    offset = _offset_at(zone, begin)
    recent = _offset_changes(zone, begin - timedelta(days=2), begin)
    changed_at, previous = recent[-1] if recent else (begin, offset)
    pieces = []
    for change, _before in _offset_changes(zone, begin, end):
        if change < end:
            pieces.append(OffsetPiece(begin, change, offset, previous, changed_at))
            begin, previous, changed_at, offset = change, offset, change, _offset_at(zone, change)
    pieces.append(OffsetPiece(begin, end, offset, previous, changed_at))
    return tuple(pieces)


@functools.lru_cache(maxsize=256)
def has_constant_offset(zone: tzinfo) -> bool:
    """Whether the zone kept one UTC offset from 1970 to 2100 (sampled monthly)."""
    if isinstance(zone, timezone):
        return True
    offsets = {
        _offset_at(zone, datetime(year, month, 1, tzinfo=UTC))
        for year in range(1970, 2101)
        for month in range(1, 13)
    }
    return len(offsets) == 1


def resolve_zone(zone: str | tzinfo) -> tzinfo:
    """An IANA name or tzinfo as a tzinfo usable with ``astimezone`` (pytz zones by name)."""
    if isinstance(zone, str):
        try:
            return ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            message = f"unknown timezone {zone!r}; expected an IANA name like 'Europe/Berlin'"
            raise ValueError(message) from exc
    pytz_name = getattr(zone, "zone", None)
    if isinstance(pytz_name, str) and not isinstance(zone, ZoneInfo):
        return resolve_zone(pytz_name)
    return zone
