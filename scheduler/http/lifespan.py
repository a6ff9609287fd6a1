"""``scheduler_lifespan()``: a host FastAPI app runs the scheduler exactly as ``scheduler run``.

It loads the manifests and refuses an invalid set before the app serves anything (every
problem logged with its location and listed in the exception), opens the state store,
starts firing, watches the manifest folder with the same hot reload as ``scheduler run``,
and on shutdown stops firing and gives running jobs the shutdown grace.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

from scheduler.clock import SYSTEM_CLOCK, Clock
from scheduler.errors import InvalidManifests
from scheduler.http.context import attach
from scheduler.problems import render_problem
from scheduler.runtime.serve import start_watch, stop_watch
from scheduler.runtime.service import SchedulerService
from scheduler.settings import Settings, load_settings
from scheduler.store import StateStore

__all__ = ["scheduler_lifespan"]

logger = logging.getLogger(__name__)

Lifespan = Callable[[Any], AbstractAsyncContextManager[None]]


def scheduler_lifespan(
    settings: Settings | None = None,
    *,
    manifests_dir: Path | None = None,
    store: StateStore | None = None,
    clock: Clock = SYSTEM_CLOCK,
    watch: bool = True,
) -> Lifespan:
    """A lifespan for ``FastAPI(lifespan=scheduler_lifespan())``.

    ``settings`` default to the environment's, read when the app starts; ``manifests_dir``
    to ``SCHEDULER_MANIFESTS_DIR``. The service is ``app.state.scheduler`` while the app
    runs. Start-up raises ``InvalidManifests`` for an invalid set and ``StoreError`` when
    the state store cannot be opened.
    """

    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        chosen = settings if settings is not None else load_settings()
        folder = manifests_dir if manifests_dir is not None else chosen.manifests_dir
        service = SchedulerService(chosen, clock=clock, store=store)
        await _load_or_refuse(service, folder)
        attach(app, service, clock=clock)
        stop = asyncio.Event()
        running = watch and chosen.background_jobs_enabled
        watcher = start_watch(service, folder, stop, chosen) if running else None
        try:
            async with service:
                yield
        finally:
            if watcher is not None:
                await stop_watch(watcher, stop)

    return lifespan


async def _load_or_refuse(service: SchedulerService, folder: Path) -> None:
    """Load ``folder``; log every problem with its location; refuse an invalid set."""
    result = service.load([folder])
    for problem in result.problems:
        level = logging.ERROR if problem.is_error else logging.WARNING
        logger.log(level, "manifest %s", render_problem(problem))
    if not result.ok:
        await service.aclose(0)
        raise InvalidManifests(list(result.problems))
    try:
        await service.open()
    except BaseException:
        await service.aclose(0)
        raise
