"""Small helpers shared by the tests that drive a real event loop."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import IO


async def until(predicate: Callable[[], bool], timeout: float = 5.0, step: float = 0.005) -> None:
    """Wait until ``predicate()`` holds, polling; fail after ``timeout`` seconds."""

    async def poll() -> None:
        while not predicate():
            await asyncio.sleep(step)

    await asyncio.wait_for(poll(), timeout)


def line_with(stream: IO[str], needle: str, deadline: float, seen: list[str] | None = None) -> str:
    """Read a process's output lines until one contains ``needle``; fail at the deadline
    (``time.monotonic()``) or at the end of the stream, showing what was read (into ``seen``)."""
    read = seen if seen is not None else []
    while time.monotonic() < deadline:
        line = stream.readline()
        if not line:
            break
        read.append(line)
        if needle in line:
            return line
    raise AssertionError(f"no line with {needle!r} in:\n{''.join(read)}")
