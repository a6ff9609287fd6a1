"""The committed JSON Schema matches the models, and the examples satisfy it."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from scheduler.cli.commands import schema_text

REPO = Path(__file__).resolve().parent.parent
SCHEMA_PATH = REPO / "schema" / "manifest.schema.json"
REGENERATE = "scheduler schema > schema/manifest.schema.json"


def _example_manifests() -> list[Path]:
    folder = REPO / "manifests"
    return sorted(p for p in folder.rglob("*") if p.suffix in {".yaml", ".yml", ".toml"})


def _read(path: Path) -> Any:
    text = path.read_text(encoding="utf-8")
    return tomllib.loads(text) if path.suffix == ".toml" else yaml.safe_load(text)


def test_committed_schema_is_up_to_date() -> None:
    committed = SCHEMA_PATH.read_text(encoding="utf-8")
    assert json.loads(committed) == json.loads(schema_text()), f"stale schema; run: {REGENERATE}"


def test_schema_is_a_valid_draft_2020_12_schema() -> None:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)


@pytest.mark.parametrize("path", _example_manifests(), ids=lambda p: p.name)
def test_example_manifest_is_valid_against_the_schema(path: Path) -> None:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    errors = list(jsonschema.Draft202012Validator(schema).iter_errors(_read(path)))
    assert [error.message for error in errors] == []


def test_examples_exist_in_yaml_and_toml_with_a_disabled_job() -> None:
    names = {path.suffix for path in _example_manifests()}
    assert {".yaml", ".toml"} <= names
    assert any("enabled: false" in p.read_text() for p in _example_manifests())


@pytest.mark.parametrize(
    "path", [p for p in _example_manifests() if p.suffix != ".toml"], ids=lambda p: p.name
)
def test_yaml_examples_carry_the_language_server_modeline(path: Path) -> None:
    first_line = path.read_text(encoding="utf-8").splitlines()[0]
    assert first_line == "# yaml-language-server: $schema=../schema/manifest.schema.json"


@pytest.mark.parametrize(
    "document",
    [
        {"job_id": "x", "func": "jobs.a.b", "cron_expression": "* * * * *", "enabled": "false"},
        {"job_id": "x", "func": "jobs.a.b", "cron_expression": "* * * * *", "cron": "typo"},
        {"jobs": [{"job_id": "x", "func": "jobs.a.b"}]},
    ],
    ids=["string-enabled", "unknown-key", "missing-cron"],
)
def test_schema_rejects_what_the_models_reject(document: dict[str, Any]) -> None:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    assert not jsonschema.Draft202012Validator(schema).is_valid(document)
