"""``scheduler.__all__`` is the public surface: pinned, importable, documented."""

from __future__ import annotations

import scheduler

PUBLIC_NAMES = {
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
}


def test_all_lists_exactly_the_public_names() -> None:
    assert set(scheduler.__all__) == PUBLIC_NAMES
    assert len(scheduler.__all__) == len(PUBLIC_NAMES)


def test_every_public_name_is_importable_and_documented() -> None:
    undocumented = [name for name in scheduler.__all__ if not getattr(scheduler, name).__doc__]
    assert undocumented == []


def test_seed_api_is_on_the_service() -> None:
    seed_methods = (
        "register_job",
        "start",
        "shutdown",
        "pause_job",
        "resume_job",
        "remove_job",
        "get_jobs",
    )
    assert all(callable(getattr(scheduler.SchedulerService, name)) for name in seed_methods)
    assert isinstance(scheduler.SchedulerService.is_running, property)
