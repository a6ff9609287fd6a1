"""Hot reload against a real folder and a real running ``SchedulerService``.

Each test edits files the way people and tools do and waits, bounded, for the service's state
to show the result. The watch runs on the real watchfiles source with tiny timings, so the
whole file stays within a few seconds. Jobs that must keep their next run carry a large
``jitter``: a job that was rescheduled would draw a new random offset, so "same next run"
proves it was not touched.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import time
from collections.abc import AsyncIterator, Callable, Collection
from pathlib import Path

import pytest

from scheduler.problems import Problem
from scheduler.records import JobView, ReloadStatus
from scheduler.runtime.reload import watch_folder, watch_manifests
from scheduler.runtime.service import SchedulerService
from scheduler.settings import load_settings

pytestmark = pytest.mark.timeout(15)

DEADLINE = 5.0  # seconds; a change normally lands in well under 0.2 s
FUNC = "tests.jobfuncs.noop"


def job_yaml(job_id: str, cron: str = "0 3 * * *", *, enabled: bool = True, jitter: int = 0) -> str:
    """One job manifest; ``cron_expression`` is always on line 3."""
    return (
        f"job_id: {job_id}\n"
        f"func: {FUNC}\n"
        f'cron_expression: "{cron}"\n'
        f"enabled: {'true' if enabled else 'false'}\n"
        f"jitter: {jitter}\n"
    )


class Harness:
    """A started service on ``folder`` with the watch loop running beside it."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        settings = load_settings(manifests_dir=folder, allowed_modules=("tests.jobfuncs",))
        self.service = SchedulerService(settings)
        self.stop = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    async def start(self, before_watch: Callable[[], object] = lambda: None) -> None:
        """Load, start, and wait until the watch is armed (its first reload proves it)."""
        result = self.service.load([self.folder])
        assert result.ok, result.problems
        self.service.start()
        loaded = self.service.last_reload
        before_watch()
        changes = watch_folder(
            self.folder, stop_event=self.stop, debounce_ms=100, step_ms=20, poll_ms=100
        )
        watch = watch_manifests(self.service, self.folder, stop_event=self.stop, changes=changes)
        self.task = asyncio.create_task(watch)
        await self.until(lambda: self.service.last_reload is not loaded, "the watch to arm")

    async def close(self) -> None:
        """Stop the watch (promptly: that is part of the contract) and the service."""
        self.stop.set()
        if self.task is not None:
            await asyncio.wait_for(self.task, 1.0)
        await self.service.aclose(0)

    def write(self, name: str, text: str) -> Path:
        path = self.folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    def jobs(self) -> dict[str, JobView]:
        return {view.job_id: view for view in self.service.get_jobs()}

    def status(self) -> ReloadStatus:
        assert self.service.last_reload is not None
        return self.service.last_reload

    async def until(self, condition: Callable[[], bool], what: str) -> None:
        """Poll the service's state until ``condition`` holds, failing after ``DEADLINE``."""
        deadline = time.monotonic() + DEADLINE
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"timed out waiting for {what}; jobs={sorted(self.jobs())}, "
                    f"last reload={self.service.last_reload}"
                )
            await asyncio.sleep(0.01)

    async def reloaded_after(self, action: Callable[[], object], what: str) -> ReloadStatus:
        """Do ``action`` and wait for the next reload, whatever its outcome."""
        before = self.service.last_reload
        action()
        await self.until(lambda: self.service.last_reload is not before, what)
        return self.status()

    def cron_of(self, job_id: str) -> str | None:
        view = self.jobs().get(job_id)
        return view.cron_expression if view is not None else None


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    folder = tmp_path / "manifests"
    folder.mkdir()
    (folder / "keep.yaml").write_text(job_yaml("keep", jitter=3600), encoding="utf-8")
    (folder / "b.yaml").write_text(job_yaml("b"), encoding="utf-8")
    harness = Harness(folder)
    await harness.start()
    yield harness
    await harness.close()


