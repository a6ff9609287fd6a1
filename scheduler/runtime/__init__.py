"""The running scheduler: a ``SchedulerService`` on APScheduler 3, its reloads and its process.

Modules, from the top down (each imports only those below it): ``serve`` (the process around
the service: load, start, watch, signals, bounded stop), ``reload`` (watch the manifest
folder, hand changes to the service), ``service`` (``SchedulerService``, the facade that owns
the APScheduler scheduler), ``catalogue`` (which jobs exist and what a load changes),
``execution`` (one occurrence of a job, from admission to its ``RunRecord``) and ``plan``
(the pure diff of a running set against a desired one).
"""

from __future__ import annotations

from scheduler.runtime.service import SchedulerService

__all__ = ["SchedulerService"]
