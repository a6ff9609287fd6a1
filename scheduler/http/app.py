"""``create_app(service)``: the standalone app that ``scheduler run --http`` serves.

The process (``scheduler run``) owns the service's life; the app only serves it, so it has
no lifespan of its own. Host apps use ``scheduler_lifespan`` and ``scheduler_router``.
"""

from __future__ import annotations

from fastapi import FastAPI

from scheduler.clock import SYSTEM_CLOCK, Clock
from scheduler.http.context import attach
from scheduler.http.router import scheduler_router
from scheduler.runtime.service import SchedulerService

__all__ = ["API_DESCRIPTION", "create_app"]

API_DESCRIPTION = (
    "Steer and watch a running scheduler. Reads are open; mutations (pause, resume, trigger) "
    "need `Authorization: Bearer <SCHEDULER_API_TOKEN>` and are refused (403) while no token "
    "is configured."
)


def create_app(service: SchedulerService, *, clock: Clock = SYSTEM_CLOCK) -> FastAPI:
    """An app serving ``service``'s API, dashboard and metrics at the root."""
    app = FastAPI(title="scheduler", version="1", description=API_DESCRIPTION)
    attach(app, service, clock=clock)
    app.include_router(scheduler_router())
    return app
