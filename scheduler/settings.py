"""Settings from the environment and ``.env``; every default is defined here once."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_STORE_URL = "sqlite:///.scheduler/scheduler.db"


class Settings(BaseSettings):
    """Process-wide settings (DESIGN.md section 9)."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    background_jobs_enabled: bool = Field(default=True, alias="BACKGROUND_JOBS_ENABLED")
    manifests_dir: Path = Field(default=Path("manifests"), alias="SCHEDULER_MANIFESTS_DIR")
    timezone: str = Field(default="UTC", alias="SCHEDULER_TIMEZONE")
    allowed_modules: Annotated[tuple[str, ...], NoDecode] = Field(
        default=("jobs",), alias="SCHEDULER_ALLOWED_MODULES"
    )
    thread_pool_workers: int = Field(default=10, ge=1, alias="SCHEDULER_THREAD_POOL_WORKERS")
    store_url: str = Field(default=DEFAULT_STORE_URL, alias="SCHEDULER_STORE_URL")
    store_connect_timeout: float = Field(default=5.0, gt=0, alias="SCHEDULER_STORE_CONNECT_TIMEOUT")
    heartbeat_ttl_seconds: float = Field(default=30.0, gt=0, alias="SCHEDULER_HEARTBEAT_TTL")
    history_limit: int = Field(default=100, ge=1, alias="SCHEDULER_HISTORY_LIMIT")
    api_token: str | None = Field(default=None, alias="SCHEDULER_API_TOKEN")
    shutdown_grace_seconds: float = Field(default=30.0, ge=0, alias="SCHEDULER_SHUTDOWN_GRACE")
    reload_debounce_ms: int = Field(default=50, ge=0, alias="SCHEDULER_RELOAD_DEBOUNCE_MS")
    congestion_limit: int = Field(default=20, ge=1, alias="SCHEDULER_CONGESTION_LIMIT")

    @field_validator("allowed_modules", mode="before")
    @classmethod
    def _split_modules(cls, value: object) -> object:
        """Accept a comma-separated string, as the environment gives it."""
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment, with keyword overrides by field name."""
    return Settings(**overrides)  # type: ignore[arg-type]
