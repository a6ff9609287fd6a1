"""Keeping the service on its event loop's thread.

APScheduler's ``AsyncIOScheduler`` and the run wrapper are not thread-safe: they belong to one
event loop. A host app may still call the service from elsewhere, e.g. a FastAPI ``def``
route runs on a worker thread. Such calls are marshalled onto the loop and the caller waits
for the answer, so they are as safe as calls made on the loop itself.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import threading
from collections.abc import Callable
from typing import Any, Protocol, TypeVar, cast

from scheduler.errors import SchedulerError

__all__ = ["MARSHAL_TIMEOUT_SECONDS", "LoopBound", "on_loop"]

MARSHAL_TIMEOUT_SECONDS = 30.0
"""How long a call from another thread waits for the loop before giving up with an error."""

_Method = TypeVar("_Method", bound=Callable[..., Any])


class LoopBound(Protocol):
    """An object that knows the loop it lives on (``None`` until it has one)."""

    @property
    def bound_loop(self) -> asyncio.AbstractEventLoop | None: ...


def _on_loop_thread(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False


def on_loop(method: _Method) -> _Method:
    """Run ``method`` on the object's loop: directly when called there (or when the object has
    no loop yet), else marshalled through ``call_soon_threadsafe`` while the caller waits."""

    @functools.wraps(method)
    def marshalled(self: LoopBound, *args: Any, **kwargs: Any) -> Any:
        loop = self.bound_loop
        if loop is None or _on_loop_thread(loop):
            return method(self, *args, **kwargs)
        if loop.is_closed() or not loop.is_running():
            raise SchedulerError(
                f"{method.__name__}() was called from thread "
                f"{threading.current_thread().name!r} while the scheduler's event loop is not "
                "running; call it from the loop, or while the scheduler runs"
            )
        answer: concurrent.futures.Future[Any] = concurrent.futures.Future()

        def call() -> None:
            if not answer.set_running_or_notify_cancel():
                return
            try:
                answer.set_result(method(self, *args, **kwargs))
            except BaseException as exc:  # handed to the calling thread, which raises it
                answer.set_exception(exc)

        loop.call_soon_threadsafe(call)
        try:
            return answer.result(timeout=MARSHAL_TIMEOUT_SECONDS)
        except concurrent.futures.TimeoutError:
            answer.cancel()
            raise SchedulerError(
                f"{method.__name__}() waited {MARSHAL_TIMEOUT_SECONDS:g}s for the scheduler's "
                "event loop, which is blocked"
            ) from None

    return cast("_Method", marshalled)
