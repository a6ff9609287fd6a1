"""What to do on start about the occurrences that passed while no process ran a job.

A job's latest row in the store says up to when the fleet took care of it. Every occurrence
after that and before now passed with nobody to run it. A job with ``catchup: true`` runs the
latest of them once (as systemd's ``Persistent=true`` does); the others, and all of them for
a job without ``catchup``, become one ``missed`` row per job with their count and range rather
than one row each. A job the store has never seen gets neither: it did not exist then.

Occurrences within the misfire grace of now are left alone unless caught up: a process that
is running may still claim them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from scheduler.cron import Trigger
from scheduler.store import MissedRange

__all__ = ["MAX_COUNTED", "Backlog", "backlog"]

MAX_COUNTED = 100_000
"""Occurrences counted at most per job (a per-second job down for a day has 86,400)."""

_MICROSECOND = timedelta(microseconds=1)
_DEFAULT_WINDOW = timedelta(seconds=60)


@dataclass(frozen=True, slots=True)
class Backlog:
    """One job's occurrences that passed unattended: the one to run now, and the rest."""

    job_id: str
    catch_up_at: datetime | None
    missed: MissedRange | None


def backlog(
    job_id: str,
    trigger: Trigger,
    *,
    latest: datetime,
    now: datetime,
    catchup: bool,
    grace: timedelta | None,
) -> Backlog:
    """The occurrences of a job after ``latest`` and up to ``now``, sorted into what to do.

    ``trigger`` must be the job's trigger without jitter (occurrences, not fire times).
    """
    window = grace if grace is not None else _DEFAULT_WINDOW
    cutoff = now if catchup else now - window
    passed = _occurrences(trigger, latest, cutoff)
    if not passed:
        return Backlog(job_id, None, None)
    if len(passed) == MAX_COUNTED:  # too many to count: the latest is further on
        latest_passed = _latest_until(trigger, passed[-1], cutoff)
        if latest_passed != passed[-1]:
            passed.append(latest_passed)
    catch_up_at = passed[-1] if catchup else None
    missed = passed[:-1] if catchup else passed
    missed_range = MissedRange(job_id, missed[0], missed[-1], len(missed)) if missed else None
    return Backlog(job_id, catch_up_at, missed_range)


def _latest_until(trigger: Trigger, after: datetime, until: datetime) -> datetime:
    """The last fire time after ``after`` and at most ``until`` (``after`` when none is)."""
    for span in _SPANS:
        start = max(after, until - span)
        found = _occurrences(trigger, start, until)
        if found:
            return found[-1]
        if start == after:
            break
    return after


_SPANS = tuple(timedelta(days=days) for days in (1 / 1440, 1 / 24, 1, 32, 367, 3660))


def _occurrences(trigger: Trigger, after: datetime, until: datetime) -> list[datetime]:
    """Fire times strictly after ``after`` and at most ``until``, at most ``MAX_COUNTED``."""
    found: list[datetime] = []
    moment = after
    while len(found) < MAX_COUNTED:
        following = trigger.get_next_fire_time(None, moment + _MICROSECOND)
        if following is None or following > until:
            break
        found.append(following)
        moment = following
    return found
