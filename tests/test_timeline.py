"""The merged timeline of upcoming runs: ``build_timeline`` and ``scheduler timeline``."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import time_machine

from scheduler.cli import main
from scheduler.cron import resolve_hashed
from scheduler.review import Run, ScheduledJob, build_timeline, hourly_counts

START = datetime(2026, 12, 1, 8, 30, tzinfo=UTC)  # a Tuesday


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_runs_of_all_jobs_are_merged_in_time_order() -> None:
    jobs = [
        ScheduledJob("half", "*/30 * * * *", "UTC"),
        ScheduledJob("berlin", "0 10 * * *", "Europe/Berlin"),
        ScheduledJob("also_half", "*/30 * * * *", "UTC"),
    ]
    timeline = build_timeline(jobs, start=START, hours=1.5)
    assert timeline.runs == (
        Run("also_half", _at("2026-12-01T08:30:00+00:00")),
        Run("half", _at("2026-12-01T08:30:00+00:00")),
        Run("also_half", _at("2026-12-01T09:00:00+00:00")),
        Run("berlin", _at("2026-12-01T09:00:00+00:00")),
        Run("half", _at("2026-12-01T09:00:00+00:00")),
        Run("also_half", _at("2026-12-01T09:30:00+00:00")),
        Run("half", _at("2026-12-01T09:30:00+00:00")),
    )
    assert (timeline.end, timeline.truncated) == (START + timedelta(hours=1.5), False)


def test_h_jobs_run_at_their_resolved_times() -> None:
    timeline = build_timeline([ScheduledJob("report", "H * * * *", "UTC")], start=START, hours=2)
    minute = int(resolve_hashed("H * * * *", "report").split()[0])
    expected = [START.replace(minute=minute) + timedelta(hours=hour) for hour in range(3)]
    expected = [moment for moment in expected if START <= moment < START + timedelta(hours=2)]
    assert [run.at for run in timeline.runs] == expected


def test_a_long_window_of_a_fast_job_is_capped_exactly() -> None:
    jobs = [ScheduledJob("fast", "* * * * * *", "UTC"), ScheduledJob("slow", "31 8 * * *", "UTC")]
    timeline = build_timeline(jobs, start=START, hours=24, limit=100)
    assert timeline.truncated
    assert len(timeline.runs) == 100
    # 08:30:00 to 08:31:38 of the fast job, and the slow one's 08:31:00 among them
    assert Run("slow", _at("2026-12-01T08:31:00+00:00")) in timeline.runs
    assert timeline.runs[-1] == Run("fast", START + timedelta(seconds=98))


def test_hourly_counts_include_empty_hours() -> None:
    jobs = [ScheduledJob("nine", "0,15 9 * * *", "UTC")]
    timeline = build_timeline(jobs, start=START, hours=3)
    assert hourly_counts(timeline) == [
        (_at("2026-12-01T08:00:00+00:00"), 0),
        (_at("2026-12-01T09:00:00+00:00"), 2),
        (_at("2026-12-01T10:00:00+00:00"), 0),
        (_at("2026-12-01T11:00:00+00:00"), 0),
    ]


MANIFEST = """\
jobs:
  - job_id: every_ten_seconds
    func: jobs.cleanup.cleanup_job
    cron_expression: "*/10 * * * * *"
  - job_id: hourly_report
    func: jobs.cleanup.cleanup_job
    cron_expression: "0 * * * *"
  - job_id: morning
    func: jobs.cleanup.cleanup_job
    cron_expression: "0 10 * * *"
    timezone: Europe/Berlin
  - job_id: dormant
    func: jobs.cleanup.cleanup_job
    cron_expression: "* * * * *"
    enabled: false