def next_run_of(harness: Harness, job_id: str) -> object:
    return harness.jobs()[job_id].next_run_at


async def test_adding_a_manifest_schedules_it(harness: Harness) -> None:
    kept = next_run_of(harness, "keep")
    harness.write("team/c.yaml", job_yaml("c", "15 2 * * *"))
    await harness.until(lambda: "c" in harness.jobs(), "job c to be added")
    view = harness.jobs()["c"]
    assert (view.cron_expression, view.enabled, view.next_run_at is not None) == (
        "15 2 * * *",
        True,
        True,
    )
    status = harness.status()
    assert (status.ok, status.added, status.removed, status.changed) == (True, ("c",), (), ())
    assert next_run_of(harness, "keep") == kept


async def test_editing_a_cron_reschedules_only_that_job(harness: Harness) -> None:
    kept = next_run_of(harness, "keep")
    harness.write("b.yaml", job_yaml("b", "30 4 * * *"))
    await harness.until(lambda: harness.cron_of("b") == "30 4 * * *", "b's new cron")
    next_run = harness.jobs()["b"].next_run_at
    assert next_run is not None
    assert (next_run.hour, next_run.minute) == (4, 30)
    assert harness.status().changed == ("b",)
    assert next_run_of(harness, "keep") == kept


async def test_disabling_keeps_the_job_listed_but_unscheduled(harness: Harness) -> None:
    harness.write("b.yaml", job_yaml("b", enabled=False))
    await harness.until(lambda: not harness.jobs()["b"].enabled, "b to be disabled")
    assert harness.jobs()["b"].next_run_at is None
    harness.write("b.yaml", job_yaml("b"))
    await harness.until(lambda: harness.jobs()["b"].enabled, "b to be enabled again")
    assert harness.jobs()["b"].next_run_at is not None


async def test_deleting_a_manifest_removes_its_job(harness: Harness) -> None:
    kept = next_run_of(harness, "keep")
    (harness.folder / "b.yaml").unlink()
    await harness.until(lambda: "b" not in harness.jobs(), "b to be removed")
    assert harness.status().removed == ("b",)
    assert sorted(harness.jobs()) == ["keep"]
    assert next_run_of(harness, "keep") == kept


async def test_an_invalid_edit_keeps_the_schedule_then_a_valid_one_applies(
    harness: Harness,
) -> None:
    before = harness.jobs()
    path = harness.folder / "b.yaml"
    status = await harness.reloaded_after(
        lambda: harness.write("b.yaml", job_yaml("b", "0 3 * * 8")), "the invalid edit"
    )
    assert status.ok is False
    assert status.problems == (
        Problem(
            str(path),
            3,
            18,
            "day-of-week 8 is out of range 0-7",
            job_id="b",
            field="cron_expression",
        ),
    )
    assert harness.jobs() == before
    harness.write("b.yaml", job_yaml("b", "0 5 * * 1"))
    await harness.until(lambda: harness.cron_of("b") == "0 5 * * 1", "the valid edit")
    assert harness.status().ok


async def test_a_half_written_file_applies_once_complete(harness: Harness) -> None:
    before = harness.jobs()
    text = job_yaml("c", "45 1 * * *")
    cut = text.index("45 1")  # inside the quoted cron: the first half is not valid YAML
    with open(harness.folder / "c.yaml", "w", encoding="utf-8") as stream:

        def write_first_half() -> None:
            stream.write(text[:cut])
            stream.flush()

        status = await harness.reloaded_after(write_first_half, "the half-written file")
        assert status.ok is False
        assert harness.jobs() == before
        stream.write(text[cut:])
    await harness.until(lambda: harness.cron_of("c") == "45 1 * * *", "the completed file")


