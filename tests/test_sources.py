"""Sources: text -> data + positions; every way the bytes themselves can be wrong."""

from __future__ import annotations

import time

import pytest

from scheduler.problems import Problem
from scheduler.sources import (
    MAX_MANIFEST_BYTES,
    DuplicateKey,
    ParsedSource,
    SourceKind,
    parse_source,
)


def parse(text: str | bytes, kind: SourceKind = "yaml") -> ParsedSource:
    content = text.encode() if isinstance(text, str) else text
    return parse_source(content, file="m.yaml", kind=kind)


def only_problem(text: str | bytes, kind: SourceKind = "yaml") -> Problem:
    parsed = parse(text, kind)
    assert parsed.data is None
    (problem,) = parsed.problems
    return problem


YAML = """\
# comment
job_id: nightly
kwargs:
  dry_run: false
  days: 30
args:
  - first
  - [nested, list]
"""


# --- YAML positions -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "key", "expected"),
    [
        ((), False, (2, 1)),
        (("job_id",), False, (2, 9)),
        (("job_id",), True, (2, 1)),
        (("kwargs",), False, (4, 3)),
        (("kwargs", "days"), False, (5, 9)),
        (("kwargs", "days"), True, (5, 3)),
        (("args", 0), False, (7, 5)),
        (("args", 1, 1), False, (8, 14)),
        (("args", 7), False, (7, 3)),
        (("missing",), False, (2, 1)),
        (("kwargs", "missing"), False, (4, 3)),
        (("job_id", "deeper"), False, (2, 9)),
        (("kwargs", "[key]"), True, (4, 3)),
    ],
    ids=lambda value: repr(value),
)
def test_yaml_locate_follows_the_path_and_falls_back(
    path: tuple[str | int, ...], key: bool, expected: tuple[int, int]
) -> None:
    parsed = parse(YAML)

    assert parsed.problems == ()
    assert parsed.positions.locate(path, key=key) == expected


def test_yaml_data_is_plain() -> None:
    assert parse(YAML).data == {
        "job_id": "nightly",
        "kwargs": {"dry_run": False, "days": 30},
        "args": ["first", ["nested", "list"]],
    }


def test_merge_keys_work_and_explicit_keys_override_without_duplicates() -> None:
    text = "base: &base\n  a: 1\n  b: 2\njob:\n  <<: *base\n  b: 3\n"

    parsed = parse(text)

    assert parsed.data == {"base": {"a": 1, "b": 2}, "job": {"a": 1, "b": 3}}
    assert parsed.duplicate_keys == ()
    assert parsed.positions.locate(("job", "b")) == (6, 6)
    assert parsed.positions.locate(("job", "a")) == (2, 6)


def test_all_duplicate_keys_are_recorded_with_their_paths() -> None:
    text = "a: 1\nb:\n  x: 1\n  x: 2\na: 3\nl:\n  - {k: 1, k: 2}\n"

    parsed = parse(text)

    assert parsed.data == {"a": 3, "b": {"x": 2}, "l": [{"k": 2}]}
    assert parsed.duplicate_keys == (
        DuplicateKey(("b", "x"), 4, 3, 3),
        DuplicateKey(("a",), 5, 1, 1),
        DuplicateKey(("l", 0, "k"), 7, 12, 7),
    )
    assert parsed.duplicate_keys[1].message == "duplicate key 'a'; first defined at line 1"


def test_duplicate_key_next_to_a_merge_is_still_a_duplicate() -> None:
    text = "base: &base {a: 1}\njob:\n  <<: *base\n  b: 2\n  b: 3\n"

    assert parse(text).duplicate_keys == (DuplicateKey(("job", "b"), 5, 3, 4),)


# --- YAML errors --------------------------------------------------------------------------


ALIAS = "YAML syntax error: a value starting with '*' is read as a YAML alias"


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            "cron_expression: */5 * * * *",
            Problem(
                "m.yaml",
                1,
                18,
                f'{ALIAS}; quote the cron expression: cron_expression: "*/5 * * * *"',
            ),
        ),
        (
            "  - cron_expression: * * * * *  # every minute",
            Problem(
                "m.yaml", 1, 22, f'{ALIAS}; quote the cron expression: cron_expression: "* * * * *"'
            ),
        ),
        (
            "schedule: @daily",
            Problem(
                "m.yaml",
                1,
                11,
                "YAML syntax error: a value cannot start with '@' unless it is "
                'quoted; quote the cron expression: schedule: "@daily"',
            ),
        ),
        (
            "description: *bold*",
            Problem("m.yaml", 1, 14, f'{ALIAS}; quote the value: description: "*bold*"'),
        ),
        (
            "description: *bold",
            Problem(
                "m.yaml",
                1,
                14,
                f'{ALIAS} (and there is no such anchor); quote the value: description: "*bold"',
            ),
        ),
        (
            "description: %percent",
            Problem(
                "m.yaml",
                1,
                14,
                "YAML syntax error: while scanning for the next token, found "
                "character that cannot start any token",
            ),
        ),
    ],
    ids=["step", "every-minute-in-list", "macro", "not-cron", "undefined-alias", "no-hint"],
)
def test_unquoted_cron_gets_a_quoting_hint(line: str, expected: Problem) -> None:
    assert only_problem(line + "\n") == expected


