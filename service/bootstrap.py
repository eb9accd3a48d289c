"""Composition root: builds the event store, the command service, the read-model engines and
the projection runner once, for the API's lifespan, the worker and the CLI alike."""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass, field
from datetime import timedelta

from argon2 import PasswordHasher
from sqlalchemy import Engine
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.crypto_suite import SUITES
from domain.policy import PolicyBook
from projections.cases.queries import CaseQueries
from projections.runner import ProjectionRunner, postgres_notify_waiter
from service.access.access_log import AccessLog
from service.access.accounts import Lockout, StaffAccounts
from service.access.administration import Administration, AdminLog
from service.access.clients import ClientDirectory, ClientRegistry
from service.access.group_commit import AccessLogWriter
from service.access.identity import IdentityProvider, identity_provider
from service.access.keys import SigningKeys
from service.access.personal_data import PersonalDataVault
from service.access.secrets import KeyWrapper
from service.access.sessions import ConsoleSessions
from service.access.token_algorithms import token_key_kind
from service.access.tokens import Tokens
from service.clock import Clock
from service.commanding.cases import CaseDesk
from service.commanding.credit_files import CreditFiles
from service.commanding.day_closes import DayCloses, DayCloseSchedule
from service.commanding.identity import SubjectIds
from service.credit_reports.reports import CreditReports
from service.integrity.checkpoints import Checkpoints, CheckpointSchedule
from service.metrics import count_pool_use
from service.notifications.deliveries import DeliveryWorker, RetryPolicy, Webhooks
from service.notifications.notices import Notices
from service.notifications.subscriptions import Subscriptions
from service.notifications.webhooks import TargetRules
from service.policy.calendars import load_calendar
from service.policy.loader import load_policy
from service.read_models import read_model_projectors
from service.replay.jobs import ReplayChecks
from service.settings import Settings, get_settings
from service.store.database import Database
from service.store.ledger import CreditLedger, EventLog, open_ledger
from service.store.migrations import upgrade
from service.store.read_store import async_engine, snapshot_engine, sync_engine
from service.store.replica import ReadReplica

log = logging.getLogger(__name__)
# The child process of one background replay check; the check id follows.
REPLAY_CHECK_COMMAND = (sys.executable, "-m", "service.cli", "run-replay-check")