async def test_an_editors_atomic_save_applies(harness: Harness) -> None:
    temp = harness.write(".b.yaml.tmp4242", job_yaml("b", "0 6 * * *"))
    os.replace(temp, harness.folder / "b.yaml")
    await harness.until(lambda: harness.cron_of("b") == "0 6 * * *", "the atomically saved b")
    assert not temp.exists()


async def test_a_burst_of_edits_ends_on_the_last_one(harness: Harness) -> None:
    for minute in range(50):  # 50 edits 10 ms apart: about half a second
        harness.write("b.yaml", job_yaml("b", f"{minute} 7 * * *"))
        await asyncio.sleep(0.01)
    await harness.until(lambda: harness.cron_of("b") == "49 7 * * *", "the last edit")
    assert harness.status().ok


async def test_the_folder_deleted_and_recreated(harness: Harness) -> None:
    before = harness.jobs()
    status = await harness.reloaded_after(
        lambda: shutil.rmtree(harness.folder), "the reload of the missing folder"
    )
    assert status.ok is False
    assert status.problems == (
        Problem(str(harness.folder), None, None, "no such file or directory"),
    )
    assert harness.jobs() == before
    harness.folder.mkdir()
    harness.write("c.yaml", job_yaml("c"))
    await harness.until(lambda: sorted(harness.jobs()) == ["c"], "the new folder's contents")
    harness.write("c.yaml", job_yaml("c", "5 5 * * *"))  # and the new folder is watched
    await harness.until(lambda: harness.cron_of("c") == "5 5 * * *", "an edit in the new folder")


def configmap_version(folder: Path, stamp: str, text: str) -> None:
    """A timestamped folder as the kubelet writes it, holding ``job.yaml``."""
    version = folder / stamp
    version.mkdir()
    (version / "job.yaml").write_text(text, encoding="utf-8")


async def test_a_configmap_data_swap_applies(tmp_path: Path) -> None:
    folder = tmp_path / "config"
    folder.mkdir()
    configmap_version(folder, "..2027_01_01_00_00_00.1", job_yaml("cm", "0 1 * * *"))
    (folder / "..data").symlink_to("..2027_01_01_00_00_00.1")
    (folder / "job.yaml").symlink_to("..data/job.yaml")
    harness = Harness(folder)
    await harness.start()
    try:
        assert harness.cron_of("cm") == "0 1 * * *"
        configmap_version(folder, "..2027_01_01_00_01_00.2", job_yaml("cm", "0 2 * * *"))
        (folder / "..data_tmp").symlink_to("..2027_01_01_00_01_00.2")
        os.replace(folder / "..data_tmp", folder / "..data")
        shutil.rmtree(folder / "..2027_01_01_00_00_00.1")
        await harness.until(lambda: harness.cron_of("cm") == "0 2 * * *", "the swapped config")
        assert sorted(harness.jobs()) == ["cm"]
    finally:
        await harness.close()


async def test_a_change_made_before_the_watch_armed_is_applied(tmp_path: Path) -> None:
    folder = tmp_path / "manifests"
    folder.mkdir()
    (folder / "b.yaml").write_text(job_yaml("b"), encoding="utf-8")
    harness = Harness(folder)
    try:
        await harness.start(before_watch=lambda: harness.write("late.yaml", job_yaml("late")))
        assert sorted(harness.jobs()) == ["b", "late"]
        assert harness.status().added == ("late",)
    finally:
        await harness.close()


async def test_a_watched_edit_reloads_just_that_file(harness: Harness) -> None:
    hints: list[list[Path] | None] = []
    reload = harness.service.reload_async

    async def recording_reload(changed: Collection[Path] | None = None) -> ReloadStatus:
        hints.append(None if changed is None else list(changed))
        return await reload(changed)

    harness.service.reload_async = recording_reload  # type: ignore[method-assign]
    temp = harness.write(".b.yaml.tmp77", job_yaml("b", "0 8 * * *"))
    os.replace(temp, harness.folder / "b.yaml")  # an atomic save: droppings do not count
    await harness.until(lambda: harness.cron_of("b") == "0 8 * * *", "the saved b")
    assert hints[-1] == [harness.folder / "b.yaml"]


