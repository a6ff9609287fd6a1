"""Helpers for the HTTP tests: a manifest folder of test jobs and a service serving it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx2

from scheduler.clock import Clock
from scheduler.http import create_app
from scheduler.records import RunStatus
from scheduler.runtime.service import SchedulerService
from scheduler.settings import Settings
from scheduler.store import MemoryStore

TOKEN = "s3cret-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


class FrozenClock:
    """A clock that says what the test set."""

    def __init__(self, now: datetime) -> None:
        self.current = now

    def now(self) -> datetime:
        return self.current


NOON = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def write_manifest(folder: Path, name: str, body: str) -> Path:
    """Write one manifest file, creating the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(body, encoding="utf-8")
    return path


def job_yaml(
    job_id: str, cron: str = "0 0 * * *", func: str = "tests.jobfuncs.noop", extra: str = ""
) -> str:
    """One job as YAML."""
    return f"job_id: {job_id}\nfunc: {func}\ncron_expression: '{cron}'\n{extra}"


def standard_folder(folder: Path) -> Path:
    """Four jobs: an enabled one, a disabled one, one that fails, one with H."""
    write_manifest(
        folder,
        "nightly.yaml",
        job_yaml("nightly", "0 3 * * *", extra="description: Nightly sweep\n"),
    )
    write_manifest(folder, "off.yaml", job_yaml("off_job", "@monthly", extra="enabled: false\n"))
    write_manifest(
        folder, "boom.yaml", job_yaml("boom_job", "0 4 * * *", func="tests.jobfuncs.boom")
    )
    write_manifest(folder, "spread.yaml", job_yaml("spread", "H 5 * * *"))
    return folder


def settings_for(folder: Path, *, token: str | None = TOKEN, **extra: object) -> Settings:
    """Settings that allow the test job functions."""
    return Settings(  # type: ignore[call-arg]
        SCHEDULER_MANIFESTS_DIR=folder,
        SCHEDULER_ALLOWED_MODULES="tests.jobfuncs",
        SCHEDULER_API_TOKEN=token,
        SCHEDULER_SHUTDOWN_GRACE=1,
        **extra,
    )


@asynccontextmanager
async def serving(
    folder: Path, *, token: str | None = TOKEN, clock: Clock | None = None, **settings: object
) -> AsyncIterator[tuple[httpx2.AsyncClient, SchedulerService]]:
    """A started service on ``folder`` (in-memory store) and a client of its app."""
    kwargs = {} if clock is None else {"clock": clock}
    service = SchedulerService(
        settings_for(folder, token=token, **settings), store=MemoryStore(), **kwargs
    )
    result = service.load()
    assert result.ok, result.problems
    app = create_app(service, **kwargs)
    async with service:
        transport = httpx2.ASGITransport(app=app)
        async with httpx2.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client, service


async def run_and_store(service: SchedulerService, job_id: str) -> str:
    """Trigger ``job_id``, wait until the store holds the finished run (records are written
    behind), and return its run id."""
    record = await service.trigger(job_id)

    async def stored() -> None:
        while True:
            runs = {run.run_id: run for run in await service.history(job_id, limit=500)}
            found = runs.get(record.run_id)
            if found is not None and found.status is not RunStatus.RUNNING:
                return
            await asyncio.sleep(0.01)

    await asyncio.wait_for(stored(), 5)
    return record.run_id
