"""Loader: one broken fixture per problem, asserted whole; valid sets, discovery, the cache."""

from __future__ import annotations

import random
import re
import shutil
import time
from pathlib import Path

import pytest

import scheduler.loader.load
from scheduler.errors import JobNotFound
from scheduler.loader import (
    LoadResult,
    ManifestLoader,
    discover_manifest_files,
    load_manifests,
)
from scheduler.manifest import JobSpec
from scheduler.problems import Problem
from scheduler.sources import MAX_MANIFEST_BYTES
from tests.fixtures import fixture_jobs

FIXTURES = Path(__file__).resolve().parent / "fixtures"
BROKEN = FIXTURES / "broken"
ALLOWED = ("tests.fixtures",)

JOB = """\
job_id: {job_id}
func: jobs.example.run
cron_expression: "{cron}"
"""

TOML_JOB = """\
job_id = "{job_id}"
func = "jobs.example.run"
cron_expression = "{cron}"
"""


def load(*paths: str | Path, **options: object) -> LoadResult:
    options.setdefault("allowed_modules", ALLOWED)
    return load_manifests(list(paths), **options)  # type: ignore[arg-type]


@pytest.fixture
def in_broken(monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run in the broken-fixtures folder so problems show short relative paths."""
    monkeypatch.chdir(BROKEN)
    return BROKEN


def P(
    file: str,
    line: int | None,
    col: int | None,
    message: str,
    job_id: str | None = None,
    field: str | None = None,
) -> Problem:
    return Problem(file, line, col, message, job_id, field)


BROKEN_CASES: dict[str, list[Problem]] = {
    "yaml_syntax.yaml": [
        P(
            "yaml_syntax.yaml",
            5,
            7,
            "YAML syntax error: the list opened here ('[') is not closed "
            "(did not find expected ',' or ']' at line 7, column 1)",
        ),
    ],
    "unquoted_star.yaml": [
        P(
            "unquoted_star.yaml",
            4,
            18,
            "YAML syntax error: a value starting with '*' is read as a YAML alias; "
            'quote the cron expression: cron_expression: "*/5 * * * *"',
        ),
    ],
    "duplicate_key.yaml": [
        P(
            "duplicate_key.yaml",
            5,
            1,
            "duplicate key 'cron_expression'; first defined at line 3",
            "duplicate_key",
            "cron_expression",
        ),
    ],
    "unknown_key.yaml": [
        P(
            "unknown_key.yaml",
            1,
            1,
            "missing required field 'cron_expression'",
            "unknown_key",
            "cron_expression",
        ),
        P(
            "unknown_key.yaml",
            3,
            1,
            "unknown field 'cron_expresion'; did you mean 'cron_expression'?",
            "unknown_key",
            "cron_expresion",
        ),
    ],
    "wrong_type.yaml": [
        P(
            "wrong_type.yaml",
            4,
            16,
            "expected an integer, got the string 'two'",
            "wrong_type",
            "max_instances",
        ),
    ],
    "enabled_string.yaml": [
        P(
            "enabled_string.yaml",
            4,
            10,
            "expected true or false (unquoted), got the string 'false'; write false without quotes",
            "enabled_string",
            "enabled",
        ),
    ],
    "bad_job_id.yaml": [
        P(
            "bad_job_id.yaml",
            1,
            9,
            "expected 1-128 letters, digits, '_', '.' or '-', not starting "
            "with '.' or '-', got the string 'nightly cleanup!'",
            "nightly cleanup!",
            "job_id",
        ),
    ],
    "unsafe_tag.yaml": [
        P(
            "unsafe_tag.yaml",
            4,
            7,
            "unsafe YAML tag '!!python/object/apply:os.system' is not allowed; use plain YAML data",
        ),
    ],
    "non_utf8.yaml": [
        P("non_utf8.yaml", 4, 17, "file is not valid UTF-8 (byte 0xe9); save it as UTF-8"),
    ],
    "alias_bomb.yaml": [
        P("alias_bomb.yaml", 10, 4, "refused: YAML aliases expand to more than 100000 nodes"),
    ],
    "recursive_alias.yaml": [
        P(
            "recursive_alias.yaml",
            4,
            7,
            "refused: YAML aliases refer to themselves (recursive alias)",
        ),
    ],
    "unknown_timezone.yaml": [
        P(
            "unknown_timezone.yaml",
            4,
            11,
            "unknown timezone 'Europe/Berlim'; did you mean 'Europe/Berlin'?",
            "unknown_timezone",
            "timezone",
        ),
    ],
    "bad_cron.yaml": [
        P(
            "bad_cron.yaml",
            3,
            18,
            "day-of-week 8 is out of range 0-7",
            "bad_cron",
            "cron_expression",
        ),
    ],
    "never_fires.yaml": [
        P(
            "never_fires.yaml",
            3,
            18,
            "never fires: day-of-month 30 does not occur in February",
            "never_fires",
            "cron_expression",
        ),
    ],
    "outside_allowlist.yaml": [
        P(
            "outside_allowlist.yaml",
            2,
            7,
            "module 'os' is outside the allowed modules "
            "('tests.fixtures'); see SCHEDULER_ALLOWED_MODULES",
            "outside_allowlist",
            "func",
        ),
    ],
    "module_not_found.yaml": [
        P(
            "module_not_found.yaml",
            2,
            7,
            "cannot import module 'tests.fixtures.nope': "
            "ModuleNotFoundError: No module named 'tests.fixtures.nope'",
            "module_not_found",
            "func",
        ),
    ],
    "module_raises.yaml": [
        P(
            "module_raises.yaml",
            2,
            7,
            "cannot import module 'tests.fixtures.fixture_raises': "
            "RuntimeError: database URL is not configured"
            f" ({FIXTURES / 'fixture_raises.py'}:3)",
            "module_raises",
            "func",
        ),
    ],
    "missing_attribute.yaml": [
        P(
            "missing_attribute.yaml",
            2,
            7,
            "module 'tests.fixtures.fixture_jobs' has no attribute 'cleanup_job'; "
            "did you mean 'cleanup'?",
            "missing_attribute",
            "func",
        ),
    ],
    "not_callable.yaml": [
        P(
            "not_callable.yaml",
            2,
            7,
            "'tests.fixtures.fixture_jobs:NOT_CALLABLE' is not callable (it is the number 42)",
            "not_callable",
            "func",
        ),
    ],
    "args_not_binding.yaml": [
        P(
            "args_not_binding.yaml",
            4,
            7,
            "arguments do not fit greet(name, *, loud=False): too many positional arguments",
            "args_not_binding",
            "args",
        ),
    ],
    "kwargs_not_binding.yaml": [
        P(
            "kwargs_not_binding.yaml",
            6,
            3,
            "arguments do not fit cleanup(days, dry_run=False): "
            "got an unexpected keyword argument 'dryrun'",
            "kwargs_not_binding",
            "kwargs",
        ),
    ],
    "toml_syntax.toml": [
        P("toml_syntax.toml", 4, 29, "TOML syntax error: Illegal character '\\n'"),
    ],
    "toml_unknown_key.toml": [
        P(
            "toml_unknown_key.toml",
            13,
            1,
            "unknown field 'max_instance'; did you mean 'max_instances'?",
            "second",
            "max_instance",
        ),
    ],
    "multi_document.yaml": [
        P(
            "multi_document.yaml",
            4,
            1,
            "expected one YAML document per file, found a second one ('---')",
        ),
    ],
    "empty.yaml": [
        P("empty.yaml", 1, 1, "empty manifest; expected a job mapping or a 'jobs:' list"),
    ],
    "top_level_list.yaml": [
        P(
            "top_level_list.yaml",
            1,
            1,
            "expected a mapping at the top level (one job, or 'jobs:'), got a list",
        ),
    ],
    "missing_field.yaml": [
        P("missing_field.yaml", 2, 1, "missing required field 'func'", "missing_field", "func"),
    ],
    "unknown_top_level_key.yaml": [
        P("unknown_top_level_key.yaml", 1, 1, "missing required field 'jobs'", None, "jobs"),
        P(
            "unknown_top_level_key.yaml",
            3,
            1,
            "unknown field 'job'; did you mean 'jobs'?",
            None,
            "job",
        ),
    ],
    "bad_defaults.yaml": [
        P(
            "bad_defaults.yaml",
            2,
            13,
            "unknown timezone 'Mars/Olympus_Mons'; expected an IANA name like 'Europe/Berlin'",
            None,
            "timezone",
        ),
        P(
            "bad_defaults.yaml",
            3,
            13,
            "expected true or false (unquoted), got the string 'yes'; write true or false",
            None,
            "coalesce",
        ),
        P(
            "bad_defaults.yaml",
            8,
            5,
            "expected a job mapping, got the string 'just a string'",
            None,
            "jobs",
        ),
    ],
}


def test_every_broken_fixture_has_a_case() -> None:
    on_disk = {path.name for path in BROKEN.iterdir() if path.is_file()}
    assert on_disk == set(BROKEN_CASES)


@pytest.mark.parametrize("name", sorted(BROKEN_CASES))
def test_broken_fixture_reports_exactly_its_problem(in_broken: Path, name: str) -> None:
    result = load(name)

    assert list(result.problems) == BROKEN_CASES[name]
    assert result.files == (name,)
    assert not result.ok


def test_valid_jobs_of_a_file_load_beside_its_problems(in_broken: Path) -> None:
    result = load("bad_defaults.yaml")

    assert [job.spec.job_id for job in result.jobs] == ["bad_defaults"]
    assert result.jobs[0].timezone == "UTC"
    assert result.jobs[0].spec.coalesce is True


def test_duplicate_job_id_across_files_names_both_places(in_broken: Path) -> None:
    result = load("duplicate_job_id")

    assert list(result.problems) == [
        P(
            "duplicate_job_id/b.yaml",
            5,
            13,
            "duplicate job_id 'nightly_cleanup'; first defined at duplicate_job_id/a.yaml:2",
            "nightly_cleanup",
            "job_id",
        ),
    ]
    assert [(job.spec.job_id, job.file) for job in result.jobs] == [
        ("nightly_cleanup", "duplicate_job_id/a.yaml"),
        ("hourly_report", "duplicate_job_id/b.yaml"),
    ]


def test_oversize_file_is_refused_before_parsing(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_bytes(b"job_id: big\n" + b"# padding\n" * (MAX_MANIFEST_BYTES // 10 + 1))

    result = load(big)

    message = "file is too large (more than 1 MiB); manifests are limited to 1 MiB"
    assert list(result.problems) == [P(str(big), None, None, message)]


def test_alias_bomb_is_refused_fast() -> None:
    started = time.perf_counter()
    result = load(BROKEN / "alias_bomb.yaml")
    elapsed = time.perf_counter() - started

    assert [problem.message for problem in result.problems] == [
        "refused: YAML aliases expand to more than 100000 nodes"
    ]
    assert elapsed < 1.0


def test_unquoted_star_without_step_gets_the_same_hint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "star.yaml").write_text("job_id: a\nfunc: jobs.a.b\ncron_expression: * * * * *\n")
    monkeypatch.chdir(tmp_path)

    result = load("star.yaml")

    assert list(result.problems) == [
        P(
            "star.yaml",
            3,
            18,
            "YAML syntax error: a value starting with '*' is read as a YAML alias; "
            'quote the cron expression: cron_expression: "* * * * *"',
        ),
    ]


def test_missing_path_is_a_problem(tmp_path: Path) -> None:
    missing = tmp_path / "nope"

    result = load(missing)

    assert list(result.problems) == [P(str(missing), None, None, "no such file or directory")]
    assert result.files == ()


def test_a_file_that_is_not_a_manifest_is_a_problem(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("# jobs\n")

    result = load(readme)

    message = "not a manifest file; expected a .yaml, .yml or .toml file"
    assert list(result.problems) == [P(str(readme), None, None, message)]


# --- valid sets ---------------------------------------------------------------------------


def test_valid_examples_load_with_defaults_applied(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(FIXTURES)

    result = load("valid")

    assert result.problems == ()
    assert result.ok
    assert result.files == (
        "valid/anchors.yaml",
        "valid/nested/weekly.toml",
        "valid/single.yaml",
        "valid/with_defaults.yml",
    )
    summary = [
        (job.spec.job_id, job.file, job.line, job.timezone, job.spec.max_instances)
        for job in result.jobs
    ]
    assert summary == [
        ("every_minute", "valid/anchors.yaml", 3, "UTC", 3),
        ("every_second_minute", "valid/anchors.yaml", 8, "UTC", 3),
        ("weekly_backup", "valid/nested/weekly.toml", 2, "UTC", 1),
        ("nightly_cleanup", "valid/single.yaml", 2, "Europe/Berlin", 1),
        ("hourly_report", "valid/with_defaults.yml", 7, "America/New_York", 2),
        ("weekday_digest", "valid/with_defaults.yml", 11, "America/New_York", 1),
    ]


def test_loaded_jobs_carry_their_spec_and_callable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(FIXTURES)

    result = load("valid")

    nightly = result.job("nightly_cleanup")
    assert nightly.func is fixture_jobs.cleanup
    assert nightly.spec == JobSpec(
        job_id="nightly_cleanup",
        func="tests.fixtures.fixture_jobs.cleanup",
        cron_expression="0 3 * * *",
        enabled=True,
        description="Delete expired sessions",
        timezone="Europe/Berlin",
        args=[30],
        kwargs={"dry_run": False},
        timeout=600,
    )
    digest = result.job("weekday_digest")
    assert digest.spec.enabled is False
    assert digest.spec.misfire_grace_time == 300
    assert digest.func is fixture_jobs.greet
    assert result.job("every_second_minute").spec.cron_expression == "*/2 * * * *"


def test_unknown_job_id_raises_job_not_found() -> None:
    result = load(FIXTURES / "valid")

    with pytest.raises(JobNotFound, match="no job with id 'nope'"):
        result.job("nope")


def test_toml_and_yaml_give_equal_specs() -> None:
    from_yaml = load(FIXTURES / "equivalent" / "jobs.yaml")
    from_toml = load(FIXTURES / "equivalent" / "jobs.toml")

    assert from_yaml.problems == from_toml.problems == ()
    assert [job.spec for job in from_yaml.jobs] == [job.spec for job in from_toml.jobs]
    assert [job.line for job in from_toml.jobs] == [5, 18]
    assert [job.timezone for job in from_toml.jobs] == ["Europe/Berlin", "UTC"]


def test_import_check_off_still_enforces_the_allowlist(in_broken: Path) -> None:
    loader = ManifestLoader(allowed_modules=ALLOWED, import_check=False)

    assert loader.load(["module_not_found.yaml"]).problems == ()
    assert loader.load(["module_not_found.yaml"]).jobs[0].func is None
    assert [problem.field for problem in loader.load(["outside_allowlist.yaml"]).problems] == [
        "func"
    ]


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (
            "def run(:\n",
            "cannot import module 'tmpjobs_bad': SyntaxError: invalid syntax "
            "(tmpjobs_bad.py, line 1)",
        ),
        (
            "import sys\nsys.exit(3)\n",
            "cannot import module 'tmpjobs_bad': SystemExit: 3 ({tmp}/tmpjobs_bad.py:2)",
        ),
    ],
    ids=["syntax-error", "system-exit"],
)
def test_any_import_failure_is_a_problem(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: str, message: str
) -> None:
    (tmp_path / "tmpjobs_bad.py").write_text(source)
    monkeypatch.syspath_prepend(str(tmp_path))
    manifest = _touch(tmp_path / "m" / "a.yaml", JOB.format(job_id="a", cron="0 3 * * *"))
    manifest.write_text(manifest.read_text().replace("jobs.example.run", "tmpjobs_bad.run"))

    result = load(manifest, allowed_modules=("tmpjobs_bad",))

    expected = message.format(tmp=tmp_path)
    assert list(result.problems) == [P(str(manifest), 2, 7, expected, "a", "func")]


def test_allowlist_matches_whole_package_names(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(
        JOB.format(job_id="a", cron="0 3 * * *").replace("jobs.", "jobsx.")
    )

    result = load(tmp_path, allowed_modules=("jobs",), import_check=False)

    assert [problem.message for problem in result.problems] == [
        "module 'jobsx.example' is outside the allowed modules ('jobs'); "
        "see SCHEDULER_ALLOWED_MODULES"
    ]


def test_default_timezone_applies_when_the_job_sets_none(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(JOB.format(job_id="a", cron="*/5 * * * *"))

    result = load(
        tmp_path, allowed_modules=("jobs",), import_check=False, default_timezone="Asia/Tokyo"
    )

    assert result.job("a").timezone == "Asia/Tokyo"
    assert result.job("a").spec.timezone is None


def test_dst_gap_is_a_warning_not_an_error(tmp_path: Path) -> None:
    path = tmp_path / "dst.yaml"
    path.write_text(JOB.format(job_id="dst", cron="30 2 * * *") + "timezone: Europe/Berlin\n")

    result = load(path, allowed_modules=("jobs",), import_check=False)

    assert result.ok
    assert [job.spec.job_id for job in result.jobs] == ["dst"]
    # The messages are cron.dst_warnings' (tested there) and name dates relative to today.
    assert [
        (problem.file, problem.line, problem.col, problem.job_id, problem.field, problem.severity)
        for problem in result.problems
    ] == [(str(path), 3, 18, "dst", "cron_expression", "warning")] * 2
    gap, fold = (problem.message for problem in result.problems)
    assert re.fullmatch(r"02:30 .*gap on \d{4}-03-\d\d in Europe/Berlin: .*03:00", gap), gap
    assert re.fullmatch(r"02:30 .*repeated hour on \d{4}-10-\d\d in Europe/Berlin: .*", fold), fold


def test_problems_are_sorted_by_file_line_and_column(in_broken: Path) -> None:
    result = load("wrong_type.yaml", "bad_cron.yaml", "unknown_key.yaml")

    assert [(problem.file, problem.line) for problem in result.problems] == [
        ("bad_cron.yaml", 3),
        ("unknown_key.yaml", 1),
        ("unknown_key.yaml", 3),
        ("wrong_type.yaml", 4),
    ]


def test_a_single_path_string_is_accepted(in_broken: Path) -> None:
    result = ManifestLoader(allowed_modules=ALLOWED).load("bad_cron.yaml")  # type: ignore[arg-type]

    assert result.files == ("bad_cron.yaml",)


# --- discovery ----------------------------------------------------------------------------


def _touch(path: Path, text: str = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_discovery_skips_hidden_entries_and_editor_droppings(tmp_path: Path) -> None:
    for name in [
        "b.yaml",
        "a.yml",
        "c.toml",
        "sub/deeper/d.yaml",
        "notes.txt",
        "e.yaml~",
        ".e.yaml.swp",
        "f.yaml.swp",
        ".#g.yaml",
        ".hidden.yaml",
        ".git/h.yaml",
        "..2027_01_01/i.yaml",
    ]:
        _touch(tmp_path / name)

    found = discover_manifest_files(tmp_path)

    assert found == [
        tmp_path / "a.yml",
        tmp_path / "b.yaml",
        tmp_path / "c.toml",
        tmp_path / "sub" / "deeper" / "d.yaml",
    ]


def test_discovery_follows_symlinks_to_files_like_a_configmap(tmp_path: Path) -> None:
    """A ConfigMap volume: ``name -> ..data/name``, ``..data -> ..<timestamp>``."""
    real = _touch(
        tmp_path / "..2027_01_01_00_00_00.1" / "jobs.yaml", JOB.format(job_id="a", cron="0 3 * * *")
    )
    (tmp_path / "..data").symlink_to(real.parent.name)
    (tmp_path / "jobs.yaml").symlink_to(Path("..data") / "jobs.yaml")
    (tmp_path / "dangling.yaml").symlink_to("missing.yaml")

    assert discover_manifest_files(tmp_path) == [tmp_path / "jobs.yaml"]
    result = load(tmp_path, allowed_modules=("jobs",), import_check=False)
    assert [(job.spec.job_id, job.file) for job in result.jobs] == [
        ("a", str(tmp_path / "jobs.yaml"))
    ]


def test_relative_paths_stay_relative(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _touch(tmp_path / "manifests" / "a.yaml", JOB.format(job_id="a", cron="0 3 * * 8"))
    monkeypatch.chdir(tmp_path)

    result = load("manifests", allowed_modules=("jobs",), import_check=False)

    assert [(problem.file, problem.line) for problem in result.problems] == [
        ("manifests/a.yaml", 3)
    ]


# --- the cache ----------------------------------------------------------------------------


def test_reload_reparses_only_changed_files(tmp_path: Path) -> None:
    for index in range(3):
        _touch(tmp_path / f"job{index}.yaml", JOB.format(job_id=f"job{index}", cron="0 3 * * *"))
    loader = ManifestLoader(import_check=False)

    first = loader.load([tmp_path])
    assert loader.parse_count == 3
    again = loader.load([tmp_path])
    assert loader.parse_count == 3
    assert again.jobs == first.jobs

    _touch(tmp_path / "job1.yaml", JOB.format(job_id="job1", cron="0 4 * * *"))
    changed = loader.load([tmp_path])
    assert loader.parse_count == 4
    assert changed.job("job1").spec.cron_expression == "0 4 * * *"
    assert changed.job("job0") is first.job("job0")


def test_cross_file_checks_rerun_on_cached_files(tmp_path: Path) -> None:
    _touch(tmp_path / "a.yaml", JOB.format(job_id="same", cron="0 3 * * *"))
    loader = ManifestLoader(import_check=False)
    assert loader.load([tmp_path]).ok

    _touch(tmp_path / "b.yaml", JOB.format(job_id="same", cron="0 4 * * *"))
    result = loader.load([tmp_path])

    assert loader.parse_count == 2
    assert [problem.message for problem in result.problems] == [
        f"duplicate job_id 'same'; first defined at {tmp_path / 'a.yaml'}:1"
    ]

    (tmp_path / "b.yaml").unlink()
    assert loader.load([tmp_path]).ok
    assert loader.parse_count == 2


def test_a_fixed_file_is_reparsed_and_its_problems_go(tmp_path: Path) -> None:
    path = _touch(tmp_path / "a.yaml", JOB.format(job_id="a", cron="0 3 * * 8"))
    loader = ManifestLoader(import_check=False)
    assert not loader.load([tmp_path]).ok

    path.write_text(JOB.format(job_id="a", cron="0 3 * * 7"))

    assert loader.load([tmp_path]).problems == ()
    assert loader.parse_count == 2


# --- a reload told which paths changed ------------------------------------------------------


def _hint_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "manifests"
    for name, job_id in [("a.yaml", "a"), ("b.yaml", "b"), ("team/c.toml", "c")]:
        template = TOML_JOB if name.endswith(".toml") else JOB
        _touch(folder / name, template.format(job_id=job_id, cron="0 3 * * *"))
    return folder


def _edit(folder: Path, name: str, job_id: str = "x", cron: str = "0 4 * * *") -> list[str]:
    _touch(folder / name, JOB.format(job_id=job_id, cron=cron))
    return [name]


def _delete(folder: Path, name: str) -> list[str]:
    (folder / name).unlink()
    return [name]


def _delete_folder(folder: Path) -> list[str]:
    shutil.rmtree(folder / "team")
    return ["team/c.toml", "team"]


def _folder_named_like_a_manifest(folder: Path) -> list[str]:
    _touch(folder / "x.yaml" / "inner.yaml", JOB.format(job_id="inner", cron="0 4 * * *"))
    return ["x.yaml"]


def _symlinked_folder(folder: Path) -> list[str]:
    (folder / "link").symlink_to(folder / "team")
    return ["link/c.toml"]


# (change made to the folder -> the paths it reports, files the hinted load reads or None
# when it must list the folder instead)
HINT_CASES = {
    "modify": (lambda folder: _edit(folder, "b.yaml", "b"), 1),
    "modify-to-the-same-bytes": (lambda folder: _edit(folder, "b.yaml", "b", "0 3 * * *"), 1),
    "modify-invalid": (lambda folder: _edit(folder, "b.yaml", "b", "0 3 * * 8"), 1),
    "add": (lambda folder: _edit(folder, "d.yaml", "d"), 1),
    "add-nested": (lambda folder: _edit(folder, "team/e.yaml", "e"), 1),
    "add-in-a-new-folder": (lambda folder: _edit(folder, "new/f.yaml", "f"), 1),
    "add-duplicate-job-id": (lambda folder: _edit(folder, "0first.yaml", "a"), 1),
    "delete": (lambda folder: _delete(folder, "a.yaml"), 0),
    "delete-unknown-name": (lambda folder: ["never.yaml"], 0),
    "hidden": (lambda folder: _edit(folder, ".hidden.yaml", "h"), 0),
    "hidden-folder": (lambda folder: _edit(folder, "..2027_01_01/a.yaml", "h"), 0),
    "droppings": (
        lambda folder: [*_edit(folder, "b.yaml~", "d1"), *_edit(folder, ".#b.yaml", "d2")],
        0,
    ),
    "not-a-manifest": (lambda folder: _edit(folder, "notes.txt", "n"), 0),
    "deleted-folder": (_delete_folder, None),
    "folder-named-like-a-manifest": (_folder_named_like_a_manifest, None),
    "symlinked-folder": (_symlinked_folder, 0),
    "outside-the-folder": (lambda folder: ["../elsewhere.yaml"], None),
    "the-folder-itself": (lambda folder: ["."], None),
}


@pytest.mark.parametrize("case", HINT_CASES)
def test_a_hinted_load_equals_a_full_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    change, expected_reads = HINT_CASES[case]
    folder = _hint_folder(tmp_path)
    loader = ManifestLoader(import_check=False)
    assert loader.load([folder]).ok
    hint = [folder / name for name in change(folder)]
    reads: list[str] = []
    real_read = scheduler.loader.load.read_manifest

    def counted_read(file: str, problems: list[Problem]) -> bytes | None:
        reads.append(file)
        return real_read(file, problems)

    monkeypatch.setattr(scheduler.loader.load, "read_manifest", counted_read)

    hinted = loader.load([folder], changed=hint)

    monkeypatch.undo()
    full = load_manifests([folder], import_check=False)
    assert hinted == full
    assert len(reads) == (len(full.files) if expected_reads is None else expected_reads)
    # and the loader's state is right for the next hinted load too
    _edit(folder, "b.yaml", "b", "0 5 * * *")
    again = loader.load([folder], changed=[folder / "b.yaml"])
    assert again == load_manifests([folder], import_check=False)


def test_a_hint_maps_to_the_folder_as_the_caller_spelled_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = _hint_folder(tmp_path)
    monkeypatch.chdir(tmp_path)
    loader = ManifestLoader(import_check=False)
    loader.load(["./manifests/"])
    _edit(folder, "team/d.yaml", "d")
    _edit(folder, "b.yaml", "b")

    hinted = loader.load(["./manifests/"], changed=[folder / "team/d.yaml", folder / "b.yaml"])

    assert hinted == load_manifests(["./manifests/"], import_check=False)
    assert hinted.files == (
        "./manifests/a.yaml",
        "./manifests/b.yaml",
        "./manifests/team/c.toml",
        "./manifests/team/d.yaml",
    )
    assert loader.parse_count == 5


def test_a_hint_after_loading_several_paths_lists_them_again(tmp_path: Path) -> None:
    folder = _hint_folder(tmp_path)
    loader = ManifestLoader(import_check=False)
    loader.load([folder / "team", folder / "a.yaml"])
    _edit(folder, "team/d.yaml", "d")

    hinted = loader.load([folder / "team", folder / "a.yaml"], changed=[])

    assert [job.spec.job_id for job in hinted.jobs] == ["a", "c", "d"]


def test_a_hint_when_the_folder_is_gone_reports_it(tmp_path: Path) -> None:
    folder = _hint_folder(tmp_path)
    loader = ManifestLoader(import_check=False)
    loader.load([folder])
    shutil.rmtree(folder)

    result = loader.load([folder], changed=[folder / "a.yaml"])

    assert result.problems == (Problem(str(folder), None, None, "no such file or directory"),)


def _random_manifest(rng: random.Random) -> str:
    """A file of 0-3 jobs drawn from a small id pool (so ids repeat across files), some bad."""
    shape = rng.random()
    if shape < 0.1:
        return "jobs: [unclosed\n"  # a syntax error
    jobs = []
    for _ in range(rng.randint(0, 3)):
        cron = rng.choice(["0 3 * * *", "*/5 * * * *", "0 3 * * 8"])  # the last is invalid
        jobs.append(
            f"  - job_id: j{rng.randint(0, 12)}\n    func: jobs.example.run\n"
            f'    cron_expression: "{cron}"\n'
        )
    return "jobs:\n" + "".join(jobs) if jobs else "jobs: []\n"


@pytest.mark.parametrize("seed", range(4))
def test_hinted_loads_stay_equal_to_full_loads_through_random_edits(
    tmp_path: Path, seed: int
) -> None:
    rng = random.Random(seed)
    folder = tmp_path / "manifests"
    folder.mkdir()
    names = [f"f{index}.yaml" for index in range(6)] + ["sub/g.yaml", "sub/h.yml", "i.yaml~"]
    loader = ManifestLoader(import_check=False)
    loader.load([folder])
    for step in range(60):
        name = rng.choice(names)
        path = folder / name
        if path.exists() and rng.random() < 0.3:
            path.unlink()
        else:
            _touch(path, _random_manifest(rng))

        hinted = loader.load([folder], changed=[path])

        assert hinted == load_manifests([folder], import_check=False), f"step {step}: {name}"


def test_a_hinted_load_reads_again_a_file_unreadable_last_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = _hint_folder(tmp_path)
    real_read = scheduler.loader.load.read_manifest
    failing = {str(folder / "b.yaml")}

    def flaky_read(file: str, problems: list[Problem]) -> bytes | None:
        if file in failing:
            problems.append(Problem(file, None, None, "cannot read file: Permission denied"))
            return None
        return real_read(file, problems)

    monkeypatch.setattr(scheduler.loader.load, "read_manifest", flaky_read)
    loader = ManifestLoader(import_check=False)
    assert [job.job_id for job in loader.load([folder]).jobs] == ["a", "c"]
    _edit(folder, "a.yaml", "a")
    still = loader.load([folder], changed=[folder / "a.yaml"])
    assert [job.job_id for job in still.jobs] == ["a", "c"]
    assert [problem.message for problem in still.problems] == [
        "cannot read file: Permission denied"
    ]

    failing.clear()
    readable = loader.load([folder], changed=[folder / "a.yaml"])
    assert [job.job_id for job in readable.jobs] == ["a", "b", "c"]
    failing.add(str(folder / "a.yaml"))  # unreadable after a change of its own this time
    assert [job.job_id for job in loader.load([folder], changed=[folder / "a.yaml"]).jobs] == [
        "b",
        "c",
    ]
    failing.clear()
    _edit(folder, "b.yaml", "b")
    again = loader.load([folder], changed=[folder / "b.yaml"])

    monkeypatch.undo()
    assert again == load_manifests([folder], import_check=False)
    assert [job.job_id for job in again.jobs] == ["a", "b", "c"]


def test_catchup_true_is_valid_without_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("job_id: c\nfunc: jobs.x.y\ncron_expression: '@daily'\ncatchup: true\n")
    result = ManifestLoader(import_check=False).load([tmp_path])
    assert (result.ok, result.problems) == (True, ())
    assert result.jobs[0].spec.catchup is True


def test_duplicate_ids_reparse_each_file_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Locating 300 repeated ids re-parses each of the two files once, not once per id."""
    from scheduler.loader.assembly import FileOutcome

    body = "jobs:\n" + "".join(
        f'  - {{job_id: job_{index}, func: jobs.example.run, cron_expression: "@daily"}}\n'
        for index in range(300)
    )
    (tmp_path / "a.yaml").write_text(body)
    (tmp_path / "b.yaml").write_text(body)
    calls: list[str] = []
    original = FileOutcome.positions

    def counting(self: FileOutcome) -> object:
        calls.append(self.file)
        return original(self)

    monkeypatch.setattr(FileOutcome, "positions", counting)
    result = load(tmp_path, allowed_modules=("jobs",), import_check=False)
    assert len(result.problems) == 300
    assert result.problems[0] == P(
        str(tmp_path / "b.yaml"),
        2,
        14,
        f"duplicate job_id 'job_0'; first defined at {tmp_path / 'a.yaml'}:2",
        "job_0",
        "job_id",
    )
    assert sorted(calls) == [str(tmp_path / "a.yaml"), str(tmp_path / "b.yaml")]
