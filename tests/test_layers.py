"""Each third-party library is imported only by its owner module; layers import downwards."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "scheduler"

# library -> the modules (dotted, relative to the package) allowed to import it
OWNERS: dict[str, tuple[str, ...]] = {
    "rich": ("cli",),
    "fastapi": ("http",),
    "starlette": ("http",),
    "prometheus_client": ("http",),
    "jinja2": ("http",),
    "uvicorn": ("http",),
    "watchfiles": ("runtime.reload",),
    "apscheduler": ("cron", "runtime.scheduling"),
    "sqlalchemy": ("store",),
    "psycopg": ("store",),
    "yaml": ("sources",),
    "tomllib": ("sources",),
    "cron_descriptor": ("cron",),
    "pydantic_settings": ("settings",),
}

# modules in dependency order: a module never imports one listed before it.
# Packages whose modules are layered among themselves list them one by one.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("cli", "__main__"),
    ("http", "http.server"),
    ("http.app",),
    ("http.lifespan", "http.router"),
    ("http.dashboard",),
    ("http.api",),
    ("http.auth",),
    ("http.errors",),
    ("http.context",),
    ("http.metrics", "http.models", "http.timeline_svg", "http.bind"),
    ("runtime", "runtime.serve"),
    ("runtime.reload",),
    ("runtime.service",),
    ("runtime.affinity", "runtime.claiming", "runtime.pausing", "runtime.scheduling"),
    ("runtime.fleet",),
    ("runtime.catalogue",),
    ("runtime.catchup",),
    ("runtime.execution",),
    ("runtime.lanes",),
    ("runtime.definition",),
    ("runtime.plan",),
    ("store",),
    ("review",),
    ("loader",),
    ("sources",),
    ("manifest",),
    ("cron",),
    ("records", "settings", "timezones", "clock", "problems", "errors", "logs"),
)


def _module_name(path: Path) -> str:
    relative = path.relative_to(PACKAGE).with_suffix("")
    parts = [part for part in relative.parts if part != "__init__"]
    return ".".join(parts) or "__init__"


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _owned_by(module: str, owners: tuple[str, ...]) -> bool:
    return any(module == owner or module.startswith(owner + ".") for owner in owners)


def _layer_of(module: str) -> int | None:
    """The layer of the longest listed name that is ``module`` or a package holding it."""
    parts = module.split(".")
    for end in range(len(parts), 0, -1):
        prefix = ".".join(parts[:end])
        for index, layer in enumerate(LAYERS):
            if prefix in layer:
                return index
    return None


SOURCES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_module_imports_only_libraries_it_owns(path: Path) -> None:
    module = _module_name(path)
    foreign = sorted(
        name
        for name in _imports(path)
        if (library := name.split(".")[0]) in OWNERS and not _owned_by(module, OWNERS[library])
    )
    assert foreign == [], f"{module} imports {foreign}; only their owners may"


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_module_never_imports_a_layer_above_it(path: Path) -> None:
    module = _module_name(path)
    own_layer = _layer_of(module)
    if own_layer is None:
        return
    upward = sorted(
        name
        for name in _imports(path)
        if name.startswith("scheduler.")
        and (layer := _layer_of(name.removeprefix("scheduler."))) is not None
        and layer < own_layer
    )
    assert upward == [], f"{module} imports {upward}, which sit above it"


def test_every_module_has_a_layer() -> None:
    unplaced = sorted(
        name
        for path in SOURCES
        if (name := _module_name(path)) != "__init__" and _layer_of(name) is None
    )
    assert unplaced == []
