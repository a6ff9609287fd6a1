"""A manifest folder as it was at a git revision, read from git's objects.

``scheduler plan --base main`` must not check anything out or touch the work tree: a review
runs in the reviewer's checkout, or in CI on the pull request's merge commit. The folder's
manifest files are listed with ``git ls-tree`` and their bytes read with ``git cat-file
--batch`` (one process for all of them) into a folder the caller owns, where the ordinary
loader reads them.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path, PurePosixPath

from scheduler.errors import SchedulerError
from scheduler.loader import MANIFEST_SUFFIXES

__all__ = ["RevisionError", "export_folder"]

_GIT_TIMEOUT = 60.0
_FILE_MODES = ("100644", "100755")
_SYMLINK_MODE = "120000"


class RevisionError(SchedulerError):
    """A git revision cannot be read: not a repository, unknown revision, git failing."""

    def __init__(self, revision: str, reason: str) -> None:
        self.revision = revision
        self.reason = reason
        super().__init__(f"cannot read git revision {revision!r}: {reason}")


def _git(revision: str, cwd: Path, *args: str, stdin: bytes | None = None) -> bytes:
    try:
        done = subprocess.run(
            ["git", *args],
            cwd=cwd,
            input=stdin,
            capture_output=True,
            timeout=_GIT_TIMEOUT,
            check=False,
        )
    except FileNotFoundError as exc:
        raise RevisionError(revision, "git is not installed") from exc
    except subprocess.TimeoutExpired as exc:
        raise RevisionError(revision, f"git {args[0]} took over {_GIT_TIMEOUT:.0f} s") from exc
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise RevisionError(revision, message[-1] if message else f"git {args[0]} failed")
    return done.stdout


def _where(folder: Path, revision: str) -> tuple[Path, str]:
    """The repository's top folder and the folder's path inside it (``""`` for the top)."""
    if not folder.is_dir():
        raise RevisionError(revision, f"{os.fspath(folder)!r} is not a folder")
    top = Path(_git(revision, folder, "rev-parse", "--show-toplevel").decode().strip())
    inside = folder.resolve().relative_to(top.resolve()).as_posix()
    return top, "" if inside == "." else inside


def _commit(top: Path, revision: str) -> str:
    """The commit id ``revision`` names (a branch, tag, ``HEAD~1``, an id...)."""
    if revision.startswith("-"):
        raise RevisionError(revision, "no such commit, branch or tag")  # not an option to git
    try:
        found = _git(revision, top, "rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}")
    except RevisionError:
        raise RevisionError(revision, "no such commit, branch or tag") from None
    return found.decode().strip()


def _listing(top: Path, revision: str, commit: str, inside: str) -> list[tuple[str, str, str]]:
    """``(mode, object id, path below the folder)`` of manifest files and symlinks."""
    pathspec = ["--", inside] if inside else []
    output = _git(revision, top, "ls-tree", "-r", "-z", "--full-tree", commit, *pathspec)
    entries = []
    for record in output.decode("utf-8", "surrogateescape").split("\0"):
        if not record:
            continue
        meta, _, path = record.partition("\t")
        mode, _kind, object_id = meta.split()
        below = PurePosixPath(path).relative_to(inside).as_posix() if inside else path
        if (mode in _FILE_MODES and below.endswith(MANIFEST_SUFFIXES)) or mode == _SYMLINK_MODE:
            entries.append((mode, object_id, below))
    return entries


def _contents(top: Path, revision: str, object_ids: list[str]) -> list[bytes]:
    """The bytes of each object, read by one ``git cat-file --batch``."""
    if not object_ids:
        return []
    output = _git(
        revision, top, "cat-file", "--batch", stdin=("\n".join(object_ids) + "\n").encode()
    )
    contents = []
    offset = 0
    for _ in object_ids:
        header_end = output.index(b"\n", offset)
        size = int(output[offset:header_end].split()[2])
        contents.append(output[header_end + 1 : header_end + 1 + size])
        offset = header_end + 1 + size + 1  # the content is followed by a newline
    return contents


def _write(target: Path, mode: str, content: bytes, into: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    if mode != _SYMLINK_MODE:
        target.write_bytes(content)
        return
    link = os.fsdecode(content)
    resolved = (target.parent / link).resolve()
    if not os.path.isabs(link) and resolved.is_relative_to(into.resolve()):
        target.symlink_to(link)  # links out of the folder are left out, as if not there


def export_folder(folder: Path, revision: str, into: Path) -> None:
    """Write the manifest files ``folder`` had at ``revision`` below ``into`` (which exists).

    A folder that did not exist at the revision exports nothing: every job is then new.
    Raises ``RevisionError`` when ``folder`` is not in a git work tree or the revision is
    unknown.
    """
    top, inside = _where(folder, revision)
    commit = _commit(top, revision)
    entries = _listing(top, revision, commit, inside)
    contents = _contents(top, revision, [object_id for _mode, object_id, _path in entries])
    for (mode, _object_id, path), content in zip(entries, contents, strict=True):
        _write(into / path, mode, content, into)
