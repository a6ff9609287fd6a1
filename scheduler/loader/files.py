"""Which manifest files to load, and their bytes: the loader's only filesystem access."""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from pathlib import Path

from scheduler.problems import Problem
from scheduler.sources import MAX_MANIFEST_BYTES

__all__ = [
    "MANIFEST_SUFFIXES",
    "discover_manifest_files",
    "listed_name",
    "manifest_files",
    "read_manifest",
    "would_discover",
]

MANIFEST_SUFFIXES = (".yaml", ".yml", ".toml")
_IGNORED_SUFFIXES = ("~", ".swp")


def discover_manifest_files(folder: Path) -> list[Path]:
    """Manifest files below ``folder``, sorted; hidden entries and editor droppings skipped."""
    return [Path(file) for file in _discover(os.fspath(folder), [])]


def _is_ignored(name: str) -> bool:
    """Hidden entries (also ConfigMap ``..data``) and droppings (``*~``, ``*.swp``, ``.#*``)."""
    return name.startswith(".") or name.endswith(_IGNORED_SUFFIXES)


def _discover(folder: str, problems: list[Problem]) -> list[str]:
    """Walk with ``os.scandir`` (strings, no ``Path``): it runs once per reload on every file.

    Symlinks to files are followed; symlinked folders are not descended into, so a link
    cycle cannot loop.
    """
    found: list[str] = []
    pending = [folder]
    while pending:
        current = pending.pop()
        try:
            with os.scandir(current) as entries:
                for entry in entries:
                    if _is_ignored(entry.name):
                        continue
                    if entry.is_dir(follow_symlinks=False):
                        pending.append(entry.path)
                    elif entry.name.endswith(MANIFEST_SUFFIXES) and entry.is_file():
                        found.append(entry.path)
        except OSError as exc:
            problems.append(Problem(current, None, None, f"cannot read folder: {exc.strerror}"))
    found.sort()
    return found


def manifest_files(paths: Sequence[str | Path], problems: list[Problem]) -> list[str]:
    """Files to load, as the caller wrote them (relative stays relative), sorted, once each."""
    files: set[str] = set()
    for given in paths:
        path = os.fspath(given)
        if os.path.isdir(path):
            files.update(_discover(path, problems))
        elif not os.path.exists(path):
            problems.append(Problem(path, None, None, "no such file or directory"))
        elif not path.endswith(MANIFEST_SUFFIXES):
            message = "not a manifest file; expected a .yaml, .yml or .toml file"
            problems.append(Problem(path, None, None, message))
        else:
            files.add(path)
    return sorted(files)


def listed_name(folder: str, changed: str) -> str | None:
    """The name discovery below ``folder`` gives the file at ``changed``, or ``None`` outside it.

    Discovery joins entry names to ``folder`` as the caller wrote it (relative stays
    relative), so a watcher's absolute path is mapped back to that spelling; ``None`` for
    ``folder`` itself and for paths outside it.
    """
    relative = os.path.relpath(os.path.abspath(changed), os.path.abspath(folder))
    if relative == os.curdir or relative.split(os.sep, 1)[0] == os.pardir:
        return None
    return os.path.join(folder, relative)


def would_discover(folder: str, file: str) -> bool | None:
    """Whether discovery of ``folder`` would list ``file`` now, answered without a walk.

    ``file`` is a name from :func:`listed_name`. The rules are the walk's: no hidden entry or
    dropping on the way, real folders only (a symlinked folder is not descended into), a
    manifest suffix, and a file (a symlink to one counts). ``None`` when ``file`` is now a
    folder discovery would descend into: only a walk can tell what it holds.
    """
    parts = os.path.relpath(file, folder).split(os.sep)
    if any(_is_ignored(part) for part in parts):
        return False
    current = folder
    for part in parts:
        current = os.path.join(current, part)
        try:
            mode = os.lstat(current).st_mode
        except OSError:
            return False
        if not stat.S_ISDIR(mode):
            break
    else:
        return None  # ``file`` itself is a real folder
    if current != file:
        return False  # a file or symlink where a folder would have to be
    return file.endswith(MANIFEST_SUFFIXES) and os.path.isfile(file)


def read_manifest(file: str, problems: list[Problem]) -> bytes | None:
    """Read a file; of a huge one only one byte past the size limit, refused cheaply.

    ``read(n)`` allocates ``n`` bytes up front, so the bounded read is only for files whose
    size is over the limit or unknown (0: a pipe, ``/proc``); the rest are read whole.
    """
    try:
        with open(file, "rb") as stream:
            size = os.fstat(stream.fileno()).st_size
            if 0 < size <= MAX_MANIFEST_BYTES:
                return stream.read()
            return stream.read(MAX_MANIFEST_BYTES + 1)
    except OSError as exc:
        problems.append(Problem(file, None, None, f"cannot read file: {exc.strerror}"))
        return None
