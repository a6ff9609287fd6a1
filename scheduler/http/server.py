"""Serving the app with uvicorn on the scheduler's own event loop.

``scheduler run --http`` runs uvicorn beside the service in one process and one loop, so a
request sees the very scheduler that fires the jobs. The process's signals stay with
``scheduler run`` (which stops firing, waits out the grace and exits on a second signal):
uvicorn is told not to install handlers, and stops when the run's stop event is set.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Awaitable, Callable, Iterator

import uvicorn

from scheduler.errors import SchedulerError
from scheduler.http.app import create_app
from scheduler.runtime.service import SchedulerService

__all__ = ["http_companion"]

logger = logging.getLogger(__name__)


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: the scheduler's process owns the signals."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        """Install nothing."""
        yield


def http_companion(
    service: SchedulerService, listener: socket.socket
) -> Callable[[asyncio.Event], Awaitable[None]]:
    """What ``serve()`` runs beside the service: the HTTP app on ``listener`` until stop."""

    async def run(stop: asyncio.Event) -> None:
        config = uvicorn.Config(
            create_app(service),
            lifespan="off",
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=2,
        )
        server = _Server(config)
        serving = asyncio.get_running_loop().create_task(server.serve(sockets=[listener]))
        waiting = asyncio.get_running_loop().create_task(stop.wait())
        host, port = listener.getsockname()[:2]
        logger.info("serving the API and dashboard on http://%s:%d/", _url_host(host), port)
        try:
            await asyncio.wait({serving, waiting}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            server.should_exit = True
            waiting.cancel()
            try:
                await serving
            except SystemExit as exc:  # uvicorn exits the process when it cannot start
                raise SchedulerError(f"the HTTP server could not start (exit {exc.code})") from exc
            finally:
                listener.close()

    return run


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
