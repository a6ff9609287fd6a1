"""The process around the service for ``scheduler run``: load, start, watch, signals, stop.

It decides nothing about output: problems from the initial load go to the caller's
``on_loaded`` callback (the CLI renders them) and the exit code is returned, never used to
exit. SIGTERM/SIGINT stop firing and wait up to ``settings.shutdown_grace_seconds`` for
running jobs, then cancel coroutines and abandon threads, so the stop is bounded (Kubernetes
sends SIGKILL 30 s after SIGTERM by default). A second SIGTERM/SIGINT during that wait asks
for an immediate exit: ``serve`` calls ``on_force_exit`` (the CLI ends the process). SIGHUP
reloads now, off the event loop like every reload.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import logging
import signal
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from scheduler.errors import SchedulerError
from scheduler.loader import LoadResult
from scheduler.runtime.reload import MAX_BURST_MS, watch_manifests
from scheduler.runtime.service import SchedulerService
from scheduler.settings import Settings

logger = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_INVALID = 1

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
REPEAT_SIGNAL_SECONDS = 0.5
"""A stop signal this soon after the first is a duplicate delivery, not a second request."""


async def serve(
    settings: Settings,
    *,
    manifests_dir: Path | None = None,
    stop_event: asyncio.Event | None = None,
    service: SchedulerService | None = None,
    on_loaded: Callable[[LoadResult], object] | None = None,
    install_signal_handlers: bool = True,
    watch: bool = True,
    on_force_exit: Callable[[signal.Signals], object] | None = None,
    companion: Callable[[asyncio.Event], Awaitable[object]] | None = None,
) -> int:
    """Run the scheduler until ``stop_event`` is set or a stop signal arrives.

    Raises ``StoreError`` when the state store cannot be opened. Returns ``EXIT_INVALID``
    without starting when the manifests have errors, else
    ``EXIT_OK`` after a graceful stop; either way the service is closed on return. Pass
    ``service`` to share it (an HTTP app), and ``stop_event`` to stop it from code (tests,
    a host process). ``on_force_exit`` is called on a second stop signal. ``companion(stop)``
    runs beside the started service on the same loop (``--http``'s web server); it must
    return once ``stop`` is set, and if it ends first the scheduler stops too (exit 1 when
    it failed).
    """
    folder = manifests_dir if manifests_dir is not None else settings.manifests_dir
    service = service if service is not None else SchedulerService(settings)
    result = service.load([folder])
    if on_loaded is not None:
        on_loaded(result)
    if not result.ok:
        await service.aclose(0)
        return EXIT_INVALID
    try:
        await service.open()  # off the loop, within the connect timeout
    except SchedulerError:
        await service.aclose(0)
        raise
    stop = stop_event if stop_event is not None else asyncio.Event()
    loop = asyncio.get_running_loop()
    signals = _Signals(stop, service, on_force_exit)
    installed = signals.install(loop) if install_signal_handlers else []
    watcher = start_watch(service, folder, stop, settings) if watch else None
    _freeze_loaded_objects()
    beside: asyncio.Task[object] | None = None
    try:
        async with service:
            beside = _start_companion(companion, stop) if companion is not None else None
            await stop.wait()
            logger.info(
                "stopping: no new runs; waiting up to %gs for running jobs",
                settings.shutdown_grace_seconds,
            )
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
        if watcher is not None:
            await stop_watch(watcher, stop)
        companion_failed = beside is not None and await _companion_failed(beside)
        gc.unfreeze()
    logger.info("scheduler stopped")
    return EXIT_INVALID if companion_failed else EXIT_OK


def _start_companion(
    companion: Callable[[asyncio.Event], Awaitable[object]], stop: asyncio.Event
) -> asyncio.Task[object]:
    """Run ``companion(stop)`` in a task; when it ends, for any reason, stop the scheduler."""

    async def run() -> object:
        return await companion(stop)

    task = asyncio.get_running_loop().create_task(run(), name="companion")
    task.add_done_callback(lambda _: stop.set())
    return task


async def _companion_failed(task: asyncio.Task[object]) -> bool:
    """Wait for the companion to end (it was told to by ``stop``); log and report a crash."""
    with contextlib.suppress(Exception):  # its failure is read from the task below
        await asyncio.wait_for(asyncio.shield(task), 5.0)
    if not task.done():
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        return False
    if task.cancelled() or task.exception() is None:
        return False
    logger.error("the companion server failed", exc_info=task.exception())
    return True


def _freeze_loaded_objects() -> None:
    """Keep the loaded set's objects out of the garbage collector's full collections.

    They live as long as the process, yet with 10,000 jobs every full collection walks them
    all, and a reload's allocations trigger one: tens of milliseconds per reload
    (tests/benchmarks/bench_reload.py). ``gc.freeze()`` parks them in the permanent
    generation; objects freed later are still reclaimed by reference counting.
    """
    gc.collect()
    gc.freeze()


def start_watch(
    service: SchedulerService, folder: Path, stop: asyncio.Event, settings: Settings
) -> asyncio.Task[None]:
    """Hot reload in a task that ends when ``stop`` is set.

    ``SCHEDULER_RELOAD_DEBOUNCE_MS`` is the quiet time that ends a burst of edits (watchfiles'
    ``step``); a burst that never goes quiet is still reloaded after ``MAX_BURST_MS``.
    """
    watch = watch_manifests(
        service,
        folder,
        stop_event=stop,
        debounce_ms=max(MAX_BURST_MS, settings.reload_debounce_ms),
        step_ms=settings.reload_debounce_ms,
    )
    return asyncio.get_running_loop().create_task(watch, name="manifest-watch")


async def stop_watch(watcher: asyncio.Task[None], stop: asyncio.Event) -> None:
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


class _Signals:
    """What the process does on each signal: stop, force the exit, or reload."""

    def __init__(
        self,
        stop: asyncio.Event,
        service: SchedulerService,
        on_force_exit: Callable[[signal.Signals], object] | None,
    ) -> None:
        self._stop = stop
        self._service = service
        self._on_force_exit = on_force_exit
        self._reloads: set[asyncio.Task[object]] = set()
        self._first_signal_at = 0.0

    def install(self, loop: asyncio.AbstractEventLoop) -> list[signal.Signals]:
        """Route stop signals and SIGHUP here; return what was installed.

        ``add_signal_handler`` only works in the main thread on Unix; elsewhere (a host app
        running us in a thread, Windows) the host owns signals and calls ``stop_event.set()``.
        """
        wanted: list[tuple[signal.Signals, Callable[[], None]]] = [
            (sig, functools.partial(self.stop, sig)) for sig in STOP_SIGNALS
        ]
        if hasattr(signal, "SIGHUP"):
            wanted.append((signal.SIGHUP, self.reload))
        installed: list[signal.Signals] = []
        for sig, handler in wanted:
            try:
                loop.add_signal_handler(sig, handler)
            except (NotImplementedError, RuntimeError, ValueError):
                logger.debug("cannot handle %s here; the host process owns signals", sig.name)
                continue
            installed.append(sig)
        return installed

    def stop(self, sig: signal.Signals) -> None:
        """First stop signal: a graceful stop. A second: exit now, through ``on_force_exit``.

        A repeat within ``REPEAT_SIGNAL_SECONDS`` is the same request delivered twice (to the
        process and to its group, as ``timeout`` and some init shims do), not a second one.
        """
        now = time.monotonic()
        if not self._stop.is_set():
            logger.info("received %s", sig.name)
            self._first_signal_at = now
            self._stop.set()
            return
        if now - self._first_signal_at < REPEAT_SIGNAL_SECONDS:
            logger.debug("received %s again at once: the same stop request", sig.name)
            return
        still = self._service.running_runs()
        logger.warning(
            "received %s again: exiting now%s",
            sig.name,
            f" without waiting for {', '.join(still)}" if still else "",
        )
        if self._on_force_exit is not None:
            self._on_force_exit(sig)

    def reload(self) -> None:
        """SIGHUP: reload at once, off the loop; a crash is logged, never fatal."""
        logger.info("received SIGHUP: reloading the manifests")
        task = asyncio.get_running_loop().create_task(self._reload())
        self._reloads.add(task)
        task.add_done_callback(self._reloads.discard)

    async def _reload(self) -> None:
        try:
            await self._service.reload_async(announce=True)
        except Exception:
            logger.exception("reload on SIGHUP crashed; the schedule is unchanged")