@dataclass
class Services:
    settings: Settings
    database: Database
    clock: Clock
    ledger: CreditLedger
    files: CreditFiles
    runner: ProjectionRunner
    write_engine: Engine
    clients: ClientRegistry
    keys: SigningKeys
    tokens: Tokens
    access_log: AccessLog
    vault: PersonalDataVault
    policy: PolicyBook
    cases: CaseDesk
    case_queries: CaseQueries
    checkpoints: Checkpoints
    checkpoint_schedule: CheckpointSchedule
    access_log_writer: AccessLogWriter
    replay_checks: ReplayChecks
    admin_log: AdminLog
    administration: Administration
    accounts: StaffAccounts
    sessions: ConsoleSessions
    identity: IdentityProvider
    reports: CreditReports
    subscriptions: Subscriptions
    webhooks: Webhooks
    deliveries: DeliveryWorker
    notices: Notices
    day_closes: DayCloses
    day_close_schedule: DayCloseSchedule
    _read_engine: AsyncEngine | None = field(default=None, repr=False)
    _replica: ReadReplica | None = field(default=None, repr=False)
    _directory: ClientDirectory | None = field(default=None, repr=False)

    @property
    def read_engine(self) -> AsyncEngine:
        """Where queries read: the replica while it keeps up (CREDIT_READ_DATABASE_URL), else
        the primary. Built on first use, inside the event loop that will use it."""
        replica = self.read_replica
        if replica is not None:
            return replica.engine
        if self._read_engine is None:
            url = self.settings.read_database_url  # a SQLite copy, if any: no lag to measure
            self._read_engine = async_engine(Database.from_url(url) if url else self.database)
            count_pool_use(self._read_engine.sync_engine, "read")
        return self._read_engine

    @property
    def read_replica(self) -> ReadReplica | None:
        """The PostgreSQL read replica and its lag, if CREDIT_READ_DATABASE_URL names one."""
        url = self.settings.read_database_url
        if url is None or Database.from_url(url).is_sqlite:
            return None
        if self._replica is None:
            self._replica = ReadReplica(
                async_engine(Database.from_url(url)),
                async_engine(self.database),
                max_lag_seconds=self.settings.read_replica_max_lag_seconds,
                check_seconds=self.settings.read_replica_check_seconds,
            )
            count_pool_use(self._replica.replica.sync_engine, "read")
            count_pool_use(self._replica.primary.sync_engine, "read-primary")
        return self._replica

    @property
    def directory(self) -> ClientDirectory:
        if self._directory is None:
            self._directory = ClientDirectory(
                lambda: self.read_engine, self.settings.client_cache_seconds
            )
        return self._directory

    async def aclose(self) -> None:
        self.close_sync()
        await self.access_log_writer.aclose()
        if self._read_engine is not None:
            await self._read_engine.dispose()
        if self._replica is not None:
            await self._replica.dispose()

    def start_background_work(self) -> None:
        """What the process that follows the log runs: projections and scheduled checkpoints."""
        self.runner.start()
        self.checkpoint_schedule.start()

    def close_sync(self) -> None:
        self.day_close_schedule.stop()
        self.deliveries.stop()
        self.checkpoint_schedule.stop()
        self.replay_checks.close()
        self.access_log_writer.close()
        self.runner.stop()
        self.write_engine.dispose()
        self.checkpoints.reader.dispose()
        self.ledger.close()


