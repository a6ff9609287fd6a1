"""The live dashboard: one server-rendered page (Jinja2, autoescaped), no build step.

Everything an operator reads is in the HTML, so the page works without JavaScript (it then
refreshes itself with a meta refresh). The small script in ``static/`` only adds the token
prompt, the pause/resume/trigger buttons and a refresh that keeps the page in place.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib import resources
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import APIRouter
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from scheduler.http.api import firing_jobs, health_of
from scheduler.http.context import Context, SchedulerContext, on_service_loop
from scheduler.http.errors import SchedulerRoute
from scheduler.http.models import JobOut, RunOut, job_out, reload_out, run_out
from scheduler.http.timeline_svg import Picture, timeline_svg
from scheduler.records import RunRecord, RunStatus
from scheduler.review.timeline import build_timeline

__all__ = ["STRIP_LENGTH", "dashboard_router", "describe_delta", "render_dashboard"]

STRIP_LENGTH = 20
REFRESH_SECONDS = 10
MAX_JOB_ROWS = 200
FAILURES_SHOWN = 10
_FAILED = (RunStatus.FAILED, RunStatus.TIMEOUT, RunStatus.ABANDONED)
_STATIC = {"dashboard.css": "text/css", "dashboard.js": "text/javascript"}

_templates = Environment(
    loader=PackageLoader("scheduler.http", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)

dashboard_router = APIRouter(route_class=SchedulerRoute, include_in_schema=False)


@dataclass(frozen=True, slots=True)
class JobRow:
    """One job line of the dashboard."""

    job: JobOut
    strip: list[RunOut]
    """Last outcomes, oldest first."""
    next_relative: str
    next_local: str


def describe_delta(moment: datetime, now: datetime) -> str:
    """``in 3 h 12 min`` / ``5 min ago``: how far ``moment`` is from ``now``."""
    seconds = (moment - now).total_seconds()
    span = abs(int(seconds))
    if span < 60:
        text = f"{span} s"
    elif span < 3600:
        text = f"{span // 60} min"
    elif span < 86_400:
        text = f"{span // 3600} h {span % 3600 // 60} min"
    else:
        text = f"{span // 86_400} d {span % 86_400 // 3600} h"
    return f"in {text}" if seconds >= 0 else f"{text} ago"


def _local(moment: datetime | None, zone: str) -> str:
    if moment is None:
        return ""
    try:
        local = moment.astimezone(ZoneInfo(zone))
    except (KeyError, ValueError):
        local = moment
    return local.strftime("%a %d %b %H:%M:%S %Z")


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 120:
        return f"{seconds:.1f} s"
    return str(timedelta(seconds=round(seconds)))


_templates.filters["duration"] = _duration
_templates.filters["path_part"] = lambda value: quote(str(value), safe="")
_templates.filters["utc"] = lambda moment: moment.strftime("%Y-%m-%d %H:%M:%S UTC")
_templates.filters["utc_short"] = lambda moment: moment.strftime("%d %b %H:%M:%S UTC")


async def _history(
    context: SchedulerContext, job_id: str | None, **filters: object
) -> list[RunRecord]:
    service = context.service
    return await on_service_loop(service, lambda: service.history(job_id, **filters))  # type: ignore[arg-type]


async def _rows(context: SchedulerContext, now: datetime, *, with_runs: bool) -> list[JobRow]:
    """One row per job; the outcome strips only when the store answers (a page with the
    jobs and a red banner beats an error page while it is down)."""
    views = context.service.get_jobs()[:MAX_JOB_ROWS]
    histories: list[list[RunRecord]] = [[] for _ in views]
    if with_runs:
        histories = await asyncio.gather(
            *(_history(context, view.job_id, limit=STRIP_LENGTH) for view in views)
        )
    rows = []
    for view, history in zip(views, histories, strict=True):
        job = job_out(view)
        next_at = job.next_run_at
        rows.append(
            JobRow(
                job=job,
                strip=[run_out(record) for record in reversed(history)],
                next_relative=describe_delta(next_at, now) if next_at is not None else "",
                next_local=_local(next_at, job.timezone),
            )
        )
    return rows


async def _failures(context: SchedulerContext) -> list[RunOut]:
    found = await asyncio.gather(
        *(_history(context, None, status=status, limit=FAILURES_SHOWN) for status in _FAILED)
    )
    records = sorted(
        (record for batch in found for record in batch),
        key=lambda record: record.finished_at or record.scheduled_for,
        reverse=True,
    )
    return [run_out(record) for record in records[:FAILURES_SHOWN]]


def _picture(context: SchedulerContext, now: datetime) -> Picture:
    """The next 24 hours from this minute, drawn once per minute and set of firing jobs."""
    minute = now.replace(second=0, microsecond=0)
    jobs = tuple(firing_jobs(context))
    limit = context.service.settings.congestion_limit

    def draw() -> Picture:
        window = build_timeline(jobs, start=minute, hours=24)
        return Picture(timeline_svg(window, herd_limit=limit), len(window.runs), window.truncated)

    return context.picture.get((jobs, minute, limit), draw)


async def render_dashboard(context: SchedulerContext) -> str:
    """The page's HTML, read from the service and its store now."""
    now = context.clock.now()
    health = await health_of(context)
    rows = await _rows(context, now, with_runs=health.store_reachable)
    failures = await _failures(context) if health.store_reachable else []
    picture = await run_in_threadpool(_picture, context, now)
    last = context.service.last_reload
    total = len(context.service.get_jobs())
    return _templates.get_template("dashboard.html").render(
        now=now,
        health=health,
        rows=rows,
        hidden_rows=max(total - len(rows), 0),
        failures=failures,
        reload=reload_out(last) if last is not None else None,
        reload_relative=describe_delta(last.at, now) if last is not None else "",
        timeline_svg=picture.svg,
        timeline_runs=picture.runs,
        timeline_truncated=picture.truncated,
        refresh_seconds=REFRESH_SECONDS,
        strip_length=STRIP_LENGTH,
        token_configured=bool(context.service.settings.api_token),
    )


@dashboard_router.get("/", response_class=HTMLResponse, name="scheduler_dashboard")
async def dashboard(context: Context) -> HTMLResponse:
    """The dashboard page."""
    return HTMLResponse(await render_dashboard(context), headers={"Cache-Control": "no-store"})


@dashboard_router.get("/static/{name}", name="scheduler_static")
def static_file(name: str) -> Response:
    """The page's stylesheet and script, shipped as package data."""
    media_type = _STATIC.get(name)
    if media_type is None:
        return Response(status_code=404)
    text = resources.files("scheduler.http").joinpath("static", name).read_bytes()
    return Response(text, media_type=media_type, headers={"Cache-Control": "max-age=300"})
