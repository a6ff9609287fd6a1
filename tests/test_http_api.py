"""The JSON API in-process: every endpoint, its filters, pages, bounds and errors."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from scheduler.store import StoreUnavailable
from tests.http_support import (
    AUTH,
    NOON,
    FrozenClock,
    run_and_store,
    serving,
    standard_folder,
    write_manifest,
)

pytestmark = pytest.mark.timeout(20)


async def test_jobs_lists_every_job_with_enabled_and_paused_apart(tmp_path: Path) -> None:
    async with serving(standard_folder(tmp_path), clock=FrozenClock(NOON)) as (client, _):
        response = await client.get("/api/jobs")
    assert response.status_code == 200
    jobs = {job["job_id"]: job for job in response.json()}
    assert sorted(jobs) == ["boom_job", "nightly", "off_job", "spread"]
    nightly = jobs["nightly"]
    assert (nightly["enabled"], nightly["paused"], nightly["pause"]) == (True, False, None)
    assert nightly["next_run_at"] == "2026-12-02T03:00:00Z"
    assert nightly["schedule_text"] == "At 03:00"
    assert nightly["description"] == "Nightly sweep"
    assert nightly["file"].endswith("nightly.yaml") and nightly["line"] == 1
    off = jobs["off_job"]
    assert (off["enabled"], off["paused"], off["next_run_at"]) == (False, False, None)
    spread = jobs["spread"]
    assert spread["cron_expression"] == "H 5 * * *"
    assert spread["resolved_expression"] != "H 5 * * *"
    assert spread["resolved_expression"].endswith(" 5 * * *")


async def test_job_detail_carries_its_recent_runs_newest_first(tmp_path: Path) -> None:
    async with serving(standard_folder(tmp_path)) as (client, service):
        first = await run_and_store(service, "nightly")
        second = await run_and_store(service, "nightly")
        response = await client.get("/api/jobs/nightly")
    assert response.status_code == 200
    body = response.json()
    assert body["job_id"] == "nightly"
    runs = body["recent_runs"]
    assert [run["run_id"] for run in runs] == [second, first]
    assert {(run["kind"], run["status"]) for run in runs} == {("manual", "success")}
    assert runs[0]["duration_seconds"] is not None and runs[0]["node"]
    assert body["last_run"]["run_id"] == second


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/jobs/nope"),
        ("POST", "/api/jobs/nope/pause"),
        ("POST", "/api/jobs/nope/resume"),
        ("POST", "/api/jobs/nope/trigger"),
        ("GET", "/api/runs?job=nope"),
    ],
    ids=["get", "pause", "resume", "trigger", "runs-filter"],
)
async def test_unknown_job_ids_are_404_with_a_json_error(
    tmp_path: Path, method: str, path: str
) -> None:
    async with serving(standard_folder(tmp_path)) as (client, service):
        response = await client.request(method, path, headers=AUTH)
        pauses = service.store.pauses()
    assert response.status_code == 404
    assert response.json() == {
        "error": "not_found",
        "message": "no job 'nope' in the loaded manifests",
    }
    assert "nope" not in pauses


async def test_pause_holds_the_job_with_reason_and_who_and_resume_lifts_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="scheduler.http.api")
    async with serving(standard_folder(tmp_path), clock=FrozenClock(NOON)) as (client, service):
        paused = await client.post(
            "/api/jobs/nightly/pause", json={"reason": "disk full", "who": "ops"}, headers=AUTH
        )
        listed = {job["job_id"]: job for job in (await client.get("/api/jobs")).json()}
        stored = service.store.pauses()
        resumed = await client.post("/api/jobs/nightly/resume", headers=AUTH)
        stored_after = service.store.pauses()
    assert paused.status_code == 200
    body = paused.json()
    assert (body["paused"], body["enabled"], body["next_run_at"]) == (True, True, None)
    assert body["pause"]["reason"] == "disk full" and body["pause"]["who"] == "ops"
    assert listed["nightly"]["paused"] is True and listed["boom_job"]["paused"] is False
    assert stored["nightly"].reason == "disk full"
    assert resumed.status_code == 200
    assert resumed.json()["paused"] is False
    assert resumed.json()["next_run_at"] == "2026-12-02T03:00:00Z"
    assert "nightly" not in stored_after
    assert [record.getMessage() for record in caplog.records] == [
        "job nightly paused over HTTP by ops: disk full",
        "job nightly resumed over HTTP",
    ]


async def test_pause_without_a_body_names_the_client(tmp_path: Path) -> None:
    async with serving(standard_folder(tmp_path)) as (client, _):
        response = await client.post("/api/jobs/nightly/pause", headers=AUTH)
    assert response.status_code == 200
    pause = response.json()["pause"]
    assert pause["reason"] is None and pause["who"] == "api@127.0.0.1"


async def test_trigger_answers_202_with_the_run_id_before_the_run_ends(tmp_path: Path) -> None:
    async with serving(standard_folder(tmp_path)) as (client, service):
        response = await client.post("/api/jobs/boom_job/trigger", headers=AUTH)
        assert response.status_code == 202
        body = response.json()
        run_id = body["run_id"]

        async def recorded() -> None:
            while run_id not in [run.run_id for run in await service.history("boom_job")]:
                await asyncio.sleep(0.01)

        await asyncio.wait_for(recorded(), 5)
        runs = (await client.get(body["runs_url"])).json()["runs"]
    assert body["job_id"] == "boom_job" and len(run_id) == 32
    assert body["runs_url"] == "/api/runs?job=boom_job&kind=manual"
    assert [(run["run_id"], run["kind"], run["status"]) for run in runs] == [
        (run_id, "manual", "failed")
    ]


async def test_runs_are_paged_with_a_next_link_and_filtered(tmp_path: Path) -> None:
    async with serving(standard_folder(tmp_path)) as (client, service):
        made = [await run_and_store(service, "nightly") for _ in range(5)]
        failed = await run_and_store(service, "boom_job")
        seen: list[str] = []
        url: str | None = "/api/runs?job=nightly&limit=2"
        pages = 0
        while url is not None:
            page = (await client.get(url)).json()
            assert page["limit"] == 2
            seen.extend(run["run_id"] for run in page["runs"])
            url = page["next"]
            pages += 1
        by_status = (await client.get("/api/runs?status=failed")).json()["runs"]
        by_kind = (await client.get("/api/runs?kind=scheduled")).json()["runs"]
        everything = (await client.get("/api/runs")).json()
    assert seen == list(reversed(made))
    assert pages == 3
    assert [run["run_id"] for run in by_status] == [failed]
    assert by_status[0]["error"].startswith("ValueError: boom")
    assert by_kind == []
    assert len(everything["runs"]) == 6 and everything["next"] is None


@pytest.mark.parametrize(
    "query",
    ["limit=0", "limit=501", "offset=-1", "status=exploded", "kind=sometimes"],
)
async def test_runs_refuse_out_of_range_queries(tmp_path: Path, query: str) -> None:
    async with serving(standard_folder(tmp_path)) as (client, _):
        response = await client.get(f"/api/runs?{query}")
    assert response.status_code == 422


async def test_reload_shows_the_last_load_and_a_refused_one_with_located_problems(
    tmp_path: Path,
) -> None:
    folder = standard_folder(tmp_path)
    async with serving(folder) as (client, service):
        first = (await client.get("/api/reload")).json()
        write_manifest(
            folder,
            "bad.yaml",
            "job_id: bad\nfunc: tests.jobfuncs.noop\ncron_expression: '61 * * * *'\n",
        )
        await service.reload_async()
        refused = (await client.get("/api/reload")).json()
    assert first["ok"] is True
    assert first["added"] == ["boom_job", "nightly", "off_job", "spread"]
    assert first["problems"] == []
    assert refused["ok"] is False and refused["added"] == []
    texts = [problem["text"] for problem in refused["problems"]]
    assert len(texts) == 1
    assert texts[0].startswith(f"{folder / 'bad.yaml'}:3:")
    assert "error: [bad] cron_expression:" in texts[0]
    problem = refused["problems"][0]
    assert (problem["severity"], problem["job_id"], problem["field"], problem["line"]) == (
        "error",
        "bad",
        "cron_expression",
        3,
    )


async def test_timeline_lists_upcoming_runs_of_enabled_unpaused_jobs(tmp_path: Path) -> None:
    async with serving(standard_folder(tmp_path), clock=FrozenClock(NOON)) as (client, service):
        day = (await client.get("/api/timeline?hours=24")).json()
        await client.post("/api/jobs/boom_job/pause", headers=AUTH)
        paused = (await client.get("/api/timeline")).json()
        capped = (await client.get("/api/timeline?hours=24&limit=1")).json()
        spread_at = service.get_job("spread").next_run_at
    assert spread_at is not None
    assert day["start"] == "2026-12-01T12:00:00Z" and day["end"] == "2026-12-02T12:00:00Z"
    assert [(run["job_id"], run["at"]) for run in day["runs"]] == [
        ("nightly", "2026-12-02T03:00:00Z"),
        ("boom_job", "2026-12-02T04:00:00Z"),
        ("spread", spread_at.isoformat().replace("+00:00", "Z")),
    ]
    assert day["truncated"] is False
    assert len(day["hourly"]) == 24 and sum(hour["runs"] for hour in day["hourly"]) == 3
    assert [run["job_id"] for run in paused["runs"]] == ["nightly", "spread"]
    assert capped["truncated"] is True and len(capped["runs"]) == 1


@pytest.mark.parametrize("query", ["hours=0", "hours=-1", "hours=169", "limit=0"])
async def test_timeline_hours_are_bounded(tmp_path: Path, query: str) -> None:
    async with serving(standard_folder(tmp_path)) as (client, _):
        response = await client.get(f"/api/timeline?{query}")
    assert response.status_code == 422


async def test_healthz_is_ok_while_running_with_the_store_and_a_good_reload(
    tmp_path: Path,
) -> None:
    async with serving(standard_folder(tmp_path)) as (client, _):
        response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "running": True,
        "store_reachable": True,
        "last_reload_ok": True,
        "reasons": [],
    }


async def test_healthz_is_503_with_the_reasons(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = standard_folder(tmp_path)
    async with serving(folder) as (client, service):
        write_manifest(folder, "bad.yaml", "job_id: [\n")
        await service.reload_async()

        async def unreachable() -> str:
            return "connection refused (sqlite:///x.db)"

        monkeypatch.setattr(service, "store_reachable", unreachable)
        response = await client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert (body["status"], body["running"], body["store_reachable"], body["last_reload_ok"]) == (
        "unavailable",
        True,
        False,
        False,
    )
    assert body["reasons"] == [
        "the state store does not answer: connection refused (sqlite:///x.db)",
        "the last reload was refused (1 error(s)); the previous schedule still runs",
    ]


async def test_healthz_is_503_when_the_scheduler_does_not_run(tmp_path: Path) -> None:
    async with serving(standard_folder(tmp_path), BACKGROUND_JOBS_ENABLED=False) as (client, _):
        response = await client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["reasons"] == ["the scheduler is not running"]


async def test_openapi_document_is_typed_with_error_bodies(tmp_path: Path) -> None:
    async with serving(standard_folder(tmp_path)) as (client, _):
        document = (await client.get("/openapi.json")).json()
    schemas = document["components"]["schemas"]
    assert schemas["JobOut"]["properties"]["enabled"]["type"] == "boolean"
    assert schemas["JobOut"]["properties"]["paused"]["type"] == "boolean"
    assert set(schemas["ErrorBody"]["required"]) == {"error", "message"}
    pause = document["paths"]["/api/jobs/{job_id}/pause"]["post"]
    for code in ("401", "403", "404"):
        ref = pause["responses"][code]["content"]["application/json"]["schema"]["$ref"]
        assert ref == "#/components/schemas/ErrorBody"
    assert pause["security"] == [{"SchedulerApiToken": []}]
    trigger = document["paths"]["/api/jobs/{job_id}/trigger"]["post"]
    assert "202" in trigger["responses"]
    assert set(document["paths"]) >= {
        "/api/jobs",
        "/api/jobs/{job_id}",
        "/api/jobs/{job_id}/resume",
        "/api/runs",
        "/api/reload",
        "/api/timeline",
        "/healthz",
        "/metrics",
    }


async def test_a_store_that_does_not_answer_is_503_with_a_json_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with serving(standard_folder(tmp_path)) as (client, service):

        async def unavailable(*args: object, **kwargs: object) -> list[object]:
            raise StoreUnavailable("sqlite:///x.db", "database is locked")

        monkeypatch.setattr(service, "history", unavailable)
        runs = await client.get("/api/runs")
        job = await client.get("/api/jobs/nightly")
    assert runs.status_code == job.status_code == 503
    assert runs.json() == {
        "error": "store_unavailable",
        "message": "the state store did not answer: "
        "state store unavailable at sqlite:///x.db: database is locked",
    }
