"""Many real ``scheduler run`` processes on one store run each occurrence exactly once.

Four processes share a manifest folder and a store (a SQLite file, or a fresh PostgreSQL
database). The job appends the second it started in to a file, so the count comes from the
job's own side effect, not from the store. One process is SIGKILLed while it runs the job:
the occurrences after it still run once each, and its run ends up ``abandoned`` once its
heartbeat expires. Real time, short: about 15 seconds per back end.
"""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from scheduler.records import RunStatus
from scheduler.store import SqlStore
from tests.store_support import POSTGRES_URL, require_postgres

REPO_ROOT = Path(__file__).resolve().parent.parent
PROCESSES = 4
RUN_SECONDS = 15


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A store nobody else uses: a SQLite file, or a PostgreSQL database made for the test."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    require_postgres()
    name = f"sched_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def manifest(folder: Path, ticks: Path) -> None:
    folder.mkdir()
    (folder / "tick.yaml").write_text(
        "job_id: tick\n"
        "func: tests.jobfuncs.tick_slowly\n"
        f"args: ['{ticks}', 0.6]\n"
        "cron_expression: '* * * * * *'\n"
        "max_instances: 2\n",  # a dead process's run counts until its heartbeat expires
        encoding="utf-8",
    )


def start(folder: Path, store_url: str, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO_ROOT),
        "SCHEDULER_ALLOWED_MODULES": "tests.jobfuncs",
        "SCHEDULER_STORE_URL": store_url,
        "SCHEDULER_HEARTBEAT_TTL": "2",
        "SCHEDULER_SHUTDOWN_GRACE": "2",
    }
    with log.open("wb") as output:
        return subprocess.Popen(
            [sys.executable, "-m", "scheduler", "run", "--manifests", str(folder)],
            stdout=output,
            stderr=subprocess.STDOUT,
            cwd=REPO_ROOT,
            env=env,
        )


def seconds_run(ticks: Path) -> collections.Counter[str]:
    """How many runs started in each second, by the job's own file."""
    if not ticks.exists():
        return collections.Counter()
    return collections.Counter(line.split()[0] for line in ticks.read_text().splitlines())


