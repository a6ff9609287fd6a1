"""Hot reload: watch the manifest folder and hand each change to the service.

The service owns "load, keep the last good set, plan, apply" (``SchedulerService.reload()``);
this module owns only *when* to call it. Timing lives in the change source: watchfiles groups
raw filesystem events in Rust (``debounce`` = longest grouping, ``step`` = quiet time), so the
loop adds no delay of its own. It merges batches that queued up while a reload ran, drops
batches that cannot affect the manifests, and survives anything a reload raises.

Watching is by folder, never by file (a rename detaches a file watch), and it reacts to hidden
entries: a Kubernetes ConfigMap update only touches ``..data`` and a ``..2027_...`` folder.
watchfiles' watch dies with its folder, so :func:`watch_folder` re-arms it when the folder
comes back; while it is missing the service's reload fails (a missing folder is a located
problem) and the running schedule stays.

A batch that only touched plain manifest files is handed over as a hint (``reload(changed)``):
the loader then reads just those files instead of listing and reading the whole folder, which
keeps a reload of 10,000 files as quick as one of 100. Anything else (a folder, ``..data``, a
symlink, a deleted name that may have been a folder, the folder itself, as on every re-arm,
a batch of more than ``MAX_HINTED_FILES``) asks for a full rescan, as does SIGHUP. Trusting
events means a lost one (an overflowed kernel queue drops events) would go unnoticed, so the
loop also rescans everything every ``RESCAN_INTERVAL_S``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import stat
from collections.abc import AsyncIterator, Callable, Collection, Iterable
from contextlib import aclosing, suppress
from pathlib import Path, PurePath
from typing import Protocol

from watchfiles import Change, awatch

from scheduler.loader import MANIFEST_SUFFIXES
from scheduler.records import ReloadStatus

__all__ = [
    "FOLDER_POLL_MS",
    "MAX_BURST_MS",
    "MAX_HINTED_FILES",
    "MAX_RETRY_MS",
    "RESCAN_INTERVAL_S",
    "ChangeBatch",
    "FileChange",
    "Reloadable",
    "changed_manifests",
    "folder_identity",
    "is_editor_dropping",
    "is_relevant_change",
    "needs_reload",
    "retry_delay_ms",
    "watch_folder",
    "watch_manifests",
]

logger = logging.getLogger(__name__)

FileChange = tuple[Change, str]
ChangeBatch = set[FileChange]
_BatchQueue = asyncio.Queue[ChangeBatch | None]  # None: the source ended or the watch stops

CONFIGMAP_DATA = "..data"
"""The symlink a ConfigMap volume swaps atomically; the visible files point through it."""

FOLDER_POLL_MS = 500
"""How often a watch checks that its folder is still the same one, and a missing folder is
looked for again. Bounds how late a deleted-and-recreated folder is noticed."""

MAX_RETRY_MS = 30_000
"""Longest wait between attempts to re-arm a watch that keeps failing."""

MAX_HINTED_FILES = 256
"""A batch touching more manifest files than this reloads everything: reading that many one by
one saves little, and a burst big enough to overflow the kernel's event queue, which then
drops events, arrives as a big batch."""

RESCAN_INTERVAL_S = 300.0
"""How often the watch reloads everything without an event: a change whose event was lost is
applied this late rather than never. A reload that changes nothing only logs at DEBUG."""

_DROPPING_SUFFIXES = frozenset({".swp", ".swo", ".swx", ".swpx", ".tmp", ".bak", ".orig"})
_DROPPING_ENDINGS = ("~", "___jb_tmp___", "___jb_old___")
_VIM_WRITE_PROBE = "4913"  # vim creates and deletes this name to test a folder is writable


MAX_BURST_MS = 1600
"""Longest a burst of changes is grouped before it is reloaded, even if it never goes quiet
(watchfiles' ``debounce``; the quiet time that ends a burst is its ``step``)."""


class Reloadable(Protocol):
    """What the watch loop needs from ``SchedulerService``."""

    async def reload_async(self, changed: Collection[Path] | None = None) -> ReloadStatus:
        """Load the manifests (off the loop) and apply them, keeping the schedule when any is
        invalid. ``changed``: the only paths that changed; ``None``: rescan all."""
        ...


def is_editor_dropping(name: str) -> bool:
    """Whether a file name is an editor's swap, backup, lock or temp file, never a manifest."""
    if name.startswith(".#") or name == _VIM_WRITE_PROBE or name.endswith(_DROPPING_ENDINGS):
        return True
    return PurePath(name).suffix.lower() in _DROPPING_SUFFIXES


def is_relevant_change(
    change: Change, path: str, folder: str, *, is_dir: Callable[[str], bool] = os.path.isdir
) -> bool:
    """Whether one change could alter the loaded job set.

    Errs towards "yes": a needless reload costs one cached load, a missed one leaves a stale
    schedule. An editor's atomic save ends with a rename onto the real name, so it is seen as
    a change to a manifest even though the written file was a dropping. A moved folder shows up
    as a single change to the folder, so folders count, and so does any deletion of a name we
    cannot place (it may have been a folder).
    """
    pure = PurePath(path)
    name = pure.name
    if path == folder or CONFIGMAP_DATA in pure.parts:
        return True
    if is_editor_dropping(name):
        return False
    if pure.suffix.lower() in MANIFEST_SUFFIXES:
        return True
    if name.startswith("."):
        return False  # the loader skips hidden entries; ConfigMap internals were handled above
    return change == Change.deleted or is_dir(path)


def needs_reload(
    changes: Iterable[FileChange],
    folder: str | Path,
    *,
    is_dir: Callable[[str], bool] = os.path.isdir,
) -> bool:
    """Whether a batch of changes below ``folder`` could alter the loaded job set."""
    root = os.path.abspath(folder)
    return any(is_relevant_change(change, path, root, is_dir=is_dir) for change, path in changes)


def changed_manifests(
    changes: Iterable[FileChange],
    folder: str | Path,
    *,
    is_dir: Callable[[str], bool] = os.path.isdir,
    is_link: Callable[[str], bool] = os.path.islink,
) -> list[Path] | None:
    """The manifest files a batch touched, when that is all it did; ``None``: rescan the folder.

    Changes that cannot alter the job set (editor droppings, other files) are left out. Every
    other change must be a manifest file created, modified or deleted below the folder,
    outside hidden folders, and not now a folder or a symlink (a symlink's target can change
    with no event on the link, as in a ConfigMap), and at most ``MAX_HINTED_FILES`` of them.
    Returns the paths sorted; an empty list when nothing relevant changed.
    """
    root = os.path.abspath(folder)
    touched: set[str] = set()
    for change, path in changes:
        if not is_relevant_change(change, path, root, is_dir=is_dir):
            continue
        if not _is_plain_manifest(path, root) or is_dir(path) or is_link(path):
            return None
        touched.add(path)
    if len(touched) > MAX_HINTED_FILES:
        return None
    return [Path(path) for path in sorted(touched)]


def _is_plain_manifest(path: str, root: str) -> bool:
    """Whether ``path`` names a manifest file below ``root`` with no hidden part on the way."""
    relative = os.path.relpath(path, root)
    parts = relative.split(os.sep)
    if relative == os.curdir or parts[0] == os.pardir:
        return False
    return not any(part.startswith(".") for part in parts) and path.endswith(MANIFEST_SUFFIXES)


def folder_identity(folder: str | Path) -> tuple[int, int] | None:
    """The folder's (device, inode), or ``None`` when no folder is there.

    A watch follows the inode it was armed on, so a folder deleted and recreated, or renamed
    away and replaced, needs a new watch even though its path reads the same.
    """
    try:
        info = os.stat(folder)
    except OSError:
        return None
    return (info.st_dev, info.st_ino) if stat.S_ISDIR(info.st_mode) else None


async def _sleep_unless_stopped(stop_event: asyncio.Event, milliseconds: int) -> None:
    """Wait ``milliseconds``, or less when ``stop_event`` is set meanwhile."""
    with suppress(TimeoutError):
        await asyncio.wait_for(stop_event.wait(), milliseconds / 1000)


def retry_delay_ms(failures: int, poll_ms: int) -> int:
    """How long to wait before re-arming after ``failures`` failed watches in a row.

    Doubling up to ``MAX_RETRY_MS`` keeps a lasting fault (an exhausted inotify watch limit)
    from flooding the log while a passing one (the folder vanished mid-arm) costs ``poll_ms``.
    """
    doublings = min(max(failures - 1, 0), 16)  # capped: the count can grow without bound
    return min(poll_ms << doublings, max(MAX_RETRY_MS, poll_ms))


async def _watch_armed(
    root: str,
    identity: tuple[int, int],
    *,
    stop_event: asyncio.Event,
    debounce_ms: int,
    step_ms: int,
    poll_ms: int,
) -> AsyncIterator[ChangeBatch]:
    """Yield the batches of one watch on ``root`` until it stops or the folder changes.

    The first batch always names the folder itself: files written between the folder
    appearing (or the service loading) and the watch being armed produced no event, so one
    reload after arming catches them. ``yield_on_timeout`` gives a tick every ``poll_ms`` to
    notice a folder that was replaced without an event reaching this watch.
    """
    armed: ChangeBatch = {(Change.added, root)}
    watcher = awatch(
        root,
        watch_filter=None,  # hidden entries matter: a ConfigMap swap touches only `..data`
        debounce=debounce_ms,
        step=step_ms,
        stop_event=stop_event,
        rust_timeout=poll_ms,
        yield_on_timeout=True,
    )
    async with aclosing(watcher):
        async for batch in watcher:
            if (Change.deleted, root) in batch or folder_identity(root) != identity:
                # a recreated folder may reuse the inode number, hence the event check
                yield batch | {(Change.deleted, root)}
                return
            if batch or armed:
                yield batch | armed
            armed = set()


async def watch_folder(
    folder: str | Path,
    *,
    stop_event: asyncio.Event,
    debounce_ms: int = 50,
    step_ms: int = 50,
    poll_ms: int = FOLDER_POLL_MS,
) -> AsyncIterator[ChangeBatch]:
    """Yield change batches below ``folder`` until ``stop_event`` is set, surviving its deletion.

    A missing folder is looked for every ``poll_ms``; once it is back a new watch is armed.
    A watch that fails (watchfiles raises) is logged and re-armed after ``retry_delay_ms``.
    """
    root = os.path.abspath(folder)
    failures = 0
    while not stop_event.is_set():
        identity = folder_identity(root)
        if identity is None:
            await _sleep_unless_stopped(stop_event, poll_ms)
            continue
        watch = _watch_armed(
            root,
            identity,
            stop_event=stop_event,
            debounce_ms=debounce_ms,
            step_ms=step_ms,
            poll_ms=poll_ms,
        )
        try:
            async for batch in watch:
                failures = 0
                yield batch
        except Exception:
            failures += 1
            delay = retry_delay_ms(failures, poll_ms)
            logger.warning(
                "watching %s failed (%d in a row); re-arming in %d ms",
                root,
                failures,
                delay,
                exc_info=True,
            )
            await _sleep_unless_stopped(stop_event, delay)


async def _pump(source: AsyncIterator[ChangeBatch], queue: _BatchQueue) -> None:
    """Move batches from the source into the queue; ``None`` tells the loop the source ended."""
    try:
        async for batch in source:
            queue.put_nowait(batch)
    except Exception:
        logger.exception("manifest change source failed; hot reload stops")
    finally:
        queue.put_nowait(None)


async def _rescan_periodically(queue: _BatchQueue, root: str, interval_s: float) -> None:
    """Every ``interval_s``, a batch naming the folder itself: the loop reloads everything."""
    while True:
        await asyncio.sleep(interval_s)
        queue.put_nowait({(Change.added, root)})


async def _signal_stop(stop_event: asyncio.Event, queue: _BatchQueue) -> None:
    """Wake the loop when ``stop_event`` is set, however long the source stays silent."""
    await stop_event.wait()
    queue.put_nowait(None)


def _drain(queue: _BatchQueue, first: ChangeBatch) -> tuple[ChangeBatch, bool]:
    """Merge ``first`` with every batch already queued; also say whether an end mark was seen.

    Batches queue up while a reload runs: one reload of their union is as good as one each.
    """
    merged = set(first)
    while not queue.empty():
        batch = queue.get_nowait()
        if batch is None:
            return merged, True
        merged |= batch
    return merged, False


async def _reload(service: Reloadable, folder: str, changed: list[Path] | None) -> None:
    """Call ``service.reload_async()``; a crash is logged and swallowed so the watch goes on.

    The service logs the outcome itself (applied ids, or each problem with its location).
    """
    try:
        await service.reload_async(changed)
    except Exception:
        logger.exception("reload after a change in %s crashed; the schedule is unchanged", folder)


async def watch_manifests(
    service: Reloadable,
    folder: Path,
    *,
    stop_event: asyncio.Event,
    changes: AsyncIterator[ChangeBatch] | None = None,
    debounce_ms: int = 50,
    step_ms: int = 50,
    rescan_interval_s: float | None = RESCAN_INTERVAL_S,
) -> None:
    """Reload ``service`` after each batch of relevant changes below ``folder``.

    Returns once ``stop_event`` is set (within about ``step_ms``) or ``changes`` ends.
    ``debounce_ms`` and ``step_ms`` are watchfiles' ``debounce`` (longest grouping) and
    ``step`` (quiet time that ends a group): a change is applied about 1.5 steps after it
    is written. ``changes`` replaces the watchfiles source, for tests; it should yield
    batches already grouped in time, and then the two timings are unused. Cancelling the
    task also stops it; watchfiles then sets ``stop_event`` itself. Every
    ``rescan_interval_s`` (``None``: never) it reloads everything, event or not.
    """
    root = os.path.abspath(folder)
    if changes is None:
        changes = watch_folder(
            root, stop_event=stop_event, debounce_ms=debounce_ms, step_ms=step_ms
        )
    queue: _BatchQueue = asyncio.Queue()
    helpers = [
        asyncio.create_task(_pump(changes, queue), name="manifest-changes"),
        asyncio.create_task(_signal_stop(stop_event, queue), name="manifest-watch-stop"),
    ]
    if rescan_interval_s is not None:
        rescan = _rescan_periodically(queue, root, rescan_interval_s)
        helpers.append(asyncio.create_task(rescan, name="manifest-rescan"))
    try:
        ended = False
        while not ended:
            first = await queue.get()
            if first is None:
                break
            batch, ended = _drain(queue, first)
            if stop_event.is_set():
                break
            if needs_reload(batch, root):
                changed = changed_manifests(batch, root)
                logger.debug(
                    "%d change(s) in %s; reloading %s",
                    len(batch),
                    root,
                    "everything" if changed is None else f"{len(changed)} file(s)",
                )
                await _reload(service, root, changed)
    finally:
        for task in helpers:
            task.cancel()
        await asyncio.gather(*helpers, return_exceptions=True)
