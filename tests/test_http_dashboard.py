"""The dashboard's HTML (escaped, readable without JavaScript) and the timeline picture."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from scheduler.http.dashboard import describe_delta
from scheduler.http.timeline_svg import timeline_svg
from scheduler.review.timeline import Run, ScheduledJob, Timeline, build_timeline
from tests.http_support import (
    AUTH,
    NOON,
    FrozenClock,
    job_yaml,
    run_and_store,
    serving,
    standard_folder,
    write_manifest,
)

pytestmark = pytest.mark.timeout(20)


def _row(html: str, job_id: str) -> str:
    match = re.search(rf'<tr id="job-{re.escape(job_id)}".*?</tr>', html, re.S)
    assert match is not None, f"no row for {job_id}"
    return match.group(0)


async def test_dashboard_shows_jobs_with_state_schedule_zone_and_next_run(tmp_path: Path) -> None:
    async with serving(standard_folder(tmp_path), clock=FrozenClock(NOON)) as (client, _):
        response = await client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    nightly = _row(html, "nightly")
    assert '<span class="badge enabled">enabled</span>' in nightly
    assert "<code>0 3 * * *</code>" in nightly and "At 03:00" in nightly
    assert "UTC" in nightly and "Nightly sweep" in nightly
    assert "in 15 h 0 min" in nightly
    assert "Wed 02 Dec 03:00:00 UTC" in nightly
    assert "never ran" in nightly
    assert '<span class="badge disabled">disabled</span>' in _row(html, "off_job")
    spread = _row(html, "spread")
    assert "<code>H 5 * * *</code>" in spread and "→ <code>" in spread
    assert '<noscript><meta http-equiv="refresh" content="10"></noscript>' in html
    assert 'class="timeline"' in html and "<svg" in html


async def test_pause_reason_and_who_are_shown_and_the_button_becomes_resume(
    tmp_path: Path,
) -> None:
    async with serving(standard_folder(tmp_path)) as (client, _):
        await client.post(
            "/api/jobs/nightly/pause", json={"reason": "disk full", "who": "ops"}, headers=AUTH
        )
        html = (await client.get("/")).text
    row = _row(html, "nightly")
    assert '<span class="badge paused">paused</span>' in row
    assert "by ops" in row and "<q>disk full</q>" in row
    assert 'action="api/jobs/nightly/resume"' in row
    assert 'action="api/jobs/nightly/pause"' not in row


async def test_last_outcomes_strip_recent_failures_and_last_reload(tmp_path: Path) -> None:
    folder = standard_folder(tmp_path)
    async with serving(folder) as (client, service):
        for _ in range(3):
            await run_and_store(service, "nightly")
        await run_and_store(service, "boom_job")
        write_manifest(folder, "bad.yaml", "job_id: bad\nfunc: tests.jobfuncs.noop\n")
        await service.reload_async()
        html = (await client.get("/")).text
    strip = _row(html, "nightly").split('class="strip"')[1]
    assert strip.count('class="cell success"') == 3
    assert strip.count('class="cell empty"') == 17
    assert '<span class="badge success">success</span>' in _row(html, "nightly")
    failures = html.split('id="failures"')[1].split("</section>")[0]
    assert "<strong>boom_job</strong>" in failures
    assert '<pre class="error">ValueError: boom</pre>' in failures
    reload = html.split('id="reload"')[1].split("</section>")[0]
    assert '<span class="badge failed">refused</span>' in reload
    assert f"<code>{folder / 'bad.yaml'}:1:1: error: [bad] cron_expression:" in reload


async def test_everything_from_manifests_and_errors_is_escaped(tmp_path: Path) -> None:
    write_manifest(
        tmp_path,
        "evil.yaml",
        job_yaml(
            "evil",
            "0 1 * * *",
            func="tests.jobfuncs.boom",
            extra='description: "<script>alert(1)</script>"\n'
            "kwargs: {message: '<img src=x onerror=alert(2)>'}\n",
        ),
    )
    async with serving(tmp_path) as (client, service):
        await run_and_store(service, "evil")
        html = (await client.get("/")).text
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<img src=x" not in html
    assert "&lt;img src=x onerror=alert(2)&gt;" in html


async def test_static_files_are_served_as_package_data(tmp_path: Path) -> None:
    async with serving(standard_folder(tmp_path)) as (client, _):
        css = await client.get("/static/dashboard.css")
        script = await client.get("/static/dashboard.js")
        missing = await client.get("/static/secrets.txt")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert "svg.timeline" in css.text
    assert script.status_code == 200 and "sessionStorage" in script.text
    assert "Authorization" in script.text and "Bearer " in script.text
    assert missing.status_code == 404


@pytest.mark.parametrize(
    ("offset", "text"),
    [
        (timedelta(seconds=5), "in 5 s"),
        (timedelta(minutes=3, seconds=10), "in 3 min"),
        (timedelta(hours=15), "in 15 h 0 min"),
        (timedelta(days=2, hours=3), "in 2 d 3 h"),
        (-timedelta(minutes=5), "5 min ago"),
    ],
    ids=["seconds", "minutes", "hours", "days", "past"],
)
def test_relative_times_read_naturally(offset: timedelta, text: str) -> None:
    assert describe_delta(NOON + offset, NOON) == text


def _herd_timeline(herd: int) -> Timeline:
    jobs = [ScheduledJob(f"nightly_{index:02d}", "0 0 * * *", "UTC") for index in range(herd)]
    jobs.append(ScheduledJob("hourly", "30 * * * *", "UTC"))
    return build_timeline(jobs, start=NOON, hours=24)


def test_a_herd_at_midnight_is_a_tall_red_labelled_bar() -> None:
    svg = timeline_svg(_herd_timeline(30), herd_limit=20)
    herds = re.findall(r'<rect class="bar herd"[^>]*height="([\d.]+)"', svg)
    calm = re.findall(r'<rect class="bar calm"[^>]*height="([\d.]+)"', svg)
    assert len(herds) == 1 and len(calm) == 24
    assert float(herds[0]) == 84.0 and all(float(height) < 5 for height in calm)
    assert '<text class="herd-label"' in svg and ">00:00 · 30</text>" in svg
    assert "00:00: 30 job(s) start in one minute: nightly_00, nightly_01" in svg


def test_a_crowd_below_the_limit_is_amber() -> None:
    svg = timeline_svg(_herd_timeline(5), herd_limit=20)
    assert svg.count('class="bar crowd"') == 1 and 'class="bar herd"' not in svg


def test_each_job_gets_a_lane_of_ticks_merged_per_pixel() -> None:
    every_second = build_timeline(
        [ScheduledJob("busy", "* * * * * *", "UTC"), ScheduledJob("daily", "0 3 * * *", "UTC")],
        start=NOON,
        hours=24,
    )
    svg = timeline_svg(every_second)
    lanes = svg.split('<g class="lane">')[1:]
    assert len(lanes) == 2
    assert ">busy</text>" in lanes[0] and ">daily</text>" in lanes[1]
    busy_ticks = lanes[0].count('class="tick-mark"')
    assert 700 < busy_ticks <= 775  # 86,400 runs drawn as one tick per pixel column
    assert lanes[1].count('class="tick-mark"') == 1
    assert "86400 run(s)" in lanes[0]


def test_job_ids_in_the_picture_are_escaped() -> None:
    window = Timeline(
        NOON, NOON + timedelta(hours=24), (Run('a"<b>', NOON + timedelta(hours=1)),), False
    )
    svg = timeline_svg(window)
    assert 'a"<b>' not in svg and "a&quot;&lt;b&gt;" in svg


def test_hour_labels_are_in_the_zone_asked_for() -> None:
    window = Timeline(NOON, NOON + timedelta(hours=24), (), False)
    utc = timeline_svg(window)
    berlin = timeline_svg(window, zone=ZoneInfo("Europe/Berlin"))
    assert "now 12:00" in utc and ">15:00</text>" in utc
    assert "now 13:00" in berlin and ">15:00</text>" in berlin
    assert "no runs in this window" in berlin


async def test_the_page_still_renders_while_the_store_is_down(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with serving(standard_folder(tmp_path)) as (client, service):

        async def unreachable() -> str:
            return "state store unavailable at sqlite:///x.db: database is locked"

        async def no_history(*args: object, **kwargs: object) -> list[object]:
            raise AssertionError("the dashboard asked a store that does not answer")

        monkeypatch.setattr(service, "store_reachable", unreachable)
        monkeypatch.setattr(service, "history", no_history)
        response = await client.get("/")
    assert response.status_code == 200
    banner = response.text.split('<section class="banner bad">')[1].split("</section>")[0]
    assert "the state store does not answer: state store unavailable at sqlite:///x.db" in banner
    assert '<span class="pill bad">store unreachable</span>' in response.text
    assert "nightly" in _row(response.text, "nightly")


async def test_a_long_job_list_is_cut_with_a_note(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from scheduler.http import dashboard

    monkeypatch.setattr(dashboard, "MAX_JOB_ROWS", 2)
    async with serving(standard_folder(tmp_path)) as (client, _):
        html = (await client.get("/")).text
    assert html.count('<tr id="job-') == 2
    assert '<span class="count">2 of 4 (the API lists all)</span>' in html


async def test_the_picture_is_drawn_once_a_minute_unless_the_jobs_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from scheduler.http import dashboard

    walks: list[object] = []
    real = dashboard.build_timeline

    def counting(*args: object, **kwargs: object) -> Timeline:
        walks.append(kwargs["start"])
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(dashboard, "build_timeline", counting)
    clock = FrozenClock(NOON + timedelta(seconds=5))
    async with serving(standard_folder(tmp_path), clock=clock) as (client, _):
        await client.get("/")
        clock.current = NOON + timedelta(seconds=50)
        await client.get("/")
        assert walks == [NOON]
        clock.current = NOON + timedelta(minutes=1, seconds=1)
        await client.get("/")
        await client.post("/api/jobs/nightly/pause", headers=AUTH)
        html = (await client.get("/")).text
    minute = NOON + timedelta(minutes=1)
    assert walks == [NOON, minute, minute]
    assert ">nightly</text>" not in html.split('id="timeline"')[1].split("</svg>")[0]
