"""``scheduler history``, ``pause`` and ``resume`` against a real store file."""

from __future__ import annotations

import json
import textwrap
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from scheduler.cli import main
from scheduler.cli.store_commands import operator
from scheduler.records import RunKind, RunRecord, RunStatus
from scheduler.store import ClaimRequest, Pause, StateStore, open_store
from tests.store_support import silent_server_fixture  # noqa: F401  (fixture)

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project folder with two jobs in its manifests and a store URL pointing into it."""
    manifests = tmp_path / "manifests"
    manifests.mkdir()
    (manifests / "jobs.yaml").write_text(
        textwrap.dedent(
            """\
            jobs:
              - job_id: nightly_cleanup
                func: jobs.cleanup.cleanup_job
                cron_expression: "0 3 * * *"
              - job_id: health_check
                func: jobs.health_check.health_check_job
                cron_expression: "*/10 * * * * *"
            """
        )
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SCHEDULER_STORE_URL", f"sqlite:///{tmp_path / 'state.db'}")
    return tmp_path


def shared_store(workspace: Path) -> StateStore:
    return open_store(f"sqlite:///{workspace / 'state.db'}")


def fill_history(workspace: Path) -> list[RunRecord]:
    store = shared_store(workspace)
    won = store.claim(
        [
            ClaimRequest("nightly_cleanup", T0, run_id="r1"),
            ClaimRequest("health_check", T0, run_id="r2"),
        ],
        node="host:1",
        now=T0,
    )
    done = RunRecord(
        "nightly_cleanup",
        T0,
        RunStatus.FAILED,
        started_at=T0,
        finished_at=T0 + timedelta(seconds=2),
        error="ValueError: boom\nTraceback ...",
        run_id="r1",
        node="host:1",
    )
    store.finish([done])
    manual = RunRecord(
        "health_check",
        T0 + timedelta(minutes=1),
        RunStatus.SUCCESS,
        started_at=T0 + timedelta(minutes=1),
        finished_at=T0 + timedelta(minutes=1, seconds=1),
        kind=RunKind.MANUAL,
        run_id="r3",
        node="laptop:9",
    )
    store.record([manual])
    store.close()
    assert won[1].record is not None
    return [manual, won[1].record, done]


def test_history_json_lists_runs_newest_first(
    workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fill_history(workspace)
    assert main(["history", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == [
        {
            "job_id": "health_check",
            "run_id": "r3",
            "kind": "manual",
            "scheduled_for": "2026-03-01T12:01:00+00:00",
            "status": "success",
            "node": "laptop:9",
            "started_at": "2026-03-01T12:01:00+00:00",
            "finished_at": "2026-03-01T12:01:01+00:00",
            "error": None,
        },
        {
            "job_id": "health_check",
            "run_id": "r2",
            "kind": "scheduled",
            "scheduled_for": "2026-03-01T12:00:00+00:00",
            "status": "running",
            "node": "host:1",
            "started_at": "2026-03-01T12:00:00+00:00",
            "finished_at": None,
            "error": None,
        },
        {
            "job_id": "nightly_cleanup",
            "run_id": "r1",
            "kind": "scheduled",
            "scheduled_for": "2026-03-01T12:00:00+00:00",
            "status": "failed",
            "node": "host:1",
            "started_at": "2026-03-01T12:00:00+00:00",
            "finished_at": "2026-03-01T12:00:02+00:00",
            "error": "ValueError: boom\nTraceback ...",
        },
    ]


@pytest.mark.parametrize(
    ("argv", "run_ids"),
    [
        (["health_check"], ["r3", "r2"]),
        (["--status", "failed"], ["r1"]),
        (["--kind", "manual"], ["r3"]),
        (["--limit", "1"], ["r3"]),
        (["health_check", "--status", "running", "--limit", "5"], ["r2"]),
    ],
    ids=["job", "status", "kind", "limit", "combined"],
)
def test_history_filters(
    workspace: Path, capsys: pytest.CaptureFixture[str], argv: list[str], run_ids: list[str]
) -> None:
    fill_history(workspace)
    assert main(["history", *argv, "--format", "json"]) == 0
    assert [run["run_id"] for run in json.loads(capsys.readouterr().out)] == run_ids


def test_history_table_shows_one_line_per_run(
    workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fill_history(workspace)
    assert main(["history", "nightly_cleanup"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].strip() == "1 run"
    [row] = [line for line in lines if "nightly_cleanup" in line]
    assert row.split("│")[1:-1] == [
        " 2026-03-01 12:00:00 ",
        " nightly_cleanup ",
        " scheduled ",
        " failed ",
        " 2.000s ",
        " host:1 ",
        " ValueError: boom ",
    ]


def test_history_of_an_empty_store_says_so(
    workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["history", "nightly_cleanup"]) == 0
    assert capsys.readouterr().out == "no runs recorded for 'nightly_cleanup'\n"
    assert main(["history", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_pause_writes_who_and_why_to_the_store(
    workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["pause", "nightly_cleanup", "--reason", "db migration"]) == 0
    out = capsys.readouterr().out
    url = f"sqlite:///{workspace / 'state.db'}"
    assert out == f"paused 'nightly_cleanup' by {operator()}: db migration in {url}\n"
    store = shared_store(workspace)
    [(job_id, pause)] = store.pauses().items()
    store.close()
    assert (job_id, pause.who, pause.reason) == ("nightly_cleanup", operator(), "db migration")
    assert abs((datetime.now(UTC) - pause.paused_at).total_seconds()) < 60


def test_pause_refuses_an_id_the_manifests_do_not_have(
    workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["pause", "nightly_clenup"]) == 1
    assert capsys.readouterr().err == (
        "error: no job 'nightly_clenup' in the manifests at manifests; "
        "did you mean 'nightly_cleanup'?\n"
    )
    store = shared_store(workspace)
    assert store.pauses() == {}
    store.close()


def test_pause_names_the_errors_that_may_hide_a_job(
    workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (workspace / "manifests" / "broken.yaml").write_text("job_id: broken\nfunc: jobs.x.y\n")
    assert main(["pause", "broken", "--manifests", "manifests"]) == 1
    assert capsys.readouterr().err == (
        "error: no job 'broken' in the manifests at manifests "
        "(they have 1 error: run scheduler validate)\n"
    )


def test_resume_lifts_a_pause(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = shared_store(workspace)
    store.pause("health_check", who="ops@box", reason=None, now=T0)
    store.close()
    assert main(["resume", "health_check"]) == 0
    assert (
        capsys.readouterr().out
        == "resumed 'health_check', paused since 2026-03-01T12:00:00+00:00 by ops@box\n"
    )
    assert main(["resume", "health_check"]) == 0
    assert capsys.readouterr().out == "'health_check' was not paused\n"


def test_resume_clears_the_pause_of_a_job_removed_from_the_manifests(
    workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = shared_store(workspace)
    store.pause("retired_job", who="ops@box", reason="gone", now=T0)
    store.close()
    assert main(["resume", "retired_job"]) == 0
    assert capsys.readouterr().out == (
        "resumed 'retired_job', paused since 2026-03-01T12:00:00+00:00 by ops@box: gone "
        "(it is not in the manifests at manifests)\n"
    )
    assert main(["resume", "retired_job"]) == 1
    assert capsys.readouterr().err == "error: no job 'retired_job' in the manifests at manifests\n"


def test_an_unreachable_store_is_one_line_with_the_password_masked(
    workspace: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SCHEDULER_STORE_URL", "postgresql+psycopg://app:s3cret@127.0.0.1:1/jobs")
    for argv in (["history"], ["pause", "health_check"], ["resume", "health_check"]):
        assert main(argv) == 1
        captured = capsys.readouterr()
        assert captured.out == ""
        assert captured.err.startswith(
            "error: state store unavailable at postgresql+psycopg://app:***@127.0.0.1:1/jobs: "
            "connection failed:"
        )
        assert captured.err.count("\n") == 1 and "s3cret" not in captured.err


def test_the_connect_timeout_setting_bounds_the_wait(
    workspace: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    silent_server: int,
) -> None:
    monkeypatch.setenv(
        "SCHEDULER_STORE_URL", f"postgresql+psycopg://app:pw@127.0.0.1:{silent_server}/jobs"
    )
    monkeypatch.setenv("SCHEDULER_STORE_CONNECT_TIMEOUT", "2")
    started = time.monotonic()
    assert main(["history"]) == 1
    assert time.monotonic() - started < 4.5
    assert capsys.readouterr().err.startswith(
        "error: state store unavailable at postgresql+psycopg://app:***@"
    )


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (
            "mysql://app:pw@db/jobs",
            "error: SCHEDULER_STORE_URL: state store mysql://app:***@db/jobs: expected "
            "sqlite:///PATH, postgresql+psycopg://USER:PASSWORD@HOST:PORT/DB or memory://\n",
        ),
        (
            "memory://",
            "error: SCHEDULER_STORE_URL: memory:// lives inside one process; these commands need "
            "a shared store (sqlite:///PATH or postgresql+psycopg://...)\n",
        ),
    ],
    ids=["other-database", "memory"],
)
def test_store_urls_the_commands_cannot_use_are_settings_errors(
    workspace: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    url: str,
    message: str,
) -> None:
    monkeypatch.setenv("SCHEDULER_STORE_URL", url)
    assert main(["history"]) == 2
    assert capsys.readouterr().err == message


def test_a_paused_job_keeps_its_pause_when_paused_again(workspace: Path) -> None:
    assert main(["pause", "health_check", "--reason", "first"]) == 0
    assert main(["pause", "health_check"]) == 0
    store = shared_store(workspace)
    pauses = store.pauses()
    store.close()
    assert list(pauses) == ["health_check"]
    assert isinstance(pauses["health_check"], Pause) and pauses["health_check"].reason is None
