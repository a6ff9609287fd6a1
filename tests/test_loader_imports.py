"""Importing job modules: time limit, failures retried, what a callable really is."""

from __future__ import annotations

import concurrent.futures
import os
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from scheduler.loader import ManifestLoader
from scheduler.problems import Problem
from tests.fixtures import import_gate

MANIFEST = 'job_id: a\nfunc: {func}\ncron_expression: "@daily"\n'


@pytest.fixture
def module_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A folder on ``sys.path`` for modules written by the test; they are forgotten after."""
    folder = tmp_path / "modules"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    yield folder
    for name in [name for name in sys.modules if name.startswith("later_")]:
        del sys.modules[name]


def _manifest(folder: Path, func: str) -> Path:
    folder.mkdir(exist_ok=True)
    path = folder / "a.yaml"
    path.write_text(MANIFEST.format(func=func))
    return path


def _problem(path: Path, message: str) -> Problem:
    return Problem(str(path), 2, 7, message, "a", "func")


def test_a_module_created_after_a_failed_load_is_accepted_by_the_same_loader(
    tmp_path: Path, module_dir: Path
) -> None:
    manifest = _manifest(tmp_path / "m", "later_created.run")
    loader = ManifestLoader(allowed_modules=("later_created",))

    first = loader.load([manifest.parent])
    assert first.problems == (
        _problem(
            manifest,
            "cannot import module 'later_created': ModuleNotFoundError: "
            "No module named 'later_created'",
        ),
    )
    listed = module_dir.stat()
    (module_dir / "later_created.py").write_text("def run() -> None:\n    pass\n")
    # as on a file system with coarse timestamps: the folder looks unchanged to the
    # import system's cached listing, which the loader must invalidate
    os.utime(module_dir, ns=(listed.st_atime_ns, listed.st_mtime_ns))

    second = loader.load([manifest.parent])
    assert second.problems == ()
    assert [job.job_id for job in second.jobs] == ["a"]
    assert callable(second.jobs[0].func)


def test_a_hinted_reload_retries_a_failed_import_of_an_unchanged_file(
    tmp_path: Path, module_dir: Path
) -> None:
    manifest = _manifest(tmp_path / "m", "later_hinted.run")
    other = tmp_path / "m" / "other.yaml"
    other.write_text('job_id: b\nfunc: later_hinted.run\ncron_expression: "@daily"\n')
    loader = ManifestLoader(allowed_modules=("later_hinted",))
    assert len(loader.load([manifest.parent]).problems) == 2
    (module_dir / "later_hinted.py").write_text("def run() -> None:\n    pass\n")
    other.write_text('job_id: b\nfunc: later_hinted.run\ncron_expression: "@hourly"\n')

    result = loader.load([manifest.parent], changed=[other])

    assert result.problems == ()
    assert sorted(job.job_id for job in result.jobs) == ["a", "b"]


def test_a_module_that_raised_is_imported_again_once_fixed(
    tmp_path: Path, module_dir: Path
) -> None:
    module = module_dir / "later_fixed.py"
    module.write_text("raise KeyboardInterrupt\n")
    manifest = _manifest(tmp_path / "m", "later_fixed.run")
    loader = ManifestLoader(allowed_modules=("later_fixed",))
    problem = loader.load([manifest.parent]).problems[0]
    assert problem.message == (
        f"cannot import module 'later_fixed': KeyboardInterrupt ({module}:1)"
    )
    assert "later_fixed" not in sys.modules

    module.write_text("def run() -> None:\n    pass\n")

    assert loader.load([manifest.parent]).problems == ()


def test_a_hanging_import_times_out_then_says_still_importing_then_succeeds(
    tmp_path: Path, module_dir: Path
) -> None:
    (module_dir / "later_slow.py").write_text(
        "from tests.fixtures import import_gate\n"
        "import_gate.LATER.wait(5)\n"
        "def run() -> None:\n    pass\n"
    )
    manifest = _manifest(tmp_path / "m", "later_slow.run")
    loader = ManifestLoader(allowed_modules=("later_slow",), import_timeout=0.2)
    import_gate.LATER.clear()
    try:
        started = time.monotonic()
        first = loader.load([manifest.parent])
        assert 0.2 <= time.monotonic() - started < 1.0
        assert first.problems == (
            _problem(
                manifest,
                "importing module 'later_slow' did not finish within 0.2s "
                "(SCHEDULER_IMPORT_TIMEOUT); does it wait on the network or a lock at import?",
            ),
        )
        started = time.monotonic()
        second = loader.load([manifest.parent])
        assert time.monotonic() - started < 0.15  # it does not queue behind the stuck import
        assert second.problems[0].message.startswith(
            "importing module 'later_slow' has still not finished ("
        )
        assert second.problems[0].message.endswith(
            "since it began); it goes on in the background and the next load tries again"
        )
    finally:
        import_gate.LATER.set()
    for thread in threading.enumerate():
        if thread.name == "scheduler-import-later_slow":
            thread.join(timeout=5)

    assert loader.load([manifest.parent]).problems == ()


@pytest.mark.parametrize(
    "func",
    [
        "tests.jobfuncs.async_record",
        "tests.fixtures.accepted_callables.partial_of_coroutine",
        "tests.fixtures.accepted_callables.async_callable",
        "tests.fixtures.accepted_callables.decorated",
        "tests.fixtures.accepted_callables.returns_int",
    ],
    ids=["async-def", "partial-of-async", "async-call-object", "wraps-decorator", "plain"],
)
def test_callables_the_runtime_runs_properly_are_accepted(tmp_path: Path, func: str) -> None:
    manifest = _manifest(tmp_path / "m", func)
    result = ManifestLoader(allowed_modules=("tests",)).load([manifest.parent])
    assert result.problems == ()


def test_load_is_safe_from_worker_threads(tmp_path: Path) -> None:
    folder = tmp_path / "m"
    folder.mkdir()
    for index in range(50):
        (folder / f"j{index}.yaml").write_text(
            MANIFEST.format(func="tests.fixtures.fixture_jobs.tick").replace("a", f"a{index}", 1)
        )
    loader = ManifestLoader(allowed_modules=("tests",))
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: loader.load([folder]), range(8)))
    assert all(result == results[0] for result in results)
    assert len(results[0].jobs) == 50 and results[0].problems == ()


def test_the_service_loads_with_the_import_timeout_setting(
    tmp_path: Path, module_dir: Path
) -> None:
    from scheduler.runtime.service import SchedulerService
    from scheduler.settings import load_settings

    (module_dir / "later_service.py").write_text(
        "from tests.fixtures import import_gate\nimport_gate.LATER.wait(5)\n"
    )
    manifest = _manifest(tmp_path / "m", "later_service.run")
    settings = load_settings(allowed_modules=("later_service",), import_timeout_seconds=0.1)
    import_gate.LATER.clear()
    try:
        result = SchedulerService(settings).load([manifest.parent])
    finally:
        import_gate.LATER.set()
    for thread in threading.enumerate():
        if thread.name == "scheduler-import-later_service":
            thread.join(timeout=5)
    assert [problem.message for problem in result.problems] == [
        "importing module 'later_service' did not finish within 0.1s "
        "(SCHEDULER_IMPORT_TIMEOUT); does it wait on the network or a lock at import?"
    ]


def test_func_naming_a_submodule_not_yet_imported_says_it_is_a_module(
    tmp_path: Path, module_dir: Path
) -> None:
    package = module_dir / "later_pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "tasks.py").write_text("def run() -> None:\n    pass\n")
    manifest = _manifest(tmp_path / "m", "later_pkg.tasks")

    result = ManifestLoader(allowed_modules=("later_pkg",)).load([manifest.parent])

    assert result.problems == (
        _problem(
            manifest, "'later_pkg.tasks' is a module, not a function; name a function defined in it"
        ),
    )


def test_an_object_whose_attributes_raise_is_a_problem_not_a_crash(
    tmp_path: Path, module_dir: Path
) -> None:
    (module_dir / "later_hostile.py").write_text(
        "class Hostile:\n"
        "    def __call__(self):\n        pass\n"
        "    def __getattribute__(self, name):\n        raise RuntimeError('no ' + name)\n"
        "job = Hostile()\n"
    )
    manifest = _manifest(tmp_path / "m", "later_hostile.job")

    result = ManifestLoader(allowed_modules=("later_hostile",)).load([manifest.parent])

    assert len(result.problems) == 1
    assert result.problems[0].message.startswith("cannot inspect 'later_hostile.job': ")
