"""The embedded scheduler: README's FastAPI example runs, hot-reloads and refuses bad sets."""

from __future__ import annotations

import importlib.util
import logging
import re
import time
from pathlib import Path
from types import ModuleType

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from scheduler.errors import InvalidManifests
from scheduler.http import scheduler_lifespan, scheduler_router
from scheduler.runtime.service import SchedulerService
from tests.http_support import AUTH, TOKEN, job_yaml, settings_for, standard_folder, write_manifest

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "docs" / "fastapi_app.py"


def _load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("fastapi_app_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _poll(check: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError(f"not true within {timeout}s")


def test_readme_shows_the_example_app_verbatim() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", readme, re.S)
    assert EXAMPLE.read_text(encoding="utf-8") in blocks


@pytest.mark.timeout(30)
def test_example_app_serves_the_scheduler_and_a_manifest_edit_takes_effect(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = standard_folder(tmp_path / "manifests")
    monkeypatch.setenv("SCHEDULER_MANIFESTS_DIR", str(folder))
    monkeypatch.setenv("SCHEDULER_ALLOWED_MODULES", "tests.jobfuncs")
    monkeypatch.setenv("SCHEDULER_API_TOKEN", TOKEN)
    monkeypatch.setenv("SCHEDULER_RELOAD_DEBOUNCE_MS", "10")
    monkeypatch.setenv("SCHEDULER_SHUTDOWN_GRACE", "1")
    app = _load_example().app
    with TestClient(app) as client:
        service: SchedulerService = app.state.scheduler
        assert service.is_running
        assert client.get("/").json()["dashboard"] == "/scheduler/"
        jobs = [job["job_id"] for job in client.get("/scheduler/api/jobs").json()]
        assert jobs == ["boom_job", "nightly", "off_job", "spread"]
        assert client.get("/scheduler/healthz").status_code == 200
        assert "scheduler_jobs" in client.get("/scheduler/metrics").text
        assert "nightly" in client.get("/scheduler/").text
        assert client.get("/scheduler/static/dashboard.css").status_code == 200
        triggered = client.post("/scheduler/api/jobs/nightly/trigger", headers=AUTH).json()
        assert triggered["runs_url"] == "/scheduler/api/runs?job=nightly&kind=manual"

        write_manifest(folder, "added.yaml", job_yaml("added_later", "*/5 * * * *"))
        _poll(lambda: "added_later" in client.get("/scheduler/api/jobs").text)
        reload = client.get("/scheduler/api/reload").json()
        assert reload["ok"] is True and reload["added"] == ["added_later"]
        added = client.get("/scheduler/api/jobs/added_later").json()
        assert added["enabled"] is True and added["next_run_at"] is not None

        write_manifest(folder, "added.yaml", job_yaml("added_later", "*/5 * * * *", extra="x: 1\n"))
        _poll(lambda: client.get("/scheduler/api/reload").json()["ok"] is False)
        assert client.get("/scheduler/healthz").status_code == 503
        assert "added_later" in client.get("/scheduler/api/jobs").text  # last good set runs
    assert not service.is_running


@pytest.mark.timeout(20)
def test_an_invalid_set_refuses_start_up_listing_and_logging_every_problem(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write_manifest(tmp_path, "bad.yaml", job_yaml("bad", "61 * * * *"))
    write_manifest(tmp_path, "worse.yaml", job_yaml("worse", func="os.system"))
    app = FastAPI(lifespan=scheduler_lifespan(settings_for(tmp_path)))
    caplog.set_level(logging.ERROR, logger="scheduler.http.lifespan")
    with pytest.raises(InvalidManifests) as refused, TestClient(app):
        pass
    message = str(refused.value)
    lines = message.splitlines()
    assert lines[0] == "2 problem(s) in the manifests:"
    assert lines[1].startswith(f"  {tmp_path / 'bad.yaml'}:3:")
    assert "error: [bad] cron_expression:" in lines[1]
    assert lines[2].startswith(f"  {tmp_path / 'worse.yaml'}:2:")
    assert "error: [worse] func:" in lines[2]
    logged = [record.getMessage() for record in caplog.records]
    assert logged == [f"manifest {line.strip()}" for line in lines[1:]]


@pytest.mark.timeout(20)
def test_the_router_mounts_under_any_prefix(tmp_path: Path) -> None:
    app = FastAPI(lifespan=scheduler_lifespan(settings_for(standard_folder(tmp_path))))
    app.include_router(scheduler_router(), prefix="/ops/cron")
    with TestClient(app) as client:
        page = client.get("/ops/cron/")
        assert page.status_code == 200 and 'href="static/dashboard.css"' in page.text
        assert client.get("/ops/cron/api/runs?limit=1").json()["next"] is None
        assert client.get("/ops/cron/healthz").json()["status"] == "ok"
        assert client.get("/api/jobs").status_code == 404


@pytest.mark.timeout(20)
def test_a_host_app_with_its_own_lifespan_can_still_mount_the_router(tmp_path: Path) -> None:
    from collections.abc import AsyncIterator
    from contextlib import asynccontextmanager

    settings = settings_for(standard_folder(tmp_path))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        service = SchedulerService(settings)
        assert service.load().ok
        async with service:
            app.state.scheduler = service
            yield

    app = FastAPI(lifespan=lifespan)
    app.include_router(scheduler_router())
    with TestClient(app) as client:
        assert len(client.get("/api/jobs").json()) == 4
        assert client.post("/api/jobs/nightly/pause", headers=AUTH).json()["paused"] is True


@pytest.mark.timeout(20)
@pytest.mark.parametrize("watch", [True, False], ids=["watching", "not-watching"])
def test_the_lifespan_watches_the_manifest_folder_unless_told_not_to(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, watch: bool
) -> None:
    import scheduler.http.lifespan as lifespan_module

    started: list[Path] = []
    real = lifespan_module.start_watch

    def recording(service: object, folder: Path, *args: object) -> object:
        started.append(folder)
        return real(service, folder, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(lifespan_module, "start_watch", recording)
    folder = standard_folder(tmp_path)
    app = FastAPI(lifespan=scheduler_lifespan(settings_for(folder), watch=watch))
    with TestClient(app):
        pass
    assert started == ([folder] if watch else [])


@pytest.mark.timeout(20)
def test_with_background_jobs_disabled_the_app_serves_but_nothing_runs(tmp_path: Path) -> None:
    settings = settings_for(standard_folder(tmp_path), BACKGROUND_JOBS_ENABLED=False)
    app = FastAPI(lifespan=scheduler_lifespan(settings))
    app.include_router(scheduler_router())
    with TestClient(app) as client:
        health = client.get("/healthz")
        assert len(client.get("/api/jobs").json()) == 4
    assert health.status_code == 503
    assert health.json()["reasons"] == ["the scheduler is not running"]
