"""IANA timezone names: which ones this machine knows, and a did-you-mean for the rest.

Shared by the manifest models, the settings and the command line, so a zone is judged
the same way wherever it is written.
"""

from __future__ import annotations

import difflib
import re
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from scheduler.problems import shorten

__all__ = ["is_known_timezone", "timezone_problem"]

_ZONE_NAME = re.compile(r"[A-Za-z0-9_+-]+(?:/[A-Za-z0-9_+-]+)*")
_MAX_ZONE_NAME = 100  # the longest IANA name has 32 characters
_EXAMPLE = "expected an IANA name like 'Europe/Berlin'"


@lru_cache(maxsize=1024)
def is_known_timezone(name: str) -> bool:
    """Whether ``name`` is an IANA timezone this machine's tz database knows.

    ``ZoneInfo`` opens a file named after the zone: a folder of the database (``Europe``)
    or an over-long name fails with ``OSError``, not ``ZoneInfoNotFoundError``.
    """
    if len(name) > _MAX_ZONE_NAME or _ZONE_NAME.fullmatch(name) is None:
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True


def timezone_problem(name: str) -> str | None:
    """Why ``name`` is not a timezone, with a did-you-mean; ``None`` when it is one."""
    if is_known_timezone(name):
        return None
    message = f"unknown timezone {shorten(name)}"
    if len(name) > _MAX_ZONE_NAME:
        return f"{message}; {_EXAMPLE}"
    zones = _zone_names()
    members = sorted(zone for zone in zones if zone.startswith(name.rstrip("/") + "/"))
    if members:
        return f"{message}: it is a group of zones; name one, like {members[0]!r}"
    folded = {zone.casefold(): zone for zone in zones}
    suggestion = folded.get(name.casefold())
    if suggestion is None:
        matches = difflib.get_close_matches(name, sorted(zones), n=1, cutoff=0.8)
        suggestion = matches[0] if matches else None
    if suggestion is not None:
        return f"{message}; did you mean {suggestion!r}?"
    return f"{message}; {_EXAMPLE}"


@lru_cache(maxsize=1)
def _zone_names() -> frozenset[str]:
    """Every zone name known here (a scan of the tz database: only for did-you-mean)."""
    return frozenset(available_timezones())
