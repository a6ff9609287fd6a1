"""SchedulerService: the seed's API, manifests, and all-or-nothing reloads with exact next runs.

Plans are applied to a scheduler started paused, with next run times computed from a fake
clock, so "an unchanged job keeps its next run" is an equality. A few tests fire real jobs on
every-second crons and wait for their RunRecords on a queue.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from scheduler.cron import build_trigger
from scheduler.cron.build import SharedTrigger, shared_trigger
from scheduler.errors import DuplicateJob, InvalidCronExpression, JobNotFound
from scheduler.manifest import JobOptions
from scheduler.records import JobView, RunRecord, RunStatus
from scheduler.runtime.service import SchedulerService
from scheduler.settings import Settings, load_settings
from tests import jobfuncs
from tests.jobfuncs import FakeClock

T0 = datetime(2027, 1, 4, 12, 0, 30, tzinfo=UTC)  # a Monday, winter time in Europe

TWO_JOBS = """\
jobs:
  - job_id: alpha
    func: tests.jobfuncs.record
    cron_expression: "0 * * * *"
  - job_id: beta
    func: tests.jobfuncs.record
    cron_expression: "*/5 * * * *"
"""


@pytest.fixture(autouse=True)
def _fresh_jobfuncs(reset_jobfuncs: None) -> None:
    """Every test here starts with fresh gates and records."""


@pytest.fixture
def settings() -> Settings:
    return load_settings(allowed_modules=("tests.jobfuncs",))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
async def service(settings: Settings, clock: FakeClock) -> AsyncIterator[SchedulerService]:
    service = SchedulerService(settings, clock=clock)
    yield service
    await service.aclose(0)


@pytest.fixture
def manifests(tmp_path: Path) -> Path:
    folder = tmp_path / "manifests"
    folder.mkdir()
    (folder / "main.yaml").write_text(TWO_JOBS)
    return folder


def by_id(service: SchedulerService) -> dict[str, JobView]:
    return {view.job_id: view for view in service.get_jobs()}


def next_runs(service: SchedulerService) -> dict[str, datetime | None]:
    return {view.job_id: view.next_run_at for view in service.get_jobs()}


def job_yaml(job_id: str, cron: str, *extra: str) -> str:
    lines = [f"job_id: {job_id}", "func: tests.jobfuncs.record", f'cron_expression: "{cron}"']
    return "\n".join([*lines, *extra]) + "\n"


# -- loading -------------------------------------------------------------------------------


async def test_load_schedules_each_job_from_the_clock(
    service: SchedulerService, manifests: Path
) -> None:
    result = service.load([manifests])

    assert result.ok
    assert next_runs(service) == {
        "alpha": datetime(2027, 1, 4, 13, 0, tzinfo=UTC),
        "beta": datetime(2027, 1, 4, 12, 5, tzinfo=UTC),
    }
    alpha = by_id(service)["alpha"]
    assert (alpha.file, alpha.line) == (result.job("alpha").file, result.job("alpha").line)
    assert (alpha.func, alpha.enabled, alpha.paused, alpha.running) == (
        "tests.jobfuncs.record",
        True,
        False,
        0,
    )
    assert service.last_reload is not None and service.last_reload.added == ("alpha", "beta")


async def test_load_with_any_error_applies_nothing(
    service: SchedulerService, manifests: Path
) -> None:
    (manifests / "bad.yaml").write_text(job_yaml("gamma", "0 0 * * 8"))

    result = service.load([manifests])

    assert not result.ok
    assert [(p.job_id, p.field) for p in result.problems if p.is_error] == [
        ("gamma", "cron_expression")
    ]
    assert service.get_jobs() == []
    assert service.last_reload is not None and not service.last_reload.ok


async def test_disabled_job_is_listed_but_not_scheduled(
    service: SchedulerService, manifests: Path
) -> None:
    (manifests / "dormant.yaml").write_text(job_yaml("dormant", "0 * * * *", "enabled: false"))
    service.load([manifests])

    dormant = by_id(service)["dormant"]
    assert (dormant.enabled, dormant.paused, dormant.next_run_at) == (False, False, None)
    assert "dormant" not in service._timetable.next_runs()

    (manifests / "dormant.yaml").write_text(job_yaml("dormant", "0 * * * *", "enabled: true"))
    status = service.reload()

    assert status.changed == ("dormant",)
    assert by_id(service)["dormant"].next_run_at == datetime(2027, 1, 4, 13, 0, tzinfo=UTC)


# -- reloading -----------------------------------------------------------------------------


async def test_reload_applies_the_diff_and_leaves_unchanged_jobs_alone(
    service: SchedulerService, manifests: Path, clock: FakeClock
) -> None:
    (manifests / "delta.yaml").write_text(job_yaml("delta", "0 0 * * *"))
    service.load([manifests])
    service.start(paused=True)
    clock.advance(minutes=10)
    (manifests / "main.yaml").write_text(
        "\n\n" + TWO_JOBS.replace("*/5 * * * *", "*/7 * * * *")
    )  # alpha moves, beta changes
    (manifests / "delta.yaml").unlink()
    (manifests / "gamma.yaml").write_text(job_yaml("gamma", "*/15 * * * *"))

    status = service.reload()

    assert (status.ok, status.added, status.removed, status.changed, status.unchanged) == (
        True,
        ("gamma",),
        ("delta",),
        ("beta",),
        ("alpha",),
    )
    assert next_runs(service) == {
        "alpha": datetime(2027, 1, 4, 13, 0, tzinfo=UTC),  # untouched, exactly
        "beta": datetime(2027, 1, 4, 12, 14, tzinfo=UTC),  # re-planned from the new "now"
        "gamma": datetime(2027, 1, 4, 12, 15, tzinfo=UTC),
    }
    assert by_id(service)["alpha"].line == 4  # the catalogue follows the move
    assert service.last_reload is status


async def test_failed_reload_keeps_the_running_schedule_and_logs_locations(
    service: SchedulerService,
    manifests: Path,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    service.load([manifests])
    service.start(paused=True)
    before = service.get_jobs()
    clock.advance(minutes=30)
    (manifests / "main.yaml").write_text(TWO_JOBS.replace("alpha", "alpha2"))
    (manifests / "bad.yaml").write_text(job_yaml("gamma", "61 * * * *"))

    with caplog.at_level(logging.ERROR, logger="scheduler.runtime.service"):
        status = service.reload()

    assert not status.ok
    assert (status.added, status.removed, status.changed) == ((), (), ())
    assert service.get_jobs() == before
    assert service.last_reload is status
    error = next(p for p in status.problems if p.is_error)
    assert f"{error.file}:{error.line}:{error.col}: error: [gamma] cron_expression:" in caplog.text
    assert "manifests rejected (1 error(s)); the running schedule is unchanged" in caplog.text


async def test_a_paused_job_stays_paused_across_reloads(
    service: SchedulerService, manifests: Path, clock: FakeClock
) -> None:
    service.load([manifests])
    service.start(paused=True)
    service.pause_job("alpha")
    service.pause_job("beta")
    (manifests / "main.yaml").write_text(TWO_JOBS.replace('"0 * * * *"', '"30 * * * *"'))

    status = service.reload()

    assert (status.changed, status.unchanged) == (("alpha",), ("beta",))
    assert {v.job_id: (v.paused, v.next_run_at) for v in service.get_jobs()} == {
        "alpha": (True, None),
        "beta": (True, None),
    }
    clock.advance(hours=1)
    service.resume_job("alpha")
    assert by_id(service)["alpha"].next_run_at == datetime(2027, 1, 4, 13, 30, tzinfo=UTC)


@pytest.mark.parametrize("edit", ["unchanged", "changed"])
async def test_a_running_instance_survives_a_reload(
    service: SchedulerService, tmp_path: Path, edit: str
) -> None:
    manifest = tmp_path / "slow.yaml"
    slow = 'job_id: slow\nfunc: tests.jobfuncs.wait_async_gate\ncron_expression: "0 0 * * *"\n'
    manifest.write_text(slow)
    service.load([manifest])
    run = asyncio.create_task(service.trigger("slow"))
    await asyncio.wait_for(jobfuncs.ASYNC_STARTED.wait(), 5)
    if edit == "changed":
        manifest.write_text(slow + "description: now documented\n")

    status = service.reload()
    jobfuncs.ASYNC_GATE.set()
    record = await asyncio.wait_for(run, 5)

    assert getattr(status, edit) == ("slow",)
    assert (record.status, jobfuncs.CANCELLED) == (RunStatus.SUCCESS, [])


async def test_remove_job_forgets_a_manifest_job_until_the_next_reload(
    service: SchedulerService, manifests: Path
) -> None:
    service.load([manifests])
    service.remove_job("alpha")
    assert list(by_id(service)) == ["beta"]

    assert service.reload().added == ("alpha",)


# -- the seed's API ------------------------------------------------------------------------


async def test_register_job_passes_args_and_kwargs_to_the_function(
    service: SchedulerService,
) -> None:
    view = service.register_job("dyn", jobfuncs.record, "0 */6 * * *", 1, 2, dry_run=True)

    assert (view.func, view.file, view.next_run_at) == (
        "tests.jobfuncs.record",
        None,
        datetime(2027, 1, 4, 18, 0, tzinfo=UTC),
    )
    record = await service.trigger("dyn")
    assert record.status is RunStatus.SUCCESS
    assert [call[1:] for call in jobfuncs.CALLS] == [((1, 2), {"dry_run": True})]
    assert service.job_status("dyn") == record == service.get_job("dyn").last_run


async def test_register_job_refuses_duplicates_and_bad_expressions(
    service: SchedulerService,
) -> None:
    service.register_job("dyn", jobfuncs.noop, "* * * * *")

    with pytest.raises(DuplicateJob, match="'dyn' is already registered"):
        service.register_job("dyn", jobfuncs.noop, "* * * * *")
    with pytest.raises(InvalidCronExpression) as caught:
        service.register_job("other", jobfuncs.noop, "0 0 * * 8")
    assert caught.value.reason == "day-of-week 8 is out of range 0-7"
    assert list(by_id(service)) == ["dyn"]


async def test_manifest_cannot_take_an_id_registered_in_code(
    service: SchedulerService, manifests: Path
) -> None:
    service.register_job("alpha", jobfuncs.noop, "* * * * *")

    result = service.load([manifests])

    assert [(p.job_id, p.message) for p in result.problems] == [
        ("alpha", "job_id 'alpha' is already registered in code")
    ]
    assert list(by_id(service)) == ["alpha"]


@pytest.mark.parametrize(
    "call",
    [
        lambda s: s.pause_job("nope"),
        lambda s: s.resume_job("nope"),
        lambda s: s.remove_job("nope"),
        lambda s: s.get_job("nope"),
        lambda s: s.job_status("nope"),
    ],
    ids=["pause_job", "resume_job", "remove_job", "get_job", "job_status"],
)
async def test_unknown_job_ids_raise_job_not_found(
    service: SchedulerService, call: Callable[[SchedulerService], Any]
) -> None:
    with pytest.raises(JobNotFound, match="no job with id 'nope'"):
        call(service)


async def test_trigger_of_an_unknown_job_raises(service: SchedulerService) -> None:
    with pytest.raises(JobNotFound):
        await service.trigger("nope")


async def test_pause_and_resume_plan_from_the_clock(
    service: SchedulerService, clock: FakeClock
) -> None:
    service.register_job("dyn", jobfuncs.noop, "*/10 * * * *")
    service.start(paused=True)
    service.pause_job("dyn")
    assert (service.get_job("dyn").paused, service.get_job("dyn").next_run_at) == (True, None)

    clock.advance(minutes=25)
    service.resume_job("dyn")

    assert service.get_job("dyn").next_run_at == datetime(2027, 1, 4, 12, 30, tzinfo=UTC)


async def test_per_job_timezone_and_default_timezone(clock: FakeClock) -> None:
    service = SchedulerService(
        load_settings(allowed_modules=("tests.jobfuncs",), timezone="Asia/Tokyo"), clock=clock
    )
    try:
        service.register_job(
            "berlin", jobfuncs.noop, "0 9 * * *", job_options=JobOptions(timezone="Europe/Berlin")
        )
        service.register_job("tokyo", jobfuncs.noop, "0 9 * * *")

        assert {v.job_id: (v.timezone, v.next_run_at) for v in service.get_jobs()} == {
            "berlin": ("Europe/Berlin", datetime(2027, 1, 5, 8, 0, tzinfo=UTC)),
            "tokyo": ("Asia/Tokyo", datetime(2027, 1, 5, 0, 0, tzinfo=UTC)),
        }
    finally:
        await service.aclose(0)


async def test_jitter_delays_the_next_run_within_its_bound(service: SchedulerService) -> None:
    service.register_job("jittery", jobfuncs.noop, "0 * * * *", job_options=JobOptions(jitter=30))

    next_run = service.get_job("jittery").next_run_at

    assert next_run is not None
    assert (
        timedelta(0) <= next_run - datetime(2027, 1, 4, 13, 0, tzinfo=UTC) <= timedelta(seconds=30)
    )


# -- shared triggers -----------------------------------------------------------------------


class CountingTrigger:
    """Answers a fixed second after ``now`` and counts the questions."""

    jitter = None

    def __init__(self) -> None:
        self.questions: list[tuple[datetime | None, datetime]] = []

    def get_next_fire_time(self, previous_fire_time: datetime | None, now: datetime) -> datetime:
        self.questions.append((previous_fire_time, now))
        return now + timedelta(seconds=1)


def test_a_shared_trigger_answers_a_repeated_question_once() -> None:
    counting = CountingTrigger()
    shared = shared_trigger(counting)
    later = T0 + timedelta(seconds=5)

    answers = [
        shared.get_next_fire_time(T0, later),
        shared.get_next_fire_time(T0, later),  # the same question: remembered
        shared.get_next_fire_time(T0.astimezone(ZoneInfo("Asia/Tokyo")), later),  # same instants
        shared.get_next_fire_time(None, later),
        shared.get_next_fire_time(T0, later),  # only the last question is remembered
    ]

    assert answers == [later + timedelta(seconds=1)] * 5
    assert counting.questions == [(T0, later), (None, later), (T0, later)]


def test_a_shared_trigger_tells_the_two_passes_of_a_fold_apart() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    first_pass = datetime(2026, 10, 25, 2, 30, tzinfo=berlin)
    second_pass = first_pass.replace(fold=1)
    assert first_pass == second_pass  # one zone: == compares wall times, ignoring fold
    plain = build_trigger("*/20 * * * *", berlin)
    shared = shared_trigger(build_trigger("*/20 * * * *", berlin))

    answers = [shared.get_next_fire_time(None, now) for now in (first_pass, second_pass)]

    expected = [plain.get_next_fire_time(None, now) for now in (first_pass, second_pass)]
    in_order = ["2026-10-25T02:40:00+02:00", "2026-10-25T02:40:00+01:00"]
    assert [a.isoformat() for a in answers if a] == [e.isoformat() for e in expected if e]
    assert [a.isoformat() for a in answers if a] == in_order


def test_a_trigger_with_jitter_is_not_shared_and_a_shared_one_reads_as_its_trigger() -> None:
    jittery = build_trigger("0 * * * *", jitter=30)
    shared = shared_trigger(build_trigger("0 * * * *"))

    assert shared_trigger(jittery) is jittery
    assert isinstance(shared, SharedTrigger)
    assert (
        str(shared) == "cron[month='*', day='*', day_of_week='*', hour='*', minute='0', second='0']"
    )


async def test_jobs_on_one_schedule_share_one_trigger(service: SchedulerService) -> None:
    service.register_job("first", jobfuncs.noop, "*/5 * * * *")
    service.register_job("second", jobfuncs.noop, "*/5 * * * *")
    service.register_job(
        "berlin", jobfuncs.noop, "*/5 * * * *", job_options=JobOptions(timezone="Europe/Berlin")
    )

    triggers = service._timetable.triggers()

    assert triggers["first"] is triggers["second"] is not triggers["berlin"]
    assert isinstance(triggers["first"], SharedTrigger)


# -- starting and stopping -----------------------------------------------------------------


async def test_background_jobs_disabled_starts_nothing(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    service = SchedulerService(load_settings(background_jobs_enabled=False), clock=clock)
    with caplog.at_level(logging.INFO, logger="scheduler.runtime.service"):
        async with service:
            assert not service.is_running
    assert "BACKGROUND_JOBS_ENABLED is false: the scheduler is not started" in caplog.text


async def test_async_context_manager_starts_and_stops(settings: Settings) -> None:
    service = SchedulerService(settings)
    async with service:
        assert service.is_running
    assert not service.is_running


async def test_jobs_fire_on_their_schedule_sync_on_threads_async_on_the_loop(
    settings: Settings,
) -> None:
    """Real firing: every-second crons, waited for on the run listener's queue."""
    records: asyncio.Queue[RunRecord] = asyncio.Queue()
    service = SchedulerService(settings)
    service.add_run_listener(records.put_nowait)
    service.register_job("sync", jobfuncs.record, "* * * * * *", "from-thread")
    service.register_job("async", jobfuncs.async_record, "* * * * * *", "from-loop")
    service.register_job(
        "dormant", jobfuncs.record, "* * * * * *", job_options=JobOptions(enabled=False)
    )
    seen: dict[str, RunRecord] = {}
    async with service:
        while len(seen) < 2:
            record = await asyncio.wait_for(records.get(), 5)
            seen[record.job_id] = record

    assert sorted(seen) == ["async", "sync"]
    assert {r.status for r in seen.values()} == {RunStatus.SUCCESS}
    assert all(r.scheduled_for.microsecond == 0 for r in seen.values())
    threads = {args[0]: thread for thread, args, _ in jobfuncs.CALLS}
    assert threads["from-thread"].startswith("scheduler-job")
    assert threads["from-loop"] == "MainThread"
