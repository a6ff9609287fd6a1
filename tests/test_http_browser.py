"""The dashboard in a real browser: headless Chromium from Debian's package, driven by
Playwright (no browser download). It serves the example manifests with ``scheduler run
--http``, sees the jobs and the timeline, pauses a job with the token and sees it paused.

The screenshot goes to the test's temporary folder; set ``DASHBOARD_SCREENSHOT``
to a path (README's is ``docs/dashboard.png``) to keep it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest

from tests.conftest import services_required
from tests.http_support import TOKEN

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def _need_browser() -> Any:
    """Playwright's sync API, or a skip (a failure under SCHEDULER_REQUIRE_SERVICES=1)."""
    missing = None
    if not CHROMIUM.exists():
        missing = f"{CHROMIUM} is missing: apt-get install -y chromium"
    try:
        from playwright import sync_api
    except ImportError:
        missing = "playwright is not installed: pip install -e '.[test]'"
    if missing is not None:
        if services_required():
            pytest.fail(missing)
        pytest.skip(missing)
    return sync_api


@pytest.fixture
def served_examples(tmp_path: Path) -> Iterator[str]:
    """``scheduler run --http`` on a copy of the example manifests; yields its base URL."""
    shutil.copytree(REPO / "manifests", tmp_path / "manifests")
    shutil.copytree(REPO / "jobs", tmp_path / "jobs")
    env = {key: value for key, value in os.environ.items() if not key.startswith("SCHEDULER_")}
    env |= {
        "SCHEDULER_STORE_URL": "memory://",
        "SCHEDULER_API_TOKEN": TOKEN,
        "SCHEDULER_SHUTDOWN_GRACE": "1",
        "PYTHONPATH": str(REPO),
    }
    command = [sys.executable, "-m", "scheduler", "run", "--http", "127.0.0.1:0"]
    process = subprocess.Popen(
        [*command, "--log-format", "json"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                raise AssertionError("scheduler run ended before serving")
            if "serving the API and dashboard" in line:
                match = re.search(r"http://[\d.]+:\d+", json.loads(line)["message"])
                assert match is not None
                yield match.group(0)
                break
        else:
            raise AssertionError("scheduler run did not serve within 20 s")
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        process.stdout.close()


def _some_history(base: str) -> None:
    """A few runs, so the outcome strips and the last-run column have something to show."""
    with httpx2.Client(base_url=base, timeout=10) as client:
        auth = {"Authorization": f"Bearer {TOKEN}"}
        for job_id in ("health_check", "weekday_cleanup_preview", "nightly_cleanup"):
            assert client.post(f"/api/jobs/{job_id}/trigger", headers=auth).status_code == 202
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            runs = client.get("/api/runs?kind=manual").json()["runs"]
            if len([run for run in runs if run["status"] != "running"]) >= 3:
                return
            time.sleep(0.05)
        raise AssertionError("the manual runs did not finish within 10 s")


@pytest.mark.timeout(60)
def test_dashboard_in_chromium_pauses_a_job_with_the_token(
    served_examples: str, tmp_path: Path
) -> None:
    sync_api = _need_browser()
    _some_history(served_examples)
    shot = Path(os.environ.get("DASHBOARD_SCREENSHOT") or tmp_path / "dashboard.png")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1360, "height": 900})
            page.set_default_timeout(10_000)
            page.goto(served_examples + "/")
            rows = page.locator("table.jobs tbody tr")
            ids = [text.strip() for text in page.locator("table.jobs .job-id").all_inner_texts()]
            assert ids == [
                "health_check",
                "monthly_deep_cleanup",
                "nightly_cleanup",
                "weekday_cleanup_preview",
            ]
            assert rows.count() == 4
            timeline = page.locator("svg.timeline")
            sync_api.expect(timeline).to_be_visible()
            assert timeline.locator("g.lane").count() == 3  # the enabled jobs
            nightly = page.locator("tr#job-nightly_cleanup")

            # a wrong token is refused and nothing changes
            page.fill("#token-input", "not-the-token")
            page.click("#token-form button[type=submit]")
            page.once("dialog", lambda dialog: dialog.accept("wrong"))
            nightly.get_by_role("button", name="Pause").click()
            sync_api.expect(page.locator("#toast")).to_contain_text("wrong token")
            sync_api.expect(nightly.locator(".badge.enabled")).to_be_visible()

            page.click("#token-forget")
            page.fill("#token-input", TOKEN)
            page.click("#token-form button[type=submit]")
            page.once("dialog", lambda dialog: dialog.accept("disk maintenance"))
            nightly.get_by_role("button", name="Pause").click()
            sync_api.expect(page.locator("#toast")).to_contain_text("Paused nightly_cleanup")
            paused = page.locator("tr#job-nightly_cleanup")
            sync_api.expect(paused.locator(".badge.paused")).to_be_visible()
            sync_api.expect(paused.locator(".pause-info")).to_contain_text("disk maintenance")
            sync_api.expect(paused.get_by_role("button", name="Resume")).to_be_visible()
            # the paused job has left the timeline
            sync_api.expect(page.locator("svg.timeline g.lane")).to_have_count(2)
            page.locator("#toast").evaluate("box => box.hidden = true")
            page.screenshot(path=str(shot), full_page=True)

            # the token is kept for the tab: Run now and Resume need no second entry
            weekday = page.locator("tr#job-weekday_cleanup_preview")
            weekday.get_by_role("button", name="Run now").click()
            sync_api.expect(page.locator("#toast")).to_contain_text(
                "Started a run of weekday_cleanup_preview (run "
            )
            paused.get_by_role("button", name="Resume").click()
            sync_api.expect(page.locator("#toast")).to_contain_text("Resumed nightly_cleanup")
            sync_api.expect(page.locator("tr#job-nightly_cleanup .badge.enabled")).to_be_visible()
            token = page.evaluate("window.sessionStorage.getItem('scheduler.apiToken')")
            assert token == TOKEN
        finally:
            browser.close()
    with httpx2.Client(base_url=served_examples, timeout=5) as client:
        job = client.get("/api/jobs/nightly_cleanup").json()
        deadline = time.monotonic() + 5
        runs: list[object] = []
        while len(runs) < 2 and time.monotonic() < deadline:  # records are written behind
            runs = client.get("/api/runs?job=weekday_cleanup_preview&kind=manual").json()["runs"]
            time.sleep(0.05)
    assert job["paused"] is False  # resumed from the page
    assert len(runs) == 2  # one from _some_history, one from the button
    assert shot.stat().st_size > 10_000


@pytest.mark.timeout(60)
def test_dashboard_reads_without_javascript(served_examples: str) -> None:
    sync_api = _need_browser()
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(java_script_enabled=False)
            page = context.new_page()
            page.goto(served_examples + "/")
            text = page.locator("main").inner_text()
            for expected in ("health_check", "Every 10 seconds", "At 03:00", "Europe/Berlin"):
                assert expected in text
            sync_api.expect(page.locator("svg.timeline")).to_be_visible()
        finally:
            browser.close()


def test_a_missing_chromium_skips_with_the_reason_or_fails_when_required(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import tests.test_http_browser as browser_test

    monkeypatch.setattr(browser_test, "CHROMIUM", Path("/nonexistent/chromium"))
    monkeypatch.delenv("SCHEDULER_REQUIRE_SERVICES", raising=False)
    with pytest.raises(pytest.skip.Exception, match="apt-get install -y chromium"):
        _need_browser()
    monkeypatch.setenv("SCHEDULER_REQUIRE_SERVICES", "1")
    with pytest.raises(pytest.fail.Exception, match="/nonexistent/chromium is missing"):
        _need_browser()
