"""Cleanup job: delete files older than a number of days from a scratch folder."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

SECONDS_PER_DAY = 86_400


@dataclass(frozen=True, slots=True)
class CleanupResult:
    """What one cleanup pass found and did."""

    deleted: tuple[str, ...]
    kept: int
    dry_run: bool


def expired_files(directory: Path, pattern: str, max_age_days: float, now: float) -> list[Path]:
    """Regular files under ``directory`` matching ``pattern`` last modified before the cut-off."""
    cutoff = now - max_age_days * SECONDS_PER_DAY
    return sorted(
        path
        for path in directory.rglob(pattern)
        if path.is_file() and not path.is_symlink() and path.stat().st_mtime < cutoff
    )


def cleanup_job(
    max_age_days: float = 30,
    *,
    directory: str = ".scheduler/tmp",
    pattern: str = "*",
    dry_run: bool = False,
    now: float | None = None,
) -> CleanupResult:
    """Delete expired files; with ``dry_run`` only report what would go.

    A missing folder is not an error: there is nothing to clean yet.
    """
    root = Path(directory)
    if not root.is_dir():
        logger.info("cleanup: %s does not exist, nothing to do", root)
        return CleanupResult(deleted=(), kept=0, dry_run=dry_run)
    current = time.time() if now is None else now
    matching = sum(1 for path in root.rglob(pattern) if path.is_file())
    expired = expired_files(root, pattern, max_age_days, current)
    if not dry_run:
        for path in expired:
            path.unlink(missing_ok=True)
    verb = "would delete" if dry_run else "deleted"
    logger.info(
        "cleanup: %s %d file(s) older than %s day(s) in %s", verb, len(expired), max_age_days, root
    )
    return CleanupResult(
        deleted=tuple(str(path) for path in expired), kept=matching - len(expired), dry_run=dry_run
    )
