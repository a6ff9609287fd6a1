"""The JSON API: jobs, pause/resume/trigger, runs, the last reload, the timeline, health.

Every job-addressed route first looks the id up among the loaded jobs, so an id outside the
manifests is a 404 and never reaches the store. Mutations depend on ``require_token``.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Body, Depends, Query, Response, status
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from scheduler.http.auth import require_token
from scheduler.http.context import Context, SchedulerContext, on_service_loop
from scheduler.http.errors import ERROR_RESPONSES, ApiError, SchedulerRoute
from scheduler.http.models import (
    ErrorBody,
    Health,
    HourCount,
    JobDetail,
    JobOut,
    PauseRequest,
    ReloadOut,
    RunsPage,
    TimelineOut,
    TimelineRunOut,
    TriggerAccepted,
    job_detail,
    job_out,
    reload_out,
    run_out,
)
from scheduler.records import RunKind, RunStatus
from scheduler.review.timeline import ScheduledJob, Timeline, build_timeline, hourly_counts

__all__ = [
    "MAX_PAGE",
    "MAX_TIMELINE_HOURS",
    "RECENT_RUNS",
    "api_router",
    "firing_jobs",
    "health_of",
    "upcoming",
]

logger = logging.getLogger(__name__)

RECENT_RUNS = 20
MAX_PAGE = 500
MAX_TIMELINE_HOURS = 168
MAX_TIMELINE_RUNS = 100_000
RUNS_ROUTE = "scheduler_runs"

_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: ERROR_RESPONSES[404], 503: ERROR_RESPONSES[503]}
_MUTATION: dict[int | str, dict[str, Any]] = {
    code: ERROR_RESPONSES[code] for code in (401, 403, 404, 503)
}

api_router = APIRouter(route_class=SchedulerRoute, tags=["scheduler"])


@api_router.get("/api/jobs", response_model=list[JobOut], summary="Every job, disabled too")
def list_jobs(context: Context) -> list[JobOut]:
    """Every loaded job, sorted by id, with its state and next run."""
    return [job_out(job) for job in context.service.get_jobs()]


@api_router.get("/api/jobs/{job_id}", response_model=JobDetail, responses=_NOT_FOUND)
async def get_job(job_id: str, context: Context) -> JobDetail:
    """One job with its most recent runs from the state store, newest first."""
    service = context.service
    job = service.get_job(job_id)
    recent = await on_service_loop(service, lambda: service.history(job_id, limit=RECENT_RUNS))
    return job_detail(job, recent)


@api_router.post(
    "/api/jobs/{job_id}/pause",
    response_model=JobOut,
    responses=_MUTATION,
    dependencies=[Depends(require_token)],
)
async def pause_job(
    job_id: str,
    request: Request,
    context: Context,
    body: Annotated[PauseRequest | None, Body()] = None,
) -> JobOut:
    """Pause a job on every scheduler process sharing the store; answers once it is stored."""
    service = context.service
    service.get_job(job_id)
    reason = body.reason if body is not None else None
    who = body.who if body is not None and body.who else _client(request)
    await on_service_loop(service, lambda: service.pause(job_id, reason=reason, who=who))
    logger.info(
        "job %s paused over HTTP by %s%s",
        job_id,
        who,
        f": {reason}" if reason else "",
        extra={"job_id": job_id},
    )
    return job_out(service.get_job(job_id))


@api_router.post(
    "/api/jobs/{job_id}/resume",
    response_model=JobOut,
    responses=_MUTATION,
    dependencies=[Depends(require_token)],
)
async def resume_job(job_id: str, context: Context) -> JobOut:
    """Lift a job's pause everywhere; it fires again from its next occurrence."""
    service = context.service
    service.get_job(job_id)
    await on_service_loop(service, lambda: service.resume(job_id))
    logger.info("job %s resumed over HTTP", job_id, extra={"job_id": job_id})
    return job_out(service.get_job(job_id))


@api_router.post(
    "/api/jobs/{job_id}/trigger",
    response_model=TriggerAccepted,
    status_code=status.HTTP_202_ACCEPTED,
    responses=_MUTATION,
    dependencies=[Depends(require_token)],
)
def trigger_job(job_id: str, request: Request, context: Context) -> TriggerAccepted:
    """Run a job once now (claimed in the store, ``kind=manual``); answers at once."""
    run_id = context.service.trigger_nowait(job_id)
    logger.info("job %s triggered over HTTP (run %s)", job_id, run_id, extra={"job_id": job_id})
    runs_url = _page_url(request, RUNS_ROUTE, {"job": job_id, "kind": RunKind.MANUAL.value})
    return TriggerAccepted(job_id=job_id, run_id=run_id, runs_url=runs_url)


