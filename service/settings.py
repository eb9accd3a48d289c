"""One Settings object, read from CREDIT_* environment variables through `get_settings()`."""

from __future__ import annotations

import re
from functools import lru_cache
from ipaddress import IPv4Network, IPv6Network
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    Field,
    IPvAnyNetwork,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict
from pydantic_settings import SettingsError as SettingsSourceError

from service.access.clients import ROLES

# "oidc:" and the issuer fit staff_accounts.provider (300 characters).
MAX_ISSUER_LENGTH = 295
DEVELOPMENT_SUBJECT_ID_KEY = "development-only-subject-id-key"
DEVELOPMENT_KEY_ENCRYPTION_KEY = "development-only-key-encryption-key"
DEFAULT_TIMEZONE = "Asia/Shanghai"  # Beijing time: the legal dates of China's credit records
# The least Argon2id memory the OWASP Password Storage Cheat Sheet accepts (19 MiB, t=2, p=1).
MIN_PASSWORD_HASH_MEMORY_KIB = 19 * 1024


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CREDIT_", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    database_url: str = "sqlite:///var/credit.sqlite3"
    # Where queries read the read models (a PostgreSQL streaming replica of the primary, say);
    # writes, the access log and the projection runner always use database_url.
    read_database_url: str | None = None
    # Queries read the replica while its replay lag is at most this many seconds, the primary
    # otherwise (docs/operations.md, "Read replicas"); how often the lag is measured.
    read_replica_max_lag_seconds: float = Field(default=30.0, gt=0)
    read_replica_check_seconds: float = Field(default=1.0, gt=0)
    # Keyed hash that turns a subject's code into its stream id, so that no personal ID
    # number ever appears in a stream id, URL or log line. Changing it orphans existing ids.
    subject_id_key: SecretStr = SecretStr(DEVELOPMENT_SUBJECT_ID_KEY)
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
    # A subscription of up to 100,000 codes (service/notifications/subscriptions.py MAX_SUBJECTS):
    # 18 characters each and the JSON around them, about 2.2 MB; plates in Chinese take more.
    max_subscription_bytes: int = Field(default=4 * 1024 * 1024, ge=1024)
    # How long a read of the change feed may wait for a change (long-polling), at most: a
    # request asks for up to 30 s (service/notifications/feed.py MAX_WAIT_SECONDS).
    feed_max_wait_seconds: float = Field(default=30, ge=0, le=30)
    # Webhooks of subscriptions (service/notifications/, docs/notifications.md "Webhooks").
    # A callback must be https in production, and may point at a private, loopback,
    # link-local, multicast or reserved address only with this set, outside production (a
    # receiver on one's own machine or network, in development and tests).
    webhook_allow_private_targets: bool = False
    webhook_connect_timeout_seconds: float = Field(default=5, gt=0, le=60)
    webhook_read_timeout_seconds: float = Field(default=10, gt=0, le=120)
    # A failed delivery is tried again after about 30 s, then twice as long each time up to
    # an hour apart, with jitter, and abandoned when it still fails 24 hours after its first
    # attempt; a webhook pauses after this many failed attempts in a row (resumed by its
    # client). The service's own values, as Standard Webhooks recommends retries over a day.
    webhook_retry_base_seconds: float = Field(default=30, gt=0)
    webhook_retry_max_interval_seconds: float = Field(default=3600, gt=0)
    webhook_retry_window_seconds: float = Field(default=24 * 3600, ge=24 * 3600)
    webhook_pause_after_failures: int = Field(default=20, ge=1)
    # How long a claimed delivery is left to the worker that claimed it: after that another
    # sends it again (a worker that died mid-send). Longer than resolving the name, connecting
    # and waiting for the answer together, or two workers could send it at once.
    webhook_lease_seconds: float = Field(default=120, gt=0)
    # A worker claims up to this many due deliveries in one transaction, sends them up to
    # `webhook_concurrency` at once (threads, each POST a connection of its own), and records
    # their answers in one transaction. A send starts only while its batch's lease still
    # outlasts a whole send; what is left for then is released, due again at once. With the
    # defaults a batch takes at most four sends' time, a minute, well within the lease. Several
    # of a batch's POSTs may go to one receiver at once (changes of different subjects).
    webhook_batch_size: int = Field(default=50, ge=1, le=1000)
    webhook_concurrency: int = Field(default=16, ge=1, le=256)
    webhook_poll_seconds: float = Field(default=1.0, gt=0)
    # Whether `credit worker` delivers webhooks too (else run `credit deliver`).
    deliver_webhooks_in_worker: bool = False
    # Public changes published to NATS JetStream (service/notifications/jetstream.py,
    # docs/notifications.md "NATS"): the server's address (e.g. nats://127.0.0.1:4222); unset,
    # nothing is published. The stream is created, or its subjects and window updated, at start.
    nats_url: str | None = None
    nats_stream: str = Field(default="CREDIT_CHANGES", pattern=r"^[A-Za-z0-9_-]{1,64}$")
    nats_subject_prefix: str = Field(
        default="credit.changes", pattern=r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$"
    )
    # A subject's changes always go to one partition (a hash of its id mod this): changing it
    # moves subjects between partitions, so a stream keeps the number it started with.
    nats_partitions: int = Field(default=16, ge=1, le=1024)
    # JetStream drops a message whose Nats-Msg-Id it saw within this window: what a publisher
    # restarted from its cursor sends again within it is stored once.
    nats_duplicate_window_seconds: float = Field(default=24 * 60 * 60, gt=0)
    # What one import may unpack and hold (service/commanding/importing/limits.py ImportLimits,
    # docs/security.md): together they keep any upload within max_import_bytes under about
    # 100 MB of memory.
    import_max_inflated_bytes: int = Field(default=256 * 1024 * 1024, ge=1024)
    import_max_compression_ratio: int = Field(default=200, ge=10)
    import_max_archive_members: int = Field(default=1000, ge=10)
    import_max_shared_strings: int = Field(default=200_000, ge=1)
    import_max_shared_strings_bytes: int = Field(default=16 * 1024 * 1024, ge=1024)
    import_max_rows: int = Field(default=250_000, ge=1)
    import_max_columns: int = Field(default=1000, ge=30)
    import_max_part_bytes: int = Field(default=4 * 1024 * 1024, ge=64 * 1024)
    import_max_part_elements: int = Field(default=50_000, ge=1000)
    import_max_cell_chars: int = Field(default=32_767, ge=1000)
    import_max_line_chars: int = Field(default=1024 * 1024, ge=64 * 1024)
    # The zone whose calendar days are the legal dates ("today", decision and case dates); the
    # service's one clock (service/clock.py) keeps it.
    timezone: str = DEFAULT_TIMEZONE
    # The day's close (日结, docs/notifications.md "What time alone changes"): `credit worker`
    # records it this many seconds after each midnight in `timezone` (off: only `credit
    # close-day` records it), and, after being down, closes at most this many missed days.
    close_days_in_worker: bool = True
    day_close_delay_seconds: float = Field(default=60, ge=0, le=6 * 60 * 60)
    day_close_catch_up_days: int = Field(default=31, ge=1, le=366)
    # The log's name in its signed checkpoints, and how often the process that follows the log
    # signs a new one while it grows (0: only on demand).
    log_origin: str = "credit-transport"
    checkpoint_seconds: float = Field(default=300, ge=0)
    # The cryptographic suite (domain/crypto_suite.py): "standard" (SHA-256, Ed25519,
    # AES-256-GCM) or "gm", which adds the 国密 algorithms a system assessed under GB/T
    # 39786-2021 (商用密码应用安全性评估) needs: an SM3 (GB/T 32905) hash chain and Merkle tree
    # beside the SHA-256 ones, an SM2 (GB/T 32918) signature beside Ed25519 on checkpoints and
    # exports, SM2 instead of Ed25519 for access tokens (JWS alg "SM2SM3"), SM4-GCM (GB/T 32907)
    # for personal data sealed from then on, and SM3 in place of SHA-256 for new rows of the
    # access and admin logs (each row names its hash). Either setting verifies and opens what the
    # other wrote, tokens while their key is published (docs/audit.md, "The 国密 suite").
    crypto_suite: Literal["standard", "gm"] = "standard"
    # The public address of the service, as printed in a credit report's QR code and link to
    # its verification page (e.g. https://xyjt.example.gov.cn); default: the address the
    # report was asked for at.
    public_base_url: str | None = None
    # The credit rules (versioned, effective-dated); default: the file shipped with the service.
    policy_file: Path | None = None
    # Official working-day schedules for years chinese-calendar does not know (TOML, [[year]]).
    working_day_schedules: Path | None = None
    # Access tokens (OAuth2 client credentials, RFC 9068 JWTs signed with Ed25519).
    token_issuer: str = "urn:credit-transport"
    token_audience: str = "credit-api"
    token_ttl_seconds: int = Field(default=600, ge=30, le=3600)
    # Wraps the signing keys (and later the per-subject data keys) stored in the database.
    key_encryption_key: SecretStr = SecretStr(DEVELOPMENT_KEY_ENCRYPTION_KEY)
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
    # The token endpoint checks a secret with scrypt, which costs CPU and memory whether or not
    # the client exists: requests are limited per address (a burst of 20, then one every 2 s)
    # and per client id (a burst of 10, then one every 6 s), both before any secret is hashed.
    token_address_rate_per_second: float = Field(default=0.5, gt=0)
    token_address_burst: int = Field(default=20, ge=1)
    token_client_rate_per_second: float = Field(default=1 / 6, gt=0)
    token_client_burst: int = Field(default=10, ge=1)
    # The staff console (api/console/, docs/console.md). Who vouches for the person signing in:
    # "builtin", the console's own accounts with Argon2id password hashes, or "oidc", an
    # external OpenID Connect provider (a provincial 统一身份认证) configured below.
    console_identity_provider: Literal["builtin", "oidc"] = "builtin"
    # The OpenID Connect provider: its issuer (discovery at <issuer>/.well-known/openid-
    # configuration), the console's registration with it, the scopes asked for, which claim
    # carries each of the account's fields, and which of the provider's role or group names
    # is which console role (no role is guessed: a value not in the map gives none).
    oidc_issuer: str | None = None
    oidc_client_id: str | None = None
    oidc_client_secret: SecretStr | None = None
    oidc_scopes: str = "openid profile"
    oidc_claim_account: str = "preferred_username"
    oidc_claim_name: str = "name"
    oidc_claim_agency_code: str = "org_code"
    oidc_claim_agency_name: str = "org_name"
    oidc_claim_roles: str = "roles"
    oidc_role_map: dict[str, str] = {}
    oidc_claim_authority_codes: str = "authority_codes"
    oidc_claim_sectors: str = "sectors"
    # A console session ends after this long without a request, and this long after sign-in
    # whatever happens: NIST SP 800-63B §4.2.3 (AAL2) asks for reauthentication after 30 minutes
    # of inactivity and at least every 12 hours.
    console_session_idle_seconds: int = Field(default=30 * 60, ge=60)
    console_session_absolute_seconds: int = Field(default=12 * 60 * 60, ge=300)
    # This many failed sign-ins in a row under one name lock that name for this long; failures
    # further apart than that start the count again. GB/T 22239-2019 (等保 2.0) 8.1.4.1 b) asks
    # for a limit on failed logins without setting figures: these are the service's defaults.
    console_lockout_failures: int = Field(default=5, ge=1, le=100)
    console_lockout_seconds: int = Field(default=15 * 60, ge=1)
    # Sign-in attempts per address, checked before any password is hashed (as for tokens).
    console_sign_in_address_rate_per_second: float = Field(default=0.5, gt=0)
    console_sign_in_address_burst: int = Field(default=20, ge=1)
    # Argon2id cost for staff passwords: RFC 9106 §4's second recommended option (t=3, 64 MiB,
    # p=4), argon2-cffi's default; lower it only for tests.
    password_hash_time_cost: int = Field(default=3, ge=1)
    password_hash_memory_kib: int = Field(default=64 * 1024, ge=32)
    # Reverse proxies whose X-Forwarded-For is believed (addresses or networks, as a JSON list:
    # ["10.0.0.5", "10.1.0.0/16"]). Default none: the caller's address is the TCP peer's, and a
    # caller cannot choose the address its per-address limits count against.
    trusted_proxies: list[IPvAnyNetwork] = []
    cors_origins: list[str] = []
    # Log lines: one JSON object each (for a log collector), or plain text for a terminal.
    log_format: Literal["json", "text"] = "json"
    # Who may read GET /metrics (docs/operations.md, "Metrics"): a caller whose address is in
    # metrics_networks, or any caller with `Authorization: Bearer <metrics_token>`. The
    # metrics name no subject, but tell request rates and backlogs to whoever reads them.
    metrics_networks: list[IPvAnyNetwork] = [
        IPv4Network("127.0.0.0/8"),
        IPv6Network("::1/128"),
    ]
    metrics_token: SecretStr | None = None
    # GET /readyz answers 503 while a projector is more events than this behind the log (and
    # until the database's migrations are at head): a load balancer sends it no reads then.
    ready_max_lag: int = Field(default=1000, ge=0)
    # OpenTelemetry traces of requests and SQL, exported as the standard OTEL_* variables say
    # (OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_SERVICE_NAME ...); needs the `tracing` extra.
    tracing: bool = False

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def secure_cookies(self) -> bool:
        """Cookies go over HTTPS only, except in development (plain http on one's own machine)."""
        return self.environment != "development"

    @field_validator("timezone")
    @classmethod
    def known_zone(cls, name: str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"not a known IANA time zone name (such as {DEFAULT_TIMEZONE})"
            ) from None
        return name

    @field_validator("oidc_role_map")
    @classmethod
    def console_roles(cls, role_map: dict[str, str]) -> dict[str, str]:
        unknown = sorted({role for role in role_map.values() if role not in ROLES})
        if unknown:
            raise ValueError(
                f"maps to {', '.join(unknown)}, not a console role ({', '.join(ROLES)})"
            )
        return role_map

    @model_validator(mode="after")
    def oidc_provider_configured(self) -> Settings:
        """With `oidc` chosen, the service does not start without the provider: a console no
        one can sign in to would otherwise be found out at the first sign-in."""
        if self.console_identity_provider != "oidc":
            return self
        missing = [
            f"CREDIT_{name.upper()}"
            for name in ("oidc_issuer", "oidc_client_id", "oidc_client_secret")
            if not _given(getattr(self, name))
        ]
        if not self.oidc_role_map:
            missing.append("CREDIT_OIDC_ROLE_MAP")
        if missing:
            raise ValueError(f"CREDIT_CONSOLE_IDENTITY_PROVIDER=oidc needs {', '.join(missing)}")
        assert self.oidc_issuer is not None
        problem = issuer_problem(self.oidc_issuer, self.environment)
        if problem:
            raise ValueError(f"CREDIT_OIDC_ISSUER: {problem}")
        if "openid" not in self.oidc_scopes.split():
            raise ValueError("CREDIT_OIDC_SCOPES: must include openid")
        return self

    @model_validator(mode="after")
    def webhook_lease_outlasts_a_send(self) -> Settings:
        send = self.webhook_connect_timeout_seconds + self.webhook_read_timeout_seconds
        if self.webhook_lease_seconds <= send:
            raise ValueError(
                "CREDIT_WEBHOOK_LEASE_SECONDS must be longer than "
                "CREDIT_WEBHOOK_CONNECT_TIMEOUT_SECONDS and CREDIT_WEBHOOK_READ_TIMEOUT_SECONDS "
                "together"
            )
        return self

    @model_validator(mode="after")
    def no_default_secrets_in_production(self) -> Settings:
        if self.environment != "production":
            return self
        if self.subject_id_key.get_secret_value() == DEVELOPMENT_SUBJECT_ID_KEY:
            raise ValueError("CREDIT_SUBJECT_ID_KEY must be set in production")
        if self.key_encryption_key.get_secret_value() == DEVELOPMENT_KEY_ENCRYPTION_KEY:
            raise ValueError("CREDIT_KEY_ENCRYPTION_KEY must be set in production")
        if self.client_secret_scrypt_n < 2**14:
            raise ValueError("CREDIT_CLIENT_SECRET_SCRYPT_N must be at least 16384 in production")
        if self.webhook_allow_private_targets:
            raise ValueError("CREDIT_WEBHOOK_ALLOW_PRIVATE_TARGETS may not be set in production")
        if self.password_hash_memory_kib < MIN_PASSWORD_HASH_MEMORY_KIB:
            raise ValueError(
                "CREDIT_PASSWORD_HASH_MEMORY_KIB must be at least "
                f"{MIN_PASSWORD_HASH_MEMORY_KIB} in production"
            )
        return self


