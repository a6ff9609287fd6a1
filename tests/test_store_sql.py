"""What only the SQL stores have: files, servers, processes, schema versions and faults."""

from __future__ import annotations

import multiprocessing
import sqlite3
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text, update

from scheduler.records import RunKind
from scheduler.settings import load_settings
from scheduler.store import (
    ClaimRequest,
    ClaimResult,
    InvalidStoreUrl,
    SqlStore,
    StoreError,
    StoreUnavailable,
    StoreVersionTooNew,
    mask_password,
    open_store,
    store_for_settings,
    store_for_url,
)
from scheduler.store.engine import _enable_wal
from tests import store_workers
from tests.store_support import (
    drop_tables,
    silent_server_fixture,  # noqa: F401  (fixture)
    sql_backend_fixture,  # noqa: F401  (the parametrized fixture)
    sql_url,
    unique_prefix,
)

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)


@pytest.fixture
def fresh(sql_backend: str, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A URL and a table prefix nobody used yet; the tables are dropped afterwards."""
    url, prefix = sql_url(sql_backend, tmp_path), unique_prefix()
    yield url, prefix
    drop_tables(SqlStore(url, table_prefix=prefix))


def test_four_processes_on_one_store_win_each_occurrence_once(fresh: tuple[str, str]) -> None:
    url, prefix = fresh
    context = multiprocessing.get_context("spawn")
    start, out = context.Barrier(4), context.Queue()
    workers = [
        context.Process(
            target=store_workers.claim_everything,
            args=(url, prefix, f"node{i}", 50, 8, 25, start, out),
        )
        for i in range(4)
    ]
    for worker in workers:
        worker.start()
    try:
        reports = [out.get(timeout=45) for _ in workers]
    finally:
        for worker in workers:
            worker.join(timeout=10)
            if worker.is_alive():
                worker.kill()
    assert [error for _, _, error in reports] == [None] * 4
    won = [occurrence for _, node_won, _ in reports for occurrence in node_won]
    expected = [(job, at.isoformat()) for job, at in store_workers.occurrences(50, 8)]
    assert sorted(won) == sorted(expected)


def test_the_default_store_is_a_wal_sqlite_file_under_dot_scheduler(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SCHEDULER_STORE_URL")  # the suite's default is an in-memory store
    store = store_for_settings(load_settings())
    assert store.url == "sqlite:///.scheduler/scheduler.db"
    store.open()
    store.close()
    database = tmp_path / ".scheduler" / "scheduler.db"
    with sqlite3.connect(database) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_rows_and_pauses_survive_a_restart(fresh: tuple[str, str]) -> None:
    url, prefix = fresh
    with SqlStore(url, table_prefix=prefix) as first:
        first.pause("job", who="ops", reason="why", now=T0)
        first.claim([ClaimRequest("job", T0, kind=RunKind.MANUAL)], node="a", now=T0)
    with SqlStore(url, table_prefix=prefix) as second:
        assert list(second.pauses()) == ["job"]
        assert [r.job_id for r in second.history()] == ["job"]


def test_a_store_written_by_a_newer_scheduler_is_refused(fresh: tuple[str, str]) -> None:
    url, prefix = fresh
    store = SqlStore(url, table_prefix=prefix)
    store.open()
    store.close()
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(update(store.tables.schema_version).values(version=99))
    engine.dispose()
    with pytest.raises(StoreVersionTooNew) as refused:
        SqlStore(url, table_prefix=prefix).open()
    assert str(refused.value) == (
        f"state store {url}: schema version 99 is newer than this scheduler knows (1); "
        "upgrade the scheduler, or point SCHEDULER_STORE_URL at another store"
    )


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (
            "postgresql+psycopg://app:s3cr%40t@db:5432/jobs",
            "postgresql+psycopg://app:***@db:5432/jobs",
        ),
        ("postgresql://app@db/jobs", "postgresql://app@db/jobs"),
        ("postgresql://db:5432/jobs", "postgresql://db:5432/jobs"),
        ("sqlite:///.scheduler/scheduler.db", "sqlite:///.scheduler/scheduler.db"),
    ],
    ids=["password", "user-only", "port-only", "sqlite"],
)
def test_urls_are_shown_with_the_password_masked(url: str, shown: str) -> None:
    assert mask_password(url) == shown


def test_an_unreachable_server_names_the_url_with_the_password_masked() -> None:
    store = SqlStore("postgresql+psycopg://app:s3cret@127.0.0.1:1/jobs", connect_timeout=2)
    with pytest.raises(StoreUnavailable) as unavailable:
        store.open()
    message = str(unavailable.value)
    assert message.startswith(
        "state store unavailable at postgresql+psycopg://app:***@127.0.0.1:1/jobs: "
    )
    assert "s3cret" not in message
    assert "Connection refused" in message


def test_a_server_that_never_answers_fails_within_the_connect_timeout(silent_server: int) -> None:
    store = SqlStore(
        f"postgresql+psycopg://app:pw@127.0.0.1:{silent_server}/jobs", connect_timeout=2
    )
    started = time.monotonic()
    with pytest.raises(
        StoreUnavailable, match=r"^state store unavailable at postgresql\+psycopg://app:\*\*\*@"
    ):
        store.open()
    assert time.monotonic() - started < 4.5


def test_a_locked_sqlite_file_is_unavailable_then_recovers(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'locked.db'}"
    store = open_store(url, connect_timeout=0.2)
    holder = sqlite3.connect(tmp_path / "locked.db", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    started = time.monotonic()
    with pytest.raises(StoreUnavailable, match="database is locked"):
        store.claim([ClaimRequest("job", T0)], node="a", now=T0)
    assert time.monotonic() - started < 2
    holder.execute("ROLLBACK")
    holder.close()
    assert store.claim([ClaimRequest("job", T0)], node="a", now=T0)[0].result is ClaimResult.WON
    store.close()


def test_a_sqlite_file_that_cannot_be_created_is_unavailable(tmp_path: Path) -> None:
    (tmp_path / "plain-file").write_text("")
    store = SqlStore(f"sqlite:///{tmp_path / 'plain-file' / 'db.sqlite'}")
    with pytest.raises(StoreUnavailable, match="cannot create the database file"):
        store.open()


def test_a_dropped_postgresql_connection_fails_one_call_then_reconnects(tmp_path: Path) -> None:
    url, prefix = sql_url("postgresql", tmp_path), unique_prefix()
    store = SqlStore(url, table_prefix=prefix)
    store.open()
    try:
        with store._connected().connect() as pooled:  # the pool's only connection
            pid = pooled.execute(text("SELECT pg_backend_pid()")).scalar()
        killer = create_engine(url)
        with killer.connect() as connection:
            connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        killer.dispose()
        with pytest.raises(StoreUnavailable, match="state store unavailable at postgresql"):
            store.ping()
        store.ping()
        assert store.claim([ClaimRequest("job", T0)], node="a", now=T0)[0].result is ClaimResult.WON
    finally:
        store.close()
        drop_tables(store)


def test_urls_of_other_databases_are_refused() -> None:
    with pytest.raises(InvalidStoreUrl) as refused:
        store_for_url("mysql://app:pw@db/jobs")
    assert str(refused.value) == (
        "state store mysql://app:***@db/jobs: expected sqlite:///PATH, "
        "postgresql+psycopg://USER:PASSWORD@HOST:PORT/DB or memory://"
    )


def test_settings_give_the_store_its_url_and_timeouts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCHEDULER_STORE_URL", "postgresql://app:pw@db/jobs")
    monkeypatch.setenv("SCHEDULER_HEARTBEAT_TTL", "7.5")
    monkeypatch.setenv("SCHEDULER_STORE_CONNECT_TIMEOUT", "3")
    monkeypatch.setenv("SCHEDULER_HISTORY_LIMIT", "250")
    settings = load_settings()
    store = store_for_settings(settings)
    assert isinstance(store, SqlStore)
    assert (store.url, store.heartbeat_ttl) == (
        "postgresql://app:***@db/jobs",
        timedelta(seconds=7.5),
    )
    assert store.connect_timeout == 3
    assert settings.history_limit == 250
    assert load_settings(history_limit=100).history_limit == 100


def test_store_settings_defaults() -> None:
    settings = load_settings()
    assert (
        settings.store_connect_timeout,
        settings.heartbeat_ttl_seconds,
        settings.history_limit,
    ) == (
        5.0,
        30.0,
        100,
    )


@pytest.mark.parametrize(
    ("url", "backend"),
    [
        ("memory://", "memory"),
        ("sqlite:///x.db", "sqlite"),
        ("postgresql://db/jobs", "postgresql"),
        ("postgres://db/jobs", "postgresql"),
        ("postgresql+psycopg://db/jobs", "postgresql"),
    ],
)
def test_urls_pick_the_back_end(url: str, backend: str) -> None:
    assert type(store_for_url(url)).__name__ == {"memory": "MemoryStore"}.get(backend, "SqlStore")


def test_a_table_prefix_must_be_a_plain_name() -> None:
    with pytest.raises(StoreError, match="table prefix 'x; drop' must be letters, digits, _"):
        SqlStore("sqlite:///x.db", table_prefix="x; drop")


def test_a_closed_store_says_so(tmp_path: Path) -> None:
    store = SqlStore(f"sqlite:///{tmp_path / 'db.sqlite'}")
    store.open()
    store.open()  # opening twice is harmless
    store.close()
    with pytest.raises(StoreError, match="the store is not open"):
        store.history()


def test_huge_batches_are_claimed_in_parts_of_whole_jobs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("scheduler.store.sql.MAX_JOBS_PER_TRANSACTION", 3)
    store = open_store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    jobs = [f"job{index}" for index in range(7)]
    requests = [
        ClaimRequest(job, T0 + k * SECOND, max_instances=2) for k in range(3) for job in jobs
    ]
    outcomes = store.claim(requests, node="a", now=T0)
    assert [o.request for o in outcomes] == requests
    assert [o.result.value for o in outcomes] == ["won"] * 14 + ["busy"] * 7
    assert store.latest_scheduled_for(jobs) == {job: T0 + 2 * SECOND for job in jobs}
    store.close()


class ScriptedCursor:
    """Answers ``PRAGMA journal_mode = WAL`` from a script of results and errors."""

    def __init__(self, *answers: object) -> None:
        self.answers = list(answers)
        self.calls = 0

    def execute(self, statement: str) -> ScriptedCursor:
        assert statement == "PRAGMA journal_mode = WAL"
        self.calls += 1
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        self.row = (answer,)
        return self

    def fetchone(self) -> tuple[object]:
        return self.row


def test_switching_to_wal_waits_out_processes_doing_the_same() -> None:
    locked = sqlite3.OperationalError("database is locked")
    cursor = ScriptedCursor(locked, locked, "wal")
    _enable_wal(cursor, time.monotonic() + 5)
    assert cursor.calls == 3


def test_switching_to_wal_gives_up_at_the_deadline() -> None:
    locked = sqlite3.OperationalError("database is locked")
    with pytest.raises(sqlite3.OperationalError, match="database is locked"):
        _enable_wal(ScriptedCursor(locked), time.monotonic() - 1)
    with pytest.raises(sqlite3.OperationalError, match="disk I/O error"):
        _enable_wal(
            ScriptedCursor(sqlite3.OperationalError("disk I/O error")), time.monotonic() + 5
        )
