"""No job, signal or slow load can take the scheduler down or make its records lie.

Jobs raise every kind of ``BaseException``, return coroutines from plain functions, block
the loop; the service is used from other threads, shut down and started again; a reload
hangs or fails to build. Each outcome is a record, and the scheduler carries on.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import itertools
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Collection, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from scheduler.clock import SYSTEM_CLOCK
from scheduler.cron import build_trigger
from scheduler.errors import SchedulerError
from scheduler.loader import LoadResult, ManifestLoader
from scheduler.manifest import JobOptions
from scheduler.records import RunKind, RunRecord, RunStatus
from scheduler.runtime import catalogue
from scheduler.runtime.affinity import on_loop
from scheduler.runtime.definition import JobDefinition
from scheduler.runtime.execution import JobRunner
from scheduler.runtime.service import SchedulerService
from scheduler.settings import load_settings
from tests import jobfuncs
from tests.jobfuncs import FakeClock
from tests.support import until

REPO_ROOT = Path(__file__).resolve().parent.parent
T0 = datetime(2027, 3, 1, 8, 0, tzinfo=UTC)
EXIT_HINT = "the job called sys.exit(); the scheduler goes on"


@pytest.fixture(autouse=True)
def _fresh_jobfuncs(reset_jobfuncs: None) -> None:
    """Every test here starts with fresh gates and records."""


@pytest.fixture
async def runner() -> AsyncIterator[JobRunner]:
    pool = concurrent.futures.ThreadPoolExecutor(4, thread_name_prefix="test-job")
    runner = JobRunner(clock=FakeClock(T0), thread_pool=pool)
    yield runner
    jobfuncs.THREAD_GATE.set()
    await runner.wait_idle(5)
    pool.shutdown(wait=True)


def job(func: Callable[..., Any], job_id: str = "job", **options: Any) -> JobDefinition:
    path = f"tests.jobfuncs.{func.__name__}"
    return JobDefinition(job_id, func, path, "* * * * *", options=JobOptions(**options))


def settings(**overrides: Any) -> Any:
    values: dict[str, Any] = {"allowed_modules": ("tests.jobfuncs",), "shutdown_grace_seconds": 1}
    return load_settings(**{**values, **overrides})


# -- no job can stop the scheduler ---------------------------------------------------------


@pytest.mark.parametrize(
    ("func", "error"),
    [
        (jobfuncs.exits, f"SystemExit(3): {EXIT_HINT}"),
        (jobfuncs.async_exits, f"SystemExit(None): {EXIT_HINT}"),
        (jobfuncs.interrupts, "KeyboardInterrupt"),
        (jobfuncs.async_interrupts, "KeyboardInterrupt"),
        (jobfuncs.generator_exit, "GeneratorExit"),
        (jobfuncs.async_generator_exit, "GeneratorExit"),
        (jobfuncs.cancels_itself, "CancelledError"),
        (jobfuncs.async_cancels_itself, "CancelledError"),
        (jobfuncs.raises_unprintable, "UnprintableError: <str() of the exception raised>"),
        (jobfuncs.async_raises_unprintable, "UnprintableError: <str() of the exception raised>"),
    ],
    ids=lambda value: getattr(value, "__name__", "error"),
)
async def test_any_base_exception_is_the_runs_failure_and_the_runner_goes_on(
    runner: JobRunner, caplog: pytest.LogCaptureFixture, func: Callable[..., Any], error: str
) -> None:
    with caplog.at_level(logging.ERROR, logger="scheduler.runtime.execution"):
        record = await runner.run(job(func), T0)
    after = await runner.run(job(jobfuncs.noop, "after"), T0)

    assert (record.status, record.error) == (RunStatus.FAILED, error)
    assert after.status is RunStatus.SUCCESS
    failure = next(line for line in caplog.records if getattr(line, "outcome", "") == "failed")
    assert failure.exc_info is not None  # logged with its traceback


async def test_the_service_keeps_firing_while_a_job_calls_sys_exit_every_second() -> None:
    records: asyncio.Queue[RunRecord] = asyncio.Queue()
    service = SchedulerService(settings())
    service.add_run_listener(records.put_nowait)
    service.register_job("exits", jobfuncs.exits, "* * * * * *")
    service.register_job("interrupts", jobfuncs.async_interrupts, "* * * * * *")
    seen: dict[str, list[RunStatus]] = {"exits": [], "interrupts": []}
    async with service:
        while min(len(statuses) for statuses in seen.values()) < 2:
            record = await asyncio.wait_for(records.get(), 5)
            seen[record.job_id].append(record.status)
        assert service.is_running
    assert seen == {"exits": [RunStatus.FAILED] * 2, "interrupts": [RunStatus.FAILED] * 2}


# -- jobs that cannot really run are not a success -----------------------------------------


async def test_a_plain_def_returning_a_coroutine_failed_with_a_hint(runner: JobRunner) -> None:
    record = await runner.run(job(jobfuncs.returns_coroutine), T0)
    assert (record.status, record.error) == (
        RunStatus.FAILED,
        "tests.jobfuncs.returns_coroutine returned coroutine without running it: a plain def "
        "cannot start async work; declare the job async def",
    )
    assert jobfuncs.CALLS == []  # and the coroutine was closed: no "never awaited" warning


async def test_an_async_generator_function_failed_without_running(runner: JobRunner) -> None:
    record = await runner.run(job(jobfuncs.async_generator), T0)
    assert record.status is RunStatus.FAILED
    assert record.error == (
        "tests.jobfuncs.async_generator is an async generator function, which a schedule "
        "cannot run; write it as async def without yield"
    )
    assert (jobfuncs.CALLS, runner.running_count("job")) == ([], 0)


# -- a blocked loop is visible, and does not inflate other runs ----------------------------


async def test_a_job_blocking_the_loop_is_named_and_other_runs_keep_their_own_duration(
    caplog: pytest.LogCaptureFixture,
) -> None:
    pool = concurrent.futures.ThreadPoolExecutor(2)
    runner = JobRunner(clock=SYSTEM_CLOCK, thread_pool=pool)
    due = SYSTEM_CLOCK.now()
    with caplog.at_level(logging.WARNING, logger="scheduler.runtime.lanes"):
        # both admitted together, as when they fall due in the same second
        blocking = asyncio.create_task(runner.run_due(job(jobfuncs.blocks_loop, "blocker"), [due]))
        quick = asyncio.create_task(runner.run_due(job(jobfuncs.quick, "quick"), [due]))
        [[blocked], [other]] = await asyncio.wait_for(asyncio.gather(blocking, quick), 5)
    pool.shutdown()

    assert blocked.status is other.status is RunStatus.SUCCESS
    assert other.duration_seconds is not None and other.duration_seconds < 0.1
    assert blocked.duration_seconds is not None and blocked.duration_seconds >= 0.3
    assert other.started_at is not None and blocked.started_at is not None
    assert (other.started_at - blocked.started_at).total_seconds() >= 0.3  # the lag it caused
    [warning] = [line for line in caplog.records if line.name == "scheduler.runtime.lanes"]
    assert warning.getMessage().startswith("job blocker blocked the event loop for 0.3")


# -- the service lifecycle is explicit -----------------------------------------------------


async def test_a_service_that_was_closed_refuses_to_start_again() -> None:
    service = SchedulerService(settings())
    async with service:
        assert service.is_running
    with pytest.raises(SchedulerError, match="was shut down and cannot start again"):
        service.start()


async def test_a_failed_submit_is_recorded_and_leaks_no_running_slot() -> None:
    pool = concurrent.futures.ThreadPoolExecutor(1)
    pool.shutdown()
    runner = JobRunner(clock=FakeClock(T0), thread_pool=pool)
    record = await runner.run(job(jobfuncs.record), T0)
    assert (record.status, record.error) == (
        RunStatus.FAILED,
        "could not start: RuntimeError: cannot schedule new futures after shutdown",
    )
    assert runner.running_count("job") == 0


async def test_calls_from_another_thread_are_run_on_the_loop() -> None:
    service = SchedulerService(settings())
    service.register_job("tick", jobfuncs.noop, "0 0 * * *")
    loop_thread = threading.get_ident()
    seen_on: list[int] = []
    service.add_run_listener(lambda record: seen_on.append(threading.get_ident()))
    async with service:
        jobs = await asyncio.to_thread(service.get_jobs)
        await asyncio.to_thread(service.pause_job, "tick")
        assert [job.job_id for job in jobs] == ["tick"]
        assert service.get_job("tick").paused
        record = await asyncio.wait_for(asyncio.to_thread(asyncio.run, service.trigger("tick")), 5)
    assert (record.status, record.kind) == (RunStatus.SUCCESS, RunKind.MANUAL)
    assert seen_on == [loop_thread]


def test_a_call_from_another_thread_when_the_loop_is_gone_is_refused() -> None:
    loop = asyncio.new_event_loop()
    loop.close()

    class Bound:
        bound_loop = loop

        @on_loop
        def poke(self) -> str:
            return "poked"

    result: list[BaseException] = []
    thread = threading.Thread(target=lambda: _capture(Bound().poke, result))
    thread.start()
    thread.join(5)
    assert [type(error) for error in result] == [SchedulerError]
    assert "while the scheduler's event loop is not running" in str(result[0])


def _capture(call: Callable[[], object], into: list[BaseException]) -> None:
    try:
        call()
    except BaseException as error:
        into.append(error)


async def test_async_listeners_are_awaited_in_tasks_the_runner_owns(runner: JobRunner) -> None:
    heard: list[str] = []

    async def slow_listener(record: RunRecord) -> None:
        await asyncio.sleep(0.01)
        heard.append(record.job_id)

    runner.add_listener(slow_listener)
    await runner.run(job(jobfuncs.noop), T0)
    assert heard == []
    await runner.drain_listeners(5)
    assert heard == ["job"]


async def test_a_manual_trigger_outlives_a_cancelled_caller() -> None:
    service = SchedulerService(settings())
    service.register_job("gated", jobfuncs.wait_async_gate, "0 0 1 1 *")
    async with service:
        caller = asyncio.create_task(service.trigger("gated"))
        await asyncio.wait_for(jobfuncs.ASYNC_STARTED.wait(), 5)
        caller.cancel()
        with pytest.raises(asyncio.CancelledError):
            await caller
        jobfuncs.ASYNC_GATE.set()
        await until(lambda: service.job_status("gated") is not None)
    last = service.job_status("gated")
    assert last is not None and (last.status, last.kind) == (RunStatus.SUCCESS, RunKind.MANUAL)


async def test_the_seed_shutdown_waits_for_threads_within_the_grace_and_closes() -> None:
    service = SchedulerService(settings(shutdown_grace_seconds=0.2))
    service.register_job("stuck", jobfuncs.wait_for_gate, "0 0 1 1 *")
    service.start()
    run = asyncio.create_task(service.trigger("stuck"))
    await until(lambda: service.get_job("stuck").running == 1)
    began = time.monotonic()
    service.shutdown()
    waited = time.monotonic() - began
    jobfuncs.THREAD_GATE.set()
    record = await asyncio.wait_for(run, 5)

    assert 0.2 <= waited < 1.0
    assert not service.is_running
    assert record.status is RunStatus.ABANDONED
    with pytest.raises(SchedulerError):
        service.start()


# -- options that must make a difference ---------------------------------------------------


async def test_jitter_spreads_next_runs_of_jobs_on_one_schedule() -> None:
    service = SchedulerService(
        settings(), clock=FakeClock(datetime(2027, 1, 4, 12, 30, tzinfo=UTC))
    )
    for index in range(20):
        service.register_job(
            f"j{index}", jobfuncs.noop, "0 * * * *", job_options=JobOptions(jitter=600)
        )
    runs = {view.next_run_at for view in service.get_jobs()}
    top = datetime(2027, 1, 4, 13, 0, tzinfo=UTC)
    assert all(run is not None and top <= run <= top + timedelta(seconds=600) for run in runs)
    assert len(runs) > 10  # with the jitter deleted, all twenty would run at 13:00 sharp


@pytest.mark.parametrize(("coalesce", "runs"), [(True, 1), (False, 3)])
async def test_coalesce_runs_missed_occurrences_once_or_each(coalesce: bool, runs: int) -> None:
    """Scheduled from a clock 3.5 s behind the real one: three occurrences are due at start."""
    clock = FakeClock(datetime.now(UTC) - timedelta(seconds=3.5))
    records: list[RunRecord] = []
    service = SchedulerService(settings(), clock=clock)
    service.add_run_listener(records.append)
    service.register_job(
        "every_second", jobfuncs.noop, "* * * * * *", job_options=JobOptions(coalesce=coalesce)
    )
    async with service:
        await until(lambda: len(records) >= runs)
        await asyncio.sleep(0.2)  # a wrong setting would have fired the rest by now
        fired = [record for record in records if record.scheduled_for < datetime.now(UTC)]
    assert len({record.scheduled_for for record in fired[:runs]}) == runs
    assert (
        len([r for r in fired if r.scheduled_for <= clock.current + timedelta(seconds=3)]) == runs
    )


@pytest.mark.parametrize("workers", [2, 10])
async def test_sync_jobs_run_side_by_side_on_the_thread_pool(workers: int) -> None:
    service = SchedulerService(settings(thread_pool_workers=workers))
    service.register_job("left", jobfuncs.meet_at_barrier, "0 0 1 1 *")
    service.register_job("right", jobfuncs.meet_at_barrier, "0 0 1 1 *")
    async with service:
        records = await asyncio.wait_for(
            asyncio.gather(service.trigger("left"), service.trigger("right")), 5
        )
    assert [record.status for record in records] == [RunStatus.SUCCESS] * 2


async def test_one_worker_thread_runs_sync_jobs_one_at_a_time() -> None:
    service = SchedulerService(settings(thread_pool_workers=1))
    service.register_job("left", jobfuncs.meet_at_barrier, "0 0 1 1 *")
    service.register_job("right", jobfuncs.meet_at_barrier, "0 0 1 1 *")
    async with service:
        records = await asyncio.wait_for(
            asyncio.gather(service.trigger("left"), service.trigger("right")), 10
        )
    assert [record.status for record in records] == [RunStatus.FAILED] * 2  # barrier broke


# -- reloads: off the loop, all or nothing -------------------------------------------------


def write_job(folder: Path, job_id: str, cron: str) -> None:
    body = f"job_id: {job_id}\nfunc: tests.jobfuncs.record\ncron_expression: '{cron}'\n"
    (folder / f"{job_id}.yaml").write_text(body, encoding="utf-8")


class GatedLoader(ManifestLoader):
    """A loader whose loads wait for a gate, as one stuck on a slow import would."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.gate = threading.Event()
        self.gate.set()

    def load(
        self, paths: Sequence[str | Path], *, changed: Collection[str | Path] | None = None
    ) -> LoadResult:
        assert self.gate.wait(10)
        return super().load(paths, changed=changed)


