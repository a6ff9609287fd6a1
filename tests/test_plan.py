"""plan_changes: a pure diff by job_id of running jobs against the desired set."""

from __future__ import annotations

from typing import Any

import pytest

from scheduler.loader import LoadedJob
from scheduler.manifest import JobSpec
from scheduler.runtime.plan import Plan, plan_changes
from tests import jobfuncs


def loaded(
    job_id: str,
    *,
    file: str = "m.yaml",
    line: int = 1,
    timezone: str = "UTC",
    imported: Any = None,
    **fields: Any,
) -> LoadedJob:
    spec_fields: dict[str, Any] = {"func": "tests.jobfuncs.noop", "cron_expression": "0 3 * * *"}
    spec_fields.update(fields)
    return LoadedJob(JobSpec(job_id=job_id, **spec_fields), file, line, timezone, imported)


def ids(plan: Plan) -> tuple[tuple[str, ...], ...]:
    return plan.added_ids, plan.removed, plan.changed_ids, plan.unchanged_ids


def test_everything_is_added_to_an_empty_schedule() -> None:
    plan = plan_changes({}, [loaded("b"), loaded("a")])
    assert ids(plan) == (("a", "b"), (), (), ())
    assert plan.has_changes


def test_everything_is_removed_when_nothing_is_desired() -> None:
    plan = plan_changes({"b": loaded("b"), "a": loaded("a")}, [])
    assert ids(plan) == ((), ("a", "b"), (), ())


def test_same_spec_is_unchanged_even_if_moved_or_reimported() -> None:
    running = {"a": loaded("a", line=1, imported=jobfuncs.noop)}
    moved = loaded("a", file="other.yaml", line=40, imported=None)
    plan = plan_changes(running, [moved])
    assert ids(plan) == ((), (), (), ("a",))
    assert not plan.has_changes
    assert plan.unchanged == (moved,)  # the desired version, carrying its new position
    assert plan.refreshed == (moved,)  # a new object: the service updates its records


def test_the_same_loaded_job_is_unchanged() -> None:
    """The loader hands back the same object for a file it did not re-read."""
    job = loaded("a")
    plan = plan_changes({"a": job}, [job])
    assert ids(plan) == ((), (), (), ("a",))
    assert plan.unchanged[0] is job
    assert plan.refreshed == ()  # nothing to update


def test_a_default_written_out_is_no_change() -> None:
    """``enabled: true`` written out equals the default: specs compare by value."""
    plan = plan_changes({"a": loaded("a")}, [loaded("a", enabled=True, args=[])])
    assert ids(plan) == ((), (), (), ("a",))


@pytest.mark.parametrize(
    ("change", "value"),
    [
        ("cron_expression", "0 4 * * *"),
        ("enabled", False),
        ("args", [1]),
        ("kwargs", {"dry_run": True}),
        ("timeout", 5.0),
        ("max_instances", 2),
        ("jitter", 3),
        ("description", "now documented"),
        ("func", "tests.jobfuncs:noop"),
        ("timezone", "Europe/Berlin"),
    ],
    ids=lambda value: str(value),
)
def test_any_field_change_is_a_change(change: str, value: Any) -> None:
    plan = plan_changes({"a": loaded("a")}, [loaded("a", **{change: value})])
    assert ids(plan) == ((), (), ("a",), ())


def test_resolved_timezone_counts_even_when_the_spec_names_none() -> None:
    plan = plan_changes({"a": loaded("a", timezone="UTC")}, [loaded("a", timezone="Asia/Tokyo")])
    assert ids(plan) == ((), (), ("a",), ())


def test_mixed_plan_is_sorted_by_job_id() -> None:
    running = {name: loaded(name) for name in ("keep", "drop2", "edit", "drop1")}
    desired = [
        loaded("new2"),
        loaded("edit", cron_expression="*/5 * * * *"),
        loaded("keep"),
        loaded("new1"),
    ]
    plan = plan_changes(running, desired)
    assert ids(plan) == (("new1", "new2"), ("drop1", "drop2"), ("edit",), ("keep",))


def test_unchanged_ids_follow_the_unchanged_jobs() -> None:
    same = [loaded(name) for name in ("c", "a", "b")]
    running = {job.job_id: job for job in same}
    desired = [same[0], loaded("a"), same[2], loaded("d")]
    plan = plan_changes(running, desired)
    assert plan.unchanged_ids == ("a", "b", "c")
    assert plan.unchanged_ids == tuple(job.job_id for job in plan.unchanged)
    assert [job.job_id for job in plan.refreshed] == ["a"]


def test_inputs_are_not_modified() -> None:
    running = {"a": loaded("a")}
    desired = [loaded("b")]
    plan_changes(running, desired)
    assert list(running) == ["a"]
    assert [job.spec.job_id for job in desired] == ["b"]
