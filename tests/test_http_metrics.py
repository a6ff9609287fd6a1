"""``/metrics``: Prometheus names, a registry per app, counters fed by runs and reloads."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from scheduler.records import RunKind, RunRecord, RunStatus
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


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


async def test_a_scrape_counts_runs_by_job_and_status_with_durations(tmp_path: Path) -> None:
    async with serving(standard_folder(tmp_path)) as (client, service):
        await run_and_store(service, "nightly")
        await run_and_store(service, "nightly")
        await run_and_store(service, "boom_job")
        response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    samples = _samples(response.text)
    assert samples[("scheduler_runs_total", (("job_id", "nightly"), ("status", "success")))] == 2
    assert samples[("scheduler_runs_total", (("job_id", "boom_job"), ("status", "failed")))] == 1
    assert samples[("scheduler_run_duration_seconds_count", (("job_id", "nightly"),))] == 2
    # manual runs have no fire lag
    assert ("scheduler_fire_lag_seconds_count", (("job_id", "nightly"),)) not in samples
    last = samples[("scheduler_job_last_success_timestamp_seconds", (("job_id", "nightly"),))]
    assert last > 0
    assert ("scheduler_job_last_success_timestamp_seconds", (("job_id", "boom_job"),)) not in (
        samples
    )


async def test_fire_lag_is_observed_for_scheduled_runs_only(tmp_path: Path) -> None:
    async with serving(standard_folder(tmp_path)) as (client, _):
        metrics = client._transport.app.state.scheduler_http.metrics  # type: ignore[attr-defined]
        due = NOON
        for kind, late in ((RunKind.SCHEDULED, 0.2), (RunKind.MANUAL, 5.0)):
            started = due + timedelta(seconds=late)
            metrics.observe_run(
                RunRecord("nightly", due, RunStatus.SUCCESS, started, started, kind=kind)
            )
        samples = _samples((await client.get("/metrics")).text)
    assert samples[("scheduler_fire_lag_seconds_count", (("job_id", "nightly"),))] == 1
    assert samples[("scheduler_fire_lag_seconds_sum", (("job_id", "nightly"),))] == pytest.approx(
        0.2
    )
    bucket = ("scheduler_fire_lag_seconds_bucket", (("job_id", "nightly"), ("le", "0.25")))
    assert samples[bucket] == 1


async def test_state_gauges_are_read_at_scrape(tmp_path: Path) -> None:
    async with serving(standard_folder(tmp_path), clock=FrozenClock(NOON)) as (client, service):
        before = _samples((await client.get("/metrics")).text)
        await client.post("/api/jobs/nightly/pause", headers=AUTH)
        service._claims.lost = 3  # as if three occurrences had been won by another process
        after = _samples((await client.get("/metrics")).text)
    next_run = ("scheduler_job_next_run_timestamp_seconds", (("job_id", "nightly"),))
    assert before[next_run] == (NOON + timedelta(hours=15)).timestamp()
    assert next_run not in after  # paused: no next run
    assert ("scheduler_job_next_run_timestamp_seconds", (("job_id", "off_job"),)) not in before
    assert before[("scheduler_paused_jobs", ())] == 0
    assert after[("scheduler_paused_jobs", ())] == 1
    assert before[("scheduler_jobs", (("state", "enabled"),))] == 3
    assert before[("scheduler_jobs", (("state", "disabled"),))] == 1
    assert before[("scheduler_running_runs", ())] == 0
    assert before[("scheduler_claims_lost_total", ())] == 0
    assert after[("scheduler_claims_lost_total", ())] == 3
    assert after[("scheduler_store_unavailable_skips_total", ())] == 0
    assert after[("scheduler_store_up", ())] == 1
    assert after[("scheduler_store_errors_total", ())] == 0


async def test_store_failures_are_counted_and_the_store_is_down(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with serving(standard_folder(tmp_path)) as (client, service):

        async def unreachable() -> str:
            return "state store unavailable at sqlite:///x.db: database is locked"

        async def unavailable(*args: object, **kwargs: object) -> list[object]:
            raise StoreUnavailable("sqlite:///x.db", "database is locked")

        monkeypatch.setattr(service, "store_reachable", unreachable)
        monkeypatch.setattr(service, "history", unavailable)
        assert (await client.get("/api/runs")).status_code == 503
        assert (await client.get("/healthz")).status_code == 503
        samples = _samples((await client.get("/metrics")).text)
    # one failed read, and two failed pings (health, then this scrape)
    assert samples[("scheduler_store_errors_total", ())] == 3
    assert samples[("scheduler_store_up", ())] == 0


async def test_reloads_are_counted_by_result(tmp_path: Path) -> None:
    folder = standard_folder(tmp_path)
    async with serving(folder) as (client, service):
        await service.reload_async()
        write_manifest(folder, "bad.yaml", "job_id: [\n")
        await service.reload_async()
        samples = _samples((await client.get("/metrics")).text)
    assert samples[("scheduler_reloads_total", (("result", "applied"),))] == 2
    assert samples[("scheduler_reloads_total", (("result", "rejected"),))] == 1


async def test_each_app_has_its_own_registry(tmp_path: Path) -> None:
    async with (
        serving(standard_folder(tmp_path / "a")) as (first, service),
        serving(standard_folder(tmp_path / "b")) as (second, _),
    ):
        await run_and_store(service, "nightly")
        one = _samples((await first.get("/metrics")).text)
        two = _samples((await second.get("/metrics")).text)
    key = ("scheduler_runs_total", (("job_id", "nightly"), ("status", "success")))
    assert one[key] == 1 and key not in two
    assert not [name for name in REGISTRY._names_to_collectors if name.startswith("scheduler_")]
