"""Requests served on another event loop than the scheduler's run their work on its loop."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from scheduler.http.context import on_service_loop

pytestmark = pytest.mark.timeout(10)


class _Bound:
    """Stands in for a service: all ``on_service_loop`` asks is the loop it lives on."""

    def __init__(self, loop: asyncio.AbstractEventLoop | None) -> None:
        self.bound_loop = loop


async def _which_loop() -> asyncio.AbstractEventLoop:
    return asyncio.get_running_loop()


def test_work_runs_on_the_service_loop_when_the_request_is_served_elsewhere() -> None:
    service_loop = asyncio.new_event_loop()
    thread = threading.Thread(target=service_loop.run_forever, daemon=True)
    thread.start()
    try:
        service: Any = _Bound(service_loop)
        seen = asyncio.run(on_service_loop(service, _which_loop))
    finally:
        service_loop.call_soon_threadsafe(service_loop.stop)
        thread.join(5)
        service_loop.close()
    assert seen is service_loop


@pytest.mark.parametrize("state", ["no-loop", "stopped-loop"])
def test_work_runs_here_when_the_service_has_no_running_loop(state: str) -> None:
    stopped = asyncio.new_event_loop()
    try:
        service: Any = _Bound(None if state == "no-loop" else stopped)

        async def here_and_there() -> tuple[object, object]:
            return asyncio.get_running_loop(), await on_service_loop(service, _which_loop)

        here, there = asyncio.run(here_and_there())
    finally:
        stopped.close()
    assert here is there


def test_errors_of_the_work_reach_the_caller() -> None:
    service_loop = asyncio.new_event_loop()
    thread = threading.Thread(target=service_loop.run_forever, daemon=True)
    thread.start()

    async def fails() -> None:
        raise LookupError("no such job")

    try:
        service: Any = _Bound(service_loop)
        with pytest.raises(LookupError, match="no such job"):
            asyncio.run(on_service_loop(service, fails))
    finally:
        service_loop.call_soon_threadsafe(service_loop.stop)
        thread.join(5)
        service_loop.close()
