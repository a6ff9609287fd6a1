"""The scheduler over HTTP: a lifespan and a router for FastAPI apps, and the standalone app.

In a host app, one line each::

    app = FastAPI(lifespan=scheduler_lifespan())
    app.include_router(scheduler_router(), prefix="/scheduler")

``scheduler run --http HOST:PORT`` serves ``create_app(service)`` instead. The package is the
only importer of FastAPI, Starlette, Jinja2, prometheus-client and uvicorn. Its modules:
``lifespan``, ``router`` (``api``, ``dashboard`` with ``timeline_svg``, ``/metrics``),
``app``, ``server`` (uvicorn) and ``bind`` (``HOST:PORT``), with ``auth``, ``models``,
``errors``, ``metrics`` and ``context`` beneath them.
"""

from __future__ import annotations

from scheduler.http.app import create_app
from scheduler.http.context import SchedulerContext, attach
from scheduler.http.lifespan import scheduler_lifespan
from scheduler.http.metrics import SchedulerMetrics
from scheduler.http.router import scheduler_router

__all__ = [
    "SchedulerContext",
    "SchedulerMetrics",
    "attach",
    "create_app",
    "scheduler_lifespan",
    "scheduler_router",
]
