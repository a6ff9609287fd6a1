"""The state store failing: at start (exit 1, masked URL) and while running (skip, resume).

While the store cannot answer, due occurrences are not run (nothing can claim them) and each
is logged once as skipped; nothing crashes, nothing runs twice, and claiming resumes by
itself when the store is back.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import pytest

from scheduler.records import RunRecord, RunStatus
from scheduler.runtime.service import SchedulerService
from scheduler.settings import load_settings
from scheduler.store import ClaimOutcome, ClaimRequest, MemoryStore, SqlStore, StoreUnavailable
from tests import jobfuncs

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _fresh_jobfuncs(reset_jobfuncs: None) -> None:
    """Every test here starts with fresh records."""


class FlakyStore(MemoryStore):
    """An in-memory store whose claims fail while ``down`` is set, as a lost server would."""

    def __init__(self) -> None:
        super().__init__()
        self.down = threading.Event()

    def claim(
        self, requests: Sequence[ClaimRequest], *, node: str, now: datetime
    ) -> list[ClaimOutcome]:
        if self.down.is_set():
            raise StoreUnavailable("memory://", "connection lost")
        return super().claim(requests, node=node, now=now)


async def test_occurrences_due_while_the_store_is_down_are_skipped_then_claiming_resumes(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = FlakyStore()
    records: asyncio.Queue[RunRecord] = asyncio.Queue()
    settings = load_settings(allowed_modules=("tests.jobfuncs",), shutdown_grace_seconds=1)
    service = SchedulerService(settings, store=store)
    service.add_run_listener(records.put_nowait)
    service.register_job("tick", jobfuncs.record, "* * * * * *")
    statuses: list[RunStatus] = []
    caplog.set_level(logging.INFO, logger="scheduler.runtime.fleet")
    async with service:
        first = await asyncio.wait_for(records.get(), 5)
        store.down.set()
        down = [await asyncio.wait_for(records.get(), 5) for _ in range(2)]
        store.down.clear()
        after = await asyncio.wait_for(records.get(), 5)
        statuses = [record.status for record in (first, *down, after)]
    assert statuses == [RunStatus.SUCCESS, RunStatus.SKIPPED, RunStatus.SKIPPED, RunStatus.SUCCESS]
    assert down[0].error == (
        "skipped: state store unavailable; it cannot be claimed, so it is not run"
    )
    assert len(jobfuncs.CALLS) == 2  # the skipped ones did not run
    assert service.unavailable_skips == 2
    messages = caplog.messages
    assert sum("state store unavailable: due runs are skipped" in m for m in messages) == 1
    assert sum("state store reachable again: claiming resumes" in m for m in messages) == 1


async def test_a_locked_sqlite_file_skips_and_then_resumes(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    settings = load_settings(
        allowed_modules=("tests.jobfuncs",),
        shutdown_grace_seconds=1,
        store_url=url,
        store_connect_timeout=0.3,
    )
    records: asyncio.Queue[RunRecord] = asyncio.Queue()
    service = SchedulerService(settings)
    service.add_run_listener(records.put_nowait)
    service.register_job("tick", jobfuncs.record, "* * * * * *")
    async with service:
        assert (await asyncio.wait_for(records.get(), 5)).status is RunStatus.SUCCESS
        locker = sqlite3.connect(tmp_path / "store.db", timeout=5, isolation_level=None)
        locker.execute("BEGIN EXCLUSIVE")
        try:
            skipped = await asyncio.wait_for(records.get(), 5)
        finally:
            locker.execute("ROLLBACK")
            locker.close()
        statuses = {skipped.status}
        while RunStatus.SUCCESS not in statuses:  # the next claims land again
            statuses.add((await asyncio.wait_for(records.get(), 5)).status)
    assert skipped.status is RunStatus.SKIPPED
    with SqlStore(url) as store:
        rows = store.history("tick", limit=100)
    assert len({row.scheduled_for for row in rows}) == len(rows)  # never a double claim


def run_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "scheduler", *args],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT), **env},
        timeout=30,
    )


def test_an_unreachable_store_at_start_exits_1_with_the_password_masked() -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"postgresql+psycopg://app:s3cret@127.0.0.1:{port}/jobs"
    result = run_cli({"SCHEDULER_STORE_URL": url}, "run")
    assert result.returncode == 1
    assert "s3cret" not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr
    assert f"error: state store unavailable at postgresql+psycopg://app:***@127.0.0.1:{port}/jobs"
    assert result.stderr.splitlines()[-1].startswith(
        f"error: state store unavailable at postgresql+psycopg://app:***@127.0.0.1:{port}/jobs: "
    )


def test_a_store_that_never_answers_is_given_up_within_the_connect_timeout() -> None:
    with socket.socket() as silent:  # accepts connections, never says a word
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        url = f"postgresql+psycopg://app:s3cret@127.0.0.1:{port}/jobs"
        began = time.monotonic()
        result = run_cli(
            {"SCHEDULER_STORE_URL": url, "SCHEDULER_STORE_CONNECT_TIMEOUT": "1"}, "run"
        )
        took = time.monotonic() - began
    assert result.returncode == 1, result.stderr
    assert took < 1 + 5  # the connect timeout, plus starting Python and loading
    assert "Traceback" not in result.stderr and "s3cret" not in result.stderr
    assert result.stderr.splitlines()[-1].startswith("error: state store unavailable at ")


async def test_manual_runs_back_to_back_both_run(tmp_path: Path) -> None:
    """The first run's end reaches the store before the second run's claim is counted."""
    settings = load_settings(
        allowed_modules=("tests.jobfuncs",), store_url=f"sqlite:///{tmp_path / 's.db'}"
    )
    service = SchedulerService(settings)
    service.register_job("once", jobfuncs.record, "0 0 1 1 *")
    async with service:
        records = [await service.trigger("once") for _ in range(5)]
    assert [record.status for record in records] == [RunStatus.SUCCESS] * 5
    assert len(jobfuncs.CALLS) == 5


async def test_a_closed_service_says_so_when_asked_for_its_store() -> None:
    service = SchedulerService(load_settings(allowed_modules=("tests.jobfuncs",)))
    async with service:
        assert await service.store_reachable() is None
    assert await service.store_reachable() == (
        "this SchedulerService was shut down; its store is closed"
    )