def test_an_unclosed_list_is_reported_where_it_opens() -> None:
    problem = only_problem("a: 1\nb: [1, 2\nc: 3\n")

    assert problem == Problem(
        "m.yaml",
        2,
        4,
        "YAML syntax error: the list opened here ('[') is not closed "
        "(did not find expected ',' or ']' at line 3, column 2)",
    )


@pytest.mark.parametrize(
    ("text", "position", "message"),
    [
        (
            "job_id: a\nkwargs: {a: 1\n",
            (2, 9),
            "the mapping opened here ('{') is not closed "
            "(did not find expected ',' or '}' at line 3, column 1)",
        ),
        (
            "job_id: a\nfunc: 'jobs.x\n",
            (2, 7),
            "the quoted string that starts here is not closed "
            "(found unexpected end of stream at line 3, column 1)",
        ),
    ],
    ids=["mapping", "quoted-string"],
)
def test_unclosed_constructs_point_at_their_start(
    text: str, position: tuple[int, int], message: str
) -> None:
    assert only_problem(text) == Problem("m.yaml", *position, f"YAML syntax error: {message}")


def test_bad_indentation_is_a_syntax_error() -> None:
    problem = only_problem("job_id: a\n  func: b\n")

    assert problem == Problem(
        "m.yaml", 2, 7, "YAML syntax error: mapping values are not allowed in this context"
    )


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            "!!python/object/apply:os.system ['ls']",
            "unsafe YAML tag '!!python/object/apply:os.system' is not allowed; use plain YAML data",
        ),
        (
            "!!python/name:os.system",
            "unsafe YAML tag '!!python/name:os.system' is not allowed; use plain YAML data",
        ),
        ("!custom {a: 1}", "unknown YAML tag '!custom' is not allowed; use plain YAML data"),
    ],
    ids=["apply", "name", "custom"],
)
def test_tags_other_than_plain_data_are_refused(value: str, message: str) -> None:
    assert only_problem(f"job_id: a\nargs: {value}\n") == Problem("m.yaml", 2, 7, message)


def test_every_refused_tag_is_reported() -> None:
    parsed = parse("a: !!python/tuple [1]\nb: !x 2\n")

    assert parsed.data is None
    assert [(problem.line, problem.col) for problem in parsed.problems] == [(1, 4), (2, 4)]


def test_standard_tags_and_a_stray_merge_scalar_are_fine() -> None:
    parsed = parse("a: !!str 5\nb: !!int '7'\nc: <<\n")

    assert parsed.problems == ()
    assert parsed.data == {"a": "5", "b": 7, "c": "<<"}


def test_multiple_documents_are_an_error() -> None:
    problem = only_problem("a: 1\n---\nb: 2\n")

    assert problem == Problem(
        "m.yaml", 2, 1, "expected one YAML document per file, found a second one ('---')"
    )


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n", "---\n", "{}\n"])
def test_empty_manifest(text: str) -> None:
    assert only_problem(text) == Problem(
        "m.yaml", 1, 1, "empty manifest; expected a job mapping or a 'jobs:' list"
    )


@pytest.mark.parametrize(
    ("text", "shape"),
    [("- a\n- b\n", "a list"), ("just text\n", "a string"), ("# c\n42\n", "a number")],
    ids=["list", "string", "number"],
)
def test_top_level_must_be_a_mapping(text: str, shape: str) -> None:
    problem = only_problem(text)

    assert (
        problem.message == f"expected a mapping at the top level (one job, or 'jobs:'), got {shape}"
    )
    assert (problem.line, problem.col) == ((2, 1) if text.startswith("#") else (1, 1))


def test_non_utf8_points_at_the_bad_byte_in_characters() -> None:
    problem = only_problem("a: 1\nb: café \xff\n".encode().replace(b"\xc3\xbf", b"\xff"))

    assert problem == Problem(
        "m.yaml", 2, 9, "file is not valid UTF-8 (byte 0xff); save it as UTF-8"
    )


