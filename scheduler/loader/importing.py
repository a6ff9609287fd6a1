"""Importing a job module with a time limit, and without remembering failures.

A job module runs arbitrary code when imported: it may hang (a network call, a lock), raise
anything (``SystemExit`` included) or fail because a file is not there yet. The import runs
in a daemon thread so the caller can stop waiting after ``timeout`` seconds; the thread
keeps going, and while it does, later loads say the module is still importing instead of
queueing behind Python's per-module import lock. A finished attempt is forgotten: a
failure is tried again on the next load, a success is in ``sys.modules``.

Out of reach in-process: a module that calls ``os._exit()`` at import ends the process.
"""

from __future__ import annotations

import importlib
import os
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field
from types import ModuleType

__all__ = ["DEFAULT_IMPORT_TIMEOUT", "describe_exception", "import_within"]

DEFAULT_IMPORT_TIMEOUT = 10.0
"""Seconds a job module may take to import (setting ``SCHEDULER_IMPORT_TIMEOUT``)."""


@dataclass(eq=False)
class _Attempt:
    """One import of one module, running in its own daemon thread."""

    name: str
    started: float = field(default_factory=time.monotonic)
    done: threading.Event = field(default_factory=threading.Event)
    module: ModuleType | None = None
    error: str | None = None

    def run(self) -> None:
        try:
            self.module = importlib.import_module(self.name)
        except BaseException as exc:  # SystemExit, KeyboardInterrupt...: all the module's fault
            self.error = f"cannot import module {self.name!r}: {describe_exception(exc)}"
        finally:
            self.done.set()


_lock = threading.Lock()
_running: dict[str, _Attempt] = {}


def import_within(name: str, timeout: float) -> ModuleType | str:
    """The module ``name``, or the message of why not (failed, too slow, still going)."""
    ready = _imported(name)
    if ready is not None:
        return ready
    with _lock:
        attempt = _running.get(name)
        earlier = attempt is not None and not attempt.done.is_set()
        if attempt is None or not earlier:
            attempt = _running[name] = _Attempt(name)
            importlib.invalidate_caches()  # a module file created since the last try counts
            thread = threading.Thread(
                target=attempt.run, name=f"scheduler-import-{name}", daemon=True
            )
            thread.start()
    if earlier:
        elapsed = time.monotonic() - attempt.started
        return (
            f"importing module {name!r} has still not finished ({elapsed:.0f}s since it began); "
            "it goes on in the background and the next load tries again"
        )
    if not attempt.done.wait(timeout):
        return (
            f"importing module {name!r} did not finish within {timeout:g}s "
            "(SCHEDULER_IMPORT_TIMEOUT); does it wait on the network or a lock at import?"
        )
    with _lock:
        if _running.get(name) is attempt:
            del _running[name]
    if attempt.error is not None:
        return attempt.error
    assert attempt.module is not None
    return attempt.module


def _imported(name: str) -> ModuleType | None:
    """The module if it is fully imported already; a half-initialized one does not count."""
    module = sys.modules.get(name)
    if module is None:
        return None
    spec = getattr(module, "__spec__", None)
    if getattr(spec, "_initializing", False):
        return None
    return module


def describe_exception(exc: BaseException) -> str:
    """``Type: message (file:line)``, even when the exception's ``__str__`` raises."""
    try:
        text = str(exc)
    except Exception:
        text = "<the exception's message could not be shown>"
    described = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    where = _raised_at(exc)
    return f"{described} ({where})" if where else described


_MACHINERY = frozenset({__file__, importlib.__file__})


def _raised_at(exc: BaseException) -> str | None:
    """``file:line`` of the innermost frame that is real code, not import machinery."""
    if isinstance(exc, SyntaxError):
        return None  # its message says where already
    frames = [
        frame
        for frame in traceback.extract_tb(exc.__traceback__)
        if not frame.filename.startswith("<") and frame.filename not in _MACHINERY
    ]
    if not frames:
        return None
    filename = frames[-1].filename
    relative = os.path.relpath(filename)
    return f"{filename if relative.startswith('..') else relative}:{frames[-1].lineno}"
