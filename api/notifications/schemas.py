"""Request and response bodies of the subscription and change-feed routes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from api.schemas import example
from domain.changes import ADDRESSED_KINDS, CHANGE_KINDS
from service.notifications.subscriptions import MAX_SUBJECTS
from service.notifications.webhooks import MAX_URL_LENGTH

SUBJECT_ID = "5f0c7a8e-3b1d-5c2a-9e4f-6a7b8c9d0e1f"
SUBSCRIPTION_ID = "0b6c1f7e-2d4a-4e8b-9c3d-7a1e5f2b8c90"
CALLBACK_URL = "https://xkz.example.gov.cn/credit/changes"
WEBHOOK_EXAMPLE = {
    "callback_url": CALLBACK_URL,
    "state": "active",
    "consecutive_failures": 0,
    "paused_at": None,
}
SUBSCRIPTION_EXAMPLE = {
    "subscription_id": SUBSCRIPTION_ID,
    "kinds": ["record.published", "list.entered", "objection.opened"],
    "subject_count": 1,
    "addressed_to_us": False,
    "created_at": "2026-11-20T04:00:00Z",
    "webhook": WEBHOOK_EXAMPLE,
}
CHANGE_EXAMPLE: dict[str, Any] = {
    "change_id": "8d3e9a52-6c1b-5f4e-a7d2-3b9c0e1f2a4d",
    "kind": "record.published",
    "subject_id": SUBJECT_ID,
    "record_id": "1c9e6b3a-7d2f-5a8e-b4c1-0f3e2d9a8b7c",
    "record_type": "PenaltyDecided",
    "before": None,
    "after": {
        "family": "penalty",
        "severity": "general",
        "decision_date": "2026-11-18",
        "publish_from": "2026-11-18",
        "publish_until": "2027-02-18",
        "authority_code": "11410100MB0000001X",
        "authority_name": "郑州市交通运输综合执法支队",
    },
    "position": 42,
    "recorded_at": "2026-11-20T04:00:00Z",
}
KINDS = "the kinds of change wanted, by their stable names: " + ", ".join(
    f"`{kind.name}` ({kind.title}: {kind.description})" for kind in CHANGE_KINDS.values()
)


class SubscriptionRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        **example(
            {
                "codes": ["91410105MA00000016", "豫A12345"],
                "kinds": ["record.published", "list.entered", "objection.opened"],
            },
            {
                "subject_ids": [SUBJECT_ID],
                "kinds": ["record.repaired", "record.revoked"],
                "callback_url": CALLBACK_URL,
            },
            {"addressed_to_us": True, "kinds": ["warning.raised"]},
        ),
    )
    codes: list[Annotated[str, Field(min_length=1, max_length=40)]] = Field(
        default_factory=list,
        max_length=MAX_SUBJECTS,
        description="the subjects' codes (USCC, resident ID or plate); a code not on file is "
        "reported back under `not_found`, not subscribed",
    )
    subject_ids: list[UUID] = Field(
        default_factory=list,
        max_length=MAX_SUBJECTS,
        description="the subjects' ids, as a look-up or registration answered them",
    )
    kinds: list[str] = Field(
        min_length=1,
        max_length=len(CHANGE_KINDS),
        description=KINDS,
        json_schema_extra={"items": {"type": "string", "enum": [*CHANGE_KINDS]}},
    )
    addressed_to_us: bool = Field(
        default=False,
        description="follow the early warnings addressed to the calling client's authorities "
        "(those it records for), of whatever subject, instead of named subjects: no `codes` nor "
        "`subject_ids`, and `kinds` only `warning.raised`; a client without authorities is "
        "refused (403, rule `addressed-to-own-authorities`)",
    )
    callback_url: str | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_URL_LENGTH,
        description="where to POST each change, signed (a webhook; docs/notifications.md): an "
        "https URL whose host resolves to public addresses only; without it, the changes are "
        "read from the feed",
    )

    @field_validator("kinds")
    @classmethod
    def kinds_are_known(cls, kinds: list[str]) -> list[str]:
        unknown = [kind for kind in kinds if kind not in CHANGE_KINDS]
        if unknown:
            raise ValueError(f"no such change kind: {', '.join(unknown)}")
        return kinds

    @model_validator(mode="after")
    def names_subjects(self) -> SubscriptionRequest:
        count = len(self.codes) + len(self.subject_ids)
        if self.addressed_to_us:
            if count:
                raise ValueError("`addressed_to_us` names no subject: no `codes`, no `subject_ids`")
            other = [kind for kind in self.kinds if kind not in ADDRESSED_KINDS]
            if other:
                raise ValueError(
                    f"only {', '.join(sorted(ADDRESSED_KINDS))} is addressed to an authority, "
                    f"not {', '.join(other)}"
                )
            return self
        if count == 0:
            raise ValueError("name at least one subject, by `codes` or `subject_ids`")
        if count > MAX_SUBJECTS:
            raise ValueError(f"at most {MAX_SUBJECTS} codes and ids together")
        return self


class Webhook(BaseModel):
    model_config = example(WEBHOOK_EXAMPLE)
    callback_url: str = Field(description="where each change is POSTed")
    state: str = Field(
        description="`active`, or `paused` after too many failed deliveries in a row "
        "(resume it with `POST /v1/subscriptions/{id}/resume`)"
    )
    consecutive_failures: int = Field(description="failed attempts since the last delivery")
    paused_at: datetime | None = Field(description="when it was paused (null: it is not)")


class Subscription(BaseModel):
    model_config = example(SUBSCRIPTION_EXAMPLE)
    subscription_id: UUID = Field(description="the subscription's id")
    kinds: list[str] = Field(description=KINDS)
    subject_count: int = Field(description="how many subjects it follows")
    addressed_to_us: bool = Field(
        default=False,
        description="it follows the warnings addressed to the client's authorities, of any "
        "subject (its `subject_count` is 0)",
    )
    created_at: datetime = Field(description="when it was made")
    webhook: Webhook | None = Field(
        default=None, description="its webhook, if it has one (null: read the feed)"
    )


class NotFound(BaseModel):
    model_config = example({"index": 1, "submitted": "豫A12345", "reason": "unknown"})
    index: int = Field(description="its place in the request: the codes first, then the ids")
    submitted: str = Field(description="the code as sent, an ID number masked; or the id")
    reason: str = Field(
        description="invalid: not a valid USCC, resident ID or plate; unknown: no subject on file"
    )


class SubscriptionCreated(BaseModel):
    model_config = example(
        {
            "subscription": SUBSCRIPTION_EXAMPLE,
            "not_found": [{"index": 1, "submitted": "豫A12345", "reason": "unknown"}],
            "webhook_secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw5pW9MAR2DP4=",
        }
    )
    subscription: Subscription = Field(description="the new subscription")
    not_found: list[NotFound] = Field(
        description="the codes and ids that name no subject on file, not subscribed"
    )
    webhook_secret: str | None = Field(
        default=None,
        description="the secret the webhook's deliveries are signed with (Standard Webhooks, "
        "`whsec_` and base64): shown this once, keep it; null without a webhook",
    )


class SubscriptionList(BaseModel):
    model_config = example({"subscriptions": [SUBSCRIPTION_EXAMPLE]})
    subscriptions: list[Subscription] = Field(description="the caller's, oldest first")


class Change(BaseModel):
    model_config = example(CHANGE_EXAMPLE)
    change_id: UUID = Field(
        description="stable: the same change keeps its id (from its event's log position, its "
        "kind and its record), so a change seen twice is recognised"
    )
    kind: str = Field(description=KINDS)
    subject_id: UUID = Field(description="the subject that changed")
    record_id: UUID = Field(description="the record the change concerns")
    record_type: str = Field(description="that record's type, e.g. PenaltyDecided, ListEntered")
    before: dict[str, Any] | None = Field(
        description="what changed, as it stood before (null: the record is new, or its earlier "
        "standing is not part of the change)"
    )
    after: dict[str, Any] | None = Field(description="what changed, as it stands after")
    position: int = Field(description="the log position of the event it derives from")
    recorded_at: datetime = Field(description="when that event was recorded")


class ChangeFeedPage(BaseModel):
    model_config = example(
        {
            "changes": [CHANGE_EXAMPLE],
            "next": "eyJwIjo0MiwibyI6MH0",
            "position": 42,
        }
    )
    changes: list[Change] = Field(
        description="the caller's subscribed changes after the cursor, in log order"
    )
    next: str = Field(
        description="the cursor to send as `after` for the next page (also when this one is "
        "empty: it moves past changes the caller does not follow)"
    )
    position: int = Field(description="the log position the change feed had reached")


ATTEMPT_EXAMPLE = {
    "change_id": CHANGE_EXAMPLE["change_id"],
    "attempted_at": "2026-11-20T04:00:01Z",
    "status_code": 500,
    "error": None,
    "duration_ms": 84,
}


class DeliveryAttempt(BaseModel):
    model_config = example(ATTEMPT_EXAMPLE)
    change_id: UUID = Field(description="the change it tried to deliver (the `webhook-id`)")
    attempted_at: datetime = Field(description="when it was sent")
    status_code: int | None = Field(
        description="the receiver's HTTP status (2xx: delivered); null if no answer came"
    )
    error: str | None = Field(
        description="why no answer came: a timeout, a refused connection, or a callback "
        "address refused at that moment (null when there was an answer)"
    )
    duration_ms: int = Field(description="how long the attempt took, in milliseconds")


class DeliveryLog(BaseModel):
    model_config = example({"webhook": WEBHOOK_EXAMPLE, "attempts": [ATTEMPT_EXAMPLE]})
    webhook: Webhook = Field(description="the webhook as it stands")
    attempts: list[DeliveryAttempt] = Field(description="its latest attempts, newest first")


NOTICE_EXAMPLE: dict[str, Any] = {
    "notice_id": "3a7c2e91-5b4d-5f6a-8c0e-1d2f3a4b5c6d",
    "change_id": "8d3e9a52-6c1b-5f4e-a7d2-3b9c0e1f2a4d",
    "kind": "record.repaired",
    "subject_id": SUBJECT_ID,
    "record_id": "1c9e6b3a-7d2f-5a8e-b4c1-0f3e2d9a8b7c",
    "last_read_at": "2026-11-02T03:10:00Z",
    "recorded_at": "2026-11-20T04:00:00Z",
    "acknowledged_at": None,
    "position": 57,
}


class Notice(BaseModel):
    """停止使用通知: the record was repaired or revoked after this client read it; it must no
    longer share or use it (国家发展改革委令第36号)."""

    model_config = example(NOTICE_EXAMPLE)
    notice_id: UUID = Field(description="the notice's stable id")
    change_id: UUID = Field(
        description="the `record.repaired` or `record.revoked` change it follows from"
    )
    kind: str = Field(description="`record.repaired` or `record.revoked`")
    subject_id: UUID = Field(description="the subject whose record it is")
    record_id: UUID = Field(description="the record no longer to be shared or used")
    last_read_at: datetime = Field(
        description="this client's last read of the subject's file before the decision"
    )
    recorded_at: datetime = Field(description="when the repair or revocation was recorded")
    acknowledged_at: datetime | None = Field(
        description="when this client confirmed it stopped using the record; null until then"
    )
    position: int = Field(description="the decision's log position; pass it as `after`")


class NoticeList(BaseModel):
    model_config = example({"notices": [NOTICE_EXAMPLE], "next": 57})
    notices: list[Notice] = Field(description="the calling client's notices, in log order")
    next: int = Field(description="the position to pass as `after` for the following page")
