"""What can go wrong with the state store, as ``SchedulerError`` subclasses.

Callers catch ``StoreError``; ``StoreUnavailable`` says the store could not be reached (or its
file stayed locked) and a later call may well succeed, which is how the running scheduler tells
"skip this occurrence and try again" from a bug.
"""

from __future__ import annotations

from scheduler.errors import SchedulerError


class StoreError(SchedulerError):
    """The state store refused or failed an operation."""

    headline = "state store"

    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        self.reason = reason
        super().__init__(f"{self.headline} {url}: {reason}")


class StoreUnavailable(StoreError):
    """The store cannot be reached now (connection refused or timed out, file locked)."""

    headline = "state store unavailable at"


class StoreVersionTooNew(StoreError):
    """The store was written by a newer version of the scheduler than this one."""

    def __init__(self, url: str, found: int, known: int) -> None:
        self.found = found
        self.known = known
        super().__init__(
            url,
            f"schema version {found} is newer than this scheduler knows ({known}); "
            "upgrade the scheduler, or point SCHEDULER_STORE_URL at another store",
        )


class InvalidStoreUrl(StoreError):
    """``SCHEDULER_STORE_URL`` is not a URL the store understands."""
