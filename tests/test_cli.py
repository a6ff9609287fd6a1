"""``scheduler validate``, ``next`` and ``schema`` through ``main(argv)``: output and exit codes."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from scheduler.cli import main

REPO = Path(__file__).resolve().parent.parent
BROKEN = REPO / "tests" / "fixtures" / "broken"
ALLOW_FIXTURES = "jobs,tests.fixtures"


@pytest.fixture
def in_repo(monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run commands from the repository root, as a user would."""
    monkeypatch.chdir(REPO)
    return REPO


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_validate_examples_prints_summary_and_exits_0(
    in_repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["validate", "manifests"]) == 0
    assert capsys.readouterr().out.splitlines() == ["ok: 4 jobs in 3 files (3 enabled, 1 disabled)"]


def test_validate_defaults_to_the_manifest_folder_setting(
    in_repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SCHEDULER_MANIFESTS_DIR", "manifests")
    assert main(["validate"]) == 0
    assert capsys.readouterr().out.startswith("ok: 4 jobs in 3 files")


def test_validate_reports_every_problem_located_with_exit_1(
    in_repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SCHEDULER_ALLOWED_MODULES", ALLOW_FIXTURES)
    assert main(["validate", "tests/fixtures/broken"]) == 1
    lines = capsys.readouterr().out.splitlines()
    problem_lines, summary = lines[:-1], lines[-1]
    assert summary.startswith("invalid: ")
    located = {line.split(":")[0] for line in problem_lines}
    every_file = {
        str(path.relative_to(REPO))
        for path in BROKEN.rglob("*")
        if path.is_file() and path.suffix in {".yaml", ".toml"}
    }
    # every broken file is reported, and every line is path:line:col: error: ...
    assert every_file - {"tests/fixtures/broken/duplicate_job_id/a.yaml"} <= located
    for line in problem_lines:
        path, row, col, severity, _ = line.split(":", 4)
        assert path.startswith("tests/fixtures/broken/")
        assert row.isdigit() and col.isdigit(), line
        assert severity.strip() == "error", line
    assert "Traceback" not in "\n".join(lines)


def test_validate_one_located_line_per_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _write(
        tmp_path / "m.yaml",
        'job_id: a\nfunc: jobs.cleanup.cleanup_job\ncron_expression: "0 0 * * 8"\nenabled: "no"\n',
    )
    assert main(["validate", "--no-import-check", str(tmp_path)]) == 1
    out = capsys.readouterr().out.splitlines()
    path = tmp_path / "m.yaml"
    assert out == [
        f"{path}:3:18: error: [a] cron_expression: day-of-week 8 is out of range 0-7",
        f"{path}:4:10: error: [a] enabled: expected true or false (unquoted), got the string 'no'; "
        "write true or false",
        "invalid: 2 errors; 0 jobs in 1 file (0 enabled, 0 disabled)",
    ]


def test_validate_github_format_annotates(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _write(tmp_path / "m.yaml", "job_id: a\nfunc: os.system\ncron_expression: '* * * * *'\n")
    assert main(["validate", "--format", "github", "--no-import-check", str(tmp_path)]) == 1
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith(
        f"::error file={tmp_path / 'm.yaml'},line=2,col=7::[a] func: module 'os'"
    )


def test_validate_json_format_is_machine_readable(
    in_repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["validate", "--format", "json", "manifests"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["ok"] is True
    assert document["summary"] == {
        "jobs": 4,
        "files": 3,
        "enabled": 3,
        "disabled": 1,
        "errors": 0,
        "warnings": 0,
    }
    assert {job["job_id"] for job in document["jobs"]} == {
        "health_check",
        "nightly_cleanup",
        "weekday_cleanup_preview",
        "monthly_deep_cleanup",
    }


def test_validate_json_lists_problems(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _write(tmp_path / "m.yaml", "job_id: a\nfunc: jobs.x.y\ncron_expression: '* * * *'\n")
    assert main(["validate", "--format", "json", "--no-import-check", str(tmp_path)]) == 1
    problems = json.loads(capsys.readouterr().out)["problems"]
    assert [(p["line"], p["col"], p["field"], p["job_id"]) for p in problems] == [
        (3, 18, "cron_expression", "a")
    ]


def test_no_import_check_skips_importing_but_keeps_the_allowlist(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _write(
        tmp_path / "m.yaml", "job_id: a\nfunc: jobs.not_installed.run\ncron_expression: '@daily'\n"
    )
    assert main(["validate", "--no-import-check", str(tmp_path)]) == 0
    assert main(["validate", str(tmp_path)]) == 1
    assert "cannot import module 'jobs.not_installed'" in capsys.readouterr().out


def test_validate_missing_path_is_an_error_not_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["validate", str(tmp_path / "absent")]) == 1
    out = capsys.readouterr().out
    assert str(tmp_path / "absent") in out and "Traceback" not in out


def test_usage_error_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "--format", "yaml"]) == 2
    assert main([]) == 2
    assert main(["next", "* * * * *", "--count", "0"]) == 2
    assert "usage:" in capsys.readouterr().err


def test_next_prints_description_and_times(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["next", "0 9 * * 1-5", "--count", "3", "--after", "2026-11-26T00:00:00+00:00"]
    assert main([*argv, "--tz", "Europe/Berlin"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "0 9 * * 1-5: At 09:00, Monday through Friday (Europe/Berlin)",
        "  2026-11-26T09:00:00+01:00  Thu",
        "  2026-11-27T09:00:00+01:00  Fri",
        "  2026-11-30T09:00:00+01:00  Mon",
    ]


def test_next_json(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["next", "30 0 8 * * *", "--count", "2", "--after", "2026-01-01T00:00:00Z"]
    assert main([*argv, "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == {
        "expression": "30 0 8 * * *",
        "description": "At 08:00:30",
        "timezone": "UTC",
        "next": ["2026-01-01T08:00:30+00:00", "2026-01-02T08:00:30+00:00"],
    }


def test_next_invalid_expression_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["next", "0 0 30 2 *"]) == 1
    err = capsys.readouterr().err
    assert err == "error: '0 0 30 2 *': never fires: day-of-month 30 does not occur in February\n"


def test_next_unknown_timezone_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["next", "@daily", "--tz", "Mars/Base"]) == 2
    assert "unknown timezone 'Mars/Base'" in capsys.readouterr().err


def test_schema_prints_the_committed_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == 0
    committed = (REPO / "schema" / "manifest.schema.json").read_text(encoding="utf-8")
    assert json.loads(capsys.readouterr().out) == json.loads(committed)


@pytest.mark.timeout(30)
def test_python_dash_m_and_console_script_agree(in_repo: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCHEDULER_")}
    result = subprocess.run(
        [sys.executable, "-m", "scheduler", "validate", "manifests"],
        capture_output=True,
        text=True,
        env=env,
        timeout=25,
        check=False,
    )
    assert (result.returncode, result.stdout) == (
        0,
        "ok: 4 jobs in 3 files (3 enabled, 1 disabled)\n",
    )


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    import scheduler

    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"scheduler {scheduler.__version__}\n"


def _subparsers() -> dict[str, argparse.ArgumentParser]:
    from scheduler.cli import build_parser

    parser = build_parser()
    (sub,) = (
        action for action in parser._actions if isinstance(action, argparse._SubParsersAction)
    )
    return dict(sub.choices)


def test_every_option_and_argument_has_help_with_its_default() -> None:
    missing = []
    for name, parser in _subparsers().items():
        for action in parser._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            label = f"{name} {action.dest}"
            if not action.help:
                missing.append(f"{label}: no help")
            elif action.default not in (None, False) and "default" not in action.help:
                missing.append(f"{label}: default {action.default!r} not in help")
    assert missing == []


def test_main_help_names_the_allowlist_and_the_exit_codes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "SCHEDULER_ALLOWED_MODULES" in out
    assert "exit codes: 0 ok; 1 invalid manifests or a failed job; 2 usage or settings error" in out


def test_validate_of_a_missing_default_folder_says_how_to_point_elsewhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["validate"]) == 2
    assert capsys.readouterr().err == (
        f"error: manifest folder 'manifests' does not exist (in {tmp_path}); pass --manifests "
        "DIR (validate: a PATH) or set SCHEDULER_MANIFESTS_DIR\n"
    )


@pytest.mark.parametrize(
    ("tz", "message"),
    [
        (
            "Europe",
            "unknown timezone 'Europe': it is a group of zones; name one, like 'Europe/Amsterdam'",
        ),
        ("europe/berlin", "unknown timezone 'europe/berlin'; did you mean 'Europe/Berlin'?"),
    ],
)
def test_next_with_a_bad_zone_exits_2_with_a_hint(
    capsys: pytest.CaptureFixture[str], tz: str, message: str
) -> None:
    assert main(["next", "@daily", "--tz", tz]) == 2
    assert capsys.readouterr().err == f"error: --tz: {message}\n"


def test_problem_text_is_escaped_so_it_cannot_forge_lines() -> None:
    from scheduler.problems import Problem, render_problem

    problem = Problem(
        "a\nb.yaml", 3, 4, "bad\x1b[31m\u202evalue\r\n", "x\nfake.yaml:1:1: error: y", "f\tg"
    )
    assert render_problem(problem) == (
        "a\\nb.yaml:3:4: error: [x\\nfake.yaml:1:1: error: y] f\\tg: bad\\x1b[31m\\u202evalue\\r\\n"
    )


def test_readme_ci_snippets_run_the_scheduler_without_an_activated_venv(
    in_repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The pre-commit hook calls the venv's script by path and validates the folder; the
    GitHub Actions step sets the allowlist."""
    readme = (in_repo / "README.md").read_text(encoding="utf-8")
    (entry,) = (
        line.split("entry:", 1)[1].strip() for line in readme.splitlines() if "entry:" in line
    )
    program, *arguments = entry.split()
    assert program == ".venv/bin/scheduler"
    assert main(arguments) == 0
    assert capsys.readouterr().out.startswith("ok: 4 jobs in 3 files")
    assert "SCHEDULER_ALLOWED_MODULES: " in readme
    assert 'pip install "manifest-scheduler @ git+' in readme


def test_github_annotations_put_whole_file_problems_on_line_1() -> None:
    from scheduler.cli.render import github_line
    from scheduler.problems import Problem

    problem = Problem("big\x1b.yaml", None, None, "file is too large\nreally")
    assert github_line(problem) == (
        "::error file=big\\x1b.yaml,line=1,col=1::file is too large\\nreally"
    )
