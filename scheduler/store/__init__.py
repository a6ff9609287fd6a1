"""The state store: claims, runs, pauses and heartbeats shared by every scheduler process.

``StateStore`` is the interface the running scheduler depends on; ``MemoryStore`` keeps it in
one process (tests), ``SqlStore`` in a SQLite file (the default) or PostgreSQL.
``store_for_url`` picks the implementation from a URL; ``open_store`` also opens it. The
package's modules: ``base`` (the interface and its records), ``decide`` (claim decisions
shared by the implementations), ``memory``, ``sql`` with ``statements``, ``schema`` and
``engine``, ``urls`` (back end of a URL, masked passwords) and ``errors``.
"""

from __future__ import annotations

from datetime import timedelta

from scheduler.records import Pause
from scheduler.settings import Settings
from scheduler.store.base import (
    DEFAULT_HEARTBEAT_TTL,
    SCHEMA_VERSION,
    ClaimOutcome,
    ClaimRequest,
    ClaimResult,
    MissedRange,
    StateStore,
)
from scheduler.store.errors import InvalidStoreUrl, StoreError, StoreUnavailable, StoreVersionTooNew
from scheduler.store.memory import MemoryStore
from scheduler.store.sql import SqlStore
from scheduler.store.urls import MEMORY_URL, backend_of, mask_password

__all__ = [
    "DEFAULT_HEARTBEAT_TTL",
    "MEMORY_URL",
    "SCHEMA_VERSION",
    "ClaimOutcome",
    "ClaimRequest",
    "ClaimResult",
    "InvalidStoreUrl",
    "MemoryStore",
    "MissedRange",
    "Pause",
    "SqlStore",
    "StateStore",
    "StoreError",
    "StoreUnavailable",
    "StoreVersionTooNew",
    "mask_password",
    "open_store",
    "store_for_settings",
    "store_for_url",
]


def store_for_url(
    url: str,
    *,
    connect_timeout: float = 5.0,
    heartbeat_ttl: timedelta = DEFAULT_HEARTBEAT_TTL,
    table_prefix: str = "",
) -> StateStore:
    """The store a URL names, not yet opened: ``memory://``, ``sqlite:///PATH``, PostgreSQL.

    Raises ``InvalidStoreUrl`` for any other URL.
    """
    if backend_of(url) == "memory":
        return MemoryStore(heartbeat_ttl=heartbeat_ttl)
    return SqlStore(
        url,
        connect_timeout=connect_timeout,
        heartbeat_ttl=heartbeat_ttl,
        table_prefix=table_prefix,
    )


def open_store(
    url: str,
    *,
    connect_timeout: float = 5.0,
    heartbeat_ttl: timedelta = DEFAULT_HEARTBEAT_TTL,
    table_prefix: str = "",
) -> StateStore:
    """``store_for_url`` and ``open()``: connected, schema created and checked."""
    store = store_for_url(
        url,
        connect_timeout=connect_timeout,
        heartbeat_ttl=heartbeat_ttl,
        table_prefix=table_prefix,
    )
    store.open()
    return store


def store_for_settings(settings: Settings) -> StateStore:
    """The store ``SCHEDULER_STORE_URL`` names, with the timeouts from settings; not opened."""
    return store_for_url(
        settings.store_url,
        connect_timeout=settings.store_connect_timeout,
        heartbeat_ttl=timedelta(seconds=settings.heartbeat_ttl_seconds),
    )