# --- what the service logs ----------------------------------------------------------------


def applied_lines(caplog: pytest.LogCaptureFixture) -> list[tuple[str, str]]:
    return [
        (record.levelname, record.getMessage())
        for record in caplog.records
        if record.name == "scheduler.runtime.service"
    ]


def test_a_reload_that_changes_nothing_logs_at_debug(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "a.yaml").write_text(job_yaml("a"), encoding="utf-8")
    service = SchedulerService(
        load_settings(manifests_dir=tmp_path, allowed_modules=("tests.jobfuncs",))
    )
    with caplog.at_level(logging.DEBUG, logger="scheduler.runtime.service"):
        service.load([tmp_path])
        service.reload()
        (tmp_path / "a.yaml").write_text(job_yaml("a", "0 4 * * *"), encoding="utf-8")
        service.reload(changed=[tmp_path / "a.yaml"])

    assert applied_lines(caplog) == [
        ("INFO", "manifests applied: added=['a']; unchanged=0"),
        ("DEBUG", "manifests applied: no changes (1 job(s))"),
        ("INFO", "manifests applied: changed=['a']; unchanged=0"),
    ]


def test_the_log_says_enabled_and_disabled_and_a_recovery(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    for job_id in ("a", "b"):
        (tmp_path / f"{job_id}.yaml").write_text(job_yaml(job_id), encoding="utf-8")
    (tmp_path / "c.yaml").write_text(job_yaml("c", enabled=False), encoding="utf-8")
    service = SchedulerService(
        load_settings(manifests_dir=tmp_path, allowed_modules=("tests.jobfuncs",))
    )
    assert service.load([tmp_path]).ok
    with caplog.at_level(logging.DEBUG, logger="scheduler.runtime.service"):
        (tmp_path / "a.yaml").write_text(job_yaml("a", enabled=False), encoding="utf-8")
        (tmp_path / "b.yaml").write_text(job_yaml("b", "0 4 * * *"), encoding="utf-8")
        (tmp_path / "c.yaml").write_text(job_yaml("c"), encoding="utf-8")
        service.reload()
        (tmp_path / "b.yaml").write_text(job_yaml("b", "0 4 * * 9"), encoding="utf-8")
        assert not service.reload().ok
        (tmp_path / "b.yaml").write_text(job_yaml("b", "0 4 * * *"), encoding="utf-8")
        service.reload()
        service.reload()

    assert [line for line in applied_lines(caplog) if "applied" in line[1]] == [
        ("INFO", "manifests applied: changed=['b'] enabled=['c'] disabled=['a']; unchanged=0"),
        ("INFO", "manifests applied: no changes (3 job(s))"),  # valid again after the error
        ("DEBUG", "manifests applied: no changes (3 job(s))"),
    ]


def test_a_failed_first_load_leaves_the_problems_to_the_caller(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "a.yaml").write_text(job_yaml("a", "0 3 * * 8"), encoding="utf-8")
    service = SchedulerService(
        load_settings(manifests_dir=tmp_path, allowed_modules=("tests.jobfuncs",))
    )
    with caplog.at_level(logging.DEBUG, logger="scheduler.runtime.service"):
        assert not service.load([tmp_path]).ok
        failed = service.reload()

    assert not failed.ok
    path = tmp_path / "a.yaml"
    assert applied_lines(caplog) == [
        ("DEBUG", "manifests rejected (1 error(s)); nothing was applied"),
        (
            "ERROR",
            f"manifest {path}:3:18: error: [a] cron_expression: day-of-week 8 is out of range 0-7",
        ),
        ("ERROR", "manifests rejected (1 error(s)); the running schedule is unchanged"),
    ]