def _given(value: str | SecretStr | None) -> bool:
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    return bool(value and value.strip())


def issuer_problem(issuer: str, environment: str) -> str | None:
    """Why an OpenID Connect issuer cannot be used, if it cannot: it must be an https URL
    without query or fragment (OpenID Connect Discovery 1.0 §2); plain http is accepted for a
    loopback address outside production only (a provider on one's own machine, in tests).
    Its length leaves room for "oidc:" in the accounts' provider column."""
    parts = urlsplit(issuer)
    if len(issuer) > MAX_ISSUER_LENGTH:
        return f"at most {MAX_ISSUER_LENGTH} characters"
    if parts.query or parts.fragment or not parts.hostname:
        return "an https URL without query or fragment, such as https://tyrz.example.gov.cn"
    loopback = parts.hostname in ("127.0.0.1", "localhost", "::1")
    if parts.scheme == "https" or (
        parts.scheme == "http" and loopback and environment != "production"
    ):
        return None
    return "must be an https URL"


class SettingsError(ValueError):
    """A CREDIT_* setting is missing or invalid. The message names each setting and the reason,
    never the value given: values include keys (pydantic's own message quotes them)."""


def describe(error: ValidationError) -> str:
    """One line: `CREDIT_NAME: reason` per problem, without the input."""
    problems = []
    for problem in error.errors(include_input=False, include_url=False, include_context=False):
        field = [str(part) for part in problem["loc"]]
        reason = problem["msg"].removeprefix("Value error, ")
        if field:  # else a check across settings, whose reason names them
            name = f"CREDIT_{field[0].upper()}" + "".join(f"[{part}]" for part in field[1:])
            reason = f"{name}: {reason}"
        problems.append(reason)
    return "; ".join(problems)


@lru_cache
def get_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as error:
        raise SettingsError(describe(error)) from None
    except SettingsSourceError as error:  # a list or map setting that is not JSON
        field = re.search(r'field "(\w+)"', str(error))
        name = f"CREDIT_{field.group(1).upper()}" if field else "a CREDIT_* setting"
        if name == "CREDIT_OIDC_ROLE_MAP":
            example = '{"XYJT_CX": "agency"}'
            raise SettingsError(f"{name}: not a JSON object (e.g. {example})") from None
        raise SettingsError(f'{name}: not a JSON list (e.g. ["a", "b"])') from None
