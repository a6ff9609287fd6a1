"""Located problems: bad input becomes data, not exceptions thrown across layers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with the input, with where it is.

    ``line`` and ``col`` are 1-based; either may be ``None`` when the problem has no
    position (a missing folder, an unreadable file).
    """

    file: str
    line: int | None
    col: int | None
    message: str
    job_id: str | None = None
    field: str | None = None
    severity: Severity = "error"

    @property
    def is_error(self) -> bool:
        """Whether this problem makes the input invalid (warnings do not)."""
        return self.severity == "error"

    def sort_key(self) -> tuple[str, int, int, str]:
        """Order problems by file, then position, then message."""
        return (self.file, self.line or 0, self.col or 0, self.message)


def shorten(value: object, limit: int = 60) -> str:
    """``repr(value)`` cut to about ``limit`` characters: a message names a value, it does
    not carry a 4,000-digit number or a 300-character zone name whole."""
    shown = repr(value)
    if len(shown) <= limit:
        return shown
    closing = shown[-1] if shown[-1] in "'\"" else ""
    return shown[: limit - 4] + "..." + closing


def sorted_problems(problems: list[Problem]) -> list[Problem]:
    """Return problems ordered by file, line and column."""
    return sorted(problems, key=Problem.sort_key)


def has_errors(problems: list[Problem]) -> bool:
    """Whether any problem is an error rather than a warning."""
    return any(problem.is_error for problem in problems)


def escape_text(text: str) -> str:
    """Untrusted text (job ids, values, messages) made safe for one line of output.

    Line breaks, ANSI escapes, other control characters and bidirectional overrides are
    shown as escapes (``\\n``, ``\\x1b``, ``\\u202e``), so a job id or a module's error
    message cannot start a new, fake ``file:line: error`` line or repaint the terminal.
    """
    if text.isprintable():
        return text
    return "".join(_escape_character(character) for character in text)


def _escape_character(character: str) -> str:
    if character.isprintable() or character == " ":
        return character
    shown = _NAMED_ESCAPES.get(character)
    if shown is not None:
        return shown
    code = ord(character)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


_NAMED_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def format_location(problem: Problem) -> str:
    """``path:line:col``; a problem without a position is at ``1:1`` so editors can jump there."""
    return f"{escape_text(problem.file)}:{problem.line or 1}:{problem.col or 1}"


def format_subject(problem: Problem) -> str:
    """``[job_id] field: message`` with the parts that are known, escaped."""
    prefix = f"[{escape_text(problem.job_id)}] " if problem.job_id else ""
    field = f"{escape_text(problem.field)}: " if problem.field else ""
    return f"{prefix}{field}{escape_text(problem.message)}"


def render_problem(problem: Problem) -> str:
    """The one text form of a problem, for the CLI and the logs alike:
    ``path:line:col: error: [job_id] field: message``, always one line."""
    return f"{format_location(problem)}: {problem.severity}: {format_subject(problem)}"
