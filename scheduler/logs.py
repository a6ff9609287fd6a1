"""Logging set-up for ``scheduler run``: readable text, or JSON lines for log collectors.

Modules log one line per event with ``%``-style arguments and ``extra`` fields (``job_id``,
``scheduled_for``, ``duration``, ``outcome``); the JSON formatter lifts those fields out of the
message so a collector can filter on them without parsing text.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, Literal, TextIO

LogFormat = Literal["text", "json"]

EXTRA_FIELDS: tuple[str, ...] = (
    "job_id",
    "run_id",
    "kind",
    "scheduled_for",
    "duration",
    "lag",
    "outcome",
)
TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"

_HANDLER_MARK = "_scheduler_handler"


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, message, the known extras, and exc."""

    def format(self, record: logging.LogRecord) -> str:
        """Render ``record`` as a single line of JSON."""
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in EXTRA_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                entry[name] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


def configure_logging(
    log_format: LogFormat = "text", *, level: int = logging.INFO, stream: TextIO | None = None
) -> logging.Handler:
    """Send the root logger's records to ``stream`` (stderr) in the chosen format.

    Calling it again replaces the handler it installed before rather than adding a second one,
    so tests and re-entrant CLIs do not double every line.
    """
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, _HANDLER_MARK, False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    formatter = JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)
    handler.setFormatter(formatter)
    setattr(handler, _HANDLER_MARK, True)
    root.addHandler(handler)
    root.setLevel(level)
    # APScheduler logs every wake-up and each job added at INFO; our run lines replace them.
    logging.getLogger("apscheduler").setLevel(max(level, logging.WARNING))
    # watchfiles logs "N changes detected" at INFO; the reload's own line says what changed.
    logging.getLogger("watchfiles").setLevel(max(level, logging.WARNING))
    return handler
