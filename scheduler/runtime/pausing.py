"""Pauses: an operator's hold on a job, here at once and in the state store for the fleet.

A pause takes effect in this process immediately and is written to the store in the
background; every process reads the store's pauses every second and holds or lifts the jobs
they name. Until a write has landed, this process's own decision wins over what it reads back,
so a pause does not flicker off and on while the write is on its way. Pauses are kept by job
id: a paused job that leaves the manifests and comes back later is still paused.
"""

from __future__ import annotations

import getpass
import logging
import socket
from collections.abc import Callable

from scheduler.clock import Clock
from scheduler.errors import SchedulerError
from scheduler.records import Pause
from scheduler.runtime.catalogue import JobCatalogue
from scheduler.runtime.fleet import Fleet

__all__ = ["PauseKeeper", "default_operator"]

logger = logging.getLogger(__name__)


class PauseKeeper:
    """Holds and lifts jobs for pauses made here or read from the store."""

    def __init__(
        self,
        catalogue: JobCatalogue,
        fleet: Fleet,
        clock: Clock,
        *,
        hold: Callable[[str], None],
        release: Callable[[str], None],
    ) -> None:
        self._catalogue = catalogue
        self._fleet = fleet
        self._clock = clock
        self._hold = hold
        self._release = release
        self._writes: dict[str, Pause | None] = {}

    def pause_here(self, job_id: str, reason: str | None, who: str | None) -> Pause:
        """Hold a known job now (raises ``JobNotFound``); ``write`` tells the store."""
        pause = Pause(job_id, self._clock.now(), who or default_operator(), reason)
        self._catalogue.pause(pause)
        self._writes[job_id] = pause
        self._hold(job_id)
        return pause

    def resume_here(self, job_id: str) -> Pause | None:
        """Lift a known job's pause now; returns the pause lifted, if any."""
        lifted = self._catalogue.paused.get(job_id)
        self._catalogue.resume(job_id)
        self._writes[job_id] = None
        self._release(job_id)
        return lifted

    async def write(self, job_id: str, pause: Pause | None, *, log_failure: bool = True) -> None:
        """Write a pause (``None``: its lifting) to the store; raises ``StoreError`` unless
        ``log_failure``. The store must be open."""
        try:
            if pause is None:
                await self._fleet.resume(job_id)
            else:
                await self._fleet.pause(job_id, who=pause.who, reason=pause.reason)
        except SchedulerError as exc:
            if not log_failure:
                raise
            logger.error("job %s: could not write the pause to the store: %s", job_id, exc)
        finally:
            if self._writes.get(job_id, pause) is pause:
                self._writes.pop(job_id, None)

    def apply(self, pauses: dict[str, Pause]) -> None:
        """The fleet's pauses, read from the store: hold and lift them here too."""
        wanted = dict(pauses)
        for job_id, pending in self._writes.items():  # ours, not yet in the store
            if pending is None:
                wanted.pop(job_id, None)
            else:
                wanted[job_id] = pending
        current = self._catalogue.paused
        if wanted.keys() == current.keys():
            current.update(wanted)
            return
        for job_id in wanted.keys() - current.keys():
            if job_id in self._catalogue.jobs:
                logger.info("job %s paused (in the store, by %s)", job_id, wanted[job_id].who)
                self._hold(job_id)
        lifted = current.keys() - wanted.keys()
        self._catalogue.paused = wanted
        for job_id in lifted:
            if job_id in self._catalogue.jobs:
                logger.info("job %s resumed (in the store)", job_id)
                self._release(job_id)


def default_operator() -> str:
    """Who pauses from this process, for the record: ``user@host``."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers)
        user = "unknown"
    return f"{user}@{socket.gethostname()}"
