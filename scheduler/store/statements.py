"""The SQL the store runs, one builder per statement, for SQLite and PostgreSQL alike.

Inserts use the dialects' ``INSERT ... ON CONFLICT DO NOTHING RETURNING`` (PostgreSQL, SQLite
3.35 and later), so a batch of claims is one statement that says which rows landed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Delete,
    Insert,
    Integer,
    Select,
    String,
    Table,
    Update,
    any_,
    bindparam,
    delete,
    func,
    literal,
    null,
    or_,
    select,
    text,
    union_all,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from scheduler.records import RunKind, RunRecord, RunStatus
from scheduler.store.base import ClaimRequest
from scheduler.store.decide import ClaimFacts, utc
from scheduler.store.schema import Tables, UtcInstant


def dialect_insert(dialect: str, table: Any) -> postgresql.Insert | sqlite.Insert:
    """An INSERT that can say ON CONFLICT, for this dialect."""
    return postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)


def run_values(
    record: RunRecord, *, missed_until: datetime | None = None, count: int | None = None
) -> dict[str, Any]:
    """A run record as a row of the runs table."""
    return {
        "run_id": record.run_id,
        "job_id": record.job_id,
        "scheduled_for": record.scheduled_for,
        "kind": record.kind.value,
        "status": record.status.value,
        "node": record.node,
        "started_at": record.started_at,
        "finished_at": record.finished_at,
        "error": record.error,
        "missed_until": missed_until,
        "missed_count": count,
    }


def record_from_row(row: Any) -> RunRecord:
    """A runs-table row as a run record."""
    return RunRecord(
        job_id=row.job_id,
        scheduled_for=row.scheduled_for,
        status=RunStatus(row.status),
        started_at=row.started_at,
        finished_at=row.finished_at,
        error=row.error,
        kind=RunKind(row.kind),
        run_id=row.run_id,
        node=row.node,
    )


def among(column: ColumnElement[Any], values: Collection[str], dialect: str) -> ColumnElement[bool]:
    """``column IN (values)``; on PostgreSQL ``= ANY(array)``, one parameter however many.

    psycopg parses a statement's text for its placeholders each time it is not cached: with
    a thousand ``IN`` parameters that costs more than the query itself.
    """
    if dialect == "postgresql":
        return column == any_(bindparam(None, list(values), type_=postgresql.ARRAY(String)))
    return column.in_(list(values))


def insert_runs_from_json(tables: Tables, preparer: Any) -> Any:
    """PostgreSQL: insert rows given as one JSON document, skipping conflicts.

    One short statement and one text parameter for a whole batch, instead of eleven
    thousand placeholders for 1,000 rows (see ``among``); returns the run ids that landed.
    """
    columns = ", ".join(_RUN_COLUMNS)
    record_type = ", ".join(f"{column} {kind}" for column, kind in _PG_TYPES.items())
    return text(
        f"INSERT INTO {preparer.format_table(tables.runs)} ({columns}) "
        f"SELECT {columns} FROM json_to_recordset(CAST(:rows AS json)) AS r({record_type}) "
        "ON CONFLICT DO NOTHING RETURNING run_id"
    )


def runs_json(rows: Sequence[dict[str, Any]]) -> dict[str, str]:
    """``run_values`` rows as the parameter of ``insert_runs_from_json``.

    The encoder asks ``_json_value`` only for what JSON has no type for (datetimes), which
    is cheaper than copying every row first: this runs while 1,000 jobs wait to start.
    """
    return {"rows": json.dumps(rows, default=_json_value)}


def _json_value(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot store {type(value).__name__} as JSON")


_PG_TYPES = {
    "run_id": "text",
    "job_id": "text",
    "scheduled_for": "timestamptz",
    "kind": "text",
    "status": "text",
    "node": "text",
    "started_at": "timestamptz",
    "finished_at": "timestamptz",
    "error": "text",
    "missed_until": "timestamptz",
    "missed_count": "integer",
}
_RUN_COLUMNS = tuple(_PG_TYPES)


def insert_runs(tables: Tables, dialect: str) -> Insert:
    """Insert run rows unless their occurrence (or run id) has one; returns landed run ids."""
    return (
        dialect_insert(dialect, tables.runs)
        .on_conflict_do_nothing()
        .returning(tables.runs.c.run_id)
    )


def upsert_heartbeat(tables: Tables, dialect: str, node: str, now: datetime) -> Insert:
    """Insert or refresh a node's heartbeat."""
    statement = dialect_insert(dialect, tables.nodes).values(node=node, heartbeat_at=now)
    return statement.on_conflict_do_update(
        index_elements=[tables.nodes.c.node],
        set_={"heartbeat_at": statement.excluded.heartbeat_at},
    )


