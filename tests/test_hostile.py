"""A hostile corpus: one fixture per input that once gave a traceback, a hang or a wrong
answer. Each is rejected by ``scheduler validate`` with located messages, exit 1, no
traceback, within a second; the exact lines are pinned here (the closing note of the issue
lists them).
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from scheduler.cli import main
from tests.fixtures import import_gate

REPO = Path(__file__).resolve().parent.parent
HOSTILE = Path("tests/fixtures/hostile")
FOLDERS = Path("tests/fixtures/hostile_folders")

CORPUS: dict[str, list[str]] = {
    "async_generator.yaml": [
        "3:7: error: [async_generator] func: 'tests.fixtures.hostile_never_runs.async_generator' is an async generator function: calling it runs nothing until iterated; make it a plain 'async def' that does the work and returns",
    ],
    "cron_and_func_both_bad.yaml": [
        "3:7: error: [cron_and_func_both_bad] func: module 'tests.fixtures.fixture_jobs' has no attribute 'nope'",
        "4:18: error: [cron_and_func_both_bad] cron_expression: day-of-week 8 is out of range 0-7",
    ],
    "enabled_yes.yaml": [
        "5:10: error: [enabled_yes] enabled: expected true or false (unquoted), got the string 'yes'; write true or false",
        "6:11: error: [enabled_yes] coalesce: expected true or false (unquoted), got the string 'off'; write true or false",
    ],
    "func_is_module.yaml": [
        "3:7: error: [func_is_module] func: 'tests.fixtures.fixture_jobs' is a module, not a function; name a function defined in it",
    ],
    "generator.yaml": [
        "3:7: error: [generator] func: 'tests.fixtures.hostile_never_runs.generator' is a generator function: calling it runs nothing until iterated; make it a function that does the work and returns",
    ],
    "grace_huge.yaml": [
        "5:21: error: [grace_huge] misfire_grace_time: expected a value <= 604800, got the number 946080000",
    ],
    "import_generator_exit.yaml": [
        "3:7: error: [import_generator_exit] func: cannot import module 'tests.fixtures.hostile_raises_generator_exit': GeneratorExit: raised at import (tests/fixtures/hostile_raises_generator_exit.py:3)",
    ],
    "import_hangs.yaml": [
        "3:7: error: [import_hangs] func: importing module 'tests.fixtures.hostile_slow_import' did not finish within 0.3s (SCHEDULER_IMPORT_TIMEOUT); does it wait on the network or a lock at import?",
    ],
    "import_keyboard_interrupt.yaml": [
        "3:7: error: [import_keyboard_interrupt] func: cannot import module 'tests.fixtures.hostile_raises_keyboard_interrupt': KeyboardInterrupt: raised at import (tests/fixtures/hostile_raises_keyboard_interrupt.py:3)",
    ],
    "import_system_exit.yaml": [
        "3:7: error: [import_system_exit] func: cannot import module 'tests.fixtures.hostile_raises_system_exit': SystemExit: raised at import (tests/fixtures/hostile_raises_system_exit.py:3)",
    ],
    "int_huge.toml": [
        "5:10: error: [int_huge] jitter: integer has more than 4,000 digits; no field takes one that large",
    ],
    "int_huge_hex.toml": [
        "5:8: error: [int_huge_hex] args: integer has more than 4,000 digits; no field takes one that large",
    ],
    "int_huge_plain.yaml": [
        "5:8: error: [int_huge_plain] args: integer has more than 4,000 digits; no field takes one that large",
    ],
    "int_huge_tagged.yaml": [
        "5:16: error: [int_huge_tagged] max_instances: integer has more than 4,000 digits; no field takes one that large",
    ],
    "jitter_huge.yaml": [
        "5:9: error: [jitter_huge] jitter: expected a value <= 86400, got the number 1000000000000",
    ],
    "job_id_forged.yaml": [
        "2:9: error: [x\\nfake.yaml:1:1: error: forged\\x1b[2K\\u202e] job_id: expected 1-128 letters, digits, '_', '.' or '-', not starting with '.' or '-', got the string 'x\\nfake.yaml:1:1: error: forged\\x1b[2K\\u202e'",
    ],
    "lazy_getattr.yaml": [
        "3:7: error: [lazy_getattr] func: getting 'run' from module 'tests.fixtures.hostile_lazy_getattr' raised RuntimeError: lazy attribute run could not be loaded (tests/fixtures/hostile_lazy_getattr.py:7)",
    ],
    "max_instances_huge.yaml": [
        "5:16: error: [max_instances_huge] max_instances: expected a value <= 1000, got the number 1000000",
    ],
    "nested_deep.toml": [
        "5:108: error: [nested_deep] args: lists and mappings are nested more than 100 levels deep",
    ],
    "nested_deep.yaml": [
        "6:201: error: [nested_deep] args: lists and mappings are nested more than 100 levels deep",
    ],
    "nested_deep_inline.toml": [
        "5:510: error: [nested_deep_inline] kwargs: lists and mappings are nested more than 100 levels deep",
    ],
    "partial_of_async.yaml": [
        "3:7: error: [partial_of_async] func: 'tests.fixtures.hostile_never_runs.partial_of_async_object' wraps a coroutine function but is not one itself, so it would run in a thread and its coroutine would never be awaited; make the wrapper 'async def'",
    ],
    "reexport_path.yaml": [
        "3:7: error: [reexport_path] func: 'tests.fixtures.hostile_reexports.Path' is defined in module 'pathlib', outside the allowed modules ('tests.fixtures'); an allowed module only imports it. Name a function defined under an allowed module (see SCHEDULER_ALLOWED_MODULES)",
    ],
    "reexport_subprocess.yaml": [
        "3:7: error: [reexport_subprocess] func: 'tests.fixtures.hostile_reexports.run' is defined in module 'subprocess', outside the allowed modules ('tests.fixtures'); an allowed module only imports it. Name a function defined under an allowed module (see SCHEDULER_ALLOWED_MODULES)",
    ],
    "returns_coroutine.yaml": [
        "3:7: error: [returns_coroutine] func: 'tests.fixtures.hostile_never_runs.returns_coroutine' is not 'async def' but is annotated to return an awaitable, which the scheduler would never await; make it 'async def'",
    ],
    "signature_raises.yaml": [
        "3:7: error: [signature_raises] func: cannot read the signature of 'tests.fixtures.hostile_signature.job': RuntimeError: signature unavailable (tests/fixtures/hostile_signature.py:9)",
    ],
    "timeout_infinite.toml": [
        "5:11: error: [timeout_infinite] timeout: expected a finite number, got the number inf",
    ],
    "timezone_case.yaml": [
        "5:11: error: [timezone_case] timezone: unknown timezone 'europe/berlin'; did you mean 'Europe/Berlin'?",
    ],
    "timezone_folder.yaml": [
        "5:11: error: [timezone_folder] timezone: unknown timezone 'Europe': it is a group of zones; name one, like 'Europe/Amsterdam'",
    ],
    "timezone_long.yaml": [
        "5:11: error: [timezone_long] timezone: unknown timezone 'Europe/xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...'; expected an IANA name like 'Europe/Berlin'",
    ],
    "timezone_typo.yaml": [
        "5:11: error: [timezone_typo] timezone: unknown timezone 'Europe/Berlim'; did you mean 'Europe/Berlin'?",
    ],
    "toml_job_table.toml": [
        "2:1: error: job: unknown top-level key 'job'; did you mean 'jobs'?",
    ],
    "wrapped_coroutine.yaml": [
        "3:7: error: [wrapped_coroutine] func: 'tests.fixtures.hostile_never_runs.wrapped_coroutine' wraps a coroutine function but is not one itself, so it would run in a thread and its coroutine would never be awaited; make the wrapper 'async def'",
    ],
    "yaml_unclosed_list.yaml": [
        "5:7: error: YAML syntax error: the list opened here ('[') is not closed (did not find expected ',' or ']' at line 6, column 1)",
    ],
}


@pytest.fixture
def hostile_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Run from the repo root, allow the fixture modules, a short import limit; release
    the module that blocks at import afterwards and forget it, so the case can run again."""
    monkeypatch.chdir(REPO)
    monkeypatch.setenv("SCHEDULER_ALLOWED_MODULES", "tests.fixtures")
    monkeypatch.setenv("SCHEDULER_IMPORT_TIMEOUT", "0.3")
    import_gate.RELEASE.clear()
    yield
    import_gate.RELEASE.set()
    for thread in threading.enumerate():
        if thread.name == "scheduler-import-tests.fixtures.hostile_slow_import":
            thread.join(timeout=5)
    sys.modules.pop("tests.fixtures.hostile_slow_import", None)


