"""Which manifest files to load, and their bytes: the loader's only filesystem access."""

from __future__ import annotations

import errno
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
NO_MANIFESTS = "no manifest files in this folder (looked for *.yaml, *.yml and *.toml below it)"
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
                    if not _is_ignored(entry.name):
                        _take_entry(entry, found, pending, problems)
        except OSError as exc:
            problems.append(Problem(current, None, None, f"cannot read folder: {exc.strerror}"))
    found.sort()
    return found


def _take_entry(
    entry: os.DirEntry[str], found: list[str], pending: list[str], problems: list[Problem]
) -> None:
    """File a folder entry: a folder to walk, a manifest file, or a link that leads nowhere.

    A symlink loop or a broken link with a manifest suffix is reported on its own, so one
    bad entry does not hide the rest of the folder.
    """
    try:
        if entry.is_dir(follow_symlinks=False):
            pending.append(entry.path)
        elif not entry.name.endswith(MANIFEST_SUFFIXES):
            skipped = _skipped_reason(entry.name)
            if skipped is not None and entry.is_file():
                problems.append(Problem(entry.path, None, None, skipped, severity="warning"))
        elif entry.is_file():
            found.append(entry.path)
        elif entry.is_symlink() and not os.path.exists(entry.path):
            problems.append(Problem(entry.path, None, None, _unreadable(entry.path)))
    except OSError as exc:
        problems.append(Problem(entry.path, None, None, f"cannot read file: {exc.strerror}"))


def _skipped_reason(name: str) -> str | None:
    """Why a file that looks like a manifest is not loaded; ``None`` for other files."""
    lowered = name.lower()
    if lowered.endswith(MANIFEST_SUFFIXES):
        return (
            "skipped: manifest names end in .yaml, .yml or .toml in lower case; "
            "rename the file to load it"
        )
    if lowered.endswith(".json"):
        return "skipped: JSON files are not loaded; save it as YAML (JSON is valid YAML) in .yaml"
    return None


def _unreadable(path: str) -> str:
    """Why ``path`` cannot be opened, in the words of ``os.stat``."""
    try:
        os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            return f"broken symbolic link to {os.readlink(path)!r}"
        return f"cannot read file: {exc.strerror}"
    return "cannot read file"


def manifest_files(paths: Sequence[str | Path], problems: list[Problem]) -> list[str]:
    """Files to load, as the caller wrote them (relative stays relative), sorted, once each."""
    files: set[str] = set()
    for given in paths:
        path = os.fspath(given)
        if os.path.isdir(path):
            found = _discover(path, problems)
            if not found:
                problems.append(Problem(path, None, None, NO_MANIFESTS, severity="warning"))
            files.update(found)
        elif not os.path.exists(path):
            message = _unreadable(path) if os.path.islink(path) else "no such file or directory"
            problems.append(Problem(path, None, None, message))
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
    folder discovery would descend into, or a broken link: only a walk can tell.
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
    if not file.endswith(MANIFEST_SUFFIXES):
        return False
    if os.path.isfile(file):
        return True
    return None if os.path.islink(file) else False  # a broken link is a problem a walk reports


def read_manifest(file: str, problems: list[Problem]) -> bytes | None:
    """Read a file; of a huge one only one byte past the size limit, refused cheaply.

    ``read(n)`` allocates ``n`` bytes up front, so the bounded read is only for files whose
    size is over the limit or unknown (0: a pipe, ``/proc``); the rest are read whole.
    """
    try:
        # O_NONBLOCK: opening a FIFO for reading would wait for a writer; it is refused below.
        descriptor = os.open(file, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        problems.append(Problem(file, None, None, f"cannot read file: {exc.strerror}"))
        return None
    with open(descriptor, "rb") as stream:
        try:
            status = os.fstat(descriptor)
            if not stat.S_ISREG(status.st_mode):
                message = f"not a regular file ({_file_kind(status.st_mode)}); cannot read it"
                problems.append(Problem(file, None, None, message))
                return None
            if 0 < status.st_size <= MAX_MANIFEST_BYTES:
                return stream.read()
            return stream.read(MAX_MANIFEST_BYTES + 1)
        except OSError as exc:
            problems.append(Problem(file, None, None, f"cannot read file: {exc.strerror}"))
            return None


def _file_kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a named pipe"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a file"