def upsert_pause(tables: Tables, dialect: str, values: dict[str, Any]) -> Insert:
    """Insert or replace a pause."""
    statement = dialect_insert(dialect, tables.pauses).values(**values)
    return statement.on_conflict_do_update(
        index_elements=[tables.pauses.c.job_id],
        set_={
            "paused_at": statement.excluded.paused_at,
            "who": statement.excluded.who,
            "reason": statement.excluded.reason,
        },
    )


def lock_jobs(prefix: str, job_ids: Sequence[str]) -> tuple[Any, dict[str, Any]]:
    """PostgreSQL: transaction locks on each job, taken in one fixed order (no deadlock).

    They make "count running runs, then insert" atomic per job, so two processes claiming two
    different occurrences of one job at once cannot both take its last free instance.
    """
    keys = sorted({_lock_key(prefix, job_id) for job_id in job_ids})
    statement = text("SELECT pg_advisory_xact_lock(k) FROM unnest(CAST(:keys AS bigint[])) AS k")
    return statement, {"keys": keys}


def lock_schema(prefix: str) -> tuple[Any, dict[str, Any]]:
    """PostgreSQL: a transaction lock so that starting processes create the schema once."""
    return text("SELECT pg_advisory_xact_lock(:key)"), {"key": _lock_key(prefix, "/schema")}


