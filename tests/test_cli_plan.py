"""``scheduler plan``: two folders or a git revision; text, json, markdown, github; exit codes."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import time_machine
from markdown_it import MarkdownIt

from scheduler.cli import main

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)  # a Tuesday

BASE = {
    "nightly.yaml": (
        "job_id: nightly\nfunc: jobs.cleanup.cleanup_job\ncron_expression: '0 3 * * *'\n"
        "args: [30]\n"
    ),
    "old.yaml": "job_id: old\nfunc: jobs.cleanup.cleanup_job\ncron_expression: '@daily'\n",
    "toggle.yaml": (
        "jobs:\n"
        "  - job_id: waking\n    func: jobs.cleanup.cleanup_job\n"
        "    cron_expression: '0 6 * * 1-5'\n    enabled: false\n"
        "  - job_id: sleeping\n    func: jobs.cleanup.cleanup_job\n"
        "    cron_expression: '0 7 * * *'\n"
    ),
    "same.toml": (
        'job_id = "same"\nfunc = "jobs.cleanup.cleanup_job"\ncron_expression = "0 1 * * *"\n'
    ),
}
HEAD = {
    **BASE,
    "nightly.yaml": (
        "job_id: nightly\nfunc: jobs.cleanup.cleanup_job\ncron_expression: 'H 3 * * *'\n"
        "args: [14]\n"
    ),
    "toggle.yaml": BASE["toggle.yaml"]
    .replace("    enabled: false\n", "")
    .replace("'0 7 * * *'\n", "'0 7 * * *'\n    enabled: false\n"),
    "reports/weekly.yaml": (
        "job_id: weekly\nfunc: jobs.cleanup.cleanup_job\n"
        "cron_expression: 'H H(6-8) * * MON'\ntimezone: Europe/Berlin\n"
    ),
}
del HEAD["old.yaml"]


def _write_set(folder: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return folder


@pytest.fixture
def frozen() -> Iterator[None]:
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, frozen: None) -> tuple[str, str]:
    """``base`` and ``head`` folders, named relative to the current folder as a user would."""
    monkeypatch.chdir(tmp_path)
    _write_set(tmp_path / "base", BASE)
    _write_set(tmp_path / "head", HEAD)
    return "base", "head"


def _plan(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str]]:
    code = main(["plan", "--no-import-check", *argv])
    return code, capsys.readouterr().out.splitlines()


def test_text_lists_each_change_with_fields_and_next_runs(
    folders: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, lines = _plan(capsys, *folders)
    assert code == 0
    assert lines == [
        "ok: 5 jobs in 4 files (4 enabled, 1 disabled)",
        "plan: head against base: 1 added, 1 changed, 1 enabled, 1 disabled, 1 removed;"
        " 1 unchanged",
        "+ added    weekly  head/reports/weekly.yaml:1",
        '    runs "H H(6-8) * * MON" (resolves to "28 6 * * MON") in Europe/Berlin',
        "    next after:  Mon 2026-12-07 06:28+01:00, Mon 2026-12-14 06:28+01:00,"
        " Mon 2026-12-21 06:28+01:00",
        "~ changed  nightly  head/nightly.yaml:1",
        '    cron_expression: "0 3 * * *" -> "H 3 * * *" (resolves to "54 3 * * *")',
        "    args: [30] -> [14]",
        "    next before: Wed 2026-12-02 03:00+00:00, Thu 2026-12-03 03:00+00:00,"
        " Fri 2026-12-04 03:00+00:00",
        "    next after:  Wed 2026-12-02 03:54+00:00, Thu 2026-12-03 03:54+00:00,"
        " Fri 2026-12-04 03:54+00:00",
        "+ enabled  waking  head/toggle.yaml:2",
        '    runs "0 6 * * 1-5" in UTC',
        "    next after:  Wed 2026-12-02 06:00+00:00, Thu 2026-12-03 06:00+00:00,"
        " Fri 2026-12-04 06:00+00:00",
        "- disabled sleeping  head/toggle.yaml:5",
        "    next before: Wed 2026-12-02 07:00+00:00, Thu 2026-12-03 07:00+00:00,"
        " Fri 2026-12-04 07:00+00:00",
        "- removed  old  was base/old.yaml:1",
    ]


def test_json_is_one_document_with_every_change(
    folders: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, lines = _plan(capsys, *folders, "--format", "json")
    document = json.loads("\n".join(lines))
    assert code == 0
    assert (document["ok"], document["base"], document["head"]) == (True, "base", "head")
    assert document["summary"] == {
        "added": 1,
        "changed": 1,
        "enabled": 1,
        "disabled": 1,
        "removed": 1,
        "unchanged": 1,
    }
    changed = next(change for change in document["changes"] if change["kind"] == "changed")
    assert changed["fields"] == [
        {"field": "cron_expression", "before": "0 3 * * *", "after": "H 3 * * *"},
        {"field": "args", "before": [30], "after": [14]},
    ]
    assert changed["after"]["resolved_expression"] == "54 3 * * *"
    assert changed["next_after"][0] == "2026-12-02T03:54:00+00:00"
    assert [change["kind"] for change in document["changes"]] == [
        "added",
        "changed",
        "enabled",
        "disabled",
        "removed",
    ]


def _rendered(markdown: str) -> str:
    """HTML as GitHub renders a job summary or PR comment (CommonMark with tables)."""
    return MarkdownIt("commonmark").enable("table").render(markdown)


def test_markdown_renders_as_a_summary_with_tables(
    folders: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, lines = _plan(capsys, *folders, "--format", "markdown")
    assert code == 0
    assert lines[:9] == [
        "## Schedule plan: `head` against `base`",
        "",
        "ok: 5 jobs in 4 files (4 enabled, 1 disabled)",
        "",
        "**1 added, 1 changed, 1 enabled, 1 disabled, 1 removed; 1 unchanged**",
        "",
        "| change | job | schedule | fields | where |",
        "|---|---|---|---|---|",
        "| **added** | `weekly` | `H H(6-8) * * MON` → `28 6 * * MON` Europe/Berlin |  |"
        " `head/reports/weekly.yaml:1` |",
    ]
    html = _rendered("\n".join(lines))
    assert "<h2>Schedule plan: <code>head</code> against <code>base</code></h2>" in html
    assert (
        "<tr>\n<td>cron_expression</td>\n<td><code>0 3 * * *</code></td>\n"
        "<td><code>H 3 * * *</code> → <code>54 3 * * *</code></td>\n</tr>"
    ) in html
    assert (
        "<td>1</td>\n<td>Wed 2026-12-02 03:00+00:00</td>\n<td>Wed 2026-12-02 03:54+00:00</td>"
        in (html)
    )
    assert "<em>" not in html  # cron's stars stay stars


def test_markdown_values_cannot_break_the_table(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    frozen: None,
) -> None:
    monkeypatch.chdir(tmp_path)
    job = "job_id: j\nfunc: jobs.cleanup.cleanup_job\ncron_expression: '0 3 * * *'\n"
    _write_set(tmp_path / "base", {"j.yaml": job + "description: plain\n"})
    _write_set(tmp_path / "head", {"j.yaml": job + 'description: "a | b `c`\\n| x |"\n'})
    code, lines = _plan(capsys, "base", "head", "--format", "markdown")
    assert code == 0
    assert "| description | `plain` | ``a \\| b `c`\\n\\| x \\|`` |" in lines
    html = _rendered("\n".join(lines))
    assert "<td><code>a | b `c`\\n| x |</code></td>" in html


def test_github_annotates_the_changed_lines(
    folders: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, lines = _plan(capsys, *folders, "--format", "github")
    assert code == 0
    assert lines == [
        "::notice file=head/reports/weekly.yaml,line=3,title=schedule added%3A weekly::runs"
        ' "H H(6-8) * * MON" (resolves to "28 6 * * MON") in Europe/Berlin; next runs after:'
        " Mon 2026-12-07 06:28+01:00, Mon 2026-12-14 06:28+01:00, Mon 2026-12-21 06:28+01:00",
        "::notice file=head/nightly.yaml,line=3,title=schedule changed%3A nightly::"
        'cron_expression: "0 3 * * *" -> "H 3 * * *" (resolves to "54 3 * * *"); next runs'
        " before: Wed 2026-12-02 03:00+00:00, Thu 2026-12-03 03:00+00:00, Fri 2026-12-04"
        " 03:00+00:00; after: Wed 2026-12-02 03:54+00:00, Thu 2026-12-03 03:54+00:00,"
        " Fri 2026-12-04 03:54+00:00",
        "::notice file=head/nightly.yaml,line=4,title=schedule changed%3A nightly::"
        "args: [30] -> [14]",
        "::notice file=head/toggle.yaml,line=2,title=schedule enabled%3A waking::enabled,"
        ' runs "0 6 * * 1-5" in UTC; next runs after: Wed 2026-12-02 06:00+00:00,'
        " Thu 2026-12-03 06:00+00:00, Fri 2026-12-04 06:00+00:00",
        "::notice file=head/toggle.yaml,line=8,title=schedule disabled%3A sleeping::disabled;"
        " next runs before: Wed 2026-12-02 07:00+00:00, Thu 2026-12-03 07:00+00:00,"
        " Fri 2026-12-04 07:00+00:00",
        "::notice title=schedule removed%3A old::removed (was base/old.yaml:1)",
        "ok: 5 jobs in 4 files (4 enabled, 1 disabled)",
        "plan: head against base: 1 added, 1 changed, 1 enabled, 1 disabled, 1 removed;"
        " 1 unchanged",
    ]


def test_exit_code_3_only_with_the_flag_and_changes(
    folders: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert _plan(capsys, *folders, "--exit-code")[0] == 3
    assert _plan(capsys, "head", "head", "--exit-code") == (
        0,
        [
            "ok: 5 jobs in 4 files (4 enabled, 1 disabled)",
            "plan: head against head: no changes; 5 unchanged",
        ],
    )


def test_an_invalid_head_is_reported_as_validate_does_and_exits_1(
    folders: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    Path("head/broken.yaml").write_text(
        "job_id: broken\nfunc: jobs.cleanup.cleanup_job\ncron_expression: 'H,1 * * * *'\n"
    )
    code, lines = _plan(capsys, *folders, "--exit-code")
    assert main(["validate", "--no-import-check", "head"]) == 1
    validate_lines = capsys.readouterr().out.splitlines()
    assert code == 1
    assert lines == [*validate_lines, "plan: not computed, HEAD is invalid"]
    assert validate_lines[0] == (
        "head/broken.yaml:3:18: error: [broken] cron_expression: minute 'H,1': H must be the"
        " whole field, one of H, H(a-b), H/n or H(a-b)/n"
    )


def test_head_congestion_is_a_warning_in_the_plan(
    folders: tuple[str, str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SCHEDULER_CONGESTION_LIMIT", "1")
    Path("head/also.toml").write_text(
        'job_id = "also"\nfunc = "jobs.cleanup.cleanup_job"\ncron_expression = "0 1 * * *"\n'
    )
    code, lines = _plan(capsys, *folders)
    assert code == 0
    assert lines[:2] == [
        "head/also.toml:3:19: warning: [also] cron_expression: 2 enabled jobs fire in the same"
        " minute, 2026-12-02T01:00+00:00 (and in 6 more minutes within 7 days): also, same;"
        " more than SCHEDULER_CONGESTION_LIMIT (1): spread them with H"
        " (e.g. 'H 1 * * *' for '0 1 * * *')",
        "ok: 6 jobs in 5 files (5 enabled, 1 disabled), 1 warning",
    ]


@pytest.mark.parametrize(
    "argv",
    [["only-one"], ["a", "b", "c"], ["a", "b", "--base", "main"], []],
    ids=["one-folder", "three-folders", "two-folders-and-base", "nothing"],
)
def test_usage_errors_exit_2(
    argv: list[str], capsys: pytest.CaptureFixture[str], frozen: None
) -> None:
    assert main(["plan", *argv]) == 2
    assert capsys.readouterr().err == (
        "error: scheduler plan: give BASE_DIR HEAD_DIR, or [DIR] --base GIT_REF\n"
    )


# --------------------------------------------------------------------------- git revisions


def _git(repo: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
    }
    done = subprocess.run(
        ["git", *args], cwd=repo, env=env, capture_output=True, text=True, timeout=30, check=True
    )
    return done.stdout


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, frozen: None) -> Path:
    """A repository whose ``manifests/`` is BASE in the first commit and HEAD in the second."""
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    _write_set(repo / "manifests", BASE)
    (repo / "README").write_text("not a manifest\n")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "base")
    for name in BASE:
        (repo / "manifests" / name).unlink()
    _write_set(repo / "manifests", HEAD)
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "head")
    monkeypatch.chdir(repo)
    return repo


def test_base_revision_is_read_from_git_objects(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    Path("manifests/uncommitted.yaml").write_text(
        "job_id: draft\nfunc: jobs.cleanup.cleanup_job\ncron_expression: '0 9 * * *'\n"
    )
    status_before = _git(repo, "status", "--porcelain")
    code, lines = _plan(capsys, "manifests", "--base", "HEAD~1")
    assert code == 0
    assert lines[1] == (
        "plan: manifests against HEAD~1: 2 added, 1 changed, 1 enabled, 1 disabled, 1 removed;"
        " 1 unchanged"
    )
    assert "+ added    draft  manifests/uncommitted.yaml:1" in lines
    assert "- removed  old  was manifests/old.yaml:1" in lines
    # nothing checked out, nothing written: the work tree and index are as they were
    assert _git(repo, "status", "--porcelain") == status_before
    assert _git(repo, "rev-parse", "HEAD") == _git(repo, "rev-parse", "main")


def test_base_revision_from_a_subfolder_and_by_branch_name(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _git(repo, "branch", "before", "HEAD~1")
    monkeypatch.chdir(repo / "manifests")
    code, lines = _plan(capsys, ".", "--base", "before", "--exit-code")
    assert code == 3
    assert lines[1].startswith("plan: . against before: 1 added, 1 changed")


def test_a_folder_missing_at_the_revision_makes_every_job_added(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _write_set(repo / "more", {"x.yaml": BASE["old.yaml"]})
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "more")
    code, lines = _plan(capsys, "more", "--base", "HEAD~1")
    assert (code, lines[1]) == (0, "plan: more against HEAD~1: 1 added; 0 unchanged")


def test_default_folder_is_the_manifest_folder_setting(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SCHEDULER_MANIFESTS_DIR", "manifests")
    code, lines = _plan(capsys, "--base", "HEAD~1")
    assert (code, lines[1][:30]) == (0, "plan: manifests against HEAD~1")


@pytest.mark.parametrize(
    ("revision", "message"),
    [
        (
            "no-such-branch",
            "cannot read git revision 'no-such-branch': no such commit, branch or tag",
        ),
        ("--output=x", "cannot read git revision '--output=x': no such commit, branch or tag"),
    ],
    ids=["unknown", "option-like"],
)
def test_unknown_revision_is_a_usage_error(
    repo: Path, capsys: pytest.CaptureFixture[str], revision: str, message: str
) -> None:
    assert main(["plan", "manifests", f"--base={revision}"]) == 2
    assert capsys.readouterr().err == f"error: {message}\n"
    assert not Path("x").exists()


def test_a_folder_outside_git_is_a_usage_error(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    frozen: None,
) -> None:
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    _write_set(tmp_path / "loose", BASE)
    assert main(["plan", str(tmp_path / "loose"), "--base", "main"]) == 2
    assert capsys.readouterr().err.startswith("error: cannot read git revision 'main': fatal:")


def test_head_functions_are_imported_unless_told_not_to(
    folders: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    Path("head/nightly.yaml").write_text(
        Path("head/nightly.yaml").read_text().replace("jobs.cleanup.cleanup_job", "jobs.nope.run")
    )
    assert main(["plan", *folders]) == 1
    assert "head/nightly.yaml:2:7: error: [nightly] func: " in capsys.readouterr().out
    assert main(["plan", *folders, "--no-import-check"]) == 0


def test_base_errors_are_counted_not_reported(
    folders: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    Path("base/nightly.yaml").write_text(BASE["nightly.yaml"].replace("'0 3 * * *'", "'0 3 * * 8'"))
    code, lines = _plan(capsys, *folders)
    assert code == 0
    assert lines[1:4] == [
        "plan: head against base: 2 added, 1 enabled, 1 disabled, 1 removed; 1 unchanged",
        "note: the base has 1 error; jobs that did not validate there are shown as added",
        "+ added    nightly  head/nightly.yaml:1",
    ]
