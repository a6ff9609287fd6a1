"""Manifest models: what a job is, field by field, with its bounds. No I/O here."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

from scheduler.cron import resolve_hashed, validate_expression
from scheduler.timezones import timezone_problem

JOB_ID_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$"
FUNC_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*[.:][A-Za-z_][A-Za-z0-9_]*$"

JobId = Annotated[str, StringConstraints(pattern=JOB_ID_PATTERN)]
FuncPath = Annotated[str, StringConstraints(pattern=FUNC_PATTERN)]

# Upper bounds keep every value within what the scheduler can compute with: APScheduler adds
# jitter and grace to datetimes, which overflow past year 9999.
MAX_INSTANCES = 1000
MAX_JITTER_SECONDS = 86_400
MAX_MISFIRE_GRACE_SECONDS = 7 * 86_400
MAX_TIMEOUT_SECONDS = 7 * 86_400

_STRICT_FROZEN = ConfigDict(extra="forbid", frozen=True, strict=True)


def _check_timezone(value: str | None) -> str | None:
    problem = None if value is None else timezone_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


# Only what the schema can say about a cron expression: the shape of its fields, and where `H`
# may stand (a whole field: H, H(a-b), H/n, H(a-b)/n). The validator says the rest.
_CRON_ITEM = r"(?:\*|[0-9A-GI-Za-z][0-9A-Za-z]*(?:-[0-9A-Za-z]+)?)(?:/[0-9]+)?"
_CRON_FIELD = rf"(?:H(?:\([0-9A-Za-z]+-[0-9A-Za-z]+\))?(?:/[0-9]+)?|{_CRON_ITEM}(?:,{_CRON_ITEM})*)"
CRON_SCHEMA_PATTERN = rf"^\s*(?:@[A-Za-z]+|{_CRON_FIELD}(?:\s+{_CRON_FIELD}){{4,5}})\s*$"
_HASH_STAND_IN = "job"  # checks the form of H when job_id itself is invalid (reported apart)


def _check_cron(value: str, info: ValidationInfo) -> str:
    """Validate with the job id, which ``H`` needs: fields are validated in the order they
    are declared, so ``job_id`` is in ``info.data`` here unless it was invalid itself."""
    job_id = info.data.get("job_id")
    validate_expression(value, job_id=job_id if isinstance(job_id, str) else _HASH_STAND_IN)
    return value


class JobOptions(BaseModel):
    """Fields a job may set and a file's ``defaults:`` may supply; seed defaults."""

    model_config = _STRICT_FROZEN

    enabled: bool = Field(
        default=True, description="Strict bool; false keeps the job listed but off the schedule."
    )
    description: str | None = Field(default=None, description="What the job does, for people.")
    timezone: str | None = Field(
        default=None,
        description="IANA zone of the cron expression; default: SCHEDULER_TIMEZONE (UTC).",
    )
    args: list[Any] = Field(default_factory=list, description="Positional arguments for func.")
    kwargs: dict[str, Any] = Field(default_factory=dict, description="Keyword arguments for func.")
    max_instances: int = Field(
        default=1, ge=1, le=MAX_INSTANCES, description="Concurrent runs allowed; more are skipped."
    )
    coalesce: bool = Field(default=True, description="Run once, not once per missed occurrence.")
    misfire_grace_time: int | None = Field(
        default=60,
        ge=1,
        le=MAX_MISFIRE_GRACE_SECONDS,
        description="Seconds late a run may still start (up to 7 days); null: no limit.",
    )
    jitter: int = Field(
        default=0,
        ge=0,
        le=MAX_JITTER_SECONDS,
        description="Up to this many seconds of random delay (at most a day).",
    )
    timeout: float | None = Field(
        default=None,
        gt=0,
        le=MAX_TIMEOUT_SECONDS,
        allow_inf_nan=False,
        description="Seconds before a run counts as timed out (up to 7 days); null: none.",
    )
    catchup: bool = Field(
        default=False,
        description="On start, run once if the last occurrence was missed while down.",
    )

    _timezone_is_known = field_validator("timezone")(_check_timezone)


class Defaults(JobOptions):
    """A file's ``defaults:`` mapping, applied under each job of that file."""


class JobSpec(JobOptions):
    """One job: an importable function on a cron schedule."""

    job_id: JobId = Field(description="Unique across all manifest files.")
    func: FuncPath = Field(description="Dotted import path (module.attr or module:attr).")
    cron_expression: str = Field(
        description=(
            "Standard cron: 5 fields, or 6 with seconds first, or a macro; a whole field may be"
            " H, H(a-b), H/n or H(a-b)/n, a value picked by a stable hash of job_id."
        ),
        json_schema_extra={"pattern": CRON_SCHEMA_PATTERN},
    )

    _cron_is_valid = field_validator("cron_expression")(_check_cron)

    @property
    def resolved_expression(self) -> str:
        """``cron_expression`` with any ``H`` resolved for this job: what really runs."""
        return resolve_hashed(self.cron_expression, self.job_id)

    @property
    def module_name(self) -> str:
        """The module part of ``func``."""
        return split_func_path(self.func)[0]

    @property
    def attribute_name(self) -> str:
        """The attribute part of ``func``."""
        return split_func_path(self.func)[1]


class ManifestFile(BaseModel):
    """A file holding a list of jobs and optional defaults for them."""

    model_config = _STRICT_FROZEN

    defaults: Defaults | None = None
    jobs: list[JobSpec]


JOB_FIELDS: frozenset[str] = frozenset(JobSpec.model_fields)
DEFAULTS_FIELDS: frozenset[str] = frozenset(Defaults.model_fields)
FILE_FIELDS: frozenset[str] = frozenset(ManifestFile.model_fields)


def split_func_path(func: str) -> tuple[str, str]:
    """Split ``pkg.mod.attr`` or ``pkg.mod:attr`` into module and attribute."""
    if ":" in func:
        module, _, attribute = func.partition(":")
    else:
        module, _, attribute = func.rpartition(".")
    return module, attribute


def manifest_json_schema() -> dict[str, Any]:
    """The JSON Schema of a manifest file: one job, or ``jobs:`` with optional ``defaults:``.

    Generated from the models so it cannot drift from what the loader accepts.
    """
    from pydantic import TypeAdapter

    schema = TypeAdapter(JobSpec | ManifestFile).json_schema()
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "scheduler manifest",
        "description": "One job (a mapping with job_id), or a list of jobs with optional defaults.",
        **schema,
    }
