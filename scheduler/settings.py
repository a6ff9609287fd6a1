"""Settings from the environment and ``.env``; every default is defined here once.

Each setting is validated as strictly as a manifest field: a bad value is an
``InvalidSettings`` naming the variable (``SCHEDULER_TIMEZONE: unknown timezone
'Europe/Berln'; did you mean 'Europe/Berlin'?``), which the command line prints before
exiting 2.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from scheduler.errors import InvalidSettings
from scheduler.problems import shorten
from scheduler.timezones import timezone_problem

__all__ = ["DEFAULT_STORE_URL", "Settings", "load_settings"]

DEFAULT_STORE_URL = "sqlite:///.scheduler/scheduler.db"

_MODULE_PREFIX = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")
_HOUR = 3600.0


class Settings(BaseSettings):
    """Process-wide settings, read from ``SCHEDULER_*`` variables and ``.env``."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    background_jobs_enabled: bool = Field(default=True, alias="BACKGROUND_JOBS_ENABLED")
    manifests_dir: Path = Field(default=Path("manifests"), alias="SCHEDULER_MANIFESTS_DIR")
    timezone: str = Field(default="UTC", alias="SCHEDULER_TIMEZONE")
    allowed_modules: Annotated[tuple[str, ...], NoDecode] = Field(
        default=("jobs",), alias="SCHEDULER_ALLOWED_MODULES"
    )
    thread_pool_workers: int = Field(
        default=10, ge=1, le=1000, alias="SCHEDULER_THREAD_POOL_WORKERS"
    )
    store_url: str = Field(default=DEFAULT_STORE_URL, alias="SCHEDULER_STORE_URL")
    store_connect_timeout: float = Field(
        default=5.0, gt=0, le=_HOUR, allow_inf_nan=False, alias="SCHEDULER_STORE_CONNECT_TIMEOUT"
    )
    heartbeat_ttl_seconds: float = Field(
        default=30.0, gt=0, le=_HOUR, allow_inf_nan=False, alias="SCHEDULER_HEARTBEAT_TTL"
    )
    history_limit: int = Field(default=100, ge=1, le=1_000_000, alias="SCHEDULER_HISTORY_LIMIT")
    api_token: str | None = Field(default=None, alias="SCHEDULER_API_TOKEN")
    shutdown_grace_seconds: float = Field(
        default=30.0, ge=0, le=_HOUR, allow_inf_nan=False, alias="SCHEDULER_SHUTDOWN_GRACE"
    )
    import_timeout_seconds: float = Field(
        default=10.0, gt=0, le=_HOUR, allow_inf_nan=False, alias="SCHEDULER_IMPORT_TIMEOUT"
    )
    reload_debounce_ms: int = Field(
        default=50, ge=0, le=60_000, alias="SCHEDULER_RELOAD_DEBOUNCE_MS"
    )
    congestion_limit: int = Field(
        default=20, ge=1, le=1_000_000, alias="SCHEDULER_CONGESTION_LIMIT"
    )

    @field_validator("allowed_modules", mode="before")
    @classmethod
    def _split_modules(cls, value: object) -> object:
        """Accept a comma-separated string, as the environment gives it."""
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("allowed_modules")
    @classmethod
    def _check_modules(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        """Each entry a dotted module prefix (``jobs``, ``myapp.tasks``); at least one."""
        if not value:
            raise ValueError("no module prefix given; name at least one, like 'jobs'")
        for prefix in value:
            if _MODULE_PREFIX.fullmatch(prefix) is None:
                raise ValueError(
                    f"{shorten(prefix)} is not a module prefix; expected dotted names "
                    "like 'jobs' or 'myapp.tasks', separated by commas"
                )
        return value

    @field_validator("timezone")
    @classmethod
    def _check_timezone(cls, value: str) -> str:
        problem = timezone_problem(value)
        if problem is not None:
            raise ValueError(problem)
        return value


def load_settings(**overrides: Any) -> Settings:
    """Read settings from the environment, with keyword overrides by field name.

    Raises ``InvalidSettings`` with one message per bad variable.
    """
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise InvalidSettings(_messages(exc)) from exc


_EXPECTED = {
    "bool_parsing": "expected true or false",
    "int_parsing": "expected a whole number",
    "float_parsing": "expected a number",
    "finite_number": "expected a finite number",
}


def _messages(exc: ValidationError) -> list[str]:
    """``VARIABLE: what is wrong`` for each error, in the variable's own name."""
    aliases = {name: field.alias or name for name, field in Settings.model_fields.items()}
    messages = []
    for error in exc.errors(include_url=False):
        loc = error["loc"]
        name = str(loc[0]) if loc else "settings"
        variable = aliases.get(name, name)
        text = _EXPECTED.get(error["type"]) or str(error["msg"]).removeprefix("Value error, ")
        text = text[:1].lower() + text[1:]
        if error["type"] != "value_error" and "input" in error:
            text = f"{text}, got {shorten(error['input'])}"
        messages.append(f"{variable}: {text}")
    return messages
