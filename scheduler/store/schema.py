"""The store's tables, built per table prefix, and the one column type for instants.

Times: PostgreSQL keeps ``timestamptz``; SQLite has no time type, so instants are stored there
as integer microseconds since the epoch (UTC), which sort and compare exactly like the
instants themselves. Either way a naive datetime is refused rather than guessed at.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Dialect,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import TIMESTAMP
from sqlalchemy.types import TypeDecorator, TypeEngine

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


class UtcInstant(TypeDecorator[datetime]):
    """An aware datetime, stored as ``timestamptz`` or as epoch microseconds."""

    impl = BigInteger
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        """``timestamptz`` on PostgreSQL, a 64-bit integer elsewhere."""
        if dialect.name == "postgresql":
            return dialect.type_descriptor(TIMESTAMP(timezone=True))
        return dialect.type_descriptor(BigInteger())

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        """UTC datetime or epoch microseconds."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value.isoformat()} given to the state store")
        if dialect.name == "postgresql":
            return value.astimezone(UTC)
        return (value - _EPOCH) // _MICROSECOND

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        """Back to an aware UTC datetime."""
        if value is None:
            return None
        if isinstance(value, datetime):
            return value.astimezone(UTC)
        return _EPOCH + int(value) * _MICROSECOND


@dataclass(frozen=True, slots=True)
class Tables:
    """The store's tables under one prefix."""

    metadata: MetaData
    schema_version: Table
    runs: Table
    pauses: Table
    nodes: Table


def build_tables(prefix: str = "") -> Tables:
    """The tables, named ``{prefix}runs`` and so on (tests give each store its own prefix)."""
    metadata = MetaData()
    schema_version = Table(
        f"{prefix}schema_version",
        metadata,
        Column("version", Integer, primary_key=True, autoincrement=False),
    )
    runs = Table(
        f"{prefix}runs",
        metadata,
        Column("run_id", String(64), primary_key=True),
        Column("job_id", String(128), nullable=False),
        Column("scheduled_for", UtcInstant(), nullable=False),
        Column("kind", String(16), nullable=False),
        Column("status", String(16), nullable=False),
        Column("node", String(255), nullable=False),
        Column("started_at", UtcInstant()),
        Column("finished_at", UtcInstant()),
        Column("error", Text),
        Column("missed_until", UtcInstant()),
        Column("missed_count", Integer),
        UniqueConstraint("job_id", "scheduled_for", name=f"{prefix}runs_occurrence"),
        Index(f"{prefix}runs_status_job", "status", "job_id"),
        Index(f"{prefix}runs_scheduled_for", "scheduled_for"),
    )
    pauses = Table(
        f"{prefix}pauses",
        metadata,
        Column("job_id", String(128), primary_key=True),
        Column("paused_at", UtcInstant(), nullable=False),
        Column("who", String(255), nullable=False),
        Column("reason", Text),
    )
    nodes = Table(
        f"{prefix}nodes",
        metadata,
        Column("node", String(255), primary_key=True),
        Column("heartbeat_at", UtcInstant(), nullable=False),
    )
    return Tables(metadata, schema_version, runs, pauses, nodes)