def _validate(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str], float]:
    started = time.perf_counter()
    code = main(["validate", *argv])
    elapsed = time.perf_counter() - started
    return code, capsys.readouterr().out.splitlines(), elapsed


def test_the_corpus_covers_every_fixture_file() -> None:
    assert sorted(CORPUS) == sorted(path.name for path in (REPO / HOSTILE).iterdir())


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_hostile_input_is_a_located_problem_within_a_second(
    hostile_env: None, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    code, lines, elapsed = _validate(capsys, str(HOSTILE / name))

    assert code == 1
    assert lines[:-1] == [f"{HOSTILE / name}:{line}" for line in CORPUS[name]]
    assert lines[-1].startswith("invalid: ")
    assert elapsed < 1.0


def test_a_named_pipe_given_as_a_path_is_refused_without_blocking(
    hostile_env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pipe = tmp_path / "pipe.yaml"
    os.mkfifo(pipe)

    code, lines, elapsed = _validate(capsys, str(pipe))

    assert code == 1
    assert lines[0] == f"{pipe}:1:1: error: not a regular file (a named pipe); cannot read it"
    assert elapsed < 1.0


def test_a_symlink_loop_is_reported_and_the_rest_of_the_folder_still_loads(
    hostile_env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "loop.yaml").symlink_to("loop.yaml")
    (tmp_path / "dangling.yaml").symlink_to("missing.yaml")
    (tmp_path / "bad.yaml").write_text("job_id: bad\n")
    (tmp_path / "good.yaml").write_text(
        'job_id: good\nfunc: tests.fixtures.fixture_jobs.tick\ncron_expression: "@daily"\n'
    )

    code, lines, elapsed = _validate(capsys, str(tmp_path))

    assert code == 1
    assert lines == [
        f"{tmp_path}/bad.yaml:1:1: error: [bad] cron_expression: missing required field "
        "'cron_expression'",
        f"{tmp_path}/bad.yaml:1:1: error: [bad] func: missing required field 'func'",
        f"{tmp_path}/dangling.yaml:1:1: error: broken symbolic link to 'missing.yaml'",
        f"{tmp_path}/loop.yaml:1:1: error: cannot read file: Too many levels of symbolic links",
        "invalid: 4 errors; 1 job in 2 files (1 enabled, 0 disabled)",
    ]
    assert elapsed < 1.0


def test_a_folder_without_manifests_is_a_warning_and_strict_makes_it_an_error(
    hostile_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = FOLDERS / "empty"
    warning = (
        f"{folder}:1:1: warning: no manifest files in this folder "
        "(looked for *.yaml, *.yml and *.toml below it)"
    )
    assert _validate(capsys, str(folder))[:2] == (
        0,
        [warning, "ok: 0 jobs in 0 files (0 enabled, 0 disabled), 1 warning"],
    )
    assert _validate(capsys, "--strict", str(folder))[:2] == (
        1,
        [
            warning.replace(": warning: ", ": error: "),
            "invalid: 1 error; 0 jobs in 0 files (0 enabled, 0 disabled)",
        ],
    )


def test_files_with_skipped_names_get_a_warning_each(
    hostile_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = FOLDERS / "only_skipped"
    code, lines, _ = _validate(capsys, str(folder))

    assert code == 0
    assert lines == [
        f"{folder}:1:1: warning: no manifest files in this folder "
        "(looked for *.yaml, *.yml and *.toml below it)",
        f"{folder}/job.YAML:1:1: warning: skipped: manifest names end in .yaml, .yml or .toml "
        "in lower case; rename the file to load it",
        f"{folder}/job.json:1:1: warning: skipped: JSON files are not loaded; save it as YAML "
        "(JSON is valid YAML) in .yaml",
        "ok: 0 jobs in 0 files (0 enabled, 0 disabled), 3 warnings",
    ]


def test_a_module_printing_at_import_leaves_json_output_pure(
    hostile_env: None, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    sys.modules.pop("tests.fixtures.hostile_prints", None)
    manifest = tmp_path / "prints.yaml"
    manifest.write_text(
        'job_id: prints\nfunc: tests.fixtures.hostile_prints.run\ncron_expression: "@daily"\n'
    )

    assert main(["validate", "--format", "json", str(manifest)]) == 0

    out, err = capfd.readouterr()
    assert json.loads(out)["ok"] is True
    assert "printed by a job module at import" in err
    assert "written to fd 1 by a job module at import" in err
