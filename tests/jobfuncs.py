"""Job functions for service, execution and runtime tests (manifests name them by path).

Tests set ``allowed_modules=("tests.jobfuncs",)``. State here is module-global on purpose,
since a manifest can only pass YAML values; the ``reset`` fixture in tests clears it.
"""

from __future__ import annotations

import asyncio
import threading
from datetime import datetime, timedelta
from typing import Any

CALLS: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []
THREAD_GATE = threading.Event()
"""Sync jobs that wait on the gate block their worker thread until a test sets it."""
CANCELLED: list[str] = []
ASYNC_GATE = asyncio.Event()
"""Coroutine jobs that wait on it hold until a test sets it; ``reset`` makes a fresh one per
test, since an asyncio.Event binds to the first event loop that waits on it."""
ASYNC_STARTED = asyncio.Event()


class FakeClock:
    """A settable ``Clock`` for tests: time moves only when a test moves it."""

    def __init__(self, now: datetime) -> None:
        self.current = now

    def now(self) -> datetime:
        return self.current

    def advance(self, **delta: float) -> datetime:
        self.current += timedelta(**delta)
        return self.current


def reset() -> None:
    """Forget recorded calls and close the gates."""
    global ASYNC_GATE, ASYNC_STARTED
    CALLS.clear()
    CANCELLED.clear()
    THREAD_GATE.clear()
    ASYNC_GATE = asyncio.Event()
    ASYNC_STARTED = asyncio.Event()


def noop() -> None:
    """Does nothing, quickly."""


def record(*args: Any, **kwargs: Any) -> str:
    """Remember how it was called, and on which thread."""
    CALLS.append((threading.current_thread().name, args, kwargs))
    return "recorded"


async def async_record(*args: Any, **kwargs: Any) -> str:
    """Coroutine variant of ``record``."""
    CALLS.append((threading.current_thread().name, args, kwargs))
    return "recorded"


def boom(message: str = "boom") -> None:
    """Always fails."""
    raise ValueError(message)


def wait_for_gate(limit: float = 10.0) -> bool:
    """Block the worker thread until ``THREAD_GATE`` is set (bounded, so no test can hang)."""
    return THREAD_GATE.wait(limit)


async def sleep_forever(tag: str = "sleeper") -> None:
    """A coroutine that only ends when cancelled; records the cancellation."""
    try:
        await asyncio.Event().wait()
    except asyncio.CancelledError:
        CANCELLED.append(tag)
        raise


async def wait_async_gate(tag: str = "gated") -> str:
    """Hold until ``ASYNC_GATE`` is set; says it started through ``ASYNC_STARTED``."""
    ASYNC_STARTED.set()
    try:
        await ASYNC_GATE.wait()
    except asyncio.CancelledError:
        CANCELLED.append(tag)
        raise
    return tag


async def short_sleep(seconds: float = 0.05) -> None:
    """A coroutine that ends on its own after a short while."""
    await asyncio.sleep(seconds)


def raises_timeout() -> None:
    """A job whose own code times out (not the scheduler's timeout)."""
    raise TimeoutError("upstream took too long")


async def async_raises_timeout() -> None:
    """Coroutine variant of ``raises_timeout``."""
    raise TimeoutError("upstream took too long")