async def test_a_slow_reload_does_not_hold_the_loop(tmp_path: Path) -> None:
    write_job(tmp_path, "a", "0 0 1 1 *")
    loader = GatedLoader(allowed_modules=("tests.jobfuncs",))
    service = SchedulerService(settings(), loader=loader)
    assert service.load([tmp_path]).ok
    write_job(tmp_path, "b", "0 0 1 1 *")
    loader.gate.clear()
    async with service:
        reload = asyncio.create_task(service.reload_async())
        record = await asyncio.wait_for(service.trigger("a"), 2)  # the loop is free meanwhile
        assert not reload.done()
        loader.gate.set()
        status = await asyncio.wait_for(reload, 5)
    assert record.status is RunStatus.SUCCESS
    assert (status.ok, status.added) == (True, ("b",))


class FailingTrigger:
    """Fails on its ``fail_on``-th question (1: the first fire time, 2: the one after)."""

    jitter = None

    def __init__(self, fail_on: int) -> None:
        self.fail_on = fail_on
        self.asked = 0

    def get_next_fire_time(self, previous: datetime | None, now: datetime) -> datetime:
        self.asked += 1
        if self.asked >= self.fail_on:
            raise OverflowError("date value out of range")
        return now + timedelta(hours=1)


@pytest.mark.parametrize("fails_at", ["build", "first fire time", "following fire time"])
async def test_a_reload_whose_jobs_do_not_build_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fails_at: str
) -> None:
    def failing_build(expression: str, timezone: str, *, jitter: Any = None) -> Any:
        if expression != "0 5 * * *":
            return build_trigger(expression, timezone, jitter=jitter)
        if fails_at == "build":
            raise OverflowError("date value out of range")
        return FailingTrigger(1 if fails_at == "first fire time" else 2)

    for job_id in ("a", "b"):
        write_job(tmp_path, job_id, "0 3 * * *")
    service = SchedulerService(settings(), clock=FakeClock(T0))
    assert service.load([tmp_path]).ok
    before = service.get_jobs()
    monkeypatch.setattr(catalogue, "build_trigger", failing_build)
    catalogue._shared_trigger.cache_clear()
    write_job(tmp_path, "b", "0 4 * * *")  # changed, builds
    write_job(tmp_path, "c", "0 5 * * *")  # added, does not build
    try:
        status = service.reload()
    finally:
        catalogue._shared_trigger.cache_clear()

    assert not status.ok
    assert [(p.file, p.line, p.job_id, p.message) for p in status.problems] == [
        (str(tmp_path / "c.yaml"), 1, "c", "cannot schedule: date value out of range")
    ]
    assert service.get_jobs() == before


