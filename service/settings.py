"""One Settings object, read from CREDIT_* environment variables through `get_settings()`."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEVELOPMENT_SUBJECT_ID_KEY = "development-only-subject-id-key"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CREDIT_", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    database_url: str = "sqlite:///var/credit.sqlite3"
    # Keyed hash that turns a subject's code into its stream id, so that no personal ID
    # number ever appears in a stream id, URL or log line. Changing it orphans existing ids.
    subject_id_key: str = DEVELOPMENT_SUBJECT_ID_KEY
    run_projections_in_api: bool = True
    projection_page_size: int = Field(default=1000, ge=1, le=100_000)
    projection_poll_seconds: float = Field(default=0.5, gt=0)
    read_your_writes_timeout_seconds: float = Field(default=5.0, ge=0)
    max_body_bytes: int = Field(default=256 * 1024, ge=1024)
    max_import_bytes: int = Field(default=64 * 1024 * 1024, ge=1024)
    timezone: str = "Asia/Shanghai"

    @model_validator(mode="after")
    def no_default_secrets_in_production(self) -> Settings:
        if self.environment == "production" and self.subject_id_key == DEVELOPMENT_SUBJECT_ID_KEY:
            raise ValueError("CREDIT_SUBJECT_ID_KEY must be set in production")
        return self


@lru_cache
def get_settings() -> Settings:
    return Settings()
