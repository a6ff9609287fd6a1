"""``scheduler_router()``: the API, the dashboard and ``/metrics`` for any prefix of any app.

``app.include_router(scheduler_router(), prefix="/scheduler")`` mounts the dashboard at
``/scheduler/``, the API under ``/scheduler/api/``, ``/scheduler/healthz`` and
``/scheduler/metrics``. The routes find the service on ``app.state`` (the lifespan helper puts
it there), so the router itself holds no state and can be built before the app starts.
"""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from scheduler.http.api import api_router, health_of
from scheduler.http.context import Context
from scheduler.http.dashboard import dashboard_router
from scheduler.http.errors import SchedulerRoute
from scheduler.http.metrics import CONTENT_TYPE

__all__ = ["scheduler_router"]

_metrics_router = APIRouter(route_class=SchedulerRoute, tags=["scheduler"])


@_metrics_router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE.split(";")[0]: {}}, "description": "Metrics"}},
    summary="Prometheus metrics",
)
async def metrics(context: Context) -> Response:
    """Every metric in Prometheus' text format, read at this scrape."""
    await health_of(context)  # pings the store: scheduler_store_up, scheduler_store_errors
    return Response(context.metrics.render(), media_type=CONTENT_TYPE)


def scheduler_router() -> APIRouter:
    """A fresh router with every scheduler route; include it with the prefix you want."""
    router = APIRouter()
    router.include_router(dashboard_router)
    router.include_router(api_router)
    router.include_router(_metrics_router)
    return router
