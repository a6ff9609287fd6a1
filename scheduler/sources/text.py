"""Manifest bytes -> text: the size limit and UTF-8, checked before any parser runs."""

from __future__ import annotations

from scheduler.problems import Problem

__all__ = ["MAX_MANIFEST_BYTES", "manifest_text"]

MAX_MANIFEST_BYTES = 1024 * 1024


def manifest_text(content: bytes, file: str) -> str | Problem:
    """The text of a manifest (a leading BOM dropped), or why its bytes cannot be used."""
    if len(content) > MAX_MANIFEST_BYTES:
        size = (
            "more than 1 MiB" if len(content) == MAX_MANIFEST_BYTES + 1 else f"{len(content)} bytes"
        )
        message = f"file is too large ({size}); manifests are limited to 1 MiB"
        return Problem(file, None, None, message)
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as exc:
        return _encoding_problem(content, exc, file)
    if text.startswith("\ufeff"):
        text = text[1:]
    return text


def _encoding_problem(content: bytes, exc: UnicodeDecodeError, file: str) -> Problem:
    """Point at the first byte that is not UTF-8, counting columns in characters."""
    line_start = content.rfind(b"\n", 0, exc.start) + 1
    line = content.count(b"\n", 0, exc.start) + 1
    col = len(content[line_start : exc.start].decode("utf-8", errors="replace")) + 1
    byte = content[exc.start : exc.start + 1].hex()
    return Problem(file, line, col, f"file is not valid UTF-8 (byte 0x{byte}); save it as UTF-8")