def test_a_utf8_bom_is_accepted() -> None:
    assert parse("\ufeffa: 1\n".encode()).data == {"a": 1}


def test_control_characters_are_reported_with_a_position() -> None:
    problem = only_problem("a: 1\nb: x\x07y\n")

    assert problem == Problem(
        "m.yaml", 2, 5, "YAML syntax error: control characters are not allowed"
    )


def test_size_limit_is_checked_before_parsing() -> None:
    at_limit = b"a: 1\n" + b"#" * (MAX_MANIFEST_BYTES - 6) + b"\n"
    assert len(at_limit) == MAX_MANIFEST_BYTES
    assert parse(at_limit).data == {"a": 1}

    problem = only_problem(at_limit + b"\x00")
    assert problem == Problem(
        "m.yaml", None, None, "file is too large (more than 1 MiB); manifests are limited to 1 MiB"
    )


def test_billion_laughs_is_refused_fast() -> None:
    lines = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in "bcdefghij":
        previous = chr(ord(level) - 1)
        lines.append(f"{level}: &{level} [" + ", ".join([f"*{previous}"] * 10) + "]")
    started = time.perf_counter()

    problem = only_problem("\n".join(lines) + "\n")

    assert time.perf_counter() - started < 1.0
    assert problem == Problem(
        "m.yaml", 5, 4, "refused: YAML aliases expand to more than 100000 nodes"
    )


def test_modest_alias_use_is_allowed() -> None:
    text = "x: &x [1, 2, 3]\n" + "".join(f"k{index}: *x\n" for index in range(100))

    parsed = parse(text)

    assert parsed.problems == ()
    assert parsed.data is not None
    assert parsed.data["k99"] == [1, 2, 3]


def test_recursive_alias_is_refused() -> None:
    assert only_problem("a: &a\n  self: *a\n") == Problem(
        "m.yaml", 1, 4, "refused: YAML aliases refer to themselves (recursive alias)"
    )


def test_unhashable_key_is_an_error_not_a_crash() -> None:
    problem = only_problem("? [a, b]\n: 1\n")

    assert problem == Problem(
        "m.yaml",
        1,
        3,
        "YAML error: while constructing a mapping (from line 1, column 1), found unhashable key",
    )


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("!!bool maybe", "cannot read 'maybe' as bool"),
        ("!!int abc", "cannot read 'abc' as int"),
        ("!!float x", "cannot read 'x' as float"),
        ("!!timestamp nope", "cannot read 'nope' as timestamp"),
    ],
    ids=["bool", "int", "float", "timestamp"],
)
def test_explicit_tags_with_unreadable_values_are_errors(value: str, message: str) -> None:
    assert only_problem(f"a: {value}\n") == Problem("m.yaml", 1, 4, f"YAML error: {message}")


def test_plain_scalars_read_as_yaml_1_1_says_except_booleans() -> None:
    """Numbers as PyYAML reads them; ``Off`` stays a string (YAML 1.2), so strict boolean
    fields refuse it by name."""
    text = "a: 012\nb: 0x1F\nc: 1_000\nd: 90\ne: Off\nf: ~\ng: 1.5\nh: !!int '7'\ni: 0\n"

    assert parse(text).data == {
        "a": 10,
        "b": 31,
        "c": 1000,
        "d": 90,
        "e": "Off",
        "f": None,
        "g": 1.5,
        "h": 7,
        "i": 0,
    }


# --- TOML ---------------------------------------------------------------------------------

TOML = """\
# header comment
title = "x"

[defaults]
timezone = "Europe/Berlin"

[[jobs]]
job_id = "first"
description = '''
job_id = "not a key"
'''
args = [
  1,
  2,
]
kwargs = { dry_run = true }

[jobs.extra]
"quoted key" = 1
dotted.inner = 2

[[jobs]]
  job_id = "second"
"""


