"""``H`` in manifests and in the running scheduler: validated with the job id, fired resolved."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from scheduler.cron import next_fire_times, resolve_hashed
from scheduler.loader import load_manifests
from scheduler.manifest import JobSpec
from scheduler.problems import Problem
from scheduler.runtime.service import SchedulerService
from scheduler.settings import Settings, load_settings
from tests import jobfuncs
from tests.jobfuncs import FakeClock

T0 = datetime(2027, 1, 4, 12, 0, 30, tzinfo=UTC)


def _write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_manifest_job_may_use_h_and_resolves_it_for_its_id() -> None:
    spec = JobSpec(job_id="nightly_report", func="jobs.a.b", cron_expression="H 3 * * *")
    assert spec.cron_expression == "H 3 * * *"
    assert spec.resolved_expression == "3 3 * * *"


def test_bad_h_in_a_manifest_is_located_at_cron_expression(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "m.yaml",
        'job_id: report\nfunc: jobs.cleanup.cleanup_job\ncron_expression: "H,5 3 * * *"\n',
    )
    result = load_manifests([tmp_path], import_check=False)
    assert list(result.problems) == [
        Problem(
            str(path),
            3,
            18,
            "minute 'H,5': H must be the whole field, one of H, H(a-b), H/n or H(a-b)/n",
            "report",
            "cron_expression",
        )
    ]


def test_an_invalid_job_id_is_reported_alone_when_h_is_well_formed(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "m.yaml",
        'job_id: "no spaces"\nfunc: jobs.cleanup.cleanup_job\ncron_expression: "H 3 * * *"\n',
    )
    result = load_manifests([tmp_path], import_check=False)
    assert [(problem.line, problem.field) for problem in result.problems] == [(1, "job_id")]


def test_dst_warnings_use_the_resolved_expression(tmp_path: Path) -> None:
    # "H(30-30) 2 * * *" resolves to 30 2 * * *: inside the spring-forward gap in Berlin
    _write(
        tmp_path,
        "m.yaml",
        "job_id: report\nfunc: jobs.cleanup.cleanup_job\n"
        "cron_expression: 'H(30-30) 2 * * *'\ntimezone: Europe/Berlin\n",
    )
    result = load_manifests([tmp_path], import_check=False)
    assert result.ok
    assert {problem.field for problem in result.problems} == {"cron_expression"}
    assert all(
        "daylight-saving gap" in p.message or "repeated" in p.message for p in result.problems
    )


@pytest.fixture
def settings() -> Settings:
    return load_settings(allowed_modules=("tests.jobfuncs",))


@pytest.fixture
async def service(settings: Settings, reset_jobfuncs: None) -> AsyncIterator[SchedulerService]:
    service = SchedulerService(settings, clock=FakeClock(T0))
    yield service
    await service.aclose(0)


async def test_the_running_scheduler_fires_h_jobs_at_the_resolved_time(
    service: SchedulerService, tmp_path: Path
) -> None:
    lines = [
        "jobs:",
        *(
            f"  - {{job_id: job-{index}, func: tests.jobfuncs.record,"
            " cron_expression: 'H H * * *'}"
            for index in range(20)
        ),
    ]
    _write(tmp_path, "m.yaml", "\n".join(lines) + "\n")
    assert service.load([tmp_path]).ok
    expected = {
        f"job-{index}": next_fire_times(
            resolve_hashed("H H * * *", f"job-{index}"), after=T0, count=1
        )[0]
        for index in range(20)
    }
    assert {view.job_id: view.next_run_at for view in service.get_jobs()} == expected
    assert len(set(expected.values())) > 15  # spread out, not all at one instant


async def test_register_job_resolves_h_for_its_id(service: SchedulerService) -> None:
    view = service.register_job("nightly_report", jobfuncs.noop, "H H * * *")
    assert view.cron_expression == "H H * * *"
    assert view.next_run_at == datetime(2027, 1, 4, 17, 3, tzinfo=UTC)  # "3 17 * * *"


def test_list_shows_the_resolved_expression_beside_the_written_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from scheduler.cli import main

    _write(
        tmp_path,
        "m.yaml",
        "jobs:\n"
        "  - {job_id: nightly_report, func: jobs.cleanup.cleanup_job,"
        " cron_expression: 'H 3 * * *'}\n"
        "  - {job_id: plain, func: jobs.cleanup.cleanup_job, cron_expression: '0 4 * * *'}\n",
    )
    assert main(["list", "--manifests", str(tmp_path), "--format", "json"]) == 0
    jobs = {job["job_id"]: job for job in json.loads(capsys.readouterr().out)}
    assert (
        jobs["nightly_report"]["cron_expression"],
        jobs["nightly_report"]["resolved_expression"],
    ) == (
        "H 3 * * *",
        "3 3 * * *",
    )
    assert jobs["plain"]["resolved_expression"] == "0 4 * * *"
    assert main(["list", "--manifests", str(tmp_path)]) == 0
    table = capsys.readouterr().out
    assert "H 3 * * * (3 3 * * *)" in table
    assert "0 4 * * * (" not in table
