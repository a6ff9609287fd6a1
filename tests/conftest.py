"""Shared fixtures: isolated settings environment and a clean working directory."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"

_SETTINGS_PREFIXES = ("SCHEDULER_", "BACKGROUND_JOBS_ENABLED")


@pytest.fixture(autouse=True)
def _isolated_settings_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Keep the developer's scheduler settings out of every test."""
    for name in list(os.environ):
        if name.startswith(_SETTINGS_PREFIXES) and name != "SCHEDULER_REQUIRE_SERVICES":
            monkeypatch.delenv(name, raising=False)
    # Each service gets its own in-memory store unless a test names a real one.
    monkeypatch.setenv("SCHEDULER_STORE_URL", "memory://")
    yield


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """Undo ``configure_logging`` calls: a handler left on a closed capture stream would make
    every later log line a "Logging error"."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)


@pytest.fixture
def repo_root() -> Path:
    """The checkout's root folder."""
    return REPO_ROOT


@pytest.fixture
def fixtures_dir() -> Path:
    """Folder of one-problem-per-file manifest fixtures."""
    return FIXTURES


def services_required() -> bool:
    """Whether a missing external service is a failure rather than a skip."""
    return os.environ.get("SCHEDULER_REQUIRE_SERVICES") == "1"


@pytest.fixture
def reset_jobfuncs() -> Iterator[None]:
    """Fresh gates and records in ``tests.jobfuncs``; never leave a worker thread blocked."""
    from tests import jobfuncs

    jobfuncs.reset()
    yield
    jobfuncs.THREAD_GATE.set()