"""


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "jobs.yaml").write_text(MANIFEST, encoding="utf-8")
    return tmp_path


def test_text_shows_an_hourly_bar_and_folds_frequent_jobs(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["timeline", str(folder), "--from", "2026-12-01T08:30:00Z", "--hours", "2"]
    assert main([*argv, "--no-import-check"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "timeline 2026-12-01T08:30+00:00 to 2026-12-01T10:30+00:00: 723 runs of 3 jobs",
        "2026-12-01 08:00     180  ███████████████",
        "  08:30:00  every_ten_seconds x180 until 08:59:50",
        "2026-12-01 09:00     362  ██████████████████████████████",
        "  09:00:00  every_ten_seconds x360 until 09:59:50",
        "  09:00:00  hourly_report",
        "  09:00:00  morning",
        "2026-12-01 10:00     181  ███████████████",
        "  10:00:00  every_ten_seconds x180 until 10:29:50",
        "  10:00:00  hourly_report",
    ]


def test_text_is_shown_in_the_offset_of_from(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["timeline", str(folder), "--from", "2026-12-01T09:30:00+01:00", "--hours", "1"]
    assert main([*argv, "--no-import-check"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert (
        lines[0] == "timeline 2026-12-01T09:30+01:00 to 2026-12-01T10:30+01:00: 362 runs of 3 jobs"
    )
    assert lines[3] == "2026-12-01 10:00     182  ██████████████████████████████"
    assert "  10:00:00  morning" in lines


def test_json_is_a_list_of_job_id_and_at(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["timeline", str(folder), "--from", "2026-12-01T08:59:50Z", "--hours", "1"]
    assert main([*argv, "--format", "json", "--no-import-check"]) == 0
    runs = json.loads(capsys.readouterr().out)
    assert runs[:4] == [
        {"job_id": "every_ten_seconds", "at": "2026-12-01T08:59:50+00:00"},
        {"job_id": "every_ten_seconds", "at": "2026-12-01T09:00:00+00:00"},
        {"job_id": "hourly_report", "at": "2026-12-01T09:00:00+00:00"},
        {"job_id": "morning", "at": "2026-12-01T09:00:00+00:00"},
    ]
    assert len(runs) == 360 + 1 + 1  # 08:59:50 to 09:59:40 every ten seconds, and two more
    assert all(run["job_id"] != "dormant" for run in runs)


def test_defaults_are_now_and_24_hours(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with time_machine.travel(START, tick=False):
        assert main(["timeline", str(folder), "--format", "json", "--no-import-check"]) == 0
    runs = json.loads(capsys.readouterr().out)
    assert runs[0]["at"] == "2026-12-01T08:30:00+00:00"
    assert runs[-1]["at"] == "2026-12-02T08:29:50+00:00"


def test_invalid_manifests_print_problems_and_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "bad.yaml").write_text(
        "job_id: bad\nfunc: jobs.x.y\ncron_expression: 'H,1 * * * *'\n"
    )
    assert main(["timeline", str(tmp_path), "--no-import-check"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines()[0].endswith(
        "bad.yaml:3:18: error: [bad] cron_expression: minute 'H,1': H must be the whole field,"
        " one of H, H(a-b), H/n or H(a-b)/n"
    )


@pytest.mark.parametrize(
    "argv", [["--hours", "0"], ["--hours", "9000"], ["--hours", "x"], ["--from", "yesterday"]]
)
def test_bad_options_are_usage_errors(argv: list[str], folder: Path) -> None:
    assert main(["timeline", str(folder), *argv]) == 2


def test_naive_from_is_utc() -> None:
    from scheduler.cli.arguments import aware_datetime as _start

    assert _start("2026-12-01T08:30") == START
    assert _start("2026-12-01T08:30+02:00").utcoffset() == timezone(timedelta(hours=2)).utcoffset(
        None
    )


def test_functions_are_imported_unless_told_not_to(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "j.yaml").write_text("job_id: j\nfunc: jobs.nope.run\ncron_expression: '@daily'\n")
    argv = ["timeline", str(tmp_path), "--format", "json"]
    assert main(argv) == 1
    assert "[j] func: " in capsys.readouterr().err
    assert main([*argv, "--no-import-check"]) == 0
