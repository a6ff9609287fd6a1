"""The run wrapper: outcome, timeout, overlap, misfire grace, one log line per occurrence.

Most tests call ``JobRunner`` directly with fake jobs and a fake clock, so nothing
sleeps; timeouts are a few hundredths of a second. Two tests go through the real
scheduler to show it carries on after failures and records misses.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, timezone
from types import SimpleNamespace
from typing import Any

import pytest

from scheduler.manifest import JobOptions
from scheduler.records import RunRecord, RunStatus
from scheduler.runtime.definition import JobDefinition
from scheduler.runtime.execution import JobRunner
from scheduler.runtime.lanes import ThreadEnds
from scheduler.runtime.service import SchedulerService
from scheduler.settings import load_settings
from tests import jobfuncs
from tests.jobfuncs import FakeClock
from tests.support import until

T0 = datetime(2027, 3, 1, 8, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _fresh_jobfuncs(reset_jobfuncs: None) -> None:
    """Every test here starts with fresh gates and records."""


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
async def runner(clock: FakeClock) -> AsyncIterator[JobRunner]:
    pool = ThreadPoolExecutor(4, thread_name_prefix="test-job")
    runner = JobRunner(clock=clock, thread_pool=pool)
    yield runner
    jobfuncs.THREAD_GATE.set()
    await runner.wait_idle(5)
    pool.shutdown(wait=True)


def job(func: Callable[..., Any], job_id: str = "job", **options: Any) -> JobDefinition:
    return JobDefinition(
        job_id, func, f"tests.jobfuncs.{func.__name__}", "* * * * *", options=JobOptions(**options)
    )


def run_lines(caplog: pytest.LogCaptureFixture) -> list[tuple[str, Any, Any]]:
    """(level, job_id, outcome) of each run line the wrapper logged."""
    return [
        (r.levelname, getattr(r, "job_id", None), getattr(r, "outcome", None))
        for r in caplog.records
        if hasattr(r, "outcome")
    ]


async def test_success_is_recorded_with_clock_times_and_one_log_line(
    runner: JobRunner, caplog: pytest.LogCaptureFixture
) -> None:
    heard: list[RunRecord] = []
    runner.add_listener(heard.append)
    with caplog.at_level(logging.INFO, logger="scheduler.runtime.execution"):
        record = await runner.run(job(jobfuncs.async_record), T0)

    assert record == RunRecord("job", T0, RunStatus.SUCCESS, T0, T0, None, run_id=record.run_id)
    assert heard == [record] and runner.last_runs == {"job": record}
    assert run_lines(caplog) == [("INFO", "job", "success")]
    line = next(r for r in caplog.records if hasattr(r, "outcome"))
    assert line.getMessage() == (
        "job job scheduled_for=2027-03-01T08:00:00+00:00 duration=0.000s outcome=success"
    )
    assert (getattr(line, "scheduled_for", None), getattr(line, "duration", None)) == (
        "2027-03-01T08:00:00+00:00",
        0.0,
    )


@pytest.mark.parametrize("func", [jobfuncs.boom, jobfuncs.async_record], ids=["sync", "async"])
async def test_a_failing_job_is_logged_with_its_traceback_and_the_runner_goes_on(
    runner: JobRunner, caplog: pytest.LogCaptureFixture, func: Callable[..., Any]
) -> None:
    async def async_boom() -> None:
        raise ValueError("boom")

    failing = job(jobfuncs.boom if func is jobfuncs.boom else async_boom)
    with caplog.at_level(logging.INFO, logger="scheduler.runtime.execution"):
        failed = await runner.run(failing, T0)
        after = await runner.run(job(jobfuncs.noop, "other"), T0)

    assert (failed.status, failed.error) == (RunStatus.FAILED, "ValueError: boom")
    assert after.status is RunStatus.SUCCESS
    assert run_lines(caplog) == [("ERROR", "job", "failed"), ("INFO", "other", "success")]
    error_line = next(r for r in caplog.records if getattr(r, "outcome", None) == "failed")
    assert error_line.exc_info is not None and error_line.exc_info[0] is ValueError
    assert "raise ValueError" in caplog.text  # the traceback is in the log


async def test_argument_errors_are_the_runs_failure(runner: JobRunner) -> None:
    record = await runner.run(job(jobfuncs.async_record, kwargs={"x": 1}), T0)
    assert record.status is RunStatus.SUCCESS  # sanity: kwargs are passed
    bad = JobDefinition(
        "bad", jobfuncs.sleep_forever, "p", "* * * * *", options=JobOptions(args=[1, 2, 3])
    )
    record = await runner.run(bad, T0)
    assert record.status is RunStatus.FAILED and record.error is not None
    assert record.error.startswith("TypeError:")


@pytest.mark.parametrize(
    "func", [jobfuncs.raises_timeout, jobfuncs.async_raises_timeout], ids=["sync", "async"]
)
async def test_a_job_raising_timeout_error_itself_failed_rather_than_timed_out(
    runner: JobRunner, func: Callable[..., Any]
) -> None:
    record = await runner.run(job(func, timeout=5.0), T0)
    assert (record.status, record.error) == (
        RunStatus.FAILED,
        "TimeoutError: upstream took too long",
    )


async def test_a_coroutine_past_its_timeout_is_cancelled(runner: JobRunner) -> None:
    record = await runner.run(job(jobfuncs.sleep_forever, timeout=0.05), T0)

    assert (record.status, record.error) == (RunStatus.TIMEOUT, "timed out after 0.05s")
    assert jobfuncs.CANCELLED == ["sleeper"]
    assert runner.running_count("job") == 0


async def test_a_thread_past_its_timeout_is_reported_and_still_counts_as_running(
    runner: JobRunner, caplog: pytest.LogCaptureFixture
) -> None:
    stuck = job(jobfuncs.wait_for_gate, timeout=0.05)
    with caplog.at_level(logging.INFO, logger="scheduler.runtime.execution"):
        timed_out = await runner.run(stuck, T0)
        overlapping = await runner.run(stuck, T0 + timedelta(minutes=1))
        other = await runner.run(job(jobfuncs.record, "other"), T0)  # not blocked by it

        assert runner.running_count("job") == 1
        jobfuncs.THREAD_GATE.set()
        assert await runner.wait_idle(5) == 0
        again = await runner.run(stuck, T0 + timedelta(minutes=2))

    assert (timed_out.status, timed_out.error) == (
        RunStatus.TIMEOUT,
        "timed out after 0.05s; its thread is still running",
    )
    assert (overlapping.status, overlapping.error) == (
        RunStatus.SKIPPED,
        "1 run(s) still going (max_instances=1)",
    )
    assert (other.status, again.status) == (RunStatus.SUCCESS, RunStatus.SUCCESS)
    assert run_lines(caplog) == [
        ("ERROR", "job", "timeout"),
        ("WARNING", "job", "skipped"),
        ("INFO", "other", "success"),
        ("INFO", "job", "success"),
    ]
    assert "job job: the timed-out run has now ended (ok)" in caplog.text


@pytest.mark.parametrize(
    ("max_instances", "second"), [(1, RunStatus.SKIPPED), (2, RunStatus.SUCCESS)]
)
async def test_overlapping_runs_beyond_max_instances_are_skipped(
    runner: JobRunner, max_instances: int, second: RunStatus
) -> None:
    gated = job(jobfuncs.wait_async_gate, max_instances=max_instances)
    first = asyncio.create_task(runner.run(gated, T0))
    await asyncio.wait_for(jobfuncs.ASYNC_STARTED.wait(), 5)

    overlapping = asyncio.create_task(runner.run(gated, T0 + timedelta(seconds=1)))
    await until(lambda: overlapping.done() or runner.running_count("job") == 2)
    jobfuncs.ASYNC_GATE.set()
    records = await asyncio.wait_for(asyncio.gather(first, overlapping), 5)

    assert [r.status for r in records] == [RunStatus.SUCCESS, second]
    assert runner.running_count("job") == 0


@pytest.mark.parametrize(
    ("late", "grace", "status"),
    [
        (timedelta(seconds=30), 60, RunStatus.SUCCESS),
        (timedelta(seconds=60), 60, RunStatus.SUCCESS),
        (timedelta(seconds=61), 60, RunStatus.MISSED),
        (timedelta(days=1), None, RunStatus.SUCCESS),
    ],
    ids=["within-grace", "at-grace", "past-grace", "no-grace"],
)
async def test_misfires_run_within_grace_and_are_missed_beyond_it(
    runner: JobRunner,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
    late: timedelta,
    grace: int | None,
    status: RunStatus,
) -> None:
    clock.advance(seconds=late.total_seconds())
    with caplog.at_level(logging.INFO, logger="scheduler.runtime.execution"):
        [record] = await runner.run_due(job(jobfuncs.noop, misfire_grace_time=grace), [T0])

    assert (record.scheduled_for, record.status) == (T0, status)
    assert len(run_lines(caplog)) == 1
    if status is RunStatus.MISSED:
        assert record.error == "started 61.000s late, past the misfire grace of 60s"
        assert record.started_at is None and jobfuncs.CALLS == []


async def test_each_due_time_gets_its_own_record_in_its_own_zone(
    runner: JobRunner, clock: FakeClock
) -> None:
    berlin = datetime(2027, 3, 1, 9, 0, tzinfo=timezone(timedelta(hours=1)))
    records = await runner.run_due(job(jobfuncs.noop), [berlin, berlin + timedelta(seconds=1)])
    assert [r.scheduled_for for r in records] == [T0, T0 + timedelta(seconds=1)]
    assert all(r.scheduled_for.tzinfo is UTC for r in records)


async def test_a_failing_listener_is_logged_and_others_still_hear(
    runner: JobRunner, caplog: pytest.LogCaptureFixture
) -> None:
    heard: list[RunRecord] = []

    def broken(record: RunRecord) -> None:
        raise RuntimeError("listener bug")

    runner.add_listener(broken)
    runner.add_listener(heard.append)
    record = await runner.run(job(jobfuncs.noop), T0)

    assert heard == [record]
    assert "run listener" in caplog.text and "listener bug" in caplog.text


async def test_cancel_all_cancels_queued_threads_and_abandons_running_ones(
    runner: JobRunner,
) -> None:
    """Four gated threads fill the test pool, so the fifth call is still queued."""
    gated_ids = [f"gated{index}" for index in range(4)]
    runs = [
        asyncio.create_task(runner.run(job(jobfuncs.wait_for_gate, id_), T0)) for id_ in gated_ids
    ]
    runs.append(asyncio.create_task(runner.run(job(jobfuncs.record, "queued"), T0)))
    await until(lambda: runner.running_count("queued") == 1)

    runner.cancel_all()
    outcomes = await asyncio.wait_for(asyncio.gather(*runs, return_exceptions=True), 5)
    jobfuncs.THREAD_GATE.set()
    await until(lambda: not any(runner.running_count(id_) for id_ in [*gated_ids, "queued"]))

    assert [type(outcome) for outcome in outcomes] == [asyncio.CancelledError] * 5
    assert {runner.last_runs[id_].status for id_ in gated_ids} == {RunStatus.ABANDONED}
    assert {runner.last_runs[id_].error for id_ in gated_ids} == {
        "abandoned: its thread was still running when the scheduler stopped"
    }
    assert (runner.last_runs["queued"].status, runner.last_runs["queued"].error) == (
        RunStatus.CANCELLED,
        "cancelled: the scheduler shut down",
    )
    assert jobfuncs.CALLS == []  # the queued call never ran


def test_threads_ending_together_wake_the_loop_once() -> None:
    handed_back: list[Future[Any]] = []
    wake_ups: list[Callable[[], None]] = []
    loop: Any = SimpleNamespace(call_soon_threadsafe=wake_ups.append)
    thread_ends = ThreadEnds(handed_back.append)
    calls: list[Future[Any]] = [Future() for _ in range(3)]
    for call in calls:
        thread_ends.watch(call, loop)

    for call in calls:
        call.set_result(None)
    assert (len(wake_ups), handed_back) == (1, [])
    wake_ups.pop()()
    assert handed_back == calls

    later: Future[Any] = Future()
    thread_ends.watch(later, loop)
    later.set_result(None)
    assert len(wake_ups) == 1  # the last hand-back is done: the next end wakes the loop again


def test_a_closed_loop_does_not_stop_later_wake_ups() -> None:
    def closed(callback: Callable[[], None]) -> None:
        raise RuntimeError("Event loop is closed")

    wake_ups: list[Callable[[], None]] = []
    closed_loop: Any = SimpleNamespace(call_soon_threadsafe=closed)
    new_loop: Any = SimpleNamespace(call_soon_threadsafe=wake_ups.append)
    handed_back: list[Future[Any]] = []
    thread_ends = ThreadEnds(handed_back.append)
    first: Future[Any] = Future()
    thread_ends.watch(first, closed_loop)
    first.set_result(None)

    second: Future[Any] = Future()
    thread_ends.watch(second, new_loop)
    second.set_result(None)
    assert len(wake_ups) == 1
    wake_ups.pop()()
    assert handed_back == [first, second]


# -- through the real scheduler ------------------------------------------------------------


async def test_the_scheduler_carries_on_after_a_job_fails() -> None:
    records: asyncio.Queue[RunRecord] = asyncio.Queue()
    service = SchedulerService(load_settings(allowed_modules=("tests.jobfuncs",)))
    service.add_run_listener(records.put_nowait)
    service.register_job("boom", jobfuncs.boom, "* * * * * *")
    failures: list[RunRecord] = []
    async with service:
        while len(failures) < 2:
            record = await asyncio.wait_for(records.get(), 5)
            failures.append(record)
    assert [r.status for r in failures] == [RunStatus.FAILED, RunStatus.FAILED]
    assert failures[1].scheduled_for - failures[0].scheduled_for == timedelta(seconds=1)


async def test_an_occurrence_past_its_grace_is_recorded_missed() -> None:
    """Scheduled from a clock a year behind; when it fires, the clock says it is far too late."""
    clock = FakeClock(datetime(2020, 1, 1, tzinfo=UTC))
    records: asyncio.Queue[RunRecord] = asyncio.Queue()
    service = SchedulerService(load_settings(allowed_modules=("tests.jobfuncs",)), clock=clock)
    service.add_run_listener(records.put_nowait)
    service.register_job(
        "yearly", jobfuncs.record, "0 0 1 1 *", job_options=JobOptions(misfire_grace_time=1)
    )
    clock.current = datetime.now(UTC)
    async with service:
        record = await asyncio.wait_for(records.get(), 5)

    assert (record.job_id, record.status, jobfuncs.CALLS) == ("yearly", RunStatus.MISSED, [])
    assert (record.scheduled_for.month, record.scheduled_for.day) == (1, 1)  # coalesced: latest
