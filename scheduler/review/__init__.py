"""Reviewing a schedule change before it merges: what it does, when things run, what piles up.

Pure where it can be: ``diff`` compares two sets of loaded jobs (``review_changes``),
``timeline`` merges the upcoming runs of many jobs (``build_timeline``), ``congestion`` warns
about minutes where too many jobs start at once; ``revision`` is the one I/O piece, reading a
manifest folder as it was at a git revision without touching the work tree. The command line
renders all of it; the running scheduler does not depend on it.
"""

from __future__ import annotations

from scheduler.review.congestion import CONGESTION_DAYS, congestion_problems, with_congestion
from scheduler.review.diff import (
    CHANGE_KINDS,
    ChangeKind,
    FieldChange,
    JobChange,
    Review,
    review_changes,
)
from scheduler.review.revision import RevisionError, export_folder
from scheduler.review.timeline import (
    Run,
    ScheduledJob,
    Timeline,
    build_timeline,
    hourly_counts,
    scheduled_jobs,
)

__all__ = [
    "CHANGE_KINDS",
    "CONGESTION_DAYS",
    "ChangeKind",
    "FieldChange",
    "JobChange",
    "Review",
    "RevisionError",
    "Run",
    "ScheduledJob",
    "Timeline",
    "build_timeline",
    "congestion_problems",
    "export_folder",
    "hourly_counts",
    "review_changes",
    "scheduled_jobs",
    "with_congestion",
]