def pid_running_now(ticks: Path) -> int:
    """The process whose run started this second (so it is still running: 0.6 s each)."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        now = datetime.now().replace(microsecond=0).isoformat()
        lines = ticks.read_text().splitlines() if ticks.exists() else []
        mine = [line.split() for line in lines if line.startswith(now)]
        if mine and datetime.now().microsecond < 400_000:
            return int(mine[0][1])
        time.sleep(0.02)
    raise AssertionError("no run started in time")


@pytest.mark.timeout(90)
def test_four_processes_run_every_occurrence_once_and_survive_a_kill(
    tmp_path: Path, store_url: str
) -> None:
    folder, ticks = tmp_path / "manifests", tmp_path / "ticks.txt"
    manifest(folder, ticks)
    processes = [start(folder, store_url, tmp_path / f"log{i}.txt") for i in range(PROCESSES)]
    try:
        deadline = time.monotonic() + 20
        while len(seconds_run(ticks)) < 2:  # every process is up by now, or failing
            assert time.monotonic() < deadline, (tmp_path / "log0.txt").read_text()
            time.sleep(0.1)
        began = datetime.now(UTC)
        time.sleep(RUN_SECONDS / 2)
        victim = pid_running_now(ticks)
        killed_at = datetime.now().replace(microsecond=0)
        os.kill(victim, signal.SIGKILL)
        time.sleep(RUN_SECONDS / 2)
        ended = datetime.now(UTC)
    finally:
        stop_all(processes)
    counts = seconds_run(ticks)
    window = [
        (began + timedelta(seconds=offset)).astimezone().replace(tzinfo=None, microsecond=0)
        for offset in range(1, int((ended - began).total_seconds()) - 1)
    ]
    assert len(window) >= RUN_SECONDS - 2
    assert {second.isoformat(): counts[second.isoformat()] for second in window} == {
        second.isoformat(): 1 for second in window
    }, "every second must run exactly once, before and after the kill"
    assert killed_at.isoformat() in counts  # the killed process was running it then
    assert len({line.split()[1] for line in ticks.read_text().splitlines()}) > 1  # shared out

    with SqlStore(store_url) as store:
        runs = store.history("tick", limit=1000)
    victims = [run for run in runs if run.node.endswith(f":{victim}")]
    assert RunStatus.ABANDONED in {run.status for run in victims}, [
        (run.scheduled_for, run.status) for run in victims[:5]
    ]
    assert not [
        run
        for run in runs
        if run.status is RunStatus.RUNNING and run.node in {r.node for r in victims}
    ]


def stop_all(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()


def wait_for(predicate: Callable[[], bool], what: str, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def cli(store_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO_ROOT),
        "SCHEDULER_ALLOWED_MODULES": "tests.jobfuncs",
        "SCHEDULER_STORE_URL": store_url,
    }
    return subprocess.run(
        [sys.executable, "-m", "scheduler", *args],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env=env,
        timeout=30,
    )


def line_count(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.exists() else 0


@pytest.mark.timeout(90)
def test_pause_stops_every_process_within_2s_survives_restarts_and_resume_undoes_it(
    tmp_path: Path,
) -> None:
    store_url = f"sqlite:///{tmp_path / 'store.db'}"
    folder, ticks = tmp_path / "manifests", tmp_path / "ticks.txt"
    manifest(folder, ticks)
    processes = [start(folder, store_url, tmp_path / f"log{i}.txt") for i in range(2)]
    try:
        wait_for(lambda: line_count(ticks) >= 2, "the first runs")
        paused = cli(store_url, "pause", "tick", "--reason", "deploy", "--manifests", str(folder))
        assert paused.returncode == 0, paused.stderr
        time.sleep(2.0)  # every process has seen the pause by now
        held = line_count(ticks)
        time.sleep(2.5)
        assert line_count(ticks) == held, "a paused job ran"
        stop_all(processes)
        processes = [start(folder, store_url, tmp_path / f"again{i}.txt") for i in range(2)]
        time.sleep(4)
        assert line_count(ticks) == held, "the pause did not survive the restart"
        listed = cli(store_url, "list", "--format", "json", "--manifests", str(folder))
        assert '"paused": true' in listed.stdout, listed.stderr
        resumed = cli(store_url, "resume", "tick", "--manifests", str(folder))
        assert resumed.returncode == 0, resumed.stderr
        wait_for(lambda: line_count(ticks) > held, "runs after resume", timeout=4)
    finally:
        stop_all(processes)


@pytest.mark.timeout(90)
def test_a_catchup_job_runs_an_occurrence_missed_while_every_process_was_down_once(
    tmp_path: Path,
) -> None:
    store_url = f"sqlite:///{tmp_path / 'store.db'}"
    folder, ticks = tmp_path / "manifests", tmp_path / "ticks.txt"
    folder.mkdir()
    (folder / "tick.yaml").write_text(
        "job_id: tick\n"
        "func: tests.jobfuncs.tick_slowly\n"
        f"args: ['{ticks}', 0.1]\n"
        "cron_expression: '*/6 * * * * *'\n"
        "catchup: true\n",
        encoding="utf-8",
    )
    processes = [start(folder, store_url, tmp_path / f"log{i}.txt") for i in range(2)]
    try:
        wait_for(lambda: line_count(ticks) >= 1, "the first run")
    finally:
        stop_all(processes)
    before = line_count(ticks)
    time.sleep(7)  # at least one occurrence passes with no process up
    processes = [start(folder, store_url, tmp_path / f"again{i}.txt") for i in range(2)]
    try:
        wait_for(lambda: line_count(ticks) > before, "the catch-up run", timeout=15)
        time.sleep(1)
    finally:
        stop_all(processes)
    with SqlStore(store_url) as store:
        catchups = [run for run in store.history("tick") if run.kind.value == "catchup"]
    assert len(catchups) == 1 and catchups[0].status is RunStatus.SUCCESS
    started = {line.split()[0] for line in ticks.read_text().splitlines()}
    assert catchups[0].started_at is not None
    assert catchups[0].started_at.astimezone().replace(tzinfo=None, microsecond=0).isoformat() in (
        started
    )