# -- a real process stops on time ----------------------------------------------------------


def start_run(tmp_path: Path, grace: float) -> tuple[subprocess.Popen[str], Path]:
    """``scheduler run`` on a tick job (appends to a file) and a job that never returns."""
    ticks = tmp_path / "ticks.txt"
    folder = tmp_path / "manifests"
    folder.mkdir()
    (folder / "jobs.yaml").write_text(
        "jobs:\n"
        f"  - {{job_id: tick, func: tests.jobfuncs.append_line, args: ['{ticks}'],"
        " cron_expression: '* * * * * *'}\n"
        "  - {job_id: stuck, func: tests.jobfuncs.sleep_and_leak_a_thread,"
        " cron_expression: '* * * * * *'}\n",
        encoding="utf-8",
    )
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO_ROOT),
        "SCHEDULER_ALLOWED_MODULES": "tests.jobfuncs",
        "SCHEDULER_SHUTDOWN_GRACE": str(grace),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "scheduler", "run", "--manifests", str(folder)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO_ROOT,
        env=env,
    )
    deadline = time.monotonic() + 15
    while not (ticks.exists() and len(ticks.read_text().splitlines()) >= 2):
        assert process.poll() is None and time.monotonic() < deadline, "the scheduler never ran"
        time.sleep(0.05)
    return process, ticks