def _lock_key(prefix: str, name: str) -> int:
    digest = hashlib.blake2b(f"scheduler:{prefix}:{name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


_PAUSED, _EXISTING = -1, -2  # tags of ``claim_facts`` rows that are not counts


def live_nodes(tables: Tables, cutoff: datetime) -> Select[Any]:
    """Nodes that heartbeated at or after ``cutoff``."""
    return select(tables.nodes.c.node).where(tables.nodes.c.heartbeat_at >= cutoff)


def is_live(tables: Tables, cutoff: datetime) -> ColumnElement[bool]:
    """A run started at or after ``cutoff``, or its node heartbeated since."""
    runs = tables.runs
    started = func.coalesce(runs.c.started_at, runs.c.scheduled_for)
    return or_(started >= cutoff, runs.c.node.in_(live_nodes(tables, cutoff)))


def claim_facts(
    tables: Tables, requests: Sequence[ClaimRequest], cutoff: datetime, dialect: str
) -> CompoundSelect[Any]:
    """In one query, what a claim decides on (see ``read_facts``).

    Rows are ``(job_id, tag, scheduled_for, run_id)``: tag -2 for a requested occurrence that
    already has a row (with its instant and run id), -1 for a paused job, otherwise the
    job's count of live running runs.
    """
    runs, pauses = tables.runs, tables.pauses
    job_ids = sorted({request.job_id for request in requests})
    instants = sorted({utc(request.scheduled_for) for request in requests})
    existing = select(
        runs.c.job_id, literal(_EXISTING, Integer), runs.c.scheduled_for, runs.c.run_id
    ).where(among(runs.c.job_id, job_ids, dialect), _instant_among(runs, instants, dialect))
    paused = select(pauses.c.job_id, literal(_PAUSED, Integer), null(), null()).where(
        among(pauses.c.job_id, job_ids, dialect)
    )
    running = (
        select(runs.c.job_id, func.count(), null(), null())
        .where(
            runs.c.status == RunStatus.RUNNING.value,
            among(runs.c.job_id, job_ids, dialect),
            is_live(tables, cutoff),
        )
        .group_by(runs.c.job_id)
    )
    return union_all(existing, paused, running)


def _instant_among(runs: Table, instants: list[datetime], dialect: str) -> ColumnElement[bool]:
    if dialect == "postgresql":
        array = postgresql.ARRAY(postgresql.TIMESTAMP(timezone=True))
        return runs.c.scheduled_for == any_(bindparam(None, instants, type_=array))
    return runs.c.scheduled_for.in_(instants)


def read_facts(rows: Any) -> ClaimFacts:
    """``claim_facts`` rows as ``ClaimFacts``."""
    paused: set[str] = set()
    running: dict[str, int] = {}
    existing: dict[tuple[str, datetime], str] = {}
    for job_id, tag, scheduled_for, run_id in rows:
        if tag == _EXISTING:
            existing[(job_id, scheduled_for)] = run_id
        elif tag == _PAUSED:
            paused.add(job_id)
        else:
            running[job_id] = int(tag)
    return ClaimFacts(paused=paused, running=running, existing=existing)


def finish_runs(tables: Tables) -> Update:
    """Write a run's outcome by run id (executed with many parameter sets)."""
    runs = tables.runs
    return (
        update(runs)
        .where(runs.c.run_id == bindparam("b_run_id"))
        .values(
            status=bindparam("b_status"),
            started_at=func.coalesce(
                bindparam("b_started_at", type_=UtcInstant()), runs.c.started_at
            ),
            finished_at=bindparam("b_finished_at", type_=UtcInstant()),
            error=bindparam("b_error"),
        )
    )


def finish_values(record: RunRecord) -> dict[str, Any]:
    """One parameter set of ``finish_runs``."""
    return {
        "b_run_id": record.run_id,
        "b_status": record.status.value,
        "b_started_at": record.started_at,
        "b_finished_at": record.finished_at,
        "b_error": record.error,
    }


def orphaned_runs(tables: Tables, cutoff: datetime) -> Select[Any]:
    """Runs ``running`` that are no longer live."""
    runs = tables.runs
    return select(runs).where(runs.c.status == RunStatus.RUNNING.value, ~is_live(tables, cutoff))


def abandon_run(tables: Tables) -> Update:
    """Mark one run abandoned, if it is still running (executed with many parameter sets)."""
    runs = tables.runs
    return (
        update(runs)
        .where(runs.c.run_id == bindparam("b_run_id"), runs.c.status == RunStatus.RUNNING.value)
        .values(
            status=RunStatus.ABANDONED.value,
            finished_at=bindparam("b_finished_at", type_=UtcInstant()),
            error=bindparam("b_error"),
        )
    )


def forget_expired_nodes(tables: Tables, cutoff: datetime) -> Delete:
    """Drop the heartbeats of nodes that are not live."""
    return delete(tables.nodes).where(tables.nodes.c.heartbeat_at < cutoff)


def history(
    tables: Tables,
    job_id: str | None,
    statuses: Collection[RunStatus] | None,
    kind: RunKind | None,
) -> Select[Any]:
    """Runs matching the filters, newest occurrence first."""
    runs = tables.runs
    query = select(runs)
    if job_id is not None:
        query = query.where(runs.c.job_id == job_id)
    if statuses is not None:
        query = query.where(runs.c.status.in_(sorted(status.value for status in statuses)))
    if kind is not None:
        query = query.where(runs.c.kind == kind.value)
    return query.order_by(runs.c.scheduled_for.desc(), runs.c.run_id.desc())


def covered_until(tables: Tables) -> ColumnElement[datetime]:
    """The last occurrence a row accounts for: a missed row's ``last``, else its own."""
    return func.coalesce(tables.runs.c.missed_until, tables.runs.c.scheduled_for)


def latest_occurrences(
    tables: Tables, job_ids: Collection[str], kinds: Collection[RunKind], dialect: str
) -> Select[Any]:
    """Per job, the latest occurrence with a row of one of ``kinds``."""
    runs = tables.runs
    return (
        select(runs.c.job_id, func.max(covered_until(tables)))
        .where(
            among(runs.c.job_id, job_ids, dialect),
            runs.c.kind.in_([kind.value for kind in kinds]),
        )
        .group_by(runs.c.job_id)
    )


def prune(tables: Tables, keep_per_job: int, cutoff: datetime) -> Delete:
    """Delete rows past the newest ``keep_per_job`` of their job, unless running or contestable."""
    runs = tables.runs
    rank = func.row_number().over(
        partition_by=runs.c.job_id, order_by=(runs.c.scheduled_for.desc(), runs.c.run_id.desc())
    )
    ranked = select(
        runs.c.run_id,
        runs.c.status,
        covered_until(tables).label("covers"),
        rank.label("rank"),
    ).subquery()
    doomed = select(ranked.c.run_id).where(
        ranked.c.rank > keep_per_job,
        ranked.c.status != RunStatus.RUNNING.value,
        ranked.c.covers < cutoff,
    )
    return delete(runs).where(runs.c.run_id.in_(doomed))