def build_services(
    settings: Settings, *, clock: Clock | None = None, migrate: bool | None = None
) -> Services:
    clock = clock or Clock(settings.zone)  # the one clock: every "today" comes from it
    if clock.zone != settings.zone:
        raise ValueError(
            f"the clock keeps {clock.zone} but CREDIT_TIMEZONE is {settings.timezone}: "
            "legal dates would differ between the parts of the service"
        )
    database = Database.from_url(settings.database_url)
    policy = load_policy(settings.policy_file)  # a faulty policy stops the start, saying where
    if settings.migrate_on_start if migrate is None else migrate:
        upgrade(database)
    ledger = open_ledger(database, create_tables=False)
    write_engine = sync_engine(database)
    count_pool_use(write_engine, "write")
    calendar = load_calendar(settings.working_day_schedules)
    waiter = None
    if not database.is_sqlite:
        waiter = postgres_notify_waiter(database.conninfo(), ledger.recorder.channel_name)  # type: ignore[attr-defined]
    runner = ProjectionRunner(
        EventLog(ledger.recorder),
        ledger.mapper,
        write_engine,
        read_model_projectors(policy, calendar, clock.zone),
        page_size=settings.projection_page_size,
        poll_seconds=settings.projection_poll_seconds,
        wait_for_notify=waiter,
    )
    suite = SUITES[settings.crypto_suite]
    wrapper = KeyWrapper(settings.key_encryption_key.get_secret_value(), suite.sealer)
    vault = PersonalDataVault(write_engine, wrapper, suite.sealer)
    files = CreditFiles(
        ledger,
        SubjectIds(settings.subject_id_key.get_secret_value()),
        clock,
        policy,
        on_appended=runner.wake,
        vault=vault,
    )
    keys = SigningKeys(
        write_engine,
        wrapper,
        token_ttl_seconds=settings.token_ttl_seconds,
        cache_seconds=settings.key_cache_seconds,
        kind=token_key_kind(suite.tokens),
    )
    tokens = Tokens(
        keys,
        issuer=settings.token_issuer,
        audience=settings.token_audience,
        ttl_seconds=settings.token_ttl_seconds,
    )
    access_log = AccessLog(write_engine, suite.log_hash)
    admin_log = AdminLog(write_engine, suite.log_hash)
    checkpoints = Checkpoints(
        write_engine,
        snapshot_engine(database),
        wrapper,
        origin=settings.log_origin,
        suite=suite,
        chains=(access_log.chain, admin_log.chain),  # anchored in every checkpoint
    )
    clients = ClientRegistry(write_engine, settings.client_secret_scrypt_n)
    accounts = StaffAccounts(
        write_engine,
        PasswordHasher(
            time_cost=settings.password_hash_time_cost,
            memory_cost=settings.password_hash_memory_kib,
        ),
        Lockout(settings.console_lockout_failures, settings.console_lockout_seconds),
    )
    sessions = ConsoleSessions(
        write_engine,
        idle=timedelta(seconds=settings.console_session_idle_seconds),
        absolute=timedelta(seconds=settings.console_session_absolute_seconds),
    )
    administration = Administration(
        write_engine, clients, keys, checkpoints, vault, admin_log, accounts, sessions
    )
    webhooks = Webhooks(write_engine, wrapper, target_rules(settings))
    day_closes = DayCloses(
        ledger, clock, catch_up_days=settings.day_close_catch_up_days, on_appended=runner.wake
    )
    return Services(
        settings,
        database,
        clock,
        ledger,
        files,
        runner,
        write_engine,
        clients,
        keys,
        tokens,
        access_log,
        vault,
        policy,
        CaseDesk(files, write_engine, policy),
        CaseQueries(
            write_engine,
            policy,
            calendar,
            today=files.clock.today,
        ),
        checkpoints,
        CheckpointSchedule(checkpoints, settings.checkpoint_seconds),
        AccessLogWriter(access_log, database),
        ReplayChecks(write_engine, settings, REPLAY_CHECK_COMMAND),
        admin_log,
        administration,
        accounts,
        sessions,
        identity_provider(settings, accounts, administration),
        CreditReports(write_engine, ledger, checkpoints, policy, clock),
        Subscriptions(write_engine, files.subject_id_for_any_code, webhooks),
        webhooks,
        delivery_worker(webhooks, settings, clock),
        Notices(write_engine),
        day_closes,
        # Started by `credit worker` only (service/cli.py), not by an API that projects.
        DayCloseSchedule(
            day_closes, settings.day_close_delay_seconds, enabled=settings.close_days_in_worker
        ),
    )


def target_rules(settings: Settings) -> TargetRules:
    """Where webhooks may point, by the settings: https and public addresses in production."""
    return TargetRules(
        require_https=settings.environment == "production",
        allow_private=settings.webhook_allow_private_targets,
        connect_timeout=settings.webhook_connect_timeout_seconds,
        read_timeout=settings.webhook_read_timeout_seconds,
    )


def delivery_worker(webhooks: Webhooks, settings: Settings, clock: Clock) -> DeliveryWorker:
    policy = RetryPolicy(
        base_seconds=settings.webhook_retry_base_seconds,
        max_interval_seconds=settings.webhook_retry_max_interval_seconds,
        window_seconds=settings.webhook_retry_window_seconds,
        pause_after=settings.webhook_pause_after_failures,
        lease_seconds=settings.webhook_lease_seconds,
    )
    return DeliveryWorker(
        webhooks,
        policy,
        clock.now,
        batch_size=settings.webhook_batch_size,
        concurrency=settings.webhook_concurrency,
        poll_seconds=settings.webhook_poll_seconds,
    )


def build_command_services(*, migrate: bool | None = None, clock: Clock | None = None) -> Services:
    """The services for one CLI command, once the database answers (at once if it cannot:
    the event store's pool would otherwise keep retrying for its whole wait)."""
    settings = get_settings()
    Database.from_url(settings.database_url).check_reachable()
    return build_services(settings, clock=clock, migrate=migrate)
