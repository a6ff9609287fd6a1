"""Standard cron (Vixie/Debian dialect) -> APScheduler 3 triggers, previews and descriptions.

We parse cron ourselves instead of using ``CronTrigger.from_crontab``: APScheduler 3 reads
day-of-week 0 as Monday (agronholm/apscheduler#286) and ANDs day-of-month with day-of-week,
where cron treats 0 and 7 as Sunday and ORs two restricted day fields.

``H`` (a value picked by a stable hash of the job id) is our extension: ``hashed`` rewrites it
to standard cron for a given job id before anything else reads the expression, and every
function here that takes an expression takes ``job_id=`` for it.

The package re-exports its public names; its modules, each one concern, are ``parse``
(dialect -> ``CronSchedule``), ``hashed`` (``H`` -> standard cron), ``zones`` (zone
resolution and offset changes), ``trigger``
(``StandardCronTrigger``, DST-correct), ``build`` (which trigger to use, previews),
``window`` (the minutes a schedule fires in over a window, fast, for lints) and ``describe``
(English text and DST warnings).
"""

from __future__ import annotations

from scheduler.cron.build import build_trigger, fire_times_between, next_fire_times
from scheduler.cron.describe import describe, dst_warnings
from scheduler.cron.hashed import has_hashed_field, resolve_hashed, validate_expression
from scheduler.cron.parse import CronSchedule, parse_expression
from scheduler.cron.trigger import StandardCronTrigger, Trigger
from scheduler.cron.window import fire_minutes_between

__all__ = [
    "CronSchedule",
    "StandardCronTrigger",
    "Trigger",
    "build_trigger",
    "describe",
    "dst_warnings",
    "fire_minutes_between",
    "fire_times_between",
    "has_hashed_field",
    "next_fire_times",
    "parse_expression",
    "resolve_hashed",
    "validate_expression",
]
