"""Ending the ``scheduler run`` process on time, whatever its jobs' threads do.

Python waits at exit for every non-daemon thread, thread-pool workers included, so one sync
job that never returns (or a thread a job started and forgot) would keep the process alive
after a graceful stop, until Kubernetes or systemd kills it. Once the service has recorded
what was left, the process ends with ``os._exit`` instead, after flushing its output.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
import time

__all__ = ["THREAD_EXIT_WAIT_SECONDS", "exit_now", "finish_process", "force_exit_on"]

logger = logging.getLogger(__name__)

THREAD_EXIT_WAIT_SECONDS = 0.5
"""How long idle worker threads get to wind down before the process stops waiting for them."""


def _lingering_threads() -> list[threading.Thread]:
    main = threading.main_thread()
    return [
        thread
        for thread in threading.enumerate()
        if thread is not main and thread.is_alive() and not thread.daemon
    ]


def exit_now(code: int) -> None:
    """Flush logs and output, then end the process at once (no waiting for threads)."""
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # closed or broken: nothing to say
            stream.flush()
    os._exit(code)


def force_exit_on(sig: signal.Signals) -> None:
    """A second stop signal: exit now with the shell's code for death by that signal."""
    exit_now(128 + int(sig))


def finish_process(code: int) -> int:
    """Return ``code`` when no thread would hold the process open; else exit with it now."""
    deadline = time.monotonic() + THREAD_EXIT_WAIT_SECONDS
    for thread in _lingering_threads():
        thread.join(max(deadline - time.monotonic(), 0))
    lingering = _lingering_threads()
    if not lingering:
        return code
    logger.warning(
        "exiting with %d thread(s) still running (%s): a sync job that never returns cannot be "
        "stopped, so the process does not wait for it",
        len(lingering),
        ", ".join(thread.name for thread in lingering),
    )
    exit_now(code)
    return code  # not reached; os._exit does not return
