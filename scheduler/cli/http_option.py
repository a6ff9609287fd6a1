"""``scheduler run --http HOST:PORT``: checking the bind and building the web server.

The bind is checked before anything loads: a malformed value, a port that cannot be had, or
a non-loopback host with no ``SCHEDULER_API_TOKEN`` is a usage error (exit 2). The command
imports this module only when ``--http`` is given, so other commands never load the web
framework.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable

from scheduler.errors import SchedulerError
from scheduler.http.bind import check_exposure, open_listener, parse_bind
from scheduler.http.server import http_companion
from scheduler.runtime.service import SchedulerService
from scheduler.settings import Settings

__all__ = ["EXIT_USAGE", "http_companion_for"]

EXIT_USAGE = 2
Companion = Callable[[asyncio.Event], Awaitable[object]]


def http_companion_for(
    value: str, settings: Settings, service: SchedulerService
) -> Companion | int:
    """The web server for ``serve()``, listening already; or ``EXIT_USAGE`` after saying why."""
    try:
        bind = parse_bind(value)
        check_exposure(bind, settings.api_token)
        listener = open_listener(bind)
    except SchedulerError as exc:
        print(f"scheduler run: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return http_companion(service, listener)
