"""Administration with a trail: every administrative act (clients and staff accounts created,
disabled, secrets and passwords reset, signing and checkpoint keys rotated, personal data
erased) is written to the admin log in the same transaction as the act, and the acts that hand
out audit or admin rights, or destroy personal data, wait for a second administrator (four
eyes, 四眼原则), who approves or refuses them.

Actors are named as the log shows them: "client:<client_id>" over the API, "account:<name>"
in the staff console (and for an account an external identity provider vouches for, written
from its claims as the person signs in), "cli:<os user>" from the command line,
"demo-bootstrap" for the demo mode's own clients and accounts."""

from __future__ import annotations

import getpass
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, Engine, insert, select, update

from domain.crypto_suite import SHA256, HashAlgorithm
from domain.errors import ApprovalNotFound, ApprovalNotPending, SelfApproval
from service.access.accounts import PRINCIPAL_PREFIX, Account, AccountError, Disabled, StaffAccounts
from service.access.chained_log import ChainedLog
from service.access.clients import Client, ClientRegistry, no_such_client
from service.access.keys import KeyInUse, SigningKeys
from service.access.personal_data import PersonalDataVault
from service.access.sessions import ConsoleSessions
from service.access.tables import admin_approvals, admin_log
from service.integrity.checkpoints import Checkpoints

# Roles whose clients and accounts a single administrator may not create or take over: audit
# rights read every subject's whole file and reveal ID numbers; a second admin could approve
# anything.
FOUR_EYES_ROLES = frozenset({"auditor", "admin"})
CREATE_CLIENT = "create-client"
RESET_SECRET = "reset-secret"
CREATE_ACCOUNT = "create-account"
RESET_PASSWORD = "reset-password"
# An account an external identity provider vouches for, written or changed from its claims.
ADMIT_ACCOUNT = "admit-account"
ERASE = "erase-personal-data"
REFUSE = "refuse"
# A stated reason (an erasure's ground, a refusal's why) is read by the second administrator and
# kept in the admin log: long enough to say something, short enough for one line of the log.
REASON_LENGTH = range(4, 201)


def cli_actor() -> str:
    """How the logs name an operator at the command line: by the operating-system user (the
    CLI works on the database directly, so that is what it can tell)."""
    return f"cli:{getpass.getuser()}"


class NoPersonalData(LookupError):
    """The subject has no sealed personal data left to erase."""


class ReasonRequired(ValueError):
    """An erasure asked for, or an approval refused, without a reason of 4 to 200 characters;
    `in_chinese` for a person at the console."""

    in_chinese = "请说明理由（4-200 个字）。"

    def __init__(self) -> None:
        super().__init__("a reason of 4 to 200 characters is required")


def stated_reason(reason: str) -> str:
    """The reason as it is kept (on one line, as the log shows it), or ReasonRequired."""
    reason = " ".join(reason.split())
    if len(reason) not in REASON_LENGTH or any(ord(char) < 32 for char in reason):
        raise ReasonRequired()
    return reason


@dataclass(frozen=True)
class Pending:
    """An act waiting for a second administrator."""

    approval_id: UUID
    action: str
    target: str
    requested_by: str
    request: dict[str, Any]


@dataclass(frozen=True)
class Refused:
    """An act a second administrator refused: it is never carried out."""

    approval_id: UUID
    action: str
    target: str
    requested_by: str
    refused_by: str
    reason: str


@dataclass(frozen=True)
class Done:
    """An act carried out, with what it produced (a client and its secret, an account and its
    password, an erasure)."""

    action: str
    target: str
    client: Client | None = None
    secret: str | None = None
    account: Account | None = None
    result: dict[str, Any] = field(default_factory=dict)
    approval_id: UUID | None = None
    requested_by: str | None = None
    approved_by: str | None = None


class AdminLog:
    """The admin log: the same chained-log component as the access log, new rows hashed with
    `hash_` (the crypto suite's log hash)."""

    def __init__(self, engine: Engine, hash_: HashAlgorithm = SHA256):
        self.chain = ChainedLog(engine, admin_log, hash_)

    def record(
        self, conn: Connection, actor: str, action: str, target: str, details: dict[str, Any]
    ) -> None:
        self.chain.append_in(
            conn, [{"actor": actor, "action": action, "target": target, "details": details}]
        )

    def page(self, *, after_seq: int | None, limit: int) -> list[dict[str, Any]]:
        return self.chain.page(after_seq=after_seq, limit=limit)


