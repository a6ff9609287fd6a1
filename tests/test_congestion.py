"""The congestion lint: more than the limit of enabled jobs in one minute within a week."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import time_machine

from scheduler.cli import main
from scheduler.loader import LoadedJob, load_manifests
from scheduler.loader.locate import FieldLocator
from scheduler.problems import Problem
from scheduler.review import congestion_problems

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def _folder(tmp_path: Path, jobs: list[tuple[str, str, str]]) -> Path:
    """One file; each job ``(job_id, cron, extra yaml)``."""
    lines = ["jobs:"]
    for job_id, cron, extra in jobs:
        lines += [
            f"  - job_id: {job_id}",
            "    func: jobs.cleanup.cleanup_job",
            f"    cron_expression: '{cron}'",
        ]
        lines += [f"    {line}" for line in extra.splitlines()]
    (tmp_path / "jobs.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return tmp_path


def _load(folder: Path) -> tuple[LoadedJob, ...]:
    result = load_manifests([folder], import_check=False)
    assert result.ok, result.problems
    return result.jobs


def _nightly(count: int, cron: str = "0 3 * * *", extra: str = "") -> list[tuple[str, str, str]]:
    return [(f"job{index:02d}", cron, extra) for index in range(count)]


def test_one_over_the_limit_is_a_warning_at_the_first_jobs_cron_expression(
    tmp_path: Path,
) -> None:
    folder = _folder(tmp_path, _nightly(21))
    problems = congestion_problems(_load(folder), now=NOW, limit=20, locate=FieldLocator().locate)
    assert problems == [
        Problem(
            str(folder / "jobs.yaml"),
            4,
            22,
            "21 enabled jobs fire in the same minute, 2026-12-02T03:00+00:00 (and in 6 more"
            " minutes within 7 days): job00, job01, job02, job03, job04 and 16 more; more than"
            " SCHEDULER_CONGESTION_LIMIT (20): spread them with H"
            " (e.g. 'H 3 * * *' for '0 3 * * *')",
            "job00",
            "cron_expression",
            "warning",
        )
    ]


def test_at_the_limit_and_disabled_jobs_are_fine(tmp_path: Path) -> None:
    jobs = [*_nightly(20), ("dormant", "0 3 * * *", "enabled: false")]
    assert congestion_problems(_load(_folder(tmp_path, jobs)), now=NOW, limit=20) == []


def test_different_schedules_and_zones_meeting_in_one_minute_count_together(
    tmp_path: Path,
) -> None:
    jobs = (
        _nightly(8)
        + [(f"every3h{index}", "0 */3 * * *", "") for index in range(8)]
        + [(f"berlin{index}", "0 4 * * *", "timezone: Europe/Berlin") for index in range(5)]
    )
    (problem,) = congestion_problems(_load(_folder(tmp_path, jobs)), now=NOW, limit=20)
    # 03:00 UTC daily is 04:00 in Berlin in winter: 8 + 8 + 5 = 21; the two biggest
    # schedules tie, and the one written first is named first
    assert problem.message.startswith(
        "21 enabled jobs fire in the same minute, 2026-12-02T03:00+00:00 (and in 6 more"
        " minutes within 7 days): job00, job01, job02, job03, job04 and 16 more;"
    )
    assert problem.job_id == "job00"


def test_the_biggest_schedule_in_the_minute_is_named_first(tmp_path: Path) -> None:
    jobs = _nightly(8) + [(f"every3h{index}", "0 */3 * * *", "") for index in range(13)]
    (problem,) = congestion_problems(_load(_folder(tmp_path, jobs)), now=NOW, limit=20)
    assert problem.job_id == "every3h0"
    assert "2026-12-02T03:00+00:00 (and in 6 more minutes within 7 days): every3h0," in (
        problem.message
    )


def test_jobs_firing_every_few_seconds_count_once_per_minute(tmp_path: Path) -> None:
    jobs = [(f"fast{index:02d}", "*/10 * * * * *", "") for index in range(21)]
    (problem,) = congestion_problems(_load(_folder(tmp_path, jobs)), now=NOW, limit=20)
    assert problem.message.startswith(
        "21 enabled jobs fire in the same minute, 2026-12-01T08:00+00:00 (and in 10079 more"
        " minutes within 7 days)"
    )


def test_h_spreads_them_below_the_limit(tmp_path: Path) -> None:
    jobs = [(f"report{index:03d}", "H 3 * * *", "") for index in range(300)]
    assert congestion_problems(_load(_folder(tmp_path, jobs)), now=NOW, limit=20) == []
    same = [(f"report{index:03d}", "0 3 * * *", "") for index in range(300)]
    assert len(congestion_problems(_load(_folder(tmp_path, same)), now=NOW, limit=20)) == 1


def test_only_the_next_seven_days_count(tmp_path: Path) -> None:
    # 1 January only: more than a week after NOW
    jobs = _nightly(25, "0 0 1 1 *")
    assert congestion_problems(_load(_folder(tmp_path, jobs)), now=NOW, limit=20) == []
    later = datetime(2026, 12, 28, tzinfo=UTC)
    assert len(congestion_problems(_load(_folder(tmp_path, jobs)), now=later, limit=20)) == 1


def test_macros_get_an_h_suggestion(tmp_path: Path) -> None:
    (problem,) = congestion_problems(
        _load(_folder(tmp_path, _nightly(3, "@daily"))), now=NOW, limit=2
    )
    assert problem.message.endswith("spread them with H (e.g. 'H 0 * * *' for '@daily')")


def test_10000_jobs_are_linted_quickly(tmp_path: Path) -> None:
    jobs = [(f"job{index:05d}", "H H * * *", "") for index in range(9_000)]
    jobs += [(f"burst{index:04d}", "*/15 * * * *", "") for index in range(1_000)]
    loaded = _load(_folder(tmp_path, jobs))
    started = time.perf_counter()
    problems = congestion_problems(loaded, now=NOW, limit=20)
    elapsed = time.perf_counter() - started
    (problem,) = problems
    # the H jobs that land on a quarter hour join the burst: 1010 at 08:00 (stable ids)
    assert problem.job_id == "burst0000"
    assert problem.message.startswith(
        "1010 enabled jobs fire in the same minute, 2026-12-01T08:00+00:00 (and in 671 more"
        " minutes within 7 days): burst0000, burst0001, burst0002, burst0003, burst0004 and"
        " 1005 more;"
    )
    assert problem.message.endswith("(e.g. 'H/15 * * * *' for '*/15 * * * *')")
    assert elapsed < 5, elapsed  # about 0.05 s on the 2-core development machine


@pytest.fixture
def frozen() -> object:
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def test_validate_reports_congestion_and_still_exits_0(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], frozen: object
) -> None:
    folder = _folder(tmp_path, _nightly(3))
    assert main(["validate", "--no-import-check", str(folder)]) == 0
    assert capsys.readouterr().out.splitlines() == ["ok: 3 jobs in 1 file (3 enabled, 0 disabled)"]


def test_validate_honours_the_congestion_limit_setting(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    frozen: object,
) -> None:
    folder = _folder(tmp_path, _nightly(3))
    monkeypatch.setenv("SCHEDULER_CONGESTION_LIMIT", "2")
    assert main(["validate", "--no-import-check", str(folder)]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"{folder / 'jobs.yaml'}:4:22: warning: [job00] cron_expression: 3 enabled jobs fire in"
        " the same minute, 2026-12-02T03:00+00:00 (and in 6 more minutes within 7 days):"
        " job00, job01, job02; more than SCHEDULER_CONGESTION_LIMIT (2): spread them with H"
        " (e.g. 'H 3 * * *' for '0 3 * * *')",
        "ok: 3 jobs in 1 file (3 enabled, 0 disabled), 1 warning",
    ]
