"""serve(): refuse an invalid set, run until stopped, graceful stop, SIGHUP, hot reload, logs.

Most tests run ``serve`` in-process with a stop event; one runs it in a subprocess and sends
SIGTERM. Every wait is bounded.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from scheduler.loader import LoadResult
from scheduler.logs import configure_logging
from scheduler.records import RunKind, RunRecord, RunStatus
from scheduler.runtime.serve import EXIT_INVALID, EXIT_OK, serve
from scheduler.runtime.service import SchedulerService
from scheduler.settings import Settings, load_settings
from tests import jobfuncs
from tests.support import until

REPO_ROOT = Path(__file__).resolve().parent.parent

TICK = 'job_id: tick\nfunc: tests.jobfuncs.record\ncron_expression: "* * * * * *"\n'
SLOW = 'job_id: slow\nfunc: tests.jobfuncs.wait_async_gate\ncron_expression: "0 0 1 1 *"\n'


@pytest.fixture(autouse=True)
def _fresh_jobfuncs(reset_jobfuncs: None) -> None:
    """Every test here starts with fresh gates and records."""


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    manifests = tmp_path / "manifests"
    manifests.mkdir()
    (manifests / "tick.yaml").write_text(TICK)
    return manifests


def make_settings(**overrides: object) -> Settings:
    values: dict[str, object] = {
        "allowed_modules": ("tests.jobfuncs",),
        "shutdown_grace_seconds": 5.0,
        "reload_debounce_ms": 10,
    }
    values.update(overrides)
    return load_settings(**values)


def start_serving(
    settings: Settings,
    folder: Path,
    service: SchedulerService,
    stop: asyncio.Event,
    *,
    watch: bool = False,
) -> asyncio.Task[int]:
    """``serve()`` in a task, stopped by ``stop``; signals left alone for the test runner."""
    return asyncio.create_task(
        serve(
            settings,
            manifests_dir=folder,
            service=service,
            stop_event=stop,
            install_signal_handlers=False,
            watch=watch,
        )
    )


async def test_an_invalid_set_is_refused_and_its_problems_handed_over(folder: Path) -> None:
    (folder / "bad.yaml").write_text(TICK.replace("tick", "bad").replace('"* * * * * *"', "nope"))
    loaded: list[LoadResult] = []
    service = SchedulerService(make_settings())

    code = await asyncio.wait_for(
        serve(make_settings(), manifests_dir=folder, service=service, on_loaded=loaded.append), 5
    )

    assert code == EXIT_INVALID
    [result] = loaded
    assert [(p.job_id, p.field) for p in result.problems] == [("bad", "cron_expression")]
    assert not service.is_running and service.get_jobs() == []


async def test_serve_runs_jobs_until_the_stop_event(folder: Path) -> None:
    settings = make_settings()
    service = SchedulerService(settings)
    records: asyncio.Queue[RunRecord] = asyncio.Queue()
    service.add_run_listener(records.put_nowait)
    stop = asyncio.Event()
    serving = start_serving(settings, folder, service, stop)

    record = await asyncio.wait_for(records.get(), 5)
    assert (record.job_id, record.status) == ("tick", RunStatus.SUCCESS)
    assert service.is_running
    stop.set()

    assert await asyncio.wait_for(serving, 5) == EXIT_OK
    assert not service.is_running


async def test_stop_waits_for_a_running_job_within_the_grace(folder: Path) -> None:
    (folder / "slow.yaml").write_text(SLOW)
    settings = make_settings()
    service = SchedulerService(settings)
    stop = asyncio.Event()
    serving = start_serving(settings, folder, service, stop)
    await until(lambda: service.is_running)
    run = asyncio.create_task(service.trigger("slow"))
    await asyncio.wait_for(jobfuncs.ASYNC_STARTED.wait(), 5)

    stop.set()
    done, _ = await asyncio.wait({serving}, timeout=0.2)
    assert not done  # still waiting for "slow"
    jobfuncs.ASYNC_GATE.set()

    assert await asyncio.wait_for(serving, 5) == EXIT_OK
    assert (await run).status is RunStatus.SUCCESS


async def test_stop_cancels_coroutines_still_running_after_the_grace(folder: Path) -> None:
    (folder / "slow.yaml").write_text(SLOW)
    settings = make_settings(shutdown_grace_seconds=0.05)
    service = SchedulerService(settings)
    stop = asyncio.Event()
    serving = start_serving(settings, folder, service, stop)
    await until(lambda: service.is_running)
    run = asyncio.create_task(service.trigger("slow"))
    await asyncio.wait_for(jobfuncs.ASYNC_STARTED.wait(), 5)

    stop.set()

    assert await asyncio.wait_for(serving, 5) == EXIT_OK
    stopped = await asyncio.wait_for(run, 5)
    assert jobfuncs.CANCELLED == ["gated"]
    assert stopped is service.job_status("slow")
    last = service.job_status("slow")
    assert last is not None and (last.status, last.error, last.kind) == (
        RunStatus.CANCELLED,
        "cancelled: the scheduler shut down",
        RunKind.MANUAL,
    )


async def test_background_jobs_disabled_stays_up_without_firing(folder: Path) -> None:
    settings = make_settings(background_jobs_enabled=False)
    service = SchedulerService(settings)
    stop = asyncio.Event()
    serving = start_serving(settings, folder, service, stop)
    await until(lambda: service.last_reload is not None)
    done, _ = await asyncio.wait({serving}, timeout=0.1)
    assert not done and not service.is_running
    stop.set()
    assert await asyncio.wait_for(serving, 5) == EXIT_OK


async def test_sighup_reloads_and_sigterm_stops(
    folder: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings()
    service = SchedulerService(settings)
    serving = asyncio.create_task(
        serve(settings, manifests_dir=folder, service=service, watch=False)
    )
    try:
        await until(lambda: service.is_running)
        assert signal.getsignal(signal.SIGHUP) is not signal.SIG_DFL  # our handler, not death
        first = service.last_reload
        (folder / "slow.yaml").write_text(SLOW)

        os.kill(os.getpid(), signal.SIGHUP)
        await until(lambda: service.last_reload is not first)
        assert service.last_reload is not None and service.last_reload.added == ("slow",)
        second = service.last_reload
        with caplog.at_level(logging.INFO, logger="scheduler.runtime.service"):
            os.kill(os.getpid(), signal.SIGHUP)  # nothing changed: still said, at INFO
            await until(lambda: service.last_reload is not second)
        assert "manifests applied: no changes (2 job(s))" in caplog.messages

        assert signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL
        os.kill(os.getpid(), signal.SIGTERM)
        assert await asyncio.wait_for(serving, 5) == EXIT_OK
    finally:
        serving.cancel()
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # handlers removed again


async def test_a_manifest_change_is_hot_reloaded(folder: Path) -> None:
    settings = make_settings()
    service = SchedulerService(settings)
    stop = asyncio.Event()
    serving = start_serving(settings, folder, service, stop, watch=True)
    try:
        await until(lambda: service.is_running)
        (folder / "slow.yaml").write_text(SLOW)
        await until(lambda: "slow" in {view.job_id for view in service.get_jobs()})
    finally:
        stop.set()
    assert await asyncio.wait_for(serving, 5) == EXIT_OK


def test_sigterm_stops_a_serving_process_with_exit_0(folder: Path, tmp_path: Path) -> None:
    script = tmp_path / "serve_it.py"
    script.write_text(
        textwrap.dedent(f"""
        import asyncio, sys
        from pathlib import Path
        from scheduler.logs import configure_logging
        from scheduler.runtime.serve import serve
        from scheduler.runtime.service import SchedulerService
        from scheduler.settings import Settings, load_settings

        async def main() -> int:
            configure_logging("json")
            settings = load_settings(allowed_modules=("tests.jobfuncs",), shutdown_grace_seconds=2)
            service = SchedulerService(settings)
            service.add_run_listener(lambda record: print("run", record.job_id, flush=True))
            return await serve(settings, manifests_dir=Path({str(folder)!r}), service=service)

        sys.exit(asyncio.run(main()))
    """)
    )
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    process = subprocess.Popen(
        [sys.executable, str(script)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        env=env,
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline().split() == ["run", "tick"]  # up, handlers installed
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=10)
    finally:
        process.kill()
        process.wait(timeout=5)
    assert process.returncode == 0, stderr
    messages = [json.loads(line)["message"] for line in stderr.splitlines()]
    assert "received SIGTERM" in messages and messages[-1] == "scheduler stopped"


def test_json_log_lines_carry_the_run_fields() -> None:
    stream = io.StringIO()
    root = logging.getLogger()
    level = root.level
    handler = configure_logging("json", stream=stream)
    try:
        logging.getLogger("scheduler.runtime.service").info(
            "job %s done",
            "tick",
            extra={
                "job_id": "tick",
                "outcome": "success",
                "scheduled_for": "2027-01-01T00:00:00+00:00",
                "duration": 0.25,
            },
        )
        assert configure_logging("json", stream=stream) is not handler  # replaced, not added
        handler = root.handlers[-1]
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    entry = json.loads(stream.getvalue().splitlines()[0])
    assert {key: entry[key] for key in entry if key != "ts"} == {
        "level": "INFO",
        "logger": "scheduler.runtime.service",
        "message": "job tick done",
        "job_id": "tick",
        "scheduled_for": "2027-01-01T00:00:00+00:00",
        "duration": 0.25,
        "outcome": "success",
    }
    assert sum(getattr(h, "_scheduler_handler", False) for h in root.handlers) == 0


def test_watchfiles_own_change_lines_are_not_logged() -> None:
    stream = io.StringIO()
    configure_logging("text", stream=stream)
    logging.getLogger("watchfiles.main").info("3 changes detected")
    logging.getLogger("scheduler.runtime.service").info("manifests applied")
    assert "changes detected" not in stream.getvalue()
    assert "manifests applied" in stream.getvalue()


async def test_reload_debounce_setting_is_the_quiet_time_that_ends_a_burst(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from scheduler.runtime import serve as serve_module

    seen: dict[str, object] = {}

    async def capture(service: object, root: Path, **options: object) -> None:
        seen.update(options)

    monkeypatch.setattr(serve_module, "watch_manifests", capture)
    settings = make_settings(reload_debounce_ms=250)
    service = SchedulerService(settings)
    stop = asyncio.Event()
    serving = start_serving(settings, folder, service, stop, watch=True)
    await until(lambda: bool(seen))
    stop.set()
    assert await asyncio.wait_for(serving, 5) == EXIT_OK
    assert (seen["step_ms"], seen["debounce_ms"]) == (250, serve_module.MAX_BURST_MS)
