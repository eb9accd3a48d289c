"""Subscriptions (订阅): which subjects an agency follows and which kinds of change it wants
told. A subscription names its subjects by code or by id; a code is resolved to its subject's
id as the command side derives it (service/commanding/identity.py), and a code or id not on
file is reported back, not subscribed. Or a subscription follows the early warnings addressed
to its client's authorities (`addressed_to_us`), whichever subject they concern: only a client
granted authority codes (a recorder) may make one, and it is told only the warnings addressed
to the codes it was granted when it subscribed and still holds. Each subscription is its
client's alone: another client neither sees nor cancels it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID, uuid4

from sqlalchemy import Connection, Engine, RowMapping, delete, exists, insert, select

from domain.changes import ADDRESSED_KINDS, ADDRESSED_TO_OWN_AUTHORITIES, CHANGE_KINDS
from projections.tables import subjects
from projections.writes import insert_rows
from service.access.keys import utc
from service.access.permissions import NotPermitted
from service.notifications.deliveries import Webhooks, WebhookState
from service.notifications.tables import (
    subscription_authorities,
    subscription_kinds,
    subscription_subjects,
    subscriptions,
)
from service.querying.status import masked_code

# Codes (or ids) one subscription may name: a transport authority's whole register of operators
# in one request.
MAX_SUBJECTS = 100_000


@dataclass(frozen=True)
class Subscription:
    subscription_id: UUID
    client_id: str
    kinds: tuple[str, ...]
    subject_count: int
    created_at: datetime
    webhook: WebhookState | None = None
    addressed_to_us: bool = False


@dataclass(frozen=True)
class NotSubscribed:
    """A submitted code or id that names no subject on file: its place in the list, the code
    masked (or the id), and why: `invalid` (no valid code) or `unknown` (no such subject)."""

    index: int
    submitted: str
    reason: str


class NothingToSubscribe(ValueError):
    """No code or id of the request names a subject on file."""

    def __init__(self, not_found: Sequence[NotSubscribed]):
        self.not_found = list(not_found)
        super().__init__(
            f"none of the {len(self.not_found)} codes or ids names a subject on file: "
            "nothing was subscribed"
        )


class Subscriptions:
    def __init__(
        self, engine: Engine, subject_for: Callable[[str], UUID | None], webhooks: Webhooks
    ):
        self.engine = engine
        self.subject_for = subject_for  # a code of any kind to its subject id (None: invalid)
        self.webhooks = webhooks

    def subscribe(
        self,
        client_id: str,
        kinds: Sequence[str],
        *,
        codes: Sequence[str] = (),
        subject_ids: Sequence[UUID] = (),
        addressed_to: Sequence[str] | None = None,
        callback_url: str | None = None,
        now: datetime,
    ) -> tuple[Subscription, list[NotSubscribed], str | None]:
        """A new subscription of the client's to the subjects the codes and ids name (codes
        first, then ids, as one list for the indexes of those not found), with its webhook's
        secret if it has one (shown this once). With `addressed_to` (the client's granted
        authority codes), instead, to the warnings addressed to those authorities: none granted
        raises NotPermitted under `addressed-to-own-authorities`. A callback URL the service
        will not call raises TargetRefused (service/notifications/webhooks.py), and nothing is
        written."""
        unknown_kinds = sorted(set(kinds) - CHANGE_KINDS.keys())
        if unknown_kinds or not kinds:
            raise ValueError(f"no such change kind: {', '.join(unknown_kinds) or '(none given)'}")
        if callback_url is not None:
            self.webhooks.check(callback_url)
        if addressed_to is not None:
            made, secret = self._addressed(client_id, kinds, addressed_to, callback_url, now)
            return made, [], secret
        # (index, as sent, subject id); a code is masked only if it is reported back
        wanted: list[tuple[int, str, UUID | None]] = [
            (i, code, self.subject_for(code)) for i, code in enumerate(codes)
        ]
        wanted += [(len(codes) + i, str(sid), sid) for i, sid in enumerate(subject_ids)]
        subscription_id = uuid4()
        asked = list(dict.fromkeys(sid for _, _, sid in wanted if sid is not None))
        with self.engine.begin() as conn:
            # Every valid code's subject written at once, then those not on file taken out: one
            # query on the server, not one look-up per few thousand ids.
            insert_rows(
                conn,
                subscription_subjects,
                [
                    {"subscription_id": subscription_id, "subject_id": sid, "client_id": client_id}
                    for sid in asked
                ],
            )
            mine = subscription_subjects.c.subscription_id == subscription_id
            absent = ~exists().where(subjects.c.subject_id == subscription_subjects.c.subject_id)
            missing = set(
                conn.execute(select(subscription_subjects.c.subject_id).where(mine, absent))
                .scalars()
                .all()
            )
            if missing:
                conn.execute(delete(subscription_subjects).where(mine, absent))
            not_found = [
                NotSubscribed(
                    index,
                    masked_code(sent) if index < len(codes) else sent,
                    "invalid" if sid is None else "unknown",
                )
                for index, sent, sid in wanted
                if sid is None or sid in missing
            ]
            followed = len(asked) - len(missing)
            if not followed:
                raise NothingToSubscribe(not_found)  # the transaction is rolled back
            subscription, secret = self._write(
                conn, subscription_id, client_id, kinds, followed, callback_url, now
            )
        return subscription, not_found, secret

    def _addressed(
        self,
        client_id: str,
        kinds: Sequence[str],
        authority_codes: Sequence[str],
        callback_url: str | None,
        now: datetime,
    ) -> tuple[Subscription, str | None]:
        if not authority_codes:
            raise NotPermitted(
                f"client {client_id} records for no authority: no warning is addressed to it",
                rule=ADDRESSED_TO_OWN_AUTHORITIES,
            )
        other = sorted(set(kinds) - ADDRESSED_KINDS)
        if other:
            raise ValueError(f"not addressed to an authority: {', '.join(other)}")
        subscription_id = uuid4()
        with self.engine.begin() as conn:
            subscription, secret = self._write(
                conn, subscription_id, client_id, kinds, 0, callback_url, now, addressed_to_us=True
            )
            insert_rows(
                conn,
                subscription_authorities,
                [
                    dict(subscription_id=subscription_id, authority_code=c, client_id=client_id)
                    for c in sorted(set(authority_codes))
                ],
            )
        return subscription, secret

    def _write(
        self,
        conn: Connection,
        subscription_id: UUID,
        client_id: str,
        kinds: Sequence[str],
        subject_count: int,
        callback_url: str | None,
        now: datetime,
        *,
        addressed_to_us: bool = False,
    ) -> tuple[Subscription, str | None]:
        """The subscription's row, its kinds and its webhook (with the secret, shown once)."""
        secret = None
        if callback_url is not None:
            secret = self.webhooks.add(conn, subscription_id, client_id, callback_url, now)
        subscription = Subscription(
            subscription_id,
            client_id,
            tuple(dict.fromkeys(kinds)),
            subject_count,
            now,
            self.webhooks.states(conn, [subscription_id]).get(subscription_id),
            addressed_to_us=addressed_to_us,
        )
        conn.execute(
            insert(subscriptions).values(
                subscription_id=subscription_id,
                client_id=client_id,
                kinds=list(subscription.kinds),
                subject_count=subject_count,
                created_at=now,
                addressed_to_us=addressed_to_us,
            )
        )
        insert_rows(
            conn,
            subscription_kinds,
            [{"subscription_id": subscription_id, "kind": kind} for kind in subscription.kinds],
        )
        return subscription, secret

    def of_client(self, client_id: str) -> list[Subscription]:
        """The client's subscriptions, oldest first."""
        query = (
            select(subscriptions)
            .where(subscriptions.c.client_id == client_id)
            .order_by(subscriptions.c.created_at, subscriptions.c.subscription_id)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
            hooks = self.webhooks.states(conn, [row["subscription_id"] for row in rows])
        return [_subscription(row, hooks.get(row["subscription_id"])) for row in rows]

    def get(self, client_id: str, subscription_id: UUID) -> Subscription | None:
        """The client's subscription with this id; None if there is none, or it is another
        client's (which is not told apart: another agency's subscriptions are not disclosed)."""
        query = select(subscriptions).where(
            subscriptions.c.subscription_id == subscription_id,
            subscriptions.c.client_id == client_id,
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).mappings().first()
            if row is None:
                return None
            hook = self.webhooks.states(conn, [subscription_id]).get(subscription_id)
        return _subscription(row, hook)

    def cancel(self, client_id: str, subscription_id: UUID) -> bool:
        """End the client's subscription; False if it has none with this id."""
        with self.engine.begin() as conn:
            gone = conn.execute(
                delete(subscriptions).where(
                    subscriptions.c.subscription_id == subscription_id,
                    subscriptions.c.client_id == client_id,
                )
            ).rowcount
            if not gone:
                return False
            for table in (subscription_subjects, subscription_kinds, subscription_authorities):
                conn.execute(delete(table).where(table.c.subscription_id == subscription_id))
            self.webhooks.forget(conn, subscription_id)
        return True


def _subscription(row: RowMapping, webhook: WebhookState | None) -> Subscription:
    return Subscription(
        row["subscription_id"],
        row["client_id"],
        tuple(row["kinds"]),
        row["subject_count"],
        utc(row["created_at"]),
        webhook,
        addressed_to_us=bool(row["addressed_to_us"]),
    )
