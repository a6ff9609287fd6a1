"""``H``, our extension to standard cron: a value picked by a stable hash of the job id.

Borrowed from Jenkins: a thousand jobs written ``H 3 * * *`` spread over the hour instead of
all firing at 03:00. Each ``H`` field is replaced by plain cron before anything else sees the
expression, so triggers, previews and descriptions only ever deal with standard cron, and a
reader can always be shown the expression that really runs.

The forms, in any field (seconds included):

- ``H``: one value of the field's range; day-of-month picks from 1-28 so the job runs every
  month, day-of-week from 0-6 (Sunday once, not as 0 and 7).
- ``H(a-b)``: one value from ``a`` to ``b`` (numbers, or names in month and day-of-week).
- ``H/n``: every ``n``, from a stable offset below ``n`` (``H/15`` minutes -> ``7-59/15``).
- ``H(a-b)/n``: every ``n`` from ``a`` plus a stable offset below ``n``, up to ``b``.

``H`` is the whole field: it cannot be one item of a list. The value comes from BLAKE2b of the
UTF-8 job id, keyed by the field name (so the minute and the hour of ``H H * * *`` are
independent): the same on every host, process and Python version, unlike ``hash()``, which is
salted per process. Changing this function would move every ``H`` job at once on upgrade, so a
test pins known answers.
"""

from __future__ import annotations

import functools
import hashlib
import re

from scheduler.cron.parse import (
    FIELDS,
    FieldSpec,
    InvalidPart,
    field_value,
    parse_expression,
    split_fields,
)
from scheduler.errors import InvalidCronExpression

__all__ = [
    "has_hashed_field",
    "hashed_value",
    "resolve_for",
    "resolve_hashed",
    "validate_expression",
]

_FORM = re.compile(r"H(?:\((?P<low>[^()\-]*)-(?P<high>[^()\-]*)\))?(?:/(?P<step>.*))?")
_FORMS = "H, H(a-b), H/n or H(a-b)/n"
# Where plain ``H`` picks from, when it differs from the field's range.
_PLAIN_RANGES = {"day-of-month": (1, 28), "day-of-week": (0, 6)}


def hashed_value(job_id: str, field_name: str, size: int) -> int:
    """A stable number in ``range(size)`` for this job and field (BLAKE2b, not ``hash()``)."""
    digest = hashlib.blake2b(
        job_id.encode("utf-8"), digest_size=8, person=field_name.encode("ascii")
    ).digest()
    return int.from_bytes(digest, "big") % size


def has_hashed_field(expression: str) -> bool:
    """Whether some item of some field is ``H``-something (day names like THU do not count)."""
    if "H" not in expression:
        return False
    return any(item.startswith("H") for part in expression.split() for item in part.split(","))


def _number(spec: FieldSpec, text: str, what: str) -> int:
    if not (text.isascii() and text.isdigit()):
        raise InvalidPart(f"{spec.name} {what} {text!r} is not a number")
    return int(text)


def _bounds(spec: FieldSpec, low_text: str | None, high_text: str | None) -> tuple[int, int]:
    """The range ``H`` picks from: ``(a-b)`` when given, else the field's own."""
    if low_text is None or high_text is None:
        return _PLAIN_RANGES.get(spec.name, (spec.low, spec.high))
    if not low_text or not high_text:
        raise InvalidPart(f"{spec.name} range '{low_text}-{high_text}' is incomplete")
    low, high = field_value(spec, low_text), field_value(spec, high_text)
    if high < low:
        raise InvalidPart(f"{spec.name} range {low_text}-{high_text} runs backwards")
    return low, high


def _resolve_field(spec: FieldSpec, text: str, job_id: str) -> str:
    """Standard cron text for one field (returned as is when it has no ``H``)."""
    items = text.split(",")
    if not any(item.startswith("H") for item in items):
        return text
    if len(items) > 1:
        raise InvalidPart(f"{spec.name} {text!r}: H must be the whole field, one of {_FORMS}")
    form = _FORM.fullmatch(text)
    if form is None:
        raise InvalidPart(f"{spec.name} {text!r} is not a form of H; use one of {_FORMS}")
    low, high = _bounds(spec, form["low"], form["high"])
    if form["step"] is None:
        return str(low + hashed_value(job_id, spec.name, high - low + 1))
    step = _number(spec, form["step"], "step")
    if not 1 <= step <= high - low + 1:
        raise InvalidPart(
            f"{spec.name} step {step} of {text!r} must be 1 to {high - low + 1} "
            f"(the size of the range {low}-{high})"
        )
    start = low + hashed_value(job_id, spec.name, step)
    return str(start) if start == high else f"{start}-{high}/{step}"


@functools.lru_cache(maxsize=16384)
def resolve_hashed(expression: str, job_id: str) -> str:
    """The standard cron expression that ``expression`` means for ``job_id``.

    Fields without ``H`` are kept as written; an expression without ``H`` comes back
    unchanged. Raises ``InvalidCronExpression`` naming the field when an ``H`` is not one of
    the documented forms, or when the expression it resolves to is not valid.
    """
    if not has_hashed_field(expression):
        return expression
    try:
        parts = split_fields(expression)
        specs = FIELDS if len(expression.split()) == 6 else FIELDS[1:]
        written = parts if len(expression.split()) == 6 else parts[1:]
        resolved = " ".join(
            _resolve_field(spec, text, job_id) for spec, text in zip(specs, written, strict=True)
        )
    except InvalidPart as reason:
        raise InvalidCronExpression(expression, str(reason)) from reason
    try:
        parse_expression(resolved)
    except InvalidCronExpression as error:
        because = f"{error.reason} (H resolved it to {resolved!r})"
        raise InvalidCronExpression(expression, because) from error
    return resolved


def resolve_for(expression: str, job_id: str | None) -> str:
    """``resolve_hashed`` when there is a job id; without one, ``H`` is an error."""
    if job_id is not None:
        return resolve_hashed(expression, job_id)
    if has_hashed_field(expression):
        raise InvalidCronExpression(
            expression, "'H' picks its value from the job id, and no job id was given"
        )
    return expression


def validate_expression(expression: str, *, job_id: str | None = None) -> None:
    """Raise ``InvalidCronExpression`` unless ``expression`` is valid (for ``job_id``, if ``H``)."""
    parse_expression(resolve_for(expression, job_id))
