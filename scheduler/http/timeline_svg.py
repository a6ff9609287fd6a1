"""The next hours of the schedule as an SVG picture, drawn on the server.

Two parts share one time axis. The top strip shows, per 5-minute column, the most jobs that
start in any one minute of it, so a herd (forty jobs written ``0 0 * * *``) is a tall red bar
while a job that runs every few seconds stays one job high. Below it, one lane per job shows
each of its runs as a tick, merged per pixel so a job running every second is a solid band.
Every text is escaped: job ids come from manifests.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from html import escape

from scheduler.review.timeline import Timeline

__all__ = ["HERD_MINIMUM", "MAX_LANES", "Picture", "PictureCache", "herd_minutes", "timeline_svg"]

WIDTH = 960
LABEL_WIDTH = 170
RIGHT_PAD = 16
PLOT_WIDTH = WIDTH - LABEL_WIDTH - RIGHT_PAD
STRIP_TOP = 34
STRIP_HEIGHT = 84
LANE_HEIGHT = 20
MAX_LANES = 14
BIN_MINUTES = 5
HERD_MINIMUM = 3
"""Jobs starting in one minute from which a column counts as a herd (amber, labelled)."""
_LABELLED_HERDS = 4
_MARKED_WIDTH = 4.0
"""Herds and crowds are drawn at least this wide, so one busy minute is easy to see."""
_SCALE_FLOOR = 8
"""The strip's full height stands for at least this many jobs: one job stays a low bar."""


@dataclass(frozen=True, slots=True)
class _Column:
    """One 5-minute column of the strip: the busiest minute in it and who starts then."""

    start: datetime
    jobs: tuple[str, ...]


def herd_minutes(timeline: Timeline) -> dict[datetime, set[str]]:
    """The distinct jobs starting in each minute of the window that has any."""
    minutes: dict[datetime, set[str]] = defaultdict(set)
    for run in timeline.runs:
        minutes[run.at.replace(second=0, microsecond=0)].add(run.job_id)
    return minutes


