"""The service inside a FastAPI app's lifespan, as the seed's audience uses it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient

from scheduler.errors import InvalidManifests
from scheduler.runtime.service import SchedulerService
from scheduler.settings import Settings

REPO = Path(__file__).resolve().parent.parent


def _app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        service = SchedulerService(settings)
        result = service.load([settings.manifests_dir])
        if not result.ok:
            raise InvalidManifests(list(result.problems))
        async with service:
            app.state.scheduler = service
            yield

    app = FastAPI(lifespan=lifespan)

    @app.post("/dynamic")
    async def add_dynamic(request: Request) -> dict[str, object]:
        scheduler: SchedulerService = request.app.state.scheduler
        scheduler.register_job("dynamic_job", _dynamic, "0 */6 * * *")
        return {"jobs": sorted(job.job_id for job in scheduler.get_jobs())}

    return app


def _dynamic() -> None:
    """A job registered in code, as the seed's example does."""


@pytest.mark.timeout(20)
def test_lifespan_starts_and_stops_the_scheduler() -> None:
    settings = Settings(SCHEDULER_MANIFESTS_DIR=REPO / "manifests")
    app = _app(settings)
    with TestClient(app) as client:
        service: SchedulerService = app.state.scheduler
        assert service.is_running
        jobs = client.post("/dynamic").json()["jobs"]
        assert "dynamic_job" in jobs and "nightly_cleanup" in jobs
        next_run = service.get_job("dynamic_job").next_run_at
        assert next_run is not None and next_run.hour % 6 == 0 and next_run.minute == 0
    assert not service.is_running


@pytest.mark.timeout(20)
def test_lifespan_with_background_jobs_disabled_starts_nothing() -> None:
    settings = Settings(BACKGROUND_JOBS_ENABLED=False, SCHEDULER_MANIFESTS_DIR=REPO / "manifests")
    app = _app(settings)
    with TestClient(app):
        assert not app.state.scheduler.is_running


@pytest.mark.timeout(20)
def test_lifespan_refuses_invalid_manifests(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("job_id: x\nfunc: os.system\ncron_expression: '@daily'\n")
    app = _app(Settings(SCHEDULER_MANIFESTS_DIR=tmp_path))
    with pytest.raises(InvalidManifests), TestClient(app):
        pass
