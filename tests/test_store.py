"""The state store contract, run against every implementation: memory, SQLite, PostgreSQL."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from scheduler.records import RunKind, RunRecord, RunStatus
from scheduler.store import ClaimOutcome, ClaimRequest, ClaimResult, MissedRange, Pause, StateStore
from tests.store_support import TTL, store_fixture  # noqa: F401  (the parametrized fixture)

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)


def results(outcomes: list) -> list[str]:
    return [outcome.result.value for outcome in outcomes]


def claim_one(store: StateStore, job_id: str, at: datetime, *, node: str = "a", **fields: object):
    request = ClaimRequest(job_id, at, **fields)  # type: ignore[arg-type]
    return store.claim([request], node=node, now=at)[0]


def test_the_first_claim_wins_and_its_row_is_the_history(store: StateStore) -> None:
    won = claim_one(store, "report", T0, node="a")
    lost = claim_one(store, "report", T0, node="b")
    assert (won.result, lost.result) == (ClaimResult.WON, ClaimResult.LOST)
    assert lost.record is None
    assert won.record == RunRecord(
        job_id="report",
        scheduled_for=T0,
        status=RunStatus.RUNNING,
        started_at=T0,
        kind=RunKind.SCHEDULED,
        run_id=won.request.run_id,
        node="a",
    )
    assert store.history() == [won.record]


def test_clocks_that_disagree_still_claim_the_same_occurrence(store: StateStore) -> None:
    fast = store.claim([ClaimRequest("job", T0)], node="a", now=T0 + 20 * SECOND)
    slow = store.claim([ClaimRequest("job", T0)], node="b", now=T0 - 20 * SECOND)
    assert results(fast + slow) == ["won", "lost"]


def test_a_retried_claim_gets_the_outcome_of_the_attempt_that_committed(
    store: StateStore,
) -> None:
    request, busy = ClaimRequest("job", T0), ClaimRequest("job", T0 + SECOND)
    [won] = store.claim([request], node="a", now=T0)
    [skipped] = store.claim([busy], node="a", now=T0)
    retried = store.claim([request, busy], node="a", now=T0 + 2 * SECOND)
    assert retried == [won, skipped]
    assert results(retried) == ["won", "busy"]
    assert results(store.claim([ClaimRequest("job", T0)], node="b", now=T0)) == ["lost"]
    assert won.record is not None
    store.finish([_ended(won.record, RunStatus.SUCCESS, T0 + SECOND)])
    assert results(store.claim([request], node="a", now=T0 + 3 * SECOND)) == ["lost"]


def test_a_batch_is_claimed_whole_and_lost_whole_by_the_next_process(store: StateStore) -> None:
    requests = [ClaimRequest(f"job{i:04}", T0) for i in range(1000)]
    first = store.claim(requests, node="a", now=T0)
    second = store.claim([ClaimRequest(f"job{i:04}", T0) for i in range(1000)], node="b", now=T0)
    assert set(results(first)) == {"won"}
    assert [o.request for o in first] == requests
    assert set(results(second)) == {"lost"}
    assert len(store.history(limit=2000)) == 1000


def test_threads_racing_for_the_same_occurrences_win_each_exactly_once(store: StateStore) -> None:
    occurrences = [(f"job{i % 20}", T0 + (i // 20) * SECOND) for i in range(200)]
    start = threading.Barrier(6, timeout=10)

    def contend(node: str) -> list[tuple[str, datetime]]:
        start.wait()
        won = []
        for offset in range(0, len(occurrences), 10):
            batch = [
                ClaimRequest(job, at, max_instances=1000)
                for job, at in occurrences[offset : offset + 10]
            ]
            outcomes = store.claim(batch, node=node, now=T0)
            won += [
                (o.request.job_id, o.request.scheduled_for)
                for o in outcomes
                if o.result is ClaimResult.WON
            ]
        return won

    with ThreadPoolExecutor(6) as pool:
        per_node = list(pool.map(contend, [f"node{i}" for i in range(6)], timeout=30))
    all_won = [occurrence for won in per_node for occurrence in won]
    assert sorted(all_won) == sorted(occurrences)


def test_concurrent_claims_of_different_occurrences_share_max_instances(
    store: StateStore,
) -> None:
    start = threading.Barrier(8, timeout=10)

    def contend(index: int) -> ClaimOutcome:
        start.wait()
        request = ClaimRequest("sync", T0 + index * SECOND)
        return store.claim([request], node=f"node{index % 8}", now=T0)[0]

    for round_ in range(10):  # each round, the one free instance goes to exactly one claim
        with ThreadPoolExecutor(8) as pool:
            got = list(pool.map(contend, range(round_ * 8, round_ * 8 + 8), timeout=30))
        assert Counter(outcome.result for outcome in got) == Counter(busy=7, won=1)
        [winner] = [o.record for o in got if o.result is ClaimResult.WON]
        assert winner is not None
        store.finish([_ended(winner, RunStatus.SUCCESS, T0)])


def test_a_job_at_max_instances_is_skipped_once_fleet_wide(store: StateStore) -> None:
    claim_one(store, "sync", T0, node="a")
    busy = claim_one(store, "sync", T0 + SECOND, node="b")
    again = claim_one(store, "sync", T0 + SECOND, node="c")
    assert (busy.result, again.result) == (ClaimResult.BUSY, ClaimResult.LOST)
    assert busy.record is not None
    assert (busy.record.status, busy.record.node, busy.record.error) == (
        RunStatus.SKIPPED,
        "b",
        "max_instances reached: 1 run(s) still running",
    )
    skipped = store.history("sync", status=RunStatus.SKIPPED)
    assert skipped == [busy.record]


def test_max_instances_counts_runs_won_earlier_in_the_same_batch(store: StateStore) -> None:
    claim_one(store, "wide", T0, max_instances=3)
    batch = [ClaimRequest("wide", T0 + k * SECOND, max_instances=3) for k in (3, 1, 2)]
    assert results(store.claim(batch, node="b", now=T0)) == ["busy", "won", "won"]


def test_a_finished_run_frees_its_instance(store: StateStore) -> None:
    won = claim_one(store, "sync", T0)
    assert won.record is not None
    store.finish([_ended(won.record, RunStatus.SUCCESS, T0 + SECOND)])
    assert claim_one(store, "sync", T0 + 2 * SECOND, node="b").result is ClaimResult.WON


def test_runs_of_a_node_whose_heartbeat_expired_do_not_count(store: StateStore) -> None:
    claim_one(store, "sync", T0, node="a")
    store.heartbeat("a", T0 + 10 * SECOND)
    late = T0 + 10 * SECOND + TTL
    assert claim_one(store, "sync", late, node="b").result is ClaimResult.BUSY
    assert claim_one(store, "sync", late + SECOND, node="b").result is ClaimResult.WON


def test_reap_abandons_the_runs_of_dead_nodes_only(store: StateStore) -> None:
    dead = claim_one(store, "dead_job", T0, node="a").record
    alive = claim_one(store, "live_job", T0, node="b").record
    assert dead is not None and alive is not None
    later = T0 + TTL + SECOND
    store.heartbeat("b", later)
    reaped = store.reap(later)
    expected = _ended(dead, RunStatus.ABANDONED, later)
    expected = RunRecord(
        **{**_fields(expected), "error": "process a stopped heartbeating while the run was running"}
    )
    assert reaped == [expected]
    assert store.history("dead_job") == [expected]
    assert store.history("live_job") == [alive]
    assert store.reap(later) == []
    assert claim_one(store, "dead_job", later, node="b").result is ClaimResult.WON


def test_a_run_is_live_for_a_ttl_after_its_start_without_any_heartbeat(
    store: StateStore,
) -> None:
    claim_one(store, "job", T0, node="a")
    assert store.reap(T0 + TTL) == []
    assert claim_one(store, "job", T0 + TTL, node="b").result is ClaimResult.BUSY
    assert [r.status for r in store.reap(T0 + TTL + SECOND)] == [RunStatus.ABANDONED]


def test_finish_writes_the_outcome_even_over_abandoned(store: StateStore) -> None:
    won = claim_one(store, "job", T0, node="a").record
    assert won is not None
    store.reap(T0 + TTL + SECOND)
    failed = RunRecord(
        **{
            **_fields(won),
            "status": RunStatus.FAILED,
            "finished_at": T0 + 5 * SECOND,
            "error": "boom",
        }
    )
    store.finish([failed, RunRecord("ghost", T0, RunStatus.SUCCESS, run_id="nope")])
    assert store.history() == [failed]


def test_a_paused_job_is_refused_for_schedules_and_catchup_not_manual(store: StateStore) -> None:
    pause = store.pause("nightly", who="ops@host", reason="migration", now=T0)
    assert pause == Pause("nightly", T0, "ops@host", "migration")
    batch = [
        ClaimRequest("nightly", T0),
        ClaimRequest("nightly", T0 - SECOND, kind=RunKind.CATCHUP),
        ClaimRequest("nightly", T0 + SECOND, kind=RunKind.MANUAL),
        ClaimRequest("other", T0),
    ]
    assert results(store.claim(batch, node="a", now=T0)) == ["paused", "paused", "won", "won"]
    assert [r.kind for r in store.history("nightly")] == [RunKind.MANUAL]


def test_pauses_are_listed_replaced_and_lifted(store: StateStore) -> None:
    store.pause("a", who="x", reason=None, now=T0)
    store.pause("a", who="y", reason="again", now=T0 + SECOND)
    store.pause("b", who="x", reason=None, now=T0)
    assert store.pauses() == {
        "a": Pause("a", T0 + SECOND, "y", "again"),
        "b": Pause("b", T0, "x", None),
    }
    assert store.resume("a") == Pause("a", T0 + SECOND, "y", "again")
    assert store.resume("a") is None
    assert list(store.pauses()) == ["b"]
    assert claim_one(store, "a", T0).result is ClaimResult.WON


def test_record_inserts_each_occurrence_once(store: StateStore) -> None:
    skipped = RunRecord(
        "job", T0, RunStatus.SKIPPED, finished_at=T0, error="store unavailable", node="a"
    )
    duplicate = RunRecord("job", T0, RunStatus.SKIPPED, finished_at=T0, node="b")
    assert store.record([skipped, duplicate]) == [skipped]
    assert store.record([duplicate]) == []
    assert claim_one(store, "job", T0).result is ClaimResult.LOST


def test_a_missed_range_is_one_row_recorded_once(store: StateStore) -> None:
    outage = MissedRange("hourly", first=T0, last=T0 + timedelta(hours=5), count=6)
    [row] = store.record_missed([outage], node="a", now=T0 + timedelta(hours=5, minutes=30))
    assert (row.status, row.scheduled_for, row.node) == (RunStatus.MISSED, T0, "a")
    assert row.error == (
        "missed 6 occurrences from 2026-03-01T12:00:00+00:00 to 2026-03-01T17:00:00+00:00 "
        "while no process was running"
    )
    assert store.record_missed([outage], node="b", now=T0 + timedelta(hours=6)) == []
    assert store.history("hourly") == [row]
    assert store.latest_scheduled_for(["hourly"]) == {"hourly": T0 + timedelta(hours=5)}


def test_latest_scheduled_for_ignores_manual_runs_and_unknown_jobs(store: StateStore) -> None:
    claim_one(store, "job", T0)
    claim_one(store, "job", T0 + timedelta(hours=1), kind=RunKind.CATCHUP, max_instances=5)
    claim_one(store, "job", T0 + timedelta(hours=2), kind=RunKind.MANUAL, max_instances=5)
    claim_one(store, "other", T0 - SECOND)
    assert store.latest_scheduled_for(["job", "other", "never"]) == {
        "job": T0 + timedelta(hours=1),
        "other": T0 - SECOND,
    }
    assert store.latest_scheduled_for([]) == {}


def test_history_filters_and_pages_newest_first(store: StateStore) -> None:
    for minute in range(5):
        at = T0 + timedelta(minutes=minute)
        for job in ("a", "b"):
            won = claim_one(store, job, at, max_instances=99).record
            assert won is not None
            if minute % 2:
                store.finish([_ended(won, RunStatus.FAILED, at + SECOND)])
    claim_one(store, "a", T0 + timedelta(hours=1), kind=RunKind.MANUAL, max_instances=99)

    def keys(records: list[RunRecord]) -> list[tuple[str, int]]:
        return [(r.job_id, int((r.scheduled_for - T0).total_seconds() // 60)) for r in records]

    assert keys(store.history("a", limit=3)) == [("a", 60), ("a", 4), ("a", 3)]
    assert keys(store.history("a", limit=3, offset=3)) == [("a", 2), ("a", 1), ("a", 0)]
    failed = keys(store.history(status=RunStatus.FAILED))
    assert [minute for _, minute in failed] == [3, 3, 1, 1]
    assert set(failed) == {("a", 3), ("b", 3), ("a", 1), ("b", 1)}
    assert len(store.history(status=[RunStatus.FAILED, RunStatus.RUNNING])) == 11
    assert keys(store.history(kind=RunKind.MANUAL)) == [("a", 60)]
    assert keys(store.history("b", status=RunStatus.RUNNING, limit=1)) == [("b", 4)]
    assert store.history("nobody") == []


def test_prune_keeps_the_newest_running_and_contestable_rows(store: StateStore) -> None:
    now = T0 + timedelta(hours=1)
    for minute in range(10):
        won = claim_one(store, "job", T0 + timedelta(minutes=minute), max_instances=99).record
        assert won is not None
        if minute != 0:  # the oldest run is still running
            store.finish([_ended(won, RunStatus.SUCCESS, won.scheduled_for + SECOND)])
    for second in range(3):  # young rows a late process could still claim
        claim_one(store, "fresh", now - timedelta(seconds=second), max_instances=99)
    claim_one(store, "other", T0)
    pruned = store.prune(keep_per_job=2, now=now, contestable=timedelta(seconds=60))
    assert pruned == 7
    minutes = [int((r.scheduled_for - T0).total_seconds() // 60) for r in store.history("job")]
    assert minutes == [9, 8, 0]
    assert len(store.history("fresh")) == 3
    assert len(store.history("other")) == 1
    with pytest.raises(ValueError, match="keep_per_job must be at least 1"):
        store.prune(keep_per_job=0, now=now, contestable=timedelta(0))


def test_times_come_back_as_the_same_instants_in_utc(store: StateStore) -> None:
    berlin = datetime(2026, 10, 25, 2, 30, 0, 123456, tzinfo=ZoneInfo("Europe/Berlin"), fold=1)
    won = claim_one(store, "job", berlin).record
    [stored] = store.history()
    # compared as text: == between zones calls a fold=1 time unequal to its own instant
    assert stored.scheduled_for.isoformat() == "2026-10-25T01:30:00.123456+00:00"
    assert won is not None and won.scheduled_for.isoformat() == stored.scheduled_for.isoformat()
    assert claim_one(store, "job", stored.scheduled_for).result is ClaimResult.LOST


def test_an_empty_batch_does_nothing(store: StateStore) -> None:
    assert store.claim([], node="a", now=T0) == []
    store.finish([])
    assert store.record([]) == []
    assert store.record_missed([], node="a", now=T0) == []
    store.ping()
    assert store.history() == []


def _fields(record: RunRecord) -> dict[str, object]:
    return {name: getattr(record, name) for name in RunRecord.__slots__}


def _ended(record: RunRecord, status: RunStatus, at: datetime) -> RunRecord:
    return RunRecord(**{**_fields(record), "status": status, "finished_at": at})


def test_naive_datetimes_are_refused_not_guessed(store: StateStore) -> None:
    naive = datetime(2026, 3, 1, 12, 0)
    message = "naive datetime 2026-03-01T12:00:00 given to the state store"
    with pytest.raises(ValueError, match=message):
        store.claim([ClaimRequest("job", naive)], node="a", now=T0)
    with pytest.raises(ValueError, match=message):
        store.heartbeat("a", naive)
    with pytest.raises(ValueError, match=message):
        store.finish([RunRecord("job", T0, RunStatus.SUCCESS, finished_at=naive)])
    assert store.history() == []
