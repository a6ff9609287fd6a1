"""Health check job: is there disk space left, and do the services we depend on answer?"""

from __future__ import annotations

import asyncio
import logging
import shutil
from dataclasses import dataclass, field

logger = logging.getLogger(__name__)


class UnhealthyError(Exception):
    """Raised when a check fails, so the scheduler records the run as failed."""

    def __init__(self, failures: list[str]) -> None:
        self.failures = failures
        super().__init__("; ".join(failures))


@dataclass(frozen=True, slots=True)
class HealthReport:
    """What one health check saw."""

    disk_free_percent: float
    reachable: tuple[str, ...] = ()
    failures: tuple[str, ...] = field(default=())

    @property
    def healthy(self) -> bool:
        """Whether every check passed."""
        return not self.failures


def disk_free_percent(path: str) -> float:
    """Free space of the filesystem holding ``path``, in percent."""
    usage = shutil.disk_usage(path)
    return 100.0 * usage.free / usage.total


async def is_reachable(target: str, timeout: float) -> bool:
    """Whether a TCP connection to ``host:port`` opens within ``timeout`` seconds."""
    host, _, port = target.rpartition(":")
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, int(port)), timeout)
    except (OSError, TimeoutError, ValueError):
        return False
    writer.close()
    await writer.wait_closed()
    return True


async def health_check(
    targets: list[str] | None = None,
    *,
    disk_path: str = ".",
    min_free_percent: float = 5.0,
    connect_timeout: float = 2.0,
) -> HealthReport:
    """Check disk space and TCP reachability of ``host:port`` targets.

    Raises ``UnhealthyError`` when any check fails, so the failure shows in the run history
    instead of hiding in a log line.
    """
    targets = targets or []
    free = disk_free_percent(disk_path)
    failures = []
    if free < min_free_percent:
        failures.append(f"disk {disk_path}: {free:.1f}% free, below {min_free_percent}%")
    results = await asyncio.gather(*(is_reachable(target, connect_timeout) for target in targets))
    reachable = tuple(target for target, ok in zip(targets, results, strict=True) if ok)
    failures.extend(
        f"{target}: unreachable" for target, ok in zip(targets, results, strict=True) if not ok
    )
    report = HealthReport(disk_free_percent=free, reachable=reachable, failures=tuple(failures))
    if failures:
        raise UnhealthyError(failures)
    logger.info("healthy: disk %.1f%% free, %d target(s) reachable", free, len(reachable))
    return report
