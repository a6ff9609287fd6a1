"""``review_changes``: each kind of change, field by field, with fire times before and after."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from scheduler.loader import LoadedJob, load_manifests
from scheduler.review import FieldChange, review_changes

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)  # a Tuesday


def _jobs(folder: Path, **jobs: dict[str, Any]) -> tuple[LoadedJob, ...]:
    folder.mkdir(parents=True, exist_ok=True)
    for job_id, fields in jobs.items():
        lines = [f"job_id: {job_id}", "func: jobs.cleanup.cleanup_job"]
        lines += [f"{key}: {value}" for key, value in fields.items()]
        (folder / f"{job_id}.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = load_manifests([folder], import_check=False)
    assert result.ok, result.problems
    return result.jobs


def _iso(times: tuple[datetime, ...]) -> list[str]:
    return [moment.isoformat() for moment in times]


def test_each_kind_of_change(tmp_path: Path) -> None:
    base = _jobs(
        tmp_path / "base",
        kept={"cron_expression": "'0 1 * * *'"},
        gone={"cron_expression": "'0 2 * * *'"},
        switched_on={"cron_expression": "'0 4 * * *'", "enabled": "false"},
        switched_off={"cron_expression": "'0 5 * * *'"},
        edited={"cron_expression": "'0 3 * * *'", "args": "[30]"},
    )
    head = _jobs(
        tmp_path / "head",
        kept={"cron_expression": "'0 1 * * *'"},
        new={"cron_expression": "'30 6 * * *'", "timezone": "Europe/Berlin"},
        switched_on={"cron_expression": "'0 4 * * *'"},
        switched_off={"cron_expression": "'0 5 * * *'", "enabled": "false"},
        edited={"cron_expression": "'H 3 * * *'", "args": "[14]", "timezone": "Asia/Tokyo"},
    )
    review = review_changes(base, head, now=NOW)

    summary = [(change.kind, change.job_id) for change in review.changes]
    assert summary == [
        ("added", "new"),
        ("changed", "edited"),
        ("enabled", "switched_on"),
        ("disabled", "switched_off"),
        ("removed", "gone"),
    ]
    assert review.unchanged == 1 and review.has_changes
    added, edited, switched_on, switched_off, gone = review.changes
    assert (added.fields, added.next_before) == ((), ())
    assert _iso(added.next_after) == [
        "2026-12-02T06:30:00+01:00",
        "2026-12-03T06:30:00+01:00",
        "2026-12-04T06:30:00+01:00",
    ]
    assert edited.fields == (
        FieldChange("cron_expression", "0 3 * * *", "H 3 * * *"),
        FieldChange("timezone", "UTC", "Asia/Tokyo"),
        FieldChange("args", [30], [14]),
    )
    # before in UTC at 03:00; after in Tokyo at the minute H picks for "edited"
    assert _iso(edited.next_before) == [
        "2026-12-02T03:00:00+00:00",
        "2026-12-03T03:00:00+00:00",
        "2026-12-04T03:00:00+00:00",
    ]
    minute = edited.job.spec.resolved_expression.split()[0]
    assert _iso(edited.next_after) == [
        f"2026-12-02T03:{int(minute):02d}:00+09:00",
        f"2026-12-03T03:{int(minute):02d}:00+09:00",
        f"2026-12-04T03:{int(minute):02d}:00+09:00",
    ]
    assert (switched_on.next_before, _iso(switched_on.next_after)[:1]) == (
        (),
        ["2026-12-02T04:00:00+00:00"],
    )
    assert (_iso(switched_off.next_before)[:1], switched_off.next_after) == (
        ["2026-12-02T05:00:00+00:00"],
        (),
    )
    assert (gone.after, gone.next_before, gone.next_after) == (None, (), ())
    assert gone.job.file.endswith("gone.yaml")


def test_enabling_also_lists_the_other_fields_that_changed(tmp_path: Path) -> None:
    base = _jobs(tmp_path / "base", job={"cron_expression": "'0 4 * * *'", "enabled": "false"})
    head = _jobs(tmp_path / "head", job={"cron_expression": "'0 5 * * *'"})
    (change,) = review_changes(base, head, now=NOW).changes
    assert change.kind == "enabled"
    assert change.fields == (FieldChange("cron_expression", "0 4 * * *", "0 5 * * *"),)


def test_moving_a_job_to_another_file_is_no_change(tmp_path: Path) -> None:
    base = _jobs(tmp_path / "base", job={"cron_expression": "'0 4 * * *'"})
    folder = tmp_path / "head"
    folder.mkdir()
    (folder / "elsewhere.yaml").write_text(
        "# moved\n\njob_id: job\nfunc: jobs.cleanup.cleanup_job\ncron_expression: '0 4 * * *'\n"
    )
    head = load_manifests([folder], import_check=False).jobs
    review = review_changes(base, head, now=NOW)
    assert (review.changes, review.unchanged, review.has_changes) == ((), 1, False)


def test_a_default_zone_spelled_out_is_no_change(tmp_path: Path) -> None:
    base = _jobs(tmp_path / "base", job={"cron_expression": "'0 4 * * *'"})
    head = _jobs(tmp_path / "head", job={"cron_expression": "'0 4 * * *'", "timezone": "UTC"})
    assert review_changes(base, head, now=NOW).changes == ()