@api_router.get("/api/runs", response_model=RunsPage, responses=_NOT_FOUND, name=RUNS_ROUTE)
async def list_runs(
    request: Request,
    context: Context,
    job: Annotated[str | None, Query(description="only this job's runs")] = None,
    run_status: Annotated[RunStatus | None, Query(alias="status")] = None,
    kind: Annotated[RunKind | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
) -> RunsPage:
    """Run records from the state store, newest first, filtered and paged."""
    service = context.service
    if job is not None:
        service.get_job(job)
    records = await on_service_loop(
        service,
        lambda: service.history(job, status=run_status, kind=kind, limit=limit + 1, offset=offset),
    )
    next_url = None
    if len(records) > limit:
        query = {"job": job, "status": run_status, "kind": kind, "limit": limit}
        next_url = _page_url(request, RUNS_ROUTE, {**query, "offset": offset + limit})
    return RunsPage(
        runs=[run_out(record) for record in records[:limit]],
        limit=limit,
        offset=offset,
        next=next_url,
    )


@api_router.get(
    "/api/reload",
    response_model=ReloadOut,
    responses={404: {"model": ErrorBody, "description": "No manifests were loaded yet."}},
)
def last_reload(context: Context) -> ReloadOut:
    """The last load or reload of the manifests, with every problem it found."""
    status_ = context.service.last_reload
    if status_ is None:
        raise ApiError(404, "not_found", "no manifests were loaded yet")
    return reload_out(status_)


@api_router.get("/api/timeline", response_model=TimelineOut)
async def timeline(
    context: Context,
    hours: Annotated[float, Query(gt=0, le=MAX_TIMELINE_HOURS)] = 24,
    limit: Annotated[int, Query(ge=1, le=MAX_TIMELINE_RUNS)] = 10_000,
) -> TimelineOut:
    """Upcoming runs of every enabled, unpaused job from now, in time order."""
    window = await run_in_threadpool(upcoming, context, hours, limit)
    return TimelineOut(
        start=window.start,
        end=window.end,
        truncated=window.truncated,
        runs=[TimelineRunOut(job_id=run.job_id, at=run.at) for run in window.runs],
        hourly=[HourCount(hour=hour, runs=count) for hour, count in hourly_counts(window)],
    )


def upcoming(context: SchedulerContext, hours: float, limit: int = MAX_TIMELINE_RUNS) -> Timeline:
    """The timeline of the jobs that will fire (enabled and not paused), from now."""
    jobs = firing_jobs(context)
    return build_timeline(jobs, start=context.clock.now(), hours=hours, limit=limit)


def firing_jobs(context: SchedulerContext) -> list[ScheduledJob]:
    """The jobs that will fire, as the timeline takes them."""
    return [
        ScheduledJob(job.job_id, job.cron_expression, job.timezone)
        for job in context.service.get_jobs()
        if job.enabled and not job.paused
    ]


@api_router.get(
    "/healthz",
    response_model=Health,
    responses={503: {"model": Health, "description": "Not healthy; `reasons` says why."}},
)
async def healthz(context: Context, response: Response) -> Health:
    """Running, store reachable and last reload applied: 200; else 503 with the reasons."""
    health = await health_of(context)
    if health.status != "ok":
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return health


async def health_of(context: SchedulerContext) -> Health:
    """The scheduler's health, asking the store now."""
    service = context.service
    try:
        store_problem = await on_service_loop(service, service.store_reachable)
    except RuntimeError as exc:  # a service that was shut down has no store threads left
        store_problem = f"cannot ask the store: {exc}"
    context.metrics.observe_store(store_problem)
    reload_ok = service.last_reload is not None and service.last_reload.ok
    reasons = []
    if not service.is_running:
        reasons.append("the scheduler is not running")
    if store_problem is not None:
        reasons.append(f"the state store does not answer: {store_problem}")
    if not reload_ok:
        reasons.append(_reload_reason(context))
    return Health(
        status="ok" if not reasons else "unavailable",
        running=service.is_running,
        store_reachable=store_problem is None,
        last_reload_ok=reload_ok,
        reasons=reasons,
    )


def _reload_reason(context: SchedulerContext) -> str:
    last = context.service.last_reload
    if last is None:
        return "no manifests were loaded yet"
    errors = sum(1 for problem in last.problems if problem.is_error)
    return f"the last reload was refused ({errors} error(s)); the previous schedule still runs"


def _client(request: Request) -> str:
    host = request.client.host if request.client is not None else "unknown"
    return f"api@{host}"


def _page_url(request: Request, route: str, query: dict[str, object]) -> str:
    """A route's path, wherever the router is mounted, with a query, e.g.
    ``/scheduler/api/runs?offset=50``."""
    params = {key: str(value) for key, value in query.items() if value is not None}
    return f"{request.url_for(route).path}?{urlencode(params)}"
