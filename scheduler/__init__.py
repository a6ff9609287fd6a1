"""Declarative cron scheduler: jobs in YAML/TOML manifests, validated, hot-reloaded."""

from __future__ import annotations

from scheduler.cron import build_trigger, describe, next_fire_times, validate_expression
from scheduler.errors import (
    DuplicateJob,
    InvalidCronExpression,
    InvalidManifests,
    InvalidSettings,
    JobNotFound,
    SchedulerError,
)
from scheduler.loader import LoadedJob, LoadResult, ManifestLoader, load_manifests
from scheduler.manifest import Defaults, JobSpec, ManifestFile, manifest_json_schema
from scheduler.problems import Problem
from scheduler.records import JobView, ReloadStatus, RunKind, RunRecord, RunStatus
from scheduler.runtime.service import SchedulerService
from scheduler.settings import Settings, load_settings

__version__ = "0.1.0"

__all__ = [
    "Defaults",
    "DuplicateJob",
    "InvalidCronExpression",
    "InvalidManifests",
    "InvalidSettings",
    "JobNotFound",
    "JobSpec",
    "JobView",
    "LoadResult",
    "LoadedJob",
    "ManifestFile",
    "ManifestLoader",
    "Problem",
    "ReloadStatus",
    "RunKind",
    "RunRecord",
    "RunStatus",
    "SchedulerError",
    "SchedulerService",
    "Settings",
    "build_trigger",
    "describe",
    "load_manifests",
    "load_settings",
    "manifest_json_schema",
    "next_fire_times",
    "validate_expression",
]
