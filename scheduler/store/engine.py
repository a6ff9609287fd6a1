"""SQLAlchemy engines for the two SQL back ends, and driver errors turned into ``StoreError``.

SQLite: one file shared by every process of a host. WAL lets readers run beside the writer;
every write transaction starts with ``BEGIN IMMEDIATE``, so a writer waits (up to the busy
timeout) for the file's write lock at its start instead of failing halfway with "database is
locked" when two processes upgrade their read locks at once. PostgreSQL: psycopg 3, with
libpq's connect timeout; a connection the server dropped is discarded by the pool, so the next
call reconnects by itself.
"""

from __future__ import annotations

import math
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.exc import DBAPIError, OperationalError, SQLAlchemyError
from sqlalchemy.pool import ConnectionPoolEntry

from scheduler.store.errors import StoreError, StoreUnavailable
from scheduler.store.urls import password_of, sqlalchemy_url, sqlite_path

WRITE = "scheduler_write"  # execution option: this transaction writes (SQLite: BEGIN IMMEDIATE)


def sqlite_engine(url: str, *, busy_timeout: float) -> Engine:
    """An engine on a SQLite file (its folder created), in WAL mode with a busy timeout."""
    path = sqlite_path(url)
    path.parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        sqlalchemy_url(url),
        connect_args={"timeout": busy_timeout, "check_same_thread": False},
        pool_size=5,
        max_overflow=10,
    )
    busy_ms = max(1, int(busy_timeout * 1000))

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        del record
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves, below
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {busy_ms}")
            _enable_wal(cursor, time.monotonic() + busy_timeout)
            # NORMAL in WAL mode: a commit survives any process crash, and only a power loss
            # can undo the last few; FULL would add an fsync to every claim
            cursor.execute("PRAGMA synchronous = NORMAL")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        writes = connection.get_execution_options().get(WRITE, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if writes else "BEGIN")

    return engine


def _enable_wal(cursor: Any, deadline: float) -> None:
    """Switch the file to WAL, waiting out other processes doing the same.

    Changing the journal mode does not wait for the busy timeout: when several processes
    open a new file at once, all but one get "database is locked" straight away. Retry
    until the deadline, briefly apart; once the file is in WAL mode this is one no-op.
    """
    while True:
        try:
            if cursor.execute("PRAGMA journal_mode = WAL").fetchone()[0] == "wal":
                return
            failure: Exception = sqlite3.OperationalError("cannot switch the journal to WAL")
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) and "busy" not in str(error):
                raise
            failure = error
        if time.monotonic() >= deadline:
            raise failure
        time.sleep(0.005)


def postgresql_engine(url: str, *, connect_timeout: float) -> Engine:
    """An engine on PostgreSQL through psycopg 3."""
    return create_engine(
        sqlalchemy_url(url),
        connect_args={"connect_timeout": max(1, math.ceil(connect_timeout))},
        pool_size=5,
        max_overflow=10,
    )


@contextmanager
def translated_errors(url: str, raw_url: str) -> Iterator[None]:
    """Turn driver and SQLAlchemy errors into ``StoreUnavailable`` or ``StoreError``."""
    try:
        yield
    except (OperationalError, DBAPIError) as error:
        reason = _reason(error, raw_url)
        if isinstance(error, OperationalError) or error.connection_invalidated:
            raise StoreUnavailable(url, reason) from error
        raise StoreError(url, reason) from error
    except SQLAlchemyError as error:
        raise StoreError(url, _reason(error, raw_url)) from error


def _reason(error: SQLAlchemyError, raw_url: str) -> str:
    """The driver's own message, first line only, without any password it echoed."""
    original = getattr(error, "orig", None)
    text = str(original if original is not None else error).strip()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    reason = lines[0] if lines else type(error).__name__
    password = password_of(raw_url)
    if password:
        reason = reason.replace(password, "***")
    return reason
