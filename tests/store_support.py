"""Stores for the contract tests: in-memory, a SQLite file, and PostgreSQL when it is reachable.

PostgreSQL is the server on this machine (``SCHEDULER_TEST_POSTGRES_URL``, default the trust
user ``postgres`` and database ``test`` on 127.0.0.1:5432). Each store gets its own table
prefix and its tables are dropped afterwards, so tests never see each other's rows. Without
the server, its tests skip with the reason, unless ``SCHEDULER_REQUIRE_SERVICES=1`` (CI),
where they fail.
"""

from __future__ import annotations

import functools
import os
import socket
import threading
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import SQLAlchemyError

from scheduler.store import MemoryStore, SqlStore, StateStore

# read at import time: the autouse settings fixture clears SCHEDULER_* variables for each test
POSTGRES_URL = os.environ.get(
    "SCHEDULER_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
TTL = timedelta(seconds=30)
BACKENDS = ("memory", "sqlite", "postgresql")
SQL_BACKENDS = ("sqlite", "postgresql")


def services_required() -> bool:
    """Whether a missing external service is a failure rather than a skip."""
    return os.environ.get("SCHEDULER_REQUIRE_SERVICES") == "1"


@functools.cache
def postgres_problem() -> str | None:
    """Why PostgreSQL cannot be used for tests, or None when it can (asked once)."""
    engine = create_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError as error:
        return str(error).splitlines()[0]
    finally:
        engine.dispose()
    return None


def require_postgres() -> None:
    """Skip (or, under ``SCHEDULER_REQUIRE_SERVICES=1``, fail) without PostgreSQL."""
    problem = postgres_problem()
    if problem is None:
        return
    if services_required():
        pytest.fail(f"PostgreSQL is required (SCHEDULER_REQUIRE_SERVICES=1): {problem}")
    pytest.skip(f"PostgreSQL not reachable: {problem}")


def unique_prefix() -> str:
    """A table prefix no other test uses."""
    return f"t{uuid.uuid4().hex[:10]}_"


def sql_url(backend: str, tmp_path: Path) -> str:
    """The URL of a fresh database for a SQL back end (skips PostgreSQL when it is absent)."""
    if backend == "postgresql":
        require_postgres()
        return POSTGRES_URL
    return f"sqlite:///{tmp_path / 'store' / 'scheduler.db'}"


def drop_tables(store: SqlStore) -> None:
    """Remove a SQL store's tables."""
    engine = create_engine(store.url)  # test URLs carry no password, so nothing is masked
    try:
        store.tables.metadata.drop_all(engine)
    finally:
        engine.dispose()


def make_store(
    backend: str, tmp_path: Path, *, ttl: timedelta = TTL, prefix: str | None = None
) -> StateStore:
    """An opened store of one back end."""
    if backend == "memory":
        return MemoryStore(heartbeat_ttl=ttl)
    store = SqlStore(
        sql_url(backend, tmp_path),
        heartbeat_ttl=ttl,
        table_prefix=prefix if prefix is not None else unique_prefix(),
    )
    store.open()
    return store


@pytest.fixture(name="store", params=BACKENDS)
def store_fixture(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StateStore]:
    """An opened, empty store of each back end; closed and dropped afterwards."""
    opened = make_store(request.param, tmp_path)
    yield opened
    opened.close()
    if isinstance(opened, SqlStore):
        drop_tables(opened)


@pytest.fixture(name="sql_backend", params=SQL_BACKENDS)
def sql_backend_fixture(request: pytest.FixtureRequest) -> str:
    """Each SQL back end's name (PostgreSQL skipped when absent)."""
    if request.param == "postgresql":
        require_postgres()
    return str(request.param)


@pytest.fixture(name="silent_server")
def silent_server_fixture() -> Iterator[int]:
    """A port that accepts TCP connections and never says a word."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join(timeout=5)
    for connection in accepted:
        connection.close()
    listener.close()
