"""One Settings object, read from CREDIT_* environment variables through `get_settings()`."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEVELOPMENT_SUBJECT_ID_KEY = "development-only-subject-id-key"
DEVELOPMENT_KEY_ENCRYPTION_KEY = "development-only-key-encryption-key"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CREDIT_", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    database_url: str = "sqlite:///var/credit.sqlite3"
    # Where queries read the read models (a PostgreSQL streaming replica of the primary, say);
    # writes, the access log and the projection runner always use database_url.
    read_database_url: str | None = None
    # Keyed hash that turns a subject's code into its stream id, so that no personal ID
    # number ever appears in a stream id, URL or log line. Changing it orphans existing ids.
    subject_id_key: str = DEVELOPMENT_SUBJECT_ID_KEY
    run_projections_in_api: bool = True
    # Off where the service runs as a role that may not change the schema (docs/security.md):
    # then `credit migrate` runs separately, as the tables' owner.
    migrate_on_start: bool = True
    projection_page_size: int = Field(default=1000, ge=1, le=100_000)
    projection_poll_seconds: float = Field(default=0.5, gt=0)
    read_your_writes_timeout_seconds: float = Field(default=5.0, ge=0)
    # Every request but an upload is answered within this many seconds: 503 with Retry-After
    # if nothing was answered by then (docs/operations.md, "When PostgreSQL stops"); 0: off.
    request_deadline_seconds: float = Field(default=8.0, ge=0)
    max_body_bytes: int = Field(default=256 * 1024, ge=1024)
    max_import_bytes: int = Field(default=64 * 1024 * 1024, ge=1024)
    timezone: str = "Asia/Shanghai"
    # The log's name in its signed checkpoints, and how often the process that follows the log
    # signs a new one while it grows (0: only on demand).
    log_origin: str = "credit-transport"
    checkpoint_seconds: float = Field(default=300, ge=0)
    # The credit rules (versioned, effective-dated); default: the file shipped with the service.
    policy_file: Path | None = None
    # Official working-day schedules for years chinese-calendar does not know (TOML, [[year]]).
    working_day_schedules: Path | None = None
    # Access tokens (OAuth2 client credentials, RFC 9068 JWTs signed with Ed25519).
    token_issuer: str = "urn:credit-transport"
    token_audience: str = "credit-api"
    token_ttl_seconds: int = Field(default=600, ge=30, le=3600)
    # Wraps the signing keys (and later the per-subject data keys) stored in the database.
    key_encryption_key: str = DEVELOPMENT_KEY_ENCRYPTION_KEY
    # scrypt cost for client secrets; lower it only for tests.
    client_secret_scrypt_n: int = Field(default=2**14, ge=2)
    client_cache_seconds: float = Field(default=2.0, ge=0)
    key_cache_seconds: float = Field(default=60.0, ge=0)
    rate_limit_per_second: float = Field(default=50.0, gt=0)
    rate_limit_burst: int = Field(default=200, ge=1)
    # Applicants have no account: their case endpoints are limited by address (20 tries at once,
    # then one every 6 seconds), so that guessing query codes costs time.
    applicant_rate_per_second: float = Field(default=1 / 6, gt=0)
    applicant_burst: int = Field(default=20, ge=1)
    cors_origins: list[str] = []

    @model_validator(mode="after")
    def no_default_secrets_in_production(self) -> Settings:
        if self.environment != "production":
            return self
        if self.subject_id_key == DEVELOPMENT_SUBJECT_ID_KEY:
            raise ValueError("CREDIT_SUBJECT_ID_KEY must be set in production")
        if self.key_encryption_key == DEVELOPMENT_KEY_ENCRYPTION_KEY:
            raise ValueError("CREDIT_KEY_ENCRYPTION_KEY must be set in production")
        if self.client_secret_scrypt_n < 2**14:
            raise ValueError("CREDIT_CLIENT_SECRET_SCRYPT_N must be at least 16384 in production")
        return self


@lru_cache
def get_settings() -> Settings:
    return Settings()
