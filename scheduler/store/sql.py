"""``SqlStore``: the state store on SQLite (embedded default) or PostgreSQL, via SQLAlchemy Core.

Each method is one short transaction. Writes that decide something (claims) read and insert in
the same transaction: SQLite's ``BEGIN IMMEDIATE`` makes it the only writer of the file, and on
PostgreSQL per-job advisory locks serialize claims of one job while the unique
``(job_id, scheduled_for)`` key decides which process's row lands.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, func, select

from scheduler.records import Pause, RunKind, RunRecord, RunStatus
from scheduler.store import decide
from scheduler.store import statements as sql
from scheduler.store.base import (
    DEFAULT_HEARTBEAT_TTL,
    SCHEMA_VERSION,
    ClaimOutcome,
    ClaimRequest,
    MissedRange,
)
from scheduler.store.engine import WRITE, postgresql_engine, sqlite_engine, translated_errors
from scheduler.store.errors import StoreError, StoreUnavailable, StoreVersionTooNew
from scheduler.store.schema import Tables, build_tables
from scheduler.store.urls import backend_of, mask_password


class SqlStore:
    """A ``StateStore`` on a SQL database shared by every process that uses the same URL."""

    def __init__(
        self,
        url: str,
        *,
        connect_timeout: float = 5.0,
        heartbeat_ttl: timedelta = DEFAULT_HEARTBEAT_TTL,
        table_prefix: str = "",
    ) -> None:
        self._raw_url = url
        self._url = mask_password(url)
        self._backend = backend_of(url)
        if self._backend not in ("sqlite", "postgresql"):
            raise StoreError(self._url, "not a SQL store URL")
        if not _PREFIX.fullmatch(table_prefix):
            raise StoreError(self._url, f"table prefix {table_prefix!r} must be letters, digits, _")
        self._connect_timeout = connect_timeout
        self._ttl = heartbeat_ttl
        self._prefix = table_prefix
        self._tables: Tables = build_tables(table_prefix)
        self._engine: Engine | None = None

    @property
    def url(self) -> str:
        """The URL with its password masked."""
        return self._url

    @property
    def heartbeat_ttl(self) -> timedelta:
        """How long a node counts as live after its last heartbeat."""
        return self._ttl

    @property
    def connect_timeout(self) -> float:
        """Seconds to reach the server (PostgreSQL) or to wait for the file's lock (SQLite)."""
        return self._connect_timeout

    @property
    def tables(self) -> Tables:
        """The tables this store uses (tests drop them)."""
        return self._tables

    def __enter__(self) -> SqlStore:
        self.open()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def open(self) -> None:
        """Connect, create the schema if missing, refuse a newer schema version."""
        if self._engine is not None:
            return
        try:
            engine = self._new_engine()
        except OSError as error:
            raise StoreUnavailable(
                self._url, f"cannot create the database file: {error}"
            ) from error
        self._engine = engine
        try:
            with self._write() as connection:
                self._ensure_schema(connection)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Release every pooled connection."""
        engine, self._engine = self._engine, None
        if engine is not None:
            engine.dispose()

    def ping(self) -> None:
        """One trivial query; raises ``StoreUnavailable``."""
        with self._read() as connection:
            connection.execute(select(1))

    def claim(
        self, requests: Sequence[ClaimRequest], *, node: str, now: datetime
    ) -> list[ClaimOutcome]:
        """Claim a batch of occurrences in one transaction (see ``StateStore.claim``).

        Batches of more than ``MAX_JOBS_PER_TRANSACTION`` jobs are split by job (some SQLite
        builds allow only 32,766 parameters per statement); each part is one transaction.
        """
        now = decide.utc(now)
        outcomes: dict[int, ClaimOutcome] = {}
        for part in decide.split_by_job(requests, MAX_JOBS_PER_TRANSACTION):
            claimed = self._claim_part([requests[index] for index in part], node, now)
            outcomes.update(zip(part, claimed, strict=True))
        return [outcomes[index] for index in range(len(requests))]

    def _claim_part(
        self, requests: Sequence[ClaimRequest], node: str, now: datetime
    ) -> list[ClaimOutcome]:
        job_ids = sorted({request.job_id for request in requests})
        with self._write() as connection:
            if self._backend == "postgresql":
                connection.execute(*sql.lock_jobs(self._prefix, job_ids))
            facts = connection.execute(
                sql.claim_facts(self._tables, requests, now - self._ttl, self._backend)
            )
            planned = decide.plan_claims(requests, sql.read_facts(facts), node=node, now=now)
            rows = [claim.row for claim in planned if claim.row is not None]
            inserted = self._insert(connection, [sql.run_values(row) for row in rows])
            earlier = self._rows_by_id(connection, decide.not_landed(planned, inserted))
        return decide.outcomes(planned, inserted, earlier)

    def finish(self, records: Sequence[RunRecord]) -> None:
        """Write how runs ended, by run id, in one statement."""
        if not records:
            return
        values = [sql.finish_values(decide.utc_record(record)) for record in records]
        with self._one_statement() as connection:
            connection.execute(sql.finish_runs(self._tables), values)

    def record(self, records: Sequence[RunRecord]) -> list[RunRecord]:
        """Insert rows that need no claim, once per occurrence; returns those inserted."""
        if not records:
            return []
        records = [decide.utc_record(record) for record in records]
        with self._one_statement() as connection:
            inserted = self._insert(connection, [sql.run_values(record) for record in records])
        return [record for record in records if record.run_id in inserted]

    def record_missed(
        self, ranges: Sequence[MissedRange], *, node: str, now: datetime
    ) -> list[RunRecord]:
        """One ``missed`` row per range, once; returns those inserted."""
        if not ranges:
            return []
        rows = [decide.missed_row(missed, node=node, now=now) for missed in ranges]
        values = [
            sql.run_values(row, missed_until=missed.last, count=missed.count)
            for row, missed in zip(rows, ranges, strict=True)
        ]
        with self._one_statement() as connection:
            inserted = self._insert(connection, values)
        return [row for row in rows if row.run_id in inserted]

    def heartbeat(self, node: str, now: datetime) -> None:
        """Say that ``node`` is alive at ``now``."""
        statement = sql.upsert_heartbeat(self._tables, self._backend, node, decide.utc(now))
        with self._one_statement() as connection:
            connection.execute(statement)

    def reap(self, now: datetime) -> list[RunRecord]:
        """Mark ``abandoned`` the running runs that are no longer live; return them."""
        now = decide.utc(now)
        cutoff = now - self._ttl
        with self._write() as connection:
            orphans = [
                sql.record_from_row(row)
                for row in connection.execute(sql.orphaned_runs(self._tables, cutoff))
            ]
            reaped = [
                RunRecord(
                    job_id=orphan.job_id,
                    scheduled_for=orphan.scheduled_for,
                    status=RunStatus.ABANDONED,
                    started_at=orphan.started_at,
                    finished_at=now,
                    error=decide.abandoned_message(orphan.node),
                    kind=orphan.kind,
                    run_id=orphan.run_id,
                    node=orphan.node,
                )
                for orphan in orphans
            ]
            if reaped:
                connection.execute(
                    sql.abandon_run(self._tables),
                    [
                        {"b_run_id": r.run_id, "b_finished_at": now, "b_error": r.error}
                        for r in reaped
                    ],
                )
            connection.execute(sql.forget_expired_nodes(self._tables, cutoff))
        return reaped

    def pause(self, job_id: str, *, who: str, reason: str | None, now: datetime) -> Pause:
        """Pause a job on every process."""
        pause = Pause(job_id=job_id, paused_at=decide.utc(now), who=who, reason=reason)
        values = {"job_id": job_id, "paused_at": pause.paused_at, "who": who, "reason": reason}
        with self._one_statement() as connection:
            connection.execute(sql.upsert_pause(self._tables, self._backend, values))
        return pause

    def resume(self, job_id: str) -> Pause | None:
        """Lift a job's pause; returns it, or ``None`` if the job was not paused."""
        pauses = self._tables.pauses
        with self._one_statement() as connection:
            row = connection.execute(
                pauses.delete().where(pauses.c.job_id == job_id).returning(*pauses.c)
            ).first()
        return _pause(row) if row is not None else None

    def pauses(self) -> dict[str, Pause]:
        """Every pause, by job id."""
        with self._read() as connection:
            rows = connection.execute(select(self._tables.pauses)).all()
        return {row.job_id: _pause(row) for row in rows}

    def history(
        self,
        job_id: str | None = None,
        *,
        status: RunStatus | Collection[RunStatus] | None = None,
        kind: RunKind | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[RunRecord]:
        """Runs, newest first, filtered and paged."""
        statuses = {status} if isinstance(status, RunStatus) else status
        query = sql.history(self._tables, job_id, statuses, kind).limit(limit).offset(offset)
        with self._read() as connection:
            return [sql.record_from_row(row) for row in connection.execute(query)]

    def latest_scheduled_for(self, job_ids: Collection[str]) -> dict[str, datetime]:
        """The latest occurrence each job has a row for."""
        ordered = sorted(set(job_ids))
        latest: dict[str, datetime] = {}
        with self._read() as connection:
            for start in range(0, len(ordered), MAX_JOBS_PER_TRANSACTION):
                part = ordered[start : start + MAX_JOBS_PER_TRANSACTION]
                query = sql.latest_occurrences(
                    self._tables, part, decide.OCCURRENCE_KINDS, self._backend
                )
                latest.update({job_id: moment for job_id, moment in connection.execute(query)})
        return latest

    def prune(self, *, keep_per_job: int, now: datetime, contestable: timedelta) -> int:
        """Delete old rows beyond ``keep_per_job`` per job; returns how many."""
        decide.check_keep_per_job(keep_per_job)
        statement = sql.prune(self._tables, keep_per_job, decide.utc(now) - contestable)
        with self._one_statement() as connection:
            result = connection.execute(statement)
        return int(result.rowcount)

    def _new_engine(self) -> Engine:
        if self._backend == "sqlite":
            return sqlite_engine(self._raw_url, busy_timeout=self._connect_timeout)
        return postgresql_engine(self._raw_url, connect_timeout=self._connect_timeout)

    def _ensure_schema(self, connection: Connection) -> None:
        if self._backend == "postgresql":
            connection.execute(*sql.lock_schema(self._prefix))
        self._tables.metadata.create_all(connection)
        versions = self._tables.schema_version
        found = connection.scalar(select(func.max(versions.c.version)))
        if found is None:
            connection.execute(versions.insert().values(version=SCHEMA_VERSION))
        elif found > SCHEMA_VERSION:
            raise StoreVersionTooNew(self._url, int(found), SCHEMA_VERSION)

    def _insert(self, connection: Connection, values: list[dict[str, object]]) -> set[str]:
        """Insert rows, skipping conflicts; the run ids that landed."""
        if not values:
            return set()
        if self._backend == "postgresql":
            preparer = connection.dialect.identifier_preparer
            statement = sql.insert_runs_from_json(self._tables, preparer)
            return set(connection.scalars(statement, sql.runs_json(values)))
        # many parameter sets with RETURNING: SQLAlchemy sends them as multi-row INSERTs of up
        # to 1,000 rows each ("insertmanyvalues"), not one statement per row
        return set(connection.scalars(sql.insert_runs(self._tables, self._backend), values))

    def _rows_by_id(self, connection: Connection, run_ids: list[str]) -> dict[str, RunRecord]:
        """The stored rows of these run ids (none, unless a claim is being retried)."""
        if not run_ids:
            return {}
        runs = self._tables.runs
        query = select(runs).where(sql.among(runs.c.run_id, run_ids, self._backend))
        return {row.run_id: sql.record_from_row(row) for row in connection.execute(query)}

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        with translated_errors(self._url, self._raw_url), self._connected().connect() as connection:
            connection.execution_options(**{WRITE: True})
            with connection.begin():
                yield connection

    @contextmanager
    def _one_statement(self) -> Iterator[Connection]:
        """A write that is one statement: on PostgreSQL in autocommit, saving BEGIN and COMMIT.

        SQLite keeps ``BEGIN IMMEDIATE``: a lone statement would take the write lock only when
        it first writes, and in WAL mode a stale snapshot then fails at once instead of
        waiting.
        """
        if self._backend != "postgresql":
            with self._write() as connection:
                yield connection
            return
        with translated_errors(self._url, self._raw_url), self._connected().connect() as connection:
            connection.execution_options(isolation_level="AUTOCOMMIT")
            yield connection

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with translated_errors(self._url, self._raw_url), self._connected().connect() as connection:
            yield connection
            connection.rollback()

    def _connected(self) -> Engine:
        if self._engine is None:
            raise StoreError(self._url, "the store is not open")
        return self._engine


_PREFIX = re.compile(r"[A-Za-z0-9_]*")
MAX_JOBS_PER_TRANSACTION = 5000


def _pause(row: object) -> Pause:
    return Pause(
        job_id=row.job_id,  # type: ignore[attr-defined]
        paused_at=row.paused_at,  # type: ignore[attr-defined]
        who=row.who,  # type: ignore[attr-defined]
        reason=row.reason,  # type: ignore[attr-defined]
    )
