"""``H``: a value picked by a stable hash of the job id, resolved to standard cron."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime

import cronsim
import pytest

from scheduler.cron import (
    build_trigger,
    describe,
    dst_warnings,
    next_fire_times,
    resolve_hashed,
    validate_expression,
)
from scheduler.errors import InvalidCronExpression

IDS = [f"job-{index}" for index in range(10_000)]
START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def test_known_answers_are_pinned() -> None:
    # Changing the hash would move every H job on upgrade: these must never change.
    assert resolve_hashed("H 3 * * *", "nightly_report") == "3 3 * * *"
    assert resolve_hashed("H H * * *", "nightly_report") == "3 17 * * *"
    assert resolve_hashed("H/15 * * * *", "nightly_report") == "3-59/15 * * * *"
    assert resolve_hashed("H H H H H H", "nightly_report") == "5 3 17 20 7 0"
    assert resolve_hashed("H(0-29)/10 H(9-17) * * 1-5", "billing") == (
        resolve_hashed("H(0-29)/10 H(9-17) * * 1-5", "billing")
    )


@pytest.mark.parametrize(
    ("expression", "resolved"),
    [
        ("0 3 * * *", "0 3 * * *"),
        ("@daily", "@daily"),
        ("*/5 * * * THU", "*/5 * * * THU"),
        ("H 3 * * THU", "3 3 * * THU"),
        ("0 0 * * H(MON-FRI)", "0 0 * * 3"),
        ("0 0 H(1-1) * *", "0 0 1 * *"),
        ("H(59-59)/1 * * * *", "59 * * * *"),
    ],
    ids=[
        "no-h",
        "macro",
        "day-name-with-h",
        "h-beside-name",
        "range-of-names",
        "one-day",
        "single",
    ],
)
def test_resolution_keeps_other_fields_as_written(expression: str, resolved: str) -> None:
    assert resolve_hashed(expression, "nightly_report") == resolved


def test_same_answer_in_other_processes_and_hash_seeds() -> None:
    expressions = ["H H * * *", "H/7 H(2-5) H * H", "H H H H H H"]
    sample = [*IDS[:200], "nightly_report", "a.b-c_d"]
    here = [[resolve_hashed(expression, job_id) for job_id in sample] for expression in expressions]
    script = (
        "import json, sys\n"
        "from scheduler.cron import resolve_hashed\n"
        "expressions, ids = json.loads(sys.stdin.read())\n"
        "print(json.dumps([[resolve_hashed(e, i) for i in ids] for e in expressions]))\n"
    )
    for seed in ("0", "1", "4242"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run(
            [sys.executable, "-c", script],
            input=json.dumps([expressions, sample]),
            capture_output=True,
            text=True,
            env=env,
            timeout=30,
            check=True,
        )
        assert json.loads(done.stdout) == here, f"PYTHONHASHSEED={seed}"


def _chi_square(counts: Counter[int], bins: int, total: int) -> float:
    expected = total / bins
    return sum((counts.get(value, 0) - expected) ** 2 / expected for value in range(bins))


@pytest.mark.parametrize(
    ("field", "bins", "critical"),
    # 99.9% quantiles of chi-square with bins-1 degrees of freedom
    [(0, 60, 99.6), (1, 24, 49.7), (2, 28, 55.5), (3, 12, 31.3), (4, 7, 22.5)],
    ids=["minute", "hour", "day-of-month", "month", "day-of-week"],
)
def test_spread_is_even_over_10000_ids(field: int, bins: int, critical: float) -> None:
    low = {2: 1, 3: 1}.get(field, 0)
    values = Counter(
        int(resolve_hashed("H H H H H", job_id).split()[field]) - low for job_id in IDS
    )
    assert set(values) == set(range(bins))
    assert _chi_square(values, bins, len(IDS)) < critical


def test_minute_and_hour_are_independent() -> None:
    pairs = Counter(resolve_hashed("H H * * *", job_id) for job_id in IDS)
    # 1440 cells, about 7 ids each: the 99.9% quantile of chi-square(1439) is about 1622
    counts = Counter({index: count for index, count in enumerate(pairs.values())})
    assert len(pairs) > 1400
    assert _chi_square(counts, 1440, len(IDS)) < 1622


@pytest.mark.parametrize(
    ("expression", "field", "allowed"),
    [
        ("H(10-20) * * * *", 0, set(range(10, 21))),
        ("0 H(22-23) * * *", 1, {22, 23}),
        ("0 0 H * *", 2, set(range(1, 29))),
        ("0 0 * * H", 4, set(range(7))),
        ("0 0 * H(JUN-AUG) *", 3, {6, 7, 8}),
    ],
    ids=["minute-range", "hour-range", "dom-every-month", "dow-sunday-once", "month-names"],
)
def test_values_stay_in_range(expression: str, field: int, allowed: set[int]) -> None:
    values = {int(resolve_hashed(expression, job_id).split()[field]) for job_id in IDS}
    assert values == allowed


def test_step_offsets_stay_below_the_step() -> None:
    starts = Counter(resolve_hashed("H/15 * * * *", job_id).split()[0] for job_id in IDS)
    assert set(starts) == {f"{offset}-59/15" for offset in range(15)}
    ranged = {resolve_hashed("H(0-29)/10 * * * *", job_id).split()[0] for job_id in IDS}
    assert ranged == {f"{offset}-29/10" for offset in range(10)}


def _random_hashed_expression(rng: random.Random) -> str:
    fields = []
    for low, high in ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7)):
        kind = rng.choice(("H", "range", "step", "range-step", "star", "value"))
        first, last = sorted((rng.randint(low, high), rng.randint(low, high)))
        step = rng.randint(1, last - first + 1)
        fields.append(
            {
                "H": "H",
                "range": f"H({first}-{last})",
                "step": f"H/{rng.randint(1, min(high - low + 1, 12))}",
                "range-step": f"H({first}-{last})/{step}",
                "star": "*",
                "value": str(rng.randint(low, min(high, 28))),
            }[kind]
        )
    return " ".join(fields)


def test_fire_times_equal_cronsim_on_the_resolved_expression() -> None:
    rng = random.Random(20261201)
    checked = 0
    for index in range(400):
        expression = _random_hashed_expression(rng)
        job_id = f"job-{index}"
        try:
            resolved = resolve_hashed(expression, job_id)
        except InvalidCronExpression:
            continue  # e.g. H(30-31) in a February-only schedule: never fires
        ours = next_fire_times(expression, after=START, count=5, job_id=job_id)
        oracle = cronsim.CronSim(resolved, START)
        expected = [next(oracle) for _ in range(5)]
        assert [moment.isoformat() for moment in ours] == [
            moment.isoformat() for moment in expected
        ], f"{expression!r} for {job_id} -> {resolved!r}"
        checked += 1
    assert checked > 300


def test_every_cron_function_takes_the_job_id() -> None:
    job = "nightly_report"
    assert str(build_trigger("H 3 * * *", job_id=job)) == str(build_trigger("3 3 * * *"))
    assert describe("H 3 * * *", job_id=job) == "At 03:03"
    assert dst_warnings("H 2 * * *", "Europe/Berlin", now=START, job_id=job) == dst_warnings(
        "3 2 * * *", "Europe/Berlin", now=START
    )
    validate_expression("H 3 * * *", job_id=job)


@pytest.mark.parametrize(
    "call",
    [
        lambda: validate_expression("H 3 * * *"),
        lambda: build_trigger("H 3 * * *"),
        lambda: next_fire_times("H 3 * * *", after=START, count=1),
        lambda: describe("H 3 * * *"),
    ],
    ids=["validate", "build_trigger", "next_fire_times", "describe"],
)
def test_h_without_a_job_id_is_a_clear_error(call: object) -> None:
    with pytest.raises(InvalidCronExpression) as caught:
        call()  # type: ignore[operator]
    assert caught.value.reason == "'H' picks its value from the job id, and no job id was given"


@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        (
            "H,5 * * * *",
            "minute 'H,5': H must be the whole field, one of H, H(a-b), H/n or H(a-b)/n",
        ),
        ("0 5,H * * *", "hour '5,H': H must be the whole field, one of H, H(a-b), H/n or H(a-b)/n"),
        ("Hx * * * *", "minute 'Hx' is not a form of H; use one of H, H(a-b), H/n or H(a-b)/n"),
        ("H(5) * * * *", "minute 'H(5)' is not a form of H; use one of H, H(a-b), H/n or H(a-b)/n"),
        ("H(5-2) * * * *", "minute range 5-2 runs backwards"),
        ("0 H(0-24) * * *", "hour 24 is out of range 0-23"),
        ("H(-5) * * * *", "minute range '-5' is incomplete"),
        ("H/0 * * * *", "minute step 0 of 'H/0' must be 1 to 60 (the size of the range 0-59)"),
        ("H/x * * * *", "minute step 'x' is not a number"),
        ("0 0 * * H/8", "day-of-week step 8 of 'H/8' must be 1 to 7 (the size of the range 0-6)"),
        ("0 0 * * H(MON-XYZ)", "day-of-week value 'XYZ' is not a number or a name (SUN-SAT)"),
        (
            "0 0 H(30-31) 2 *",
            "never fires: day-of-month 30 does not occur in February"
            " (H resolved it to '0 0 30 2 *')",
        ),
        ("H * * *", "expected 5 fields (or 6 with seconds first), got 4"),
    ],
    ids=[
        "in-list",
        "in-list-later",
        "junk",
        "one-value",
        "backwards",
        "out-of-range",
        "incomplete",
        "step-zero",
        "step-not-number",
        "step-too-big",
        "bad-name",
        "never-fires",
        "field-count",
    ],
)
def test_only_documented_forms_are_accepted(expression: str, reason: str) -> None:
    with pytest.raises(InvalidCronExpression) as caught:
        validate_expression(expression, job_id="job-31")
    assert caught.value.reason == reason


def test_next_previews_h_for_a_job_id(capsys: pytest.CaptureFixture[str]) -> None:
    from scheduler.cli import main

    argv = ["next", "H 3 * * *", "--job-id", "nightly_report", "--count", "1"]
    assert main([*argv, "--after", "2026-12-01T00:00:00Z"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "H 3 * * * (3 3 * * * for nightly_report): At 03:03 (UTC)",
        "  2026-12-01T03:03:00+00:00  Tue",
    ]
    assert main([*argv, "--format", "json", "--after", "2026-12-01T00:00:00Z"]) == 0
    assert json.loads(capsys.readouterr().out) == {
        "expression": "H 3 * * *",
        "job_id": "nightly_report",
        "resolved_expression": "3 3 * * *",
        "description": "At 03:03",
        "timezone": "UTC",
        "next": ["2026-12-01T03:03:00+00:00"],
    }
    assert main(["next", "H 3 * * *"]) == 1
    assert capsys.readouterr().err == (
        "error: 'H 3 * * *': 'H' picks its value from the job id, and no job id was given"
        " (give --job-id)\n"
    )


def test_the_schema_accepts_h_only_in_its_forms() -> None:
    import jsonschema

    from scheduler.manifest import manifest_json_schema

    validator = jsonschema.Draft202012Validator(manifest_json_schema())

    def accepts(cron: str) -> bool:
        return validator.is_valid({"job_id": "j", "func": "jobs.a.b", "cron_expression": cron})

    for good in ("H 3 * * *", "H(0-29)/10 H * * MON-FRI", "*/10 H/5 * * * *", "@daily"):
        assert accepts(good), good
    for bad in ("H,5 * * * *", "Hx * * * *", "H(5) * * * *", "H 3 * *", "0 0 * * 1,H"):
        assert not accepts(bad), bad
