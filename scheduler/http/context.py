"""What the HTTP layer needs of a running scheduler, found from any request.

A host app and ``scheduler run --http`` both keep one ``SchedulerContext`` on ``app.state``:
the service, its metrics (a registry per app) and the clock. Routes find it through
``request.app``, so the router works under any prefix of any app. The service lives on one
event loop; a request served on another (a test client's thread, a host running us in a
thread) has its coroutines run there with ``on_service_loop``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, TypeVar

from fastapi import Depends
from starlette.requests import Request

from scheduler.clock import SYSTEM_CLOCK, Clock
from scheduler.errors import SchedulerError
from scheduler.http.metrics import SchedulerMetrics
from scheduler.http.timeline_svg import PictureCache
from scheduler.runtime.service import SchedulerService

__all__ = [
    "Context",
    "SchedulerContext",
    "attach",
    "attached_context",
    "context_of",
    "on_service_loop",
]

_T = TypeVar("_T")
_STATE_KEY = "scheduler_http"


@dataclass(frozen=True, slots=True)
class SchedulerContext:
    """The service an app serves, with its metrics, clock and dashboard picture."""

    service: SchedulerService
    metrics: SchedulerMetrics
    clock: Clock
    picture: PictureCache = field(default_factory=PictureCache)


class SchedulerNotAttached(SchedulerError):
    """A scheduler route was called on an app whose lifespan did not attach a service."""

    def __init__(self) -> None:
        super().__init__(
            "no scheduler is attached to this app: use scheduler.http.scheduler_lifespan() "
            "as its lifespan, or call scheduler.http.attach(app, service)"
        )


def attach(app: Any, service: SchedulerService, *, clock: Clock = SYSTEM_CLOCK) -> SchedulerContext:
    """Make ``service`` the one the scheduler routes of ``app`` serve (also as
    ``app.state.scheduler``); metrics start counting now."""
    context = SchedulerContext(service, SchedulerMetrics(service), clock)
    setattr(app.state, _STATE_KEY, context)
    app.state.scheduler = service
    return context


def attached_context(app: Any) -> SchedulerContext | None:
    """The context ``attach`` left on ``app``, if any."""
    context = getattr(app.state, _STATE_KEY, None)
    return context if isinstance(context, SchedulerContext) else None


def context_of(request: Request) -> SchedulerContext:
    """The context of the request's app; a host app that only set ``app.state.scheduler``
    (its own lifespan) gets one made on first use."""
    context = attached_context(request.app)
    if context is not None:
        return context
    service = getattr(request.app.state, "scheduler", None)
    if isinstance(service, SchedulerService):
        return attach(request.app, service)
    raise SchedulerNotAttached()


async def on_service_loop(service: SchedulerService, work: Callable[[], Awaitable[_T]]) -> _T:
    """Await ``work()`` on the service's loop, from whichever loop serves the request."""
    loop = service.bound_loop
    if loop is None or loop is asyncio.get_running_loop() or not loop.is_running():
        return await work()

    async def run() -> _T:
        return await work()

    future = asyncio.run_coroutine_threadsafe(run(), loop)
    return await asyncio.wrap_future(future)


Context = Annotated[SchedulerContext, Depends(context_of)]
"""A route parameter that receives the app's ``SchedulerContext``."""
