"""``scheduler run``, ``list`` and ``trigger``: output, exit codes, and a real process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from scheduler.cli import main
from tests.support import line_with

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def allow_tests(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let manifests name the test job functions."""
    monkeypatch.setenv("SCHEDULER_ALLOWED_MODULES", "jobs,tests.jobfuncs")


def _manifest(folder: Path, name: str, body: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(body, encoding="utf-8")
    return path


def _job(job_id: str, func: str, cron: str = "0 0 * * *", extra: str = "") -> str:
    return f"job_id: {job_id}\nfunc: {func}\ncron_expression: '{cron}'\n{extra}"


def test_list_shows_every_job_with_state_and_source(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(REPO)
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for expected in (
        "health_check",
        "monthly_deep_cleanup",
        "disabled",
        "maintenance.toml:8",
        "Europe/Berlin",
        "*/10 * * * * *",
    ):
        assert expected in out


def test_list_json_has_enabled_paused_and_next_run(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(REPO)
    assert main(["list", "--format", "json"]) == 0
    jobs = {job["job_id"]: job for job in json.loads(capsys.readouterr().out)}
    assert jobs["monthly_deep_cleanup"]["enabled"] is False
    assert jobs["monthly_deep_cleanup"]["next_run_at"] is None
    assert jobs["nightly_cleanup"]["enabled"] is True
    assert jobs["nightly_cleanup"]["paused"] is False
    assert jobs["nightly_cleanup"]["next_run_at"].endswith("T02:00:00+00:00") or jobs[
        "nightly_cleanup"
    ]["next_run_at"].endswith("T01:00:00+00:00")
    assert jobs["nightly_cleanup"]["file"] == "manifests/maintenance.toml"


def test_list_of_an_invalid_folder_prints_problems_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _manifest(tmp_path, "a.yaml", _job("a", "jobs.cleanup.cleanup_job", "61 * * * *"))
    assert main(["list", "--manifests", str(tmp_path)]) == 1
    assert capsys.readouterr().err.splitlines() == [
        f"{tmp_path / 'a.yaml'}:3:18: error: [a] cron_expression: minute 61 is out of range 0-59"
    ]


def test_trigger_runs_the_job_once_and_exits_0(
    tmp_path: Path, allow_tests: None, capsys: pytest.CaptureFixture[str]
) -> None:
    _manifest(tmp_path, "a.yaml", _job("a", "tests.jobfuncs.record", extra="args: [1]\n"))
    assert main(["trigger", "a", "--manifests", str(tmp_path)]) == 0
    assert capsys.readouterr().out.startswith("a: success in ")


def test_trigger_of_a_failing_job_exits_1(
    tmp_path: Path, allow_tests: None, capsys: pytest.CaptureFixture[str]
) -> None:
    _manifest(tmp_path, "a.yaml", _job("a", "tests.jobfuncs.boom", extra="args: [kaput]\n"))
    assert main(["trigger", "a", "--manifests", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert out.startswith("a: failed in ") and "kaput" in out


@pytest.mark.parametrize(
    ("func", "error"),
    [
        ("tests.jobfuncs.exits", "SystemExit(3): the job called sys.exit(); the scheduler goes on"),
        ("tests.jobfuncs.interrupts", "KeyboardInterrupt"),
        ("tests.jobfuncs.async_exits", "SystemExit(None): the job called sys.exit()"),
    ],
    ids=["sys.exit(3)", "KeyboardInterrupt", "async SystemExit"],
)
def test_trigger_of_a_job_that_exits_prints_its_outcome_and_exits_1(
    tmp_path: Path, allow_tests: None, capsys: pytest.CaptureFixture[str], func: str, error: str
) -> None:
    _manifest(tmp_path, "a.yaml", _job("a", func))
    assert main(["trigger", "a", "--manifests", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert out.startswith("a: failed in ") and error in out


def test_trigger_of_an_unknown_job_suggests_close_ids_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _manifest(tmp_path, "a.yaml", _job("nightly_cleanup", "jobs.cleanup.cleanup_job"))
    assert main(["trigger", "nightly_cleanpu", "--manifests", str(tmp_path)]) == 2
    assert capsys.readouterr() == (
        "",
        "error: no job with id 'nightly_cleanpu'; did you mean 'nightly_cleanup'?\n",
    )
    assert main(["trigger", "zzz", "--manifests", str(tmp_path)]) == 2
    assert capsys.readouterr().err == "error: no job with id 'zzz'\n"


def test_run_refuses_an_invalid_set_and_prints_every_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _manifest(tmp_path, "a.yaml", _job("a", "jobs.cleanup.cleanup_job", "* * * * 8"))
    _manifest(tmp_path, "b.yaml", _job("b", "os.system"))
    assert main(["run", "--manifests", str(tmp_path)]) == 1
    err = [line for line in capsys.readouterr().err.splitlines() if " scheduler." not in line]
    cron_problem = "error: [a] cron_expression: day-of-week 8 is out of range 0-7"
    assert err[0] == f"{tmp_path / 'a.yaml'}:3:18: {cron_problem}"
    assert err[1].startswith(f"{tmp_path / 'b.yaml'}:2:7: error: [b] func: module 'os' is outside")
    assert err[2] == "refusing to start: 2 errors in the manifests"


def test_run_with_background_jobs_disabled_starts_nothing(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("BACKGROUND_JOBS_ENABLED", "false")
    assert main(["run", "--manifests", "does-not-matter"]) == 0
    assert "not starting" in capsys.readouterr().err


@pytest.mark.timeout(40)
def test_run_process_runs_jobs_hot_reloads_and_stops_on_sigterm(tmp_path: Path) -> None:
    folder = tmp_path / "manifests"
    _manifest(folder, "tick.yaml", _job("tick", "tests.jobfuncs.noop", "* * * * * *"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCHEDULER_")}
    env |= {
        "SCHEDULER_ALLOWED_MODULES": "tests.jobfuncs",
        "PYTHONPATH": str(REPO),
        "SCHEDULER_SHUTDOWN_GRACE": "2",
    }
    command = [
        sys.executable,
        "-m",
        "scheduler",
        "run",
        "--manifests",
        str(folder),
        "--log-format",
        "json",
    ]
    process = subprocess.Popen(
        command, cwd=tmp_path, env=env, stderr=subprocess.STDOUT, stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    try:
        deadline = time.monotonic() + 20
        ran = json.loads(line_with(process.stdout, '"outcome": "success"', deadline))
        assert ran["job_id"] == "tick"
        _manifest(folder, "tock.yaml", _job("tock", "tests.jobfuncs.noop", "* * * * * *"))
        applied = line_with(process.stdout, "'tock'", deadline)
        assert "added" in applied
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=5)
        process.stdout.close()


def _list_at_80_columns(monkeypatch: pytest.MonkeyPatch, argv: list[str]) -> int:
    from rich.console import Console

    from scheduler.cli import service_commands

    monkeypatch.setattr(
        service_commands, "list_console", lambda: Console(width=80, highlight=False)
    )
    return main(["list", *argv])


def test_list_fits_80_columns_with_times_in_each_jobs_zone(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import time_machine

    monkeypatch.chdir(REPO)
    with time_machine.travel("2026-07-01T12:00:00+00:00", tick=False):
        assert _list_at_80_columns(monkeypatch, []) == 0
    lines = capsys.readouterr().out.splitlines()
    assert max(len(line) for line in lines) <= 80
    rows = [line.split() for line in lines[4:] if line.strip()]
    assert rows == [
        [
            "health_check",
            "enabled",
            "*/10",
            "*",
            "*",
            "*",
            "*",
            "*",
            "2026-07-01",
            "12:00:10",
            "UTC",
        ],
        ["health_check.yaml:2", "UTC"],
        ["monthly_deep_cleanup", "disabled", "@monthly", "-"],
        ["disabled_example.yaml:6", "UTC"],
        ["nightly_cleanup", "enabled", "0", "3", "*", "*", "*", "2026-07-02", "03:00:00", "CEST"],
        ["maintenance.toml:8", "Europe/Berlin"],
        [
            "weekday_cleanup_preview",
            "enabled",
            "0",
            "9",
            "*",
            "*",
            "1-5",
            "2026-07-02",
            "09:00:00",
            "CEST",
        ],
        ["maintenance.toml:16", "Europe/Berlin"],
    ]


def test_list_json_gives_next_runs_in_utc(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import time_machine

    monkeypatch.chdir(REPO)
    with time_machine.travel("2026-07-01T12:00:00+00:00", tick=False):
        assert main(["list", "--format", "json"]) == 0
    jobs = {job["job_id"]: job for job in json.loads(capsys.readouterr().out)}
    assert jobs["nightly_cleanup"]["next_run_at"] == "2026-07-02T01:00:00+00:00"
    assert jobs["nightly_cleanup"]["timezone"] == "Europe/Berlin"


def test_list_with_one_bad_file_lists_the_good_jobs_then_the_problems(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _manifest(tmp_path, "a.yaml", _job("good_job", "jobs.cleanup.cleanup_job"))
    _manifest(tmp_path, "b.yaml", _job("bad_job", "jobs.cleanup.cleanup_job", "61 * * * *"))

    assert _list_at_80_columns(monkeypatch, ["--manifests", str(tmp_path)]) == 1

    out, err = capsys.readouterr()
    assert "good_job" in out and "bad_job" not in out
    assert out.startswith("1 job in ")
    assert err.splitlines() == [
        f"{tmp_path / 'b.yaml'}:3:18: error: [bad_job] cron_expression: "
        "minute 61 is out of range 0-59"
    ]


def test_list_escapes_job_text_and_reads_no_markup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _manifest(tmp_path, "[bold]x\u001b.yaml", _job("a", "jobs.cleanup.cleanup_job"))
    assert _list_at_80_columns(monkeypatch, ["--manifests", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "[bold]x\\x1b.yaml:1" in out
    assert "\x1b" not in out


def test_trigger_prints_only_the_outcome(
    tmp_path: Path, allow_tests: None, capfd: pytest.CaptureFixture[str]
) -> None:
    _manifest(tmp_path, "a.yaml", _job("a", "tests.jobfuncs.record", extra="args: [1]\n"))
    assert main(["trigger", "a", "--manifests", str(tmp_path)]) == 0
    out, err = capfd.readouterr()
    assert out.startswith("a: success in ") and out.count("\n") == 1
    assert err == ""


def test_trigger_refuses_a_disabled_job_unless_forced(
    tmp_path: Path, allow_tests: None, capsys: pytest.CaptureFixture[str]
) -> None:
    _manifest(tmp_path, "a.yaml", _job("a", "tests.jobfuncs.record", extra="enabled: false\n"))
    assert main(["trigger", "a", "--manifests", str(tmp_path)]) == 2
    assert capsys.readouterr() == (
        "",
        f"error: job 'a' is disabled ({tmp_path / 'a.yaml'}:1); pass --force to run it anyway\n",
    )
    assert main(["trigger", "a", "--force", "--manifests", str(tmp_path)]) == 0
    assert capsys.readouterr().out.startswith("a: success in ")


@pytest.mark.parametrize("command", ["run", "list", "trigger"])
def test_a_missing_manifest_folder_says_which_and_how_to_point_elsewhere(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    missing = tmp_path / "nope"
    argv = [command, "x"] if command == "trigger" else [command]
    assert main([*argv, "--manifests", str(missing)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: manifest folder '{missing}' does not exist (in ")
    assert err.endswith("pass --manifests DIR (validate: a PATH) or set SCHEDULER_MANIFESTS_DIR\n")
