"""The example jobs do real, checkable work."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from jobs.cleanup import cleanup_job
from jobs.health_check import UnhealthyError, health_check

NOW = 1_800_000_000.0
DAY = 86_400


def _touch(path: Path, age_days: float) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("x")
    moment = NOW - age_days * DAY
    os.utime(path, (moment, moment))
    return path


def test_cleanup_deletes_only_files_older_than_the_cutoff(tmp_path: Path) -> None:
    old = _touch(tmp_path / "old.log", 40)
    nested_old = _touch(tmp_path / "sub" / "older.log", 31)
    fresh = _touch(tmp_path / "fresh.log", 2)

    result = cleanup_job(30, directory=str(tmp_path), now=NOW)

    assert result.deleted == (str(old), str(nested_old))
    assert result.kept == 1
    assert not old.exists() and not nested_old.exists() and fresh.exists()


def test_cleanup_dry_run_deletes_nothing(tmp_path: Path) -> None:
    old = _touch(tmp_path / "old.log", 40)

    result = cleanup_job(30, directory=str(tmp_path), dry_run=True, now=NOW)

    assert result.deleted == (str(old),)
    assert result.dry_run is True
    assert old.exists()


def test_cleanup_respects_the_pattern(tmp_path: Path) -> None:
    log = _touch(tmp_path / "a.log", 40)
    keep = _touch(tmp_path / "a.db", 40)

    result = cleanup_job(30, directory=str(tmp_path), pattern="*.log", now=NOW)

    assert result.deleted == (str(log),)
    assert keep.exists()


def test_cleanup_of_a_missing_folder_is_a_no_op(tmp_path: Path) -> None:
    result = cleanup_job(30, directory=str(tmp_path / "absent"), now=NOW)

    assert result.deleted == () and result.kept == 0


@pytest.mark.timeout(10)
def test_health_check_reports_reachable_targets(tmp_path: Path) -> None:
    async def scenario() -> tuple[str, ...]:
        server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        async with server:
            report = await health_check([f"127.0.0.1:{port}"], disk_path=str(tmp_path))
        assert report.healthy
        return report.reachable

    assert len(asyncio.run(scenario())) == 1


@pytest.mark.timeout(10)
def test_health_check_raises_on_an_unreachable_target(tmp_path: Path) -> None:
    async def scenario() -> None:
        server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        server.close()
        await server.wait_closed()
        await health_check([f"127.0.0.1:{port}"], disk_path=str(tmp_path), connect_timeout=1)

    with pytest.raises(UnhealthyError, match="unreachable"):
        asyncio.run(scenario())


@pytest.mark.timeout(10)
def test_health_check_raises_when_disk_is_too_full(tmp_path: Path) -> None:
    with pytest.raises(UnhealthyError, match=r"free, below 100\.1%"):
        asyncio.run(health_check(disk_path=str(tmp_path), min_free_percent=100.1))


def test_example_health_check_manifest_succeeds_on_a_machine_without_services(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The job ``scheduler run`` starts first names no service that may not be there."""
    import jobs.health_check
    from scheduler.cli import main

    async def nothing_listens(target: str, timeout: float) -> bool:
        return False

    monkeypatch.setattr(jobs.health_check, "is_reachable", nothing_listens)
    monkeypatch.chdir(Path(__file__).resolve().parent.parent)
    assert main(["trigger", "health_check"]) == 0
    assert capsys.readouterr().out.startswith("health_check: success in ")
