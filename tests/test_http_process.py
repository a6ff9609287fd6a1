"""``scheduler run --http``: a real process answering /healthz, and the bind rules."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx2
import pytest

from scheduler.cli import main
from scheduler.http.bind import Bind, InvalidBind, is_loopback, parse_bind
from tests.http_support import TOKEN, job_yaml, write_manifest
from tests.support import line_with

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("value", "bind"),
    [
        (":8080", Bind("127.0.0.1", 8080)),
        ("127.0.0.1:9000", Bind("127.0.0.1", 9000)),
        ("localhost:80", Bind("localhost", 80)),
        ("[::1]:8080", Bind("::1", 8080)),
        ("0.0.0.0:0", Bind("0.0.0.0", 0)),
    ],
    ids=["port-only", "ipv4", "name", "ipv6", "any"],
)
def test_binds_parse(value: str, bind: Bind) -> None:
    assert parse_bind(value) == bind


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("8080", "expected HOST:PORT, e.g. 127.0.0.1:8080 or :8080"),
        ("host:http", "port 'http' is not a number from 0 to 65535"),
        (":65536", "port '65536' is not a number from 0 to 65535"),
        ("::1:8080", "write an IPv6 address in brackets, e.g. [::1]:8080"),
    ],
    ids=["no-colon", "named-port", "port-range", "bare-ipv6"],
)
def test_bad_binds_say_what_is_expected(value: str, reason: str) -> None:
    with pytest.raises(InvalidBind) as refused:
        parse_bind(value)
    assert str(refused.value) == f"--http {value!r}: {reason}"


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.1.2.3", True),
        ("::1", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("10.0.0.5", False),
        ("example.org", False),
    ],
)
def test_loopback_hosts(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


@pytest.mark.parametrize("value", ["8080", ":http", "[::1:80"])
def test_run_with_a_malformed_bind_is_a_usage_error(
    value: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "--manifests", str(tmp_path), "--http", value]) == 2
    error = capsys.readouterr().err
    assert error.startswith(f"scheduler run: error: --http {value!r}: ")


@pytest.mark.parametrize("host", ["0.0.0.0", "[::]", "example.org"])
def test_run_refuses_a_non_loopback_bind_without_a_token(
    host: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "--manifests", str(tmp_path), "--http", f"{host}:8080"]) == 2
    error = capsys.readouterr().err.strip()
    bare = host.strip("[]")
    assert error == (
        f"scheduler run: error: --http '{host}:8080': {bare} is reachable from other machines; "
        "set SCHEDULER_API_TOKEN before serving the API there (or bind 127.0.0.1)"
    )


def test_run_says_when_the_port_is_taken(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        assert main(["run", "--manifests", str(tmp_path), "--http", f":{port}"]) == 2
    error = capsys.readouterr().err
    assert f"--http '127.0.0.1:{port}': cannot listen there: Address already in use" in error


@pytest.mark.timeout(40)
def test_run_with_http_serves_health_and_the_api_and_stops_on_sigterm(tmp_path: Path) -> None:
    folder = tmp_path / "manifests"
    write_manifest(folder, "tick.yaml", job_yaml("tick", "* * * * * *"))
    env = {key: value for key, value in os.environ.items() if not key.startswith("SCHEDULER_")}
    env |= {
        "SCHEDULER_ALLOWED_MODULES": "tests.jobfuncs",
        "SCHEDULER_STORE_URL": "memory://",
        "SCHEDULER_API_TOKEN": TOKEN,
        "SCHEDULER_SHUTDOWN_GRACE": "2",
        "PYTHONPATH": str(REPO),
    }
    command = [sys.executable, "-m", "scheduler", "run", "--manifests", str(folder)]
    command += ["--http", "127.0.0.1:0", "--log-format", "json"]
    process = subprocess.Popen(
        command, cwd=tmp_path, env=env, stderr=subprocess.STDOUT, stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    seen: list[str] = []
    try:
        deadline = time.monotonic() + 20
        line = line_with(process.stdout, "serving the API and dashboard", deadline, seen)
        match = re.search(r"http://127\.0\.0\.1:(\d+)/", json.loads(line)["message"])
        assert match is not None
        base = f"http://127.0.0.1:{match.group(1)}"
        line_with(process.stdout, '"outcome": "success"', deadline, seen)
        with httpx2.Client(base_url=base, timeout=5) as client:
            health = client.get("/healthz")
            assert health.status_code == 200, health.text
            assert health.json()["status"] == "ok"
            assert [job["job_id"] for job in client.get("/api/jobs").json()] == ["tick"]
            paused = client.post(
                "/api/jobs/tick/pause", headers={"Authorization": f"Bearer {TOKEN}"}
            )
            assert paused.status_code == 200 and paused.json()["paused"] is True
            runs = client.get("/api/runs?job=tick&status=success").json()["runs"]
            assert runs and runs[0]["kind"] == "scheduled"
            assert (
                'scheduler_runs_total{job_id="tick",status="success"}'
                in client.get("/metrics").text
            )
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
        rest = process.stdout.read()
        assert "scheduler stopped" in rest, "".join(seen) + rest
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=5)
        process.stdout.close()


@pytest.mark.timeout(20)
def test_uvicorn_runs_on_the_scheduler_loop_and_leaves_signals_alone(tmp_path: Path) -> None:
    import asyncio

    from scheduler.http.bind import open_listener
    from scheduler.http.server import http_companion
    from scheduler.runtime.serve import serve
    from scheduler.runtime.service import SchedulerService
    from tests.http_support import settings_for

    write_manifest(tmp_path, "tick.yaml", job_yaml("tick"))
    settings = settings_for(tmp_path)
    service = SchedulerService(settings)
    listener = open_listener(Bind("127.0.0.1", 0))
    port = listener.getsockname()[1]
    before = signal.getsignal(signal.SIGTERM)
    seen: dict[str, object] = {}

    async def probe(stop: asyncio.Event) -> None:
        async with httpx2.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
            for _ in range(100):
                try:
                    seen["health"] = (await client.get("/healthz")).json()["status"]
                    break
                except httpx2.TransportError:
                    await asyncio.sleep(0.02)
        seen["handler"] = signal.getsignal(signal.SIGTERM)
        seen["same_loop"] = service.bound_loop is asyncio.get_running_loop()
        stop.set()

    async def both() -> int:
        stop = asyncio.Event()
        server = http_companion(service, listener)

        async def companion(event: asyncio.Event) -> None:
            await asyncio.gather(server(event), probe(event))

        return await serve(
            settings,
            service=service,
            stop_event=stop,
            install_signal_handlers=False,
            watch=False,
            companion=companion,
        )

    assert asyncio.run(both()) == 0
    assert seen == {"health": "ok", "handler": before, "same_loop": True}
    assert listener.fileno() == -1  # closed when the server stopped


@pytest.mark.timeout(20)
def test_a_companion_that_fails_stops_the_scheduler_with_exit_1(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import asyncio

    from scheduler.runtime.serve import serve
    from tests.http_support import settings_for

    write_manifest(tmp_path, "tick.yaml", job_yaml("tick"))

    async def broken(stop: asyncio.Event) -> None:
        raise RuntimeError("cannot serve")

    code = asyncio.run(
        serve(
            settings_for(tmp_path),
            install_signal_handlers=False,
            watch=False,
            companion=broken,
        )
    )
    assert code == 1
    assert "the companion server failed" in caplog.text and "cannot serve" in caplog.text
