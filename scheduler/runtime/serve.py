"""The process around the service for ``scheduler run``: load, start, watch, signals, stop.

It decides nothing about output: problems from the initial load go to the caller's
``on_loaded`` callback (the CLI renders them) and the exit code is returned, never used to
exit. Signals follow DESIGN.md section 5: SIGTERM/SIGINT stop firing and wait up to
``settings.shutdown_grace_seconds`` for running jobs, SIGHUP reloads now.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import logging
import signal
from collections.abc import Callable
from pathlib import Path

from scheduler.loader import LoadResult
from scheduler.runtime.reload import watch_manifests
from scheduler.runtime.service import SchedulerService
from scheduler.settings import Settings

logger = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_INVALID = 1

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


async def serve(
    settings: Settings,
    *,
    manifests_dir: Path | None = None,
    stop_event: asyncio.Event | None = None,
    service: SchedulerService | None = None,
    on_loaded: Callable[[LoadResult], object] | None = None,
    install_signal_handlers: bool = True,
    watch: bool = True,
) -> int:
    """Run the scheduler until ``stop_event`` is set or a stop signal arrives.

    Returns ``EXIT_INVALID`` without starting when the manifests have errors, else
    ``EXIT_OK`` after a graceful stop; either way the service is closed on return. Pass
    ``service`` to share it (an HTTP app), and ``stop_event`` to stop it from code (tests,
    a host process).
    """
    folder = manifests_dir if manifests_dir is not None else settings.manifests_dir
    service = service if service is not None else SchedulerService(settings)
    result = service.load([folder])
    if on_loaded is not None:
        on_loaded(result)
    if not result.ok:
        await service.aclose(0)
        return EXIT_INVALID
    stop = stop_event if stop_event is not None else asyncio.Event()
    loop = asyncio.get_running_loop()
    installed = _install_signal_handlers(loop, stop, service) if install_signal_handlers else []
    watcher = _start_watch(service, folder, stop, settings) if watch else None
    _freeze_loaded_objects()
    try:
        async with service:
            await stop.wait()
            logger.info(
                "stopping: no new runs; waiting up to %gs for running jobs",
                settings.shutdown_grace_seconds,
            )
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
        if watcher is not None:
            await _stop_watch(watcher, stop)
        gc.unfreeze()
    logger.info("scheduler stopped")
    return EXIT_OK


def _freeze_loaded_objects() -> None:
    """Keep the loaded set's objects out of the garbage collector's full collections.

    They live as long as the process, yet with 10,000 jobs every full collection walks them
    all, and a reload's allocations trigger one: tens of milliseconds per reload
    (tests/benchmarks/bench_reload.py). ``gc.freeze()`` parks them in the permanent
    generation; objects freed later are still reclaimed by reference counting.
    """
    gc.collect()
    gc.freeze()


def _start_watch(
    service: SchedulerService, folder: Path, stop: asyncio.Event, settings: Settings
) -> asyncio.Task[None]:
    """Hot reload (DESIGN.md section 6) in a task that ends when ``stop`` is set."""
    watch = watch_manifests(
        service, folder, stop_event=stop, debounce_ms=settings.reload_debounce_ms
    )
    return asyncio.get_running_loop().create_task(watch, name="manifest-watch")


async def _stop_watch(watcher: asyncio.Task[None], stop: asyncio.Event) -> None:
    """Let the watch end on ``stop``; cancel it if it has not within a second."""
    stop.set()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.shield(watcher), 1.0)
    if not watcher.done():
        watcher.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await watcher
    if not watcher.cancelled() and watcher.exception() is not None:
        logger.error("the manifest watch failed", exc_info=watcher.exception())


def _install_signal_handlers(
    loop: asyncio.AbstractEventLoop, stop: asyncio.Event, service: SchedulerService
) -> list[signal.Signals]:
    """Route stop signals to ``stop`` and SIGHUP to a reload; return what was installed.

    ``add_signal_handler`` only works in the main thread on Unix; elsewhere (a host app
    running us in a thread, Windows) the host owns signals and calls ``stop_event.set()``.
    """
    wanted: list[tuple[signal.Signals, Callable[[], None]]] = [
        (sig, functools.partial(_request_stop, stop, sig)) for sig in STOP_SIGNALS
    ]
    if hasattr(signal, "SIGHUP"):
        wanted.append((signal.SIGHUP, functools.partial(_reload_now, service)))
    installed: list[signal.Signals] = []
    for sig, handler in wanted:
        try:
            loop.add_signal_handler(sig, handler)
        except (NotImplementedError, RuntimeError, ValueError):
            logger.debug("cannot handle %s here; the host process owns signals", sig.name)
            continue
        installed.append(sig)
    return installed


def _request_stop(stop: asyncio.Event, sig: signal.Signals) -> None:
    logger.info("received %s", sig.name)
    stop.set()


def _reload_now(service: SchedulerService) -> None:
    """SIGHUP: reload at once; a crash is logged, never fatal to the process."""
    logger.info("received SIGHUP: reloading the manifests")
    try:
        service.reload()
    except Exception:
        logger.exception("reload on SIGHUP crashed; the schedule is unchanged")