@pytest.mark.parametrize(
    ("path", "key", "expected"),
    [
        ((), False, (2, 1)),
        (("title",), False, (2, 9)),
        (("title",), True, (2, 1)),
        (("defaults",), False, (4, 1)),
        (("defaults", "timezone"), False, (5, 12)),
        (("defaults", "missing"), False, (4, 1)),
        (("jobs",), False, (7, 1)),
        (("jobs", 0), False, (7, 1)),
        (("jobs", 0, "job_id"), True, (8, 1)),
        (("jobs", 0, "args"), False, (12, 8)),
        (("jobs", 0, "args", 1), False, (12, 8)),
        (("jobs", 0, "kwargs", "dry_run"), False, (16, 10)),
        (("jobs", 0, "extra"), False, (18, 1)),
        (("jobs", 0, "extra", "quoted key"), True, (19, 1)),
        (("jobs", 0, "extra", "dotted", "inner"), False, (20, 16)),
        (("jobs", 0, "extra", "dotted"), True, (20, 1)),
        (("jobs", 1), False, (22, 1)),
        (("jobs", 1, "job_id"), True, (23, 3)),
        (("jobs", 1, "job_id"), False, (23, 12)),
        (("jobs", 2, "job_id"), False, (7, 1)),
    ],
    ids=lambda value: repr(value),
)
def test_toml_locate_scans_headers_and_keys(
    path: tuple[str | int, ...], key: bool, expected: tuple[int, int]
) -> None:
    parsed = parse(TOML, "toml")

    assert parsed.problems == ()
    assert parsed.positions.locate(path, key=key) == expected


def test_toml_data_is_plain() -> None:
    parsed = parse(TOML, "toml")

    assert parsed.data is not None
    assert parsed.data["jobs"][0]["description"] == 'job_id = "not a key"\n'
    assert parsed.data["jobs"][0]["extra"] == {"quoted key": 1, "dotted": {"inner": 2}}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('a = "x"\nb = \n', Problem("m.yaml", 2, 5, "TOML syntax error: Invalid value")),
        ('a = "x"\nb = """abc', Problem("m.yaml", 2, 11, "TOML syntax error: Unterminated string")),
        ("a = 1\na = 2\n", Problem("m.yaml", 2, 6, "TOML syntax error: Cannot overwrite a value")),
        (
            "cron_expression = */5 * * * *\n",
            Problem("m.yaml", 1, 19, "TOML syntax error: Invalid value; quote the cron expression"),
        ),
    ],
    ids=["invalid-value", "end-of-document", "duplicate-key", "unquoted-cron"],
)
def test_toml_syntax_errors_have_line_and_column(text: str, expected: Problem) -> None:
    assert only_problem(text, "toml") == expected


def test_empty_toml_is_an_empty_manifest() -> None:
    assert only_problem("# nothing\n", "toml") == Problem(
        "m.yaml", 1, 1, "empty manifest; expected a job mapping or a 'jobs:' list"
    )


# --- bounds: huge integers and deep nesting, located with their job and field ---------------

BIG = "7" * 4001


@pytest.mark.parametrize(
    ("text", "kind", "expected"),
    [
        (
            f"jobs:\n  - job_id: second\n    args: [{BIG}]\n",
            "yaml",
            (3, 12, "second", "args"),
        ),
        (
            f"defaults:\n  jitter: {BIG}\njobs: []\n",
            "yaml",
            (2, 11, None, "jitter"),
        ),
        (
            f"base: &base {{jitter: 0x{'f' * 3400}}}\njob_id: merged\n<<: *base\n",
            "yaml",
            (1, 22, "merged", "jitter"),
        ),
        (
            f'[[jobs]]\njob_id = "a"\n[[jobs]]\njob_id = "b"\nargs = [{BIG}]\n',
            "toml",
            (5, 8, "b", "args"),
        ),
        (
            f'job_id = "c"\nargs = [0x{"f" * 3400}]\n',
            "toml",
            (2, 8, "c", "args"),
        ),
        (
            'job_id = "d"\nkwargs = ' + "{a = " * 101 + "1" + "}" * 101 + "\n",
            "toml",
            (2, 10, "d", "kwargs"),
        ),
    ],
    ids=["yaml-job", "yaml-defaults", "yaml-merge-key", "toml-jobs", "toml-hex", "toml-deep"],
)
def test_values_past_a_bound_name_their_job_and_field(
    text: str, kind: SourceKind, expected: tuple[int, int, str | None, str]
) -> None:
    problem = only_problem(text, kind)
    assert (problem.line, problem.col, problem.job_id, problem.field) == expected
    assert problem.message.startswith(("integer has more than 4,000 digits", "lists and mappings"))


def test_nesting_up_to_the_bound_is_fine() -> None:
    text = "job_id: a\nargs: " + "[" * 99 + "]" * 99 + "\n"
    assert parse(text).problems == ()


def test_no_quoting_hint_for_a_value_that_is_quoted_already() -> None:
    problem = only_problem('job_id: a\nfunc: "jobs.x\ncron_expression: "@daily"\n')
    assert problem.message == (
        "YAML syntax error: a value cannot start with '@' unless it is quoted"
    )