def _columns(timeline: Timeline) -> list[_Column]:
    busiest: dict[int, _Column] = {}
    for minute, jobs in herd_minutes(timeline).items():
        index = int((minute - timeline.start).total_seconds() // (BIN_MINUTES * 60))
        current = busiest.get(index)
        if current is None or len(jobs) > len(current.jobs):
            busiest[index] = _Column(minute, tuple(sorted(jobs)))
    return [busiest[index] for index in sorted(busiest)]


class _Axis:
    """Time -> x position over the window."""

    def __init__(self, timeline: Timeline) -> None:
        self.start = timeline.start
        self.seconds = max((timeline.end - timeline.start).total_seconds(), 1.0)

    def x(self, moment: datetime) -> float:
        offset = (moment - self.start).total_seconds() / self.seconds
        return LABEL_WIDTH + min(max(offset, 0.0), 1.0) * PLOT_WIDTH


def _attr(value: object) -> str:
    return escape(str(value), quote=True)


def _when(moment: datetime, zone: tzinfo) -> str:
    return moment.astimezone(zone).strftime("%H:%M")


def _hour_ticks(timeline: Timeline, axis: _Axis, zone: tzinfo, bottom: float) -> list[str]:
    parts = []
    hour = timeline.start.astimezone(zone).replace(minute=0, second=0, microsecond=0)
    hour = (hour.astimezone(UTC) + timedelta(hours=1)).astimezone(zone)
    while hour < timeline.end:
        x = axis.x(hour)
        major = hour.hour % 3 == 0
        parts.append(
            f'<line class="grid{" major" if major else ""}" x1="{x:.1f}" x2="{x:.1f}" '
            f'y1="{STRIP_TOP - 6}" y2="{bottom:.1f}"/>'
        )
        if major:
            parts.append(
                f'<text class="tick" x="{x:.1f}" y="{STRIP_TOP - 12}" text-anchor="middle">'
                f"{_attr(_when(hour, zone))}</text>"
            )
        hour = (hour.astimezone(UTC) + timedelta(hours=1)).astimezone(zone)
    return parts


def _strip(columns: list[_Column], axis: _Axis, zone: tzinfo, herd_limit: int) -> list[str]:
    tallest = max([len(column.jobs) for column in columns] + [_SCALE_FLOOR])
    bin_width = PLOT_WIDTH / (axis.seconds / (BIN_MINUTES * 60))
    baseline = STRIP_TOP + STRIP_HEIGHT
    parts = [
        f'<line class="baseline" x1="{LABEL_WIDTH}" x2="{LABEL_WIDTH + PLOT_WIDTH}" '
        f'y1="{baseline}" y2="{baseline}"/>',
        f'<text class="strip-label" x="{LABEL_WIDTH - 8}" y="{STRIP_TOP + 46}" '
        f'text-anchor="end">jobs starting</text>',
        f'<text class="strip-label muted" x="{LABEL_WIDTH - 8}" y="{STRIP_TOP + 60}" '
        f'text-anchor="end">in one minute</text>',
        f'<line class="scale" x1="{LABEL_WIDTH}" x2="{LABEL_WIDTH + PLOT_WIDTH}" '
        f'y1="{STRIP_TOP}" y2="{STRIP_TOP}"/>',
        f'<text class="scale-label" x="{LABEL_WIDTH - 8}" y="{STRIP_TOP + 4}" '
        f'text-anchor="end">{tallest}</text>',
        f'<text class="scale-label" x="{LABEL_WIDTH - 8}" y="{baseline + 3}" '
        f'text-anchor="end">0</text>',
    ]
    for column in columns:
        count = len(column.jobs)
        height = max(STRIP_HEIGHT * count / tallest, 2.0)
        level = "herd" if count > herd_limit else "crowd" if count >= HERD_MINIMUM else "calm"
        names = ", ".join(column.jobs[:12]) + (" ..." if count > 12 else "")
        width = bin_width - 0.6 if level == "calm" else max(bin_width, _MARKED_WIDTH)
        parts.append(
            f'<rect class="bar {level}" x="{axis.x(column.start):.1f}" '
            f'y="{baseline - height:.1f}" width="{max(width, 1.2):.1f}" '
            f'height="{height:.1f}"><title>{_attr(_when(column.start, zone))}: {count} '
            f"job(s) start in one minute: {_attr(names)}</title></rect>"
        )
    parts.extend(_herd_labels(columns, axis, zone, tallest, bin_width))
    return parts


def _herd_labels(
    columns: list[_Column], axis: _Axis, zone: tzinfo, tallest: int, bin_width: float
) -> list[str]:
    """``00:00 · 31`` beside the busiest columns, so the herds are named, not only drawn."""
    baseline = STRIP_TOP + STRIP_HEIGHT
    herds = sorted(
        (column for column in columns if len(column.jobs) >= HERD_MINIMUM),
        key=lambda column: (-len(column.jobs), column.start),
    )[:_LABELLED_HERDS]
    parts = []
    for column in herds:
        x = axis.x(column.start) + max(bin_width, _MARKED_WIDTH) + 3
        y = baseline - STRIP_HEIGHT * len(column.jobs) / tallest + 9
        parts.append(
            f'<text class="herd-label" x="{x:.1f}" y="{min(y, baseline - 3):.1f}" '
            f'text-anchor="start">{_attr(_when(column.start, zone))} · {len(column.jobs)}</text>'
        )
    return parts


def _lanes(timeline: Timeline, axis: _Axis, top: float) -> list[str]:
    ticks: dict[str, set[int]] = defaultdict(set)
    counts: dict[str, int] = defaultdict(int)
    order: list[str] = []
    for run in timeline.runs:
        if run.job_id not in ticks:
            order.append(run.job_id)
        ticks[run.job_id].add(int(axis.x(run.at)))
        counts[run.job_id] += 1
    parts = []
    for index, job_id in enumerate(order[:MAX_LANES]):
        y = top + index * LANE_HEIGHT
        label = job_id if len(job_id) <= 24 else job_id[:23] + "…"
        parts.append(
            f'<g class="lane"><title>{_attr(job_id)}: {counts[job_id]} run(s)</title>'
            f'<rect class="lane-bg" x="{LABEL_WIDTH}" y="{y:.1f}" width="{PLOT_WIDTH}" '
            f'height="{LANE_HEIGHT - 4}"/>'
            f'<text class="lane-label" x="{LABEL_WIDTH - 8}" y="{y + 12:.1f}" '
            f'text-anchor="end">{_attr(label)}</text>'
        )
        parts.extend(
            f'<rect class="tick-mark" x="{x}" y="{y + 2:.1f}" width="1.6" '
            f'height="{LANE_HEIGHT - 8}"/>'
            for x in sorted(ticks[job_id])
        )
        parts.append("</g>")
    hidden = len(order) - MAX_LANES
    if hidden > 0:
        y = top + MAX_LANES * LANE_HEIGHT + 12
        parts.append(
            f'<text class="lane-label muted" x="{LABEL_WIDTH}" y="{y:.1f}">'
            f"+ {hidden} more job(s) with runs in this window (counted in the strip above)</text>"
        )
    return parts


def _lane_count(timeline: Timeline) -> int:
    return len({run.job_id for run in timeline.runs})


def timeline_svg(timeline: Timeline, *, herd_limit: int = 20, zone: tzinfo = UTC) -> str:
    """The picture of ``timeline`` as one ``<svg>`` element (times shown in ``zone``).

    A column is red when more than ``herd_limit`` jobs start in one of its minutes (the
    congestion lint's limit), amber from ``HERD_MINIMUM`` jobs.
    """
    axis = _Axis(timeline)
    lanes = min(_lane_count(timeline), MAX_LANES)
    lanes_top = STRIP_TOP + STRIP_HEIGHT + 14
    more = 24 if _lane_count(timeline) > MAX_LANES else 0
    height = lanes_top + max(lanes, 1) * LANE_HEIGHT + more + 6
    runs = len(timeline.runs)
    summary = f"{runs} run(s) of {_lane_count(timeline)} job(s) in the next " + (
        f"{axis.seconds / 3600:g} hours"
    )
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="timeline" viewBox="0 0 {WIDTH} '
        f'{height:.0f}" role="img" aria-label="{_attr(summary)}">',
        f"<title>{_attr(summary)}</title>",
        f'<text class="tick now" x="{LABEL_WIDTH}" y="{STRIP_TOP - 12}" text-anchor="start">'
        f"now {_attr(_when(timeline.start, zone))}</text>",
        *_hour_ticks(timeline, axis, zone, lanes_top + max(lanes, 1) * LANE_HEIGHT),
        *_strip(_columns(timeline), axis, zone, herd_limit),
        *_lanes(timeline, axis, lanes_top),
    ]
    if not timeline.runs:
        parts.append(
            f'<text class="lane-label muted" x="{LABEL_WIDTH + 8}" y="{lanes_top + 12}">'
            "no runs in this window</text>"
        )
    parts.append("</svg>")
    return "\n".join(parts)


@dataclass(frozen=True, slots=True)
class Picture:
    """A drawn timeline with what the page says about it."""

    svg: str
    runs: int
    truncated: bool


class PictureCache:
    """The last picture, kept while its key (the jobs that fire, the minute) is the same.

    With 10,000 jobs walking a day of schedules takes about a second; a page refreshed every
    10 s by several operators should not pay it each time. Keyed by the minute, the picture
    is never more than a minute old, which its "now HH:MM" label shows anyway.
    """

    def __init__(self) -> None:
        self._key: Hashable = None
        self._picture: Picture | None = None

    def get(self, key: Hashable, draw: Callable[[], Picture]) -> Picture:
        """The cached picture for ``key``, or a fresh one from ``draw()``."""
        if self._picture is None or key != self._key:
            self._picture = draw()
            self._key = key
        return self._picture
