"""Prometheus metrics of one scheduler, in a registry of its own.

Each app gets its own ``CollectorRegistry`` (never the process-wide default), so two apps in
one process, or a test suite building many, never collide on metric names. Counters and
histograms are fed by the service's run and reload listeners; what describes the current
state (next run, paused jobs, running runs, store counters) is read from the service when
Prometheus scrapes, so it is never stale.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from scheduler.records import JobView, ReloadStatus, RunKind, RunRecord, RunStatus
from scheduler.runtime.service import SchedulerService

__all__ = ["CONTENT_TYPE", "SchedulerMetrics"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_DURATION_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0)
_LAG_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class SchedulerMetrics:
    """The metrics of one service; ``render()`` is what ``GET /metrics`` answers."""

    def __init__(self, service: SchedulerService) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._service = service
        self._last_success: dict[str, datetime] = {}
        self._store_up = True
        self._runs = Counter(
            "scheduler_runs",
            "Job runs that ended, by job and outcome (skipped and missed occurrences too).",
            ("job_id", "status"),
            registry=self.registry,
        )
        self._duration = Histogram(
            "scheduler_run_duration_seconds",
            "Wall time of job runs, by job.",
            ("job_id",),
            buckets=_DURATION_BUCKETS,
            registry=self.registry,
        )
        self._lag = Histogram(
            "scheduler_fire_lag_seconds",
            "Delay from a scheduled occurrence's due time to its start, by job.",
            ("job_id",),
            buckets=_LAG_BUCKETS,
            registry=self.registry,
        )
        self._store_errors = Counter(
            "scheduler_store_errors",
            "State store calls that failed: health pings and API reads and writes.",
            registry=self.registry,
        )
        self._reloads = Counter(
            "scheduler_reloads",
            "Manifest loads and reloads, by result (applied or rejected).",
            ("result",),
            registry=self.registry,
        )
        self.registry.register(_StateCollector(self))
        service.add_run_listener(self.observe_run)
        service.add_reload_listener(self.observe_reload)
        if service.last_reload is not None:
            self.observe_reload(service.last_reload)

    def observe_run(self, record: RunRecord) -> None:
        """Count a finished run (a run listener)."""
        if record.status is RunStatus.RUNNING:
            return
        self._runs.labels(record.job_id, record.status.value).inc()
        if record.duration_seconds is not None:
            self._duration.labels(record.job_id).observe(record.duration_seconds)
        if record.kind is RunKind.SCHEDULED and record.started_at is not None:
            lag = (record.started_at - record.scheduled_for).total_seconds()
            self._lag.labels(record.job_id).observe(max(lag, 0.0))
        if record.status is RunStatus.SUCCESS and record.finished_at is not None:
            self._last_success[record.job_id] = record.finished_at

    def observe_store(self, problem: str | None) -> None:
        """Note the answer of a store ping (``None``: it answered)."""
        self._store_up = problem is None
        if problem is not None:
            self._store_errors.inc()

    def observe_store_error(self) -> None:
        """Count a store call of the API that failed."""
        self._store_errors.inc()

    def observe_reload(self, status: ReloadStatus) -> None:
        """Count a load or reload (a reload listener)."""
        self._reloads.labels("applied" if status.ok else "rejected").inc()

    def render(self) -> bytes:
        """The text exposition format of every metric, read now."""
        return generate_latest(self.registry)

    def state_metrics(self) -> Iterator[Metric]:
        """Gauges and counters read from the service at scrape time."""
        jobs = self._service.get_jobs()
        next_run = GaugeMetricFamily(
            "scheduler_job_next_run_timestamp_seconds",
            "When each scheduled job runs next (Unix time); absent when disabled or paused.",
            labels=("job_id",),
        )
        last_success = GaugeMetricFamily(
            "scheduler_job_last_success_timestamp_seconds",
            "When each job last finished successfully in this process (Unix time).",
            labels=("job_id",),
        )
        for job in jobs:
            if job.next_run_at is not None:
                next_run.add_metric((job.job_id,), job.next_run_at.timestamp())
            succeeded = self._last_success_of(job)
            if succeeded is not None:
                last_success.add_metric((job.job_id,), succeeded.timestamp())
        yield next_run
        yield last_success
        yield from self._job_counts(jobs)
        yield from self._store_metrics()

    def _last_success_of(self, job: JobView) -> datetime | None:
        """The later of the last success a run listener saw and the job's last run."""
        last = job.last_run
        if last is not None and last.status is RunStatus.SUCCESS and last.finished_at:
            known = self._last_success.get(job.job_id)
            if known is None or last.finished_at > known:
                self._last_success[job.job_id] = last.finished_at
        return self._last_success.get(job.job_id)

    def _job_counts(self, jobs: list[JobView]) -> Iterator[Metric]:
        by_state = GaugeMetricFamily(
            "scheduler_jobs", "Jobs of the loaded manifests, by state.", labels=("state",)
        )
        enabled = sum(1 for job in jobs if job.enabled)
        by_state.add_metric(("enabled",), enabled)
        by_state.add_metric(("disabled",), len(jobs) - enabled)
        yield by_state
        yield GaugeMetricFamily(
            "scheduler_paused_jobs",
            "Jobs paused at run time.",
            value=sum(1 for job in jobs if job.paused),
        )
        yield GaugeMetricFamily(
            "scheduler_running_runs",
            "Job runs going on in this process now.",
            value=sum(job.running for job in jobs),
        )

    def _store_metrics(self) -> Iterator[Metric]:
        yield CounterMetricFamily(
            "scheduler_claims_lost",
            "Occurrences another scheduler process claimed first.",
            value=self._service.claims_lost,
        )
        yield CounterMetricFamily(
            "scheduler_store_unavailable_skips",
            "Occurrences skipped because the state store could not be reached.",
            value=self._service.unavailable_skips,
        )
        yield GaugeMetricFamily(
            "scheduler_store_up",
            "1 when the state store answered at this scrape, else 0.",
            value=1.0 if self._store_up else 0.0,
        )


class _StateCollector(Collector):
    """Hands the registry what ``SchedulerMetrics`` reads from the service at scrape."""

    def __init__(self, metrics: SchedulerMetrics) -> None:
        self._metrics = metrics

    def collect(self) -> Iterator[Metric]:
        """Read the service now."""
        return self._metrics.state_metrics()

    def describe(self) -> list[Metric]:
        """Nothing up front: the metrics are read at scrape (no duplicate-name check)."""
        return []