def test_sigterm_exits_0_within_the_grace_while_a_sync_job_never_returns(tmp_path: Path) -> None:
    process, _ = start_run(tmp_path, grace=1)
    try:
        began = time.monotonic()
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=10)
        took = time.monotonic() - began
    finally:
        process.kill()
        process.wait(5)
    assert process.returncode == 0, stderr
    assert took < 1 + 2
    assert "still going after the 1s shutdown grace: stuck (thread)" in stderr
    assert "job stuck scheduled_for=" in stderr and "outcome=abandoned" in stderr
    assert "exiting with" in stderr and "leaked-by-job" in stderr


def test_a_second_sigterm_exits_at_once(tmp_path: Path) -> None:
    process, _ = start_run(tmp_path, grace=30)
    try:
        process.send_signal(signal.SIGTERM)
        process.send_signal(signal.SIGTERM)  # delivered twice at once: still one request
        time.sleep(0.8)
        assert process.poll() is None
        began = time.monotonic()
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=10)
        took = time.monotonic() - began
    finally:
        process.kill()
        process.wait(5)
    assert process.returncode == 128 + signal.SIGTERM, stderr
    assert took < 2
    assert "received SIGTERM again: exiting now without waiting for stuck (thread)" in stderr


async def test_a_reload_importing_a_hanging_module_keeps_jobs_firing_on_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "slowjobs"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "hangs.py").write_text("import time\ntime.sleep(2)\n\n\ndef job():\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    folder = tmp_path / "manifests"
    folder.mkdir()
    write_job(folder, "tick", "* * * * * *")
    service = SchedulerService(
        settings(allowed_modules=("tests.jobfuncs", "slowjobs"), import_timeout_seconds=0.5)
    )
    records: asyncio.Queue[RunRecord] = asyncio.Queue()
    service.add_run_listener(records.put_nowait)
    assert service.load([folder]).ok
    async with service:
        starts = [(await asyncio.wait_for(records.get(), 5)).started_at]
        (folder / "slow.yaml").write_text(
            "job_id: slow\nfunc: slowjobs.hangs.job\ncron_expression: '0 0 1 1 *'\n"
        )
        reload = asyncio.create_task(service.reload_async())
        while not reload.done() or len(starts) < 3:
            starts.append((await asyncio.wait_for(records.get(), 5)).started_at)
        status = await reload
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(starts) if a and b]
    assert max(gaps) < 1.5, gaps  # one run a second, while the import hung
    assert not status.ok
    [problem] = [p for p in status.problems if p.is_error]
    assert (problem.job_id, problem.field, problem.line) == ("slow", "func", 2)
    assert "did not finish within 0.5s" in problem.message
    assert [view.job_id for view in service.get_jobs()] == ["tick"]
