"""Job functions for service, execution and runtime tests (manifests name them by path).

Tests set ``allowed_modules=("tests.jobfuncs",)``. State here is module-global on purpose,
since a manifest can only pass YAML values; the ``reset`` fixture in tests clears it.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
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
    BARRIER.reset()
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


def exits(code: int | None = 3) -> None:
    """A job that calls ``sys.exit``."""
    raise SystemExit(code)


async def async_exits(code: int | None = None) -> None:
    """Coroutine variant of ``exits``."""
    raise SystemExit(code)


def interrupts() -> None:
    """A job that raises ``KeyboardInterrupt``."""
    raise KeyboardInterrupt


async def async_interrupts() -> None:
    """Coroutine variant of ``interrupts``."""
    raise KeyboardInterrupt


def generator_exit() -> None:
    """A job that raises ``GeneratorExit``."""
    raise GeneratorExit


async def async_generator_exit() -> None:
    """Coroutine variant of ``generator_exit``."""
    raise GeneratorExit


def cancels_itself() -> None:
    """A sync job that raises ``asyncio.CancelledError`` (a BaseException)."""
    raise asyncio.CancelledError


async def async_cancels_itself() -> None:
    """A coroutine that raises ``CancelledError`` without being cancelled."""
    raise asyncio.CancelledError


class UnprintableError(Exception):
    """An exception whose ``__str__`` itself raises."""

    def __str__(self) -> str:
        raise RuntimeError("no str for you")


def raises_unprintable() -> None:
    """A job raising an exception that cannot be printed."""
    raise UnprintableError


async def async_raises_unprintable() -> None:
    """Coroutine variant of ``raises_unprintable``."""
    raise UnprintableError


def returns_coroutine() -> Any:
    """A plain def that returns a coroutine: its body would never run."""
    return async_record("never")


async def async_generator() -> Any:
    """An async generator function: calling it runs nothing."""
    CALLS.append(("never", (), {}))
    yield 1


async def blocks_loop(seconds: float = 0.3) -> None:
    """An ``async def`` job that blocks the event loop (the mistake being detected)."""
    time.sleep(seconds)


async def quick() -> None:
    """A coroutine that yields once and ends."""
    await asyncio.sleep(0)


BARRIER = threading.Barrier(2, timeout=2)


def meet_at_barrier() -> None:
    """Ends only if another run reaches the barrier at the same time (needs 2 threads)."""
    BARRIER.wait()


def append_line(path: str) -> None:
    """Append the time to ``path``: a side effect a test outside the process can count."""
    with open(path, "a", encoding="utf-8") as stream:
        stream.write(f"{datetime.now().isoformat()}\n")


def sleep_and_leak_a_thread(seconds: float = 120.0) -> None:
    """A sync job that never returns in time and leaves a non-daemon thread behind."""
    threading.Thread(target=time.sleep, args=(seconds,), name="leaked-by-job").start()
    time.sleep(seconds)


def tick_slowly(path: str, seconds: float = 0.5) -> None:
    """Append the second it started in and this process's pid, then keep running a while."""
    started = datetime.now().replace(microsecond=0).isoformat()
    with open(path, "a", encoding="utf-8") as stream:
        stream.write(f"{started} {os.getpid()}\n")
    time.sleep(seconds)
