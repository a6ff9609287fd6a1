"""README's FastAPI example under ``uvicorn --workers 2`` runs every occurrence once.

Each worker process starts its own scheduler (that is what a lifespan does); they share the
SQLite store, so each occurrence is claimed by one of them. The example app is taken from
README.md itself, so the test fails when the README's example stops being right.
"""

from __future__ import annotations

import collections
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
RUN_SECONDS = 8


def readme_fastapi_example() -> str:
    """The first Python block of README's FastAPI section."""
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("### From Python and FastAPI") :]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match is not None, "README's FastAPI section has no Python example"
    return match.group(1)


def live_schedulers(database: Path) -> int:
    """How many scheduler processes have heartbeated in the store."""
    if not database.exists():
        return 0
    try:
        with sqlite3.connect(database, timeout=1) as connection:
            return int(connection.execute("SELECT count(*) FROM nodes").fetchone()[0])
    except sqlite3.Error:  # not created yet
        return 0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.timeout(90)
def test_the_readme_example_under_two_uvicorn_workers_runs_each_occurrence_once(
    tmp_path: Path,
) -> None:
    pytest.importorskip("uvicorn")
    (tmp_path / "app.py").write_text(readme_fastapi_example(), encoding="utf-8")
    folder, ticks = tmp_path / "manifests", tmp_path / "ticks.txt"
    folder.mkdir()
    (folder / "tick.yaml").write_text(
        "job_id: tick\n"
        "func: tests.jobfuncs.tick_slowly\n"
        f"args: ['{ticks}', 0.1]\n"
        "cron_expression: '* * * * * *'\n",
        encoding="utf-8",
    )
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(tmp_path), str(REPO_ROOT)]),
        "SCHEDULER_ALLOWED_MODULES": "tests.jobfuncs",
        "SCHEDULER_MANIFESTS_DIR": str(folder),
        "SCHEDULER_STORE_URL": f"sqlite:///{tmp_path / 'store.db'}",
        "SCHEDULER_SHUTDOWN_GRACE": "2",
    }
    log = tmp_path / "uvicorn.log"
    command = [sys.executable, "-m", "uvicorn", "app:app", "--workers", "2"]
    command += ["--host", "127.0.0.1", "--port", str(free_port())]
    with log.open("wb") as output:
        server = subprocess.Popen(
            command, cwd=tmp_path, env=env, stdout=output, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 30
        while live_schedulers(tmp_path / "store.db") < 2:  # both workers heartbeat
            assert server.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        first = time.time()
        time.sleep(RUN_SECONDS)
        last = time.time()
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()
    runs = collections.Counter(line.split()[0] for line in ticks.read_text().splitlines())
    seconds = [
        time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(moment))
        for moment in range(int(first) + 1, int(last))
    ]
    assert len(seconds) >= RUN_SECONDS - 2
    assert {second: runs[second] for second in seconds} == dict.fromkeys(seconds, 1), (
        log.read_text()
    )