class Administration:
    def __init__(
        self,
        engine: Engine,
        clients: ClientRegistry,
        keys: SigningKeys,
        checkpoints: Checkpoints,
        vault: PersonalDataVault,
        log: AdminLog,
        accounts: StaffAccounts,
        sessions: ConsoleSessions,
    ):
        self.engine = engine
        self.clients = clients
        self.accounts = accounts
        self.sessions = sessions
        self.keys = keys
        self.checkpoints = checkpoints
        self.vault = vault
        self.log = log

    # Clients --------------------------------------------------------------------------------
    def create_client(
        self,
        actor: str,
        client_id: str,
        role: str,
        agency_name: str,
        agency_code: str,
        authority_codes: list[str] | None = None,
        sectors: list[str] | None = None,
        *,
        four_eyes_waived: str | None = None,
    ) -> Done | Pending:
        """An auditor or admin client waits for a second administrator's approval (unless
        `four_eyes_waived` says why not: the demo bootstrap only); others are created now."""
        fields = self.clients.validated(
            client_id, role, agency_name, agency_code, authority_codes, sectors
        )
        if role in FOUR_EYES_ROLES and four_eyes_waived is None:
            return self._request(actor, CREATE_CLIENT, client_id, fields)
        with self.engine.begin() as conn:
            details = _client_details(fields)
            if four_eyes_waived is not None:
                details["four_eyes_waived"] = four_eyes_waived
            return self._create(conn, actor, fields, details)

    def _create(
        self, conn: Connection, actor: str, fields: dict[str, Any], details: dict[str, Any]
    ) -> Done:
        client, secret = self.clients.create(
            fields["client_id"],
            fields["role"],
            fields["agency_name"],
            fields["agency_code"],
            fields["authority_codes"],
            fields["sectors"],
            conn=conn,
        )
        self.log.record(conn, actor, CREATE_CLIENT, client.client_id, details)
        return Done(CREATE_CLIENT, client.client_id, client=client, secret=secret)

    def disable_client(self, actor: str, client_id: str) -> Client:
        with self.engine.begin() as conn:
            client = self.clients.disable(client_id, conn=conn)
            self.log.record(conn, actor, "disable-client", client_id, {"role": client.role})
        return client

    def reset_secret(
        self, actor: str, client_id: str, *, four_eyes_waived: str | None = None
    ) -> Done | Pending:
        """A new secret hands the client over to whoever receives it: for an auditor or admin
        client that needs a second administrator too."""
        client = self.clients.get(client_id)
        if client is None:
            raise no_such_client(client_id)
        details: dict[str, Any] = {"role": client.role}
        if client.role in FOUR_EYES_ROLES and four_eyes_waived is None:
            return self._request(actor, RESET_SECRET, client_id, details)
        if four_eyes_waived is not None:
            details["four_eyes_waived"] = four_eyes_waived
        with self.engine.begin() as conn:
            return self._reset(conn, actor, client_id, details)

    def _reset(self, conn: Connection, actor: str, client_id: str, details: dict) -> Done:
        secret = self.clients.reset_secret(client_id, conn=conn)
        self.log.record(conn, actor, RESET_SECRET, client_id, details)
        client = self.clients.get(client_id, conn=conn)
        return Done(RESET_SECRET, client_id, client=client, secret=secret)

    # Staff accounts -------------------------------------------------------------------------
    def create_account(
        self,
        actor: str,
        name: str,
        display_name: str,
        role: str,
        agency_name: str,
        agency_code: str,
        authority_codes: list[str] | None = None,
        sectors: list[str] | None = None,
        *,
        four_eyes_waived: str | None = None,
    ) -> Done | Pending:
        """A built-in account and its first password. An auditor or admin account waits for a
        second administrator, as such a client does (unless `four_eyes_waived`: the demo)."""
        fields = self.accounts.validated(
            name, display_name, role, agency_name, agency_code, authority_codes, sectors
        )
        if role in FOUR_EYES_ROLES and four_eyes_waived is None:
            return self._request(actor, CREATE_ACCOUNT, name, fields)
        details = _account_details(fields)
        if four_eyes_waived is not None:
            details["four_eyes_waived"] = four_eyes_waived
        with self.engine.begin() as conn:
            return self._create_account(conn, actor, fields, details)

    def _create_account(
        self, conn: Connection, actor: str, fields: dict[str, Any], details: dict[str, Any]
    ) -> Done:
        if self.accounts.get(fields["name"], conn=conn) is not None:
            raise AccountError(f"登录名 {fields['name']} 已被使用")
        account, password = self.accounts.create(fields, datetime.now(UTC), conn=conn)
        self.log.record(conn, actor, CREATE_ACCOUNT, account.name, details)
        return Done(CREATE_ACCOUNT, account.name, account=account, secret=password)

    def disable_account(self, actor: str, name: str) -> Account:
        """Disabled at once: every session of the account ends in the same transaction."""
        now = datetime.now(UTC)
        with self.engine.begin() as conn:
            account = self.accounts.disable(name, now, conn=conn)
            ended = self.sessions.end_all(name, now, conn=conn)
            self.log.record(
                conn, actor, "disable-account", name, {"role": account.role, "sessions": ended}
            )
        return account

    def reset_password(
        self, actor: str, name: str, *, four_eyes_waived: str | None = None
    ) -> Done | Pending:
        """A new password hands the account over to whoever receives it: for an auditor or
        admin account that needs a second administrator too."""
        account = self.accounts.get(name)
        if account is None:
            raise AccountError(f"没有登录名为 {name} 的账号")
        details: dict[str, Any] = {"role": account.role}
        if account.role in FOUR_EYES_ROLES and four_eyes_waived is None:
            return self._request(actor, RESET_PASSWORD, name, details)
        if four_eyes_waived is not None:
            details["four_eyes_waived"] = four_eyes_waived
        with self.engine.begin() as conn:
            return self._reset_password(conn, actor, name, details)

    def _reset_password(self, conn: Connection, actor: str, name: str, details: dict) -> Done:
        password = self.accounts.reset_password(name, conn=conn)
        ended = self.sessions.end_all(name, datetime.now(UTC), conn=conn)
        self.log.record(conn, actor, RESET_PASSWORD, name, {**details, "sessions": ended})
        account = self.accounts.get(name, conn=conn)
        return Done(RESET_PASSWORD, name, account=account, secret=password)

    # Accounts an external identity provider vouches for -------------------------------------
    def admit(self, fields: dict[str, Any], provider: str) -> Account | Pending | Disabled:
        """The account a provider's claims describe (`fields`, checked as a form's are), as the
        person signs in: written, or rewritten from the claims, and in the admin log when
        anything in it changes, under the person ("account:<name>") with the provider named.

        A name another provider (or the built-in accounts) holds is refused: the provider
        cannot sign in as someone else's account. A disabled account stays disabled, whatever
        the provider says. An auditor or admin role the account does not hold yet waits for a
        local administrator (four eyes: the provider's word and an administrator's), as the
        built-in flow's do; the person is told so, and one request waits, however often they
        try."""
        name = fields["name"]
        actor = PRINCIPAL_PREFIX + name
        now = datetime.now(UTC)
        with self.engine.begin() as conn:
            existing = self.accounts.get(name, conn=conn)
            if existing is not None and existing.provider != provider:
                raise AccountError(
                    f"登录名 {name} 已属于本系统的其他账号，不能通过统一身份认证登录。"
                    "请联系系统管理员。"
                )
            if existing is not None and existing.disabled:
                return Disabled()
            role = fields["role"]
            if role in FOUR_EYES_ROLES and (existing is None or existing.role != role):
                waiting = self._pending(conn, ADMIT_ACCOUNT, name)
                if waiting is not None:
                    return waiting
                request = {**fields, "provider": provider}
                return self._request_in(conn, actor, ADMIT_ACCOUNT, name, request)
            account, changed = self.accounts.write_external(fields, provider, now, conn=conn)
            if changed:
                details = {**_account_details(fields), "provider": provider}
                self.log.record(conn, actor, ADMIT_ACCOUNT, name, details)
            return account

    def _admit_approved(
        self, conn: Connection, actor: str, request: dict[str, Any], steps: dict[str, Any]
    ) -> Done:
        """An approved admission: the account as the claims described it then (the next
        sign-in rewrites it from the claims of that day)."""
        fields = {key: value for key, value in request.items() if key != "provider"}
        provider = request["provider"]
        existing = self.accounts.get(fields["name"], conn=conn)
        if existing is not None and existing.provider != provider:
            raise AccountError(f"登录名 {fields['name']} 已属于本系统的其他账号")
        if existing is not None and existing.disabled:
            raise AccountError(f"账号 {fields['name']} 已停用")
        account, _ = self.accounts.write_external(fields, provider, datetime.now(UTC), conn=conn)
        details = {**_account_details(fields), "provider": provider, **steps}
        self.log.record(conn, actor, ADMIT_ACCOUNT, account.name, details)
        return Done(ADMIT_ACCOUNT, account.name, account=account)

    # Keys -----------------------------------------------------------------------------------
    def rotate_signing_key(self, actor: str) -> str:
        with self.engine.begin() as conn:
            kid = self.keys.rotate(conn=conn)
            self.log.record(conn, actor, "rotate-signing-key", kid, {})
        return kid

    def rotate_checkpoint_key(self, actor: str) -> str:
        with self.engine.begin() as conn:
            key_id = self.checkpoints.rotate_key(conn=conn)
            self.log.record(conn, actor, "rotate-checkpoint-key", key_id, {})
        return key_id

    def signing_keys(self) -> list[KeyInUse]:
        """Every token and checkpoint signing key, newest first in each kind: ids, ages and
        states, never a private part."""
        return [*self.keys.listing(), *self.checkpoints.keys()]

    # Personal data --------------------------------------------------------------------------
    def erase_personal_data(self, actor: str, subject_id: UUID, reason: str) -> Pending:
        """Crypto-shredding cannot be undone: it always waits for a second administrator, who
        reads the reason (the ground for erasure, 个人信息保护法 art. 47) before deciding."""
        reason = stated_reason(reason)
        if not self.vault.erasable(subject_id):
            raise NoPersonalData(subject_id)
        return self._request(
            actor, ERASE, str(subject_id), {"subject_id": str(subject_id), "reason": reason}
        )

    # Four eyes ------------------------------------------------------------------------------
    def _request(self, actor: str, action: str, target: str, request: dict[str, Any]) -> Pending:
        with self.engine.begin() as conn:
            return self._request_in(conn, actor, action, target, request)

    def _request_in(
        self, conn: Connection, actor: str, action: str, target: str, request: dict[str, Any]
    ) -> Pending:
        approval_id = uuid.uuid4()
        conn.execute(
            insert(admin_approvals).values(
                approval_id=approval_id,
                action=action,
                target=target,
                request=request,
                requested_by=actor,
                requested_at=datetime.now(UTC),
                state="pending",
            )
        )
        self.log.record(
            conn,
            actor,
            "request-approval",
            target,
            {"approval_id": str(approval_id), "act": action, "request": request},
        )
        return Pending(approval_id, action, target, actor, request)

    @staticmethod
    def _pending(conn: Connection, action: str, target: str) -> Pending | None:
        """The request for this act on this target that waits already, if one does."""
        row = conn.execute(
            select(admin_approvals)
            .where(
                admin_approvals.c.action == action,
                admin_approvals.c.target == target,
                admin_approvals.c.state == "pending",
            )
            .order_by(admin_approvals.c.requested_at)
        ).first()
        if row is None:
            return None
        return Pending(row.approval_id, row.action, row.target, row.requested_by, row.request)

    def approve(self, actor: str, approval_id: UUID) -> Done:
        """A second administrator approves: the act is carried out now, in the same
        transaction as the approval and both log rows. The requester cannot approve."""
        with self.engine.begin() as conn:
            row = self._decidable(conn, actor, approval_id)
            conn.execute(
                update(admin_approvals)
                .where(admin_approvals.c.approval_id == approval_id)
                .values(state="approved", approved_by=actor, approved_at=datetime.now(UTC))
            )
            steps = {
                "approval_id": str(approval_id),
                "requested_by": row.requested_by,
                "approved_by": actor,
            }
            self.log.record(conn, actor, "approve", row.target, {**steps, "act": row.action})
            done = self._carry_out(conn, actor, row, steps)
        return Done(
            done.action,
            done.target,
            client=done.client,
            secret=done.secret,
            account=done.account,
            result=done.result,
            approval_id=approval_id,
            requested_by=row.requested_by,
            approved_by=actor,
        )

    def refuse(self, actor: str, approval_id: UUID, reason: str) -> Refused:
        """A second administrator refuses, saying why: the act is never carried out, and the
        request leaves the pending list. Deciding either way is the second administrator's
        (four eyes): the requester cannot refuse their own request either. Who refused it
        and why is in the admin log."""
        reason = stated_reason(reason)
        with self.engine.begin() as conn:
            row = self._decidable(conn, actor, approval_id)
            conn.execute(
                update(admin_approvals)
                .where(admin_approvals.c.approval_id == approval_id)
                .values(state="refused")
            )
            details = {
                "approval_id": str(approval_id),
                "act": row.action,
                "requested_by": row.requested_by,
                "refused_by": actor,
                "reason": reason,
            }
            self.log.record(conn, actor, REFUSE, row.target, details)
        return Refused(approval_id, row.action, row.target, row.requested_by, actor, reason)

    def _decidable(self, conn: Connection, actor: str, approval_id: UUID) -> Any:
        """The pending approval, locked, that `actor` may decide: refused if there is none,
        if it was decided already, or if `actor` asked for it."""
        query = select(admin_approvals).where(admin_approvals.c.approval_id == approval_id)
        if conn.dialect.name == "postgresql":
            query = query.with_for_update()
        row = conn.execute(query).first()
        if row is None:
            raise ApprovalNotFound(f"no approval {approval_id}")
        if row.state == "refused":
            raise ApprovalNotPending(f"approval {approval_id} was refused already")
        if row.state != "pending":
            raise ApprovalNotPending(
                f"approval {approval_id} was given by {row.approved_by} already"
            )
        if row.requested_by == actor:
            raise SelfApproval(
                f"{actor} asked for this {row.action}; a different administrator must "
                "decide it (four eyes)"
            )
        return row

    def _carry_out(self, conn: Connection, actor: str, row, steps: dict[str, Any]) -> Done:
        if row.action == CREATE_CLIENT:
            return self._create(conn, actor, row.request, {**_client_details(row.request), **steps})
        if row.action == RESET_SECRET:
            return self._reset(conn, actor, row.target, {**row.request, **steps})
        if row.action == CREATE_ACCOUNT:
            details = {**_account_details(row.request), **steps}
            return self._create_account(conn, actor, row.request, details)
        if row.action == RESET_PASSWORD:
            return self._reset_password(conn, actor, row.target, {**row.request, **steps})
        if row.action == ADMIT_ACCOUNT:
            return self._admit_approved(conn, actor, row.request, steps)
        subject_id = UUID(row.target)
        if not self.vault.erase(subject_id, conn=conn):
            raise NoPersonalData(subject_id)
        details = {**steps, "reason": row.request.get("reason")}
        self.log.record(conn, actor, ERASE, row.target, details)
        return Done(ERASE, row.target, result={"subject_id": row.target, "erased": True})

    def approvals(self, *, pending_only: bool = True) -> list[dict[str, Any]]:
        query = select(admin_approvals).order_by(admin_approvals.c.requested_at)
        if pending_only:
            query = query.where(admin_approvals.c.state == "pending")
        with self.engine.connect() as conn:
            return [dict(row) for row in conn.execute(query).mappings()]


def _client_details(fields: dict[str, Any]) -> dict[str, Any]:
    """What the log says about a client: never its secret."""
    return {
        "role": fields["role"],
        "agency_name": fields["agency_name"],
        "agency_code": fields["agency_code"],
        "authority_codes": list(fields["authority_codes"]),
        "sectors": list(fields["sectors"]),
    }


def _account_details(fields: dict[str, Any]) -> dict[str, Any]:
    """What the log says about an account: never its password."""
    return {"display_name": fields["display_name"], **_client_details(fields)}
