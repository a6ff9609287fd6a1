"""Manifest folder -> files -> data -> validated jobs, with every problem located.

Bad input never raises here: each file contributes the jobs that validated and the
problems it has, so ``scheduler validate`` can show all of them at once and a reload can
decide all-or-nothing.

The package re-exports its public names; its modules, each one concern, are ``load``
(``ManifestLoader``: the per-file cache, DST warnings, reloads told which files changed),
``assembly`` (joining the files' results: the cross-file duplicate ``job_id`` check, patched
per file on a reload), ``files`` (discovery, reading, where a changed path belongs),
``documents`` (a file's data -> job entries; pydantic errors and duplicate keys -> located
problems), ``messages`` (problem wording, did-you-mean), ``scope`` (one file's problems and
positions), ``imports`` (the allowlist, import and signature binding of ``func``),
``importing`` (a module's import with a time limit, failures never cached), ``callables``
(where a callable is defined, whether calling it runs its body), ``results``
(``LoadResult``) and ``locate`` (``FieldLocator``: where a loaded job's field was written,
asked after a load by reports about a few jobs).
"""

from __future__ import annotations

from scheduler.loader.files import MANIFEST_SUFFIXES, discover_manifest_files
from scheduler.loader.load import ManifestLoader, load_manifests
from scheduler.loader.results import LoadedJob, LoadResult

__all__ = [
    "MANIFEST_SUFFIXES",
    "LoadResult",
    "LoadedJob",
    "ManifestLoader",
    "discover_manifest_files",
    "load_manifests",
]
