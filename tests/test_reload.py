"""The watch loop and its decisions, driven by scripted change batches and a fake service.

Real folders and a real service are in ``test_reload_folder.py``; here nothing touches the
filesystem except ``folder_identity``, and nothing sleeps: every wait is on an event or on the
loop returning, under ``asyncio.wait_for``.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Collection
from datetime import UTC, datetime
from pathlib import Path

import pytest
from watchfiles import Change

import scheduler.runtime.reload
from scheduler.records import ReloadStatus
from scheduler.runtime.reload import (
    MAX_HINTED_FILES,
    MAX_RETRY_MS,
    changed_manifests,
    folder_identity,
    is_editor_dropping,
    needs_reload,
    retry_delay_ms,
    watch_folder,
    watch_manifests,
)

ROOT = os.path.abspath("/srv/manifests")
WAIT = 2.0  # seconds: a bound on waits that normally take microseconds


def at(name: str) -> str:
    """An absolute path below the test folder."""
    return os.path.join(ROOT, name)


class FakeService:
    """Records reload calls and their hints; crashes on the calls it is told to."""

    def __init__(self, crash_on: tuple[int, ...] = ()) -> None:
        self.calls = 0
        self.hints: list[list[Path] | None] = []
        self.crash_on = crash_on
        self.called = asyncio.Event()

    async def reload_async(self, changed: Collection[Path] | None = None) -> ReloadStatus:
        self.calls += 1
        self.hints.append(None if changed is None else list(changed))
        self.called.set()
        if self.calls in self.crash_on:
            raise RuntimeError(f"boom on call {self.calls}")
        return ReloadStatus(at=datetime(2027, 1, 1, tzinfo=UTC), ok=True)

    async def wait_calls(self, count: int) -> None:
        while self.calls < count:
            self.called.clear()
            await self.called.wait()


class ScriptedChanges:
    """A change source the test feeds; batches pushed without an await arrive together."""

    def __init__(self) -> None:
        self._queue: asyncio.Queue[set[tuple[Change, str]] | None] = asyncio.Queue()
        self.closed = False

    def push(self, *batches: set[tuple[Change, str]]) -> None:
        for batch in batches:
            self._queue.put_nowait(batch)

    def end(self) -> None:
        self._queue.put_nowait(None)

    def __aiter__(self) -> ScriptedChanges:
        return self

    async def __anext__(self) -> set[tuple[Change, str]]:
        try:
            batch = await self._queue.get()
        except asyncio.CancelledError:
            self.closed = True
            raise
        if batch is None:
            raise StopAsyncIteration
        return batch


def modified(name: str) -> set[tuple[Change, str]]:
    return {(Change.modified, at(name))}


async def run_to_end(service: FakeService, source: ScriptedChanges) -> None:
    """Run the loop until the source ends; the bound turns a hang into a failure."""
    await asyncio.wait_for(
        watch_manifests(service, Path(ROOT), stop_event=asyncio.Event(), changes=source), WAIT
    )


# --- which changes matter -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("job.yaml.swp", True),
        (".job.yaml.swp", True),
        (".job.yaml.swx", True),
        ("job.yaml~", True),
        (".#job.yaml", True),
        ("4913", True),
        ("job.yaml___jb_tmp___", True),
        ("job.yaml.tmp", True),
        ("job.yaml", False),
        ("job.toml", False),
        ("README", False),
        ("..data", False),
    ],
    ids=lambda value: str(value),
)
def test_is_editor_dropping(name: str, expected: bool) -> None:
    assert is_editor_dropping(name) is expected


DIRECTORIES = {at("team"), at("team.v2"), ROOT}


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        pytest.param(modified("job.yaml"), True, id="yaml-modified"),
        pytest.param(modified("job.yml"), True, id="yml-modified"),
        pytest.param(modified("job.toml"), True, id="toml-modified"),
        pytest.param(modified("JOB.YAML"), True, id="suffix-any-case"),
        pytest.param({(Change.deleted, at("team/job.yaml"))}, True, id="nested-yaml-deleted"),
        pytest.param(modified(".job.yaml.swp"), False, id="vim-swap"),
        pytest.param(modified("job.yaml~"), False, id="backup"),
        pytest.param({(Change.added, at(".#job.yaml"))}, False, id="emacs-lock"),
        pytest.param(
            {(Change.added, at("4913")), (Change.deleted, at("4913"))}, False, id="vim-probe"
        ),
        pytest.param(modified("notes.md"), False, id="other-file-modified"),
        pytest.param({(Change.added, at("README"))}, False, id="file-without-suffix-added"),
        pytest.param({(Change.deleted, at("notes.md"))}, True, id="deleted-maybe-a-folder"),
        pytest.param({(Change.deleted, at(".cache"))}, False, id="hidden-deleted"),
        pytest.param({(Change.added, at("team"))}, True, id="folder-moved-in"),
        pytest.param({(Change.added, at("team.v2"))}, True, id="dotted-folder-moved-in"),
        pytest.param({(Change.deleted, ROOT)}, True, id="manifest-folder-deleted"),
        pytest.param({(Change.added, ROOT)}, True, id="manifest-folder-back"),
        pytest.param(
            {
                (Change.added, at("..2027_01_02_00_00_00.1")),
                (Change.added, at("..data_tmp")),
                (Change.deleted, at("..data_tmp")),
                (Change.added, at("..data")),
                (Change.deleted, at("..2027_01_01_00_00_00.1")),
            },
            True,
            id="configmap-swap",
        ),
        pytest.param({(Change.added, at("..data_tmp"))}, False, id="configmap-tmp-link-only"),
        pytest.param(
            {
                (Change.added, at(".job.yaml.tmp123")),
                (Change.deleted, at(".job.yaml.tmp123")),
                (Change.added, at("job.yaml")),
            },
            True,
            id="atomic-save",
        ),
        pytest.param(set(), False, id="empty"),
    ],
)
def test_needs_reload(changes: set[tuple[Change, str]], expected: bool) -> None:
    assert needs_reload(changes, ROOT, is_dir=DIRECTORIES.__contains__) is expected


LINKS = {at("linked.yaml")}


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        pytest.param(modified("job.yaml"), ["job.yaml"], id="modified"),
        pytest.param({(Change.added, at("team/c.toml"))}, ["team/c.toml"], id="nested-added"),
        pytest.param({(Change.deleted, at("job.yml"))}, ["job.yml"], id="deleted"),
        pytest.param(
            {
                (Change.added, at(".job.yaml.tmp123")),
                (Change.deleted, at(".job.yaml.tmp123")),
                (Change.added, at("job.yaml")),
                (Change.modified, at("other.yaml")),
                (Change.modified, at("notes.md")),
            },
            ["job.yaml", "other.yaml"],
            id="atomic-save-and-irrelevant-churn",
        ),
        pytest.param(
            {(Change.added, at("job.yaml~")), (Change.added, at("4913"))}, [], id="droppings-only"
        ),
        pytest.param({(Change.added, ROOT)}, None, id="the-folder-itself"),
        pytest.param({(Change.deleted, ROOT)}, None, id="the-folder-deleted"),
        pytest.param({(Change.added, at("team"))}, None, id="folder-moved-in"),
        pytest.param(
            {(Change.modified, at("job.yaml")), (Change.deleted, at("notes.md"))},
            None,
            id="deleted-name-maybe-a-folder",
        ),
        pytest.param({(Change.added, at("..data"))}, None, id="configmap-data"),
        pytest.param(
            {(Change.modified, at("..2027_01_01/job.yaml"))}, None, id="configmap-version-file"
        ),
        pytest.param({(Change.modified, at(".hidden.yaml"))}, None, id="hidden-manifest"),
        pytest.param({(Change.modified, at("linked.yaml"))}, None, id="symlink"),
        pytest.param({(Change.modified, at("JOB.YAML"))}, None, id="suffix-case-discovery-skips"),
        pytest.param({(Change.modified, "/elsewhere/job.yaml")}, None, id="outside-the-folder"),
    ],
)
def test_changed_manifests(changes: set[tuple[Change, str]], expected: list[str] | None) -> None:
    hint = changed_manifests(
        changes, ROOT, is_dir=DIRECTORIES.__contains__, is_link=LINKS.__contains__
    )
    assert hint == (None if expected is None else [Path(at(name)) for name in expected])


def test_a_batch_of_very_many_files_reloads_everything() -> None:
    def batch(count: int) -> set[tuple[Change, str]]:
        return {(Change.modified, at(f"job{index}.yaml")) for index in range(count)}

    hint = changed_manifests(batch(MAX_HINTED_FILES), ROOT, is_dir=lambda _: False)
    assert hint is not None and len(hint) == MAX_HINTED_FILES
    assert changed_manifests(batch(MAX_HINTED_FILES + 1), ROOT, is_dir=lambda _: False) is None


def test_needs_reload_compares_against_the_absolute_folder() -> None:
    relative = os.path.relpath(ROOT)
    assert needs_reload({(Change.deleted, ROOT)}, relative, is_dir=lambda _: False)


def test_folder_identity(tmp_path: Path) -> None:
    folder = tmp_path / "manifests"
    assert folder_identity(folder) is None
    folder.mkdir()
    identity = folder_identity(folder)
    assert identity == (folder.stat().st_dev, folder.stat().st_ino)
    (tmp_path / "file.yaml").write_text("x", encoding="utf-8")
    assert folder_identity(tmp_path / "file.yaml") is None


# --- the loop ---------------------------------------------------------------------------------


async def test_each_relevant_batch_reloads_once() -> None:
    service, source = FakeService(), ScriptedChanges()
    task = asyncio.create_task(run_to_end(service, source))
    source.push(modified("a.yaml"))
    await asyncio.wait_for(service.wait_calls(1), WAIT)
    source.push(modified("b.yaml"))
    await asyncio.wait_for(service.wait_calls(2), WAIT)
    source.end()
    await task
    assert service.calls == 2


async def test_a_burst_coalesces_into_one_reload() -> None:
    service, source = FakeService(), ScriptedChanges()
    source.push(*(modified(f"job{index}.yaml") for index in range(20)))
    source.end()
    await run_to_end(service, source)
    assert service.calls == 1
    assert service.hints == [sorted(Path(at(f"job{index}.yaml")) for index in range(20))]


async def test_a_batch_with_a_folder_change_reloads_everything() -> None:
    service, source = FakeService(), ScriptedChanges()
    source.push(modified("a.yaml"), {(Change.added, ROOT)}, modified("b.yaml"))
    source.end()
    await run_to_end(service, source)
    assert service.hints == [None]


async def test_irrelevant_changes_do_not_reload() -> None:
    service, source = FakeService(), ScriptedChanges()
    source.push(modified(".job.yaml.swp"), {(Change.added, at("job.yaml~"))}, modified("a.md"))
    source.end()
    await run_to_end(service, source)
    assert service.calls == 0


async def test_irrelevant_churn_merged_with_a_real_change_still_reloads() -> None:
    service, source = FakeService(), ScriptedChanges()
    source.push(modified(".job.yaml.swp"), modified("job.yaml"), modified(".job.yaml.swp"))
    source.end()
    await run_to_end(service, source)
    assert service.calls == 1


async def test_a_crashing_reload_is_logged_and_the_loop_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    service, source = FakeService(crash_on=(1,)), ScriptedChanges()
    task = asyncio.create_task(run_to_end(service, source))
    with caplog.at_level(logging.ERROR, logger="scheduler.runtime.reload"):
        source.push(modified("a.yaml"))
        await asyncio.wait_for(service.wait_calls(1), WAIT)
        source.push(modified("a.yaml"))
        await asyncio.wait_for(service.wait_calls(2), WAIT)
        source.end()
        await task
    assert service.calls == 2
    [record] = caplog.records
    assert (
        record.getMessage() == f"reload after a change in {ROOT} crashed; the schedule is unchanged"
    )
    assert record.exc_info is not None
    assert str(record.exc_info[1]) == "boom on call 1"


async def test_a_silent_folder_is_rescanned_periodically() -> None:
    service, source, stop = FakeService(), ScriptedChanges(), asyncio.Event()
    task = asyncio.create_task(
        watch_manifests(
            service, Path(ROOT), stop_event=stop, changes=source, rescan_interval_s=0.001
        )
    )
    await asyncio.wait_for(service.wait_calls(2), WAIT)
    stop.set()
    await asyncio.wait_for(task, WAIT)
    assert service.hints[:2] == [None, None]


async def test_stop_event_stops_a_silent_source_promptly() -> None:
    service, source, stop = FakeService(), ScriptedChanges(), asyncio.Event()
    task = asyncio.create_task(
        watch_manifests(service, Path(ROOT), stop_event=stop, changes=source)
    )
    source.push(modified("a.yaml"))
    await asyncio.wait_for(service.wait_calls(1), WAIT)
    stop.set()
    await asyncio.wait_for(task, 0.5)
    assert source.closed
    assert service.calls == 1


async def test_changes_pending_at_stop_are_not_applied() -> None:
    service, source, stop = FakeService(), ScriptedChanges(), asyncio.Event()
    stop.set()
    source.push(modified("a.yaml"))
    await asyncio.wait_for(
        watch_manifests(service, Path(ROOT), stop_event=stop, changes=source), WAIT
    )
    assert service.calls == 0


async def test_a_failing_source_is_logged_and_ends_the_loop(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def failing() -> AsyncIterator[set[tuple[Change, str]]]:
        yield modified("a.yaml")
        raise OSError("inotify watch limit reached")

    service = FakeService()
    with caplog.at_level(logging.ERROR, logger="scheduler.runtime.reload"):
        await asyncio.wait_for(
            watch_manifests(service, Path(ROOT), stop_event=asyncio.Event(), changes=failing()),
            WAIT,
        )
    assert service.calls == 1
    assert [record.getMessage() for record in caplog.records] == [
        "manifest change source failed; hot reload stops"
    ]
    assert caplog.records[0].exc_info is not None


@pytest.mark.parametrize(
    ("failures", "poll_ms", "expected"),
    [
        (1, 500, 500),
        (2, 500, 1000),
        (3, 500, 2000),
        (6, 500, 16000),
        (7, 500, MAX_RETRY_MS),
        (10_000, 500, MAX_RETRY_MS),
        (1, 60_000, 60_000),
    ],
    ids=lambda value: str(value),
)
def test_retry_delay_doubles_up_to_a_cap(failures: int, poll_ms: int, expected: int) -> None:
    assert retry_delay_ms(failures, poll_ms) == expected


async def test_a_failing_watch_is_logged_and_armed_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """watchfiles raising (e.g. the inotify watch limit) must not end hot reload."""
    stop = asyncio.Event()
    attempts: list[str] = []

    async def flaky_awatch(path: str, **options: object) -> AsyncIterator[set[tuple[Change, str]]]:
        attempts.append(path)
        if len(attempts) == 1:
            raise OSError("OS file watch limit reached")
        yield {(Change.modified, os.path.join(path, "a.yaml"))}
        await stop.wait()

    monkeypatch.setattr(
        scheduler.runtime.reload, "awatch", flaky_awatch
    )  # the one seam not injectable
    service = FakeService()
    changes = watch_folder(tmp_path, stop_event=stop, poll_ms=10)
    with caplog.at_level(logging.WARNING, logger="scheduler.runtime.reload"):
        task = asyncio.create_task(
            watch_manifests(service, tmp_path, stop_event=stop, changes=changes)
        )
        await asyncio.wait_for(service.wait_calls(1), WAIT)
        stop.set()
        await asyncio.wait_for(task, WAIT)
    assert attempts == [str(tmp_path)] * 2
    [record] = caplog.records
    assert record.getMessage() == f"watching {tmp_path} failed (1 in a row); re-arming in 10 ms"
    assert record.exc_info is not None
