"""The subscription routes: an agency (`credit:read`) follows subjects, by code or id, for the
kinds of change it chooses; it lists, reads and cancels its own subscriptions only."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Path, Response
from starlette.concurrency import run_in_threadpool

from api.auth import READ, Reader, require
from api.deps import ReadYourWrites, ServicesDep
from api.errors import (
    AUTHENTICATED,
    WITH_BODY,
    InvalidRequest,
    SubscriptionNotFound,
    WebhookTargetRefused,
    problems,
)
from api.notifications.schemas import (
    NotFound,
    Subscription,
    SubscriptionCreated,
    SubscriptionList,
    SubscriptionRequest,
    Webhook,
)
from service.notifications import subscriptions as kept
from service.notifications.deliveries import WebhookState
from service.notifications.subscriptions import NothingToSubscribe
from service.notifications.webhooks import TargetRefused

router = APIRouter(
    prefix="/v1",
    tags=["notifications"],
    dependencies=[require(READ)],
    responses=problems(*AUTHENTICATED, 422),
)
SubscriptionId = Annotated[
    UUID,
    Path(
        description="The subscription's id, as creating it answered",
        examples=["0b6c1f7e-2d4a-4e8b-9c3d-7a1e5f2b8c90"],
    ),
]
NOT_HERE = "no subscription of this client has this id"


def shown_webhook(state: WebhookState) -> Webhook:
    return Webhook(
        callback_url=state.callback_url,
        state=state.state,
        consecutive_failures=state.consecutive_failures,
        paused_at=state.paused_at,
    )


def shown_subscription(subscription: kept.Subscription) -> Subscription:
    return Subscription(
        subscription_id=subscription.subscription_id,
        kinds=list(subscription.kinds),
        subject_count=subscription.subject_count,
        addressed_to_us=subscription.addressed_to_us,
        created_at=subscription.created_at,
        webhook=shown_webhook(subscription.webhook) if subscription.webhook else None,
    )


@router.post(
    "/subscriptions",
    operation_id="subscribeToChanges",
    summary="Follow subjects for the kinds of change chosen",
    status_code=201,
    response_model=SubscriptionCreated,
    responses=problems(*WITH_BODY, 503),
    dependencies=[ReadYourWrites],  # a subject registered a moment ago: pass its position
)
async def subscribe(
    body: SubscriptionRequest, services: ServicesDep, caller: Reader
) -> SubscriptionCreated:
    """A new subscription of the calling client to the subjects named by code (USCC, resident
    ID or plate) or id, up to 100,000 in one request, for the kinds of change listed. A code or
    id that names no subject on file is reported back under `not_found` and not followed; if
    none names one, nothing is subscribed (422). Subjects are looked up in the credit file's
    read model: right after registering one, pass the registration's `position` as
    `min_position`. Its changes are read from `GET /v1/feeds/changes`, and with a
    `callback_url` also POSTed there, signed with the `webhook_secret` this answer shows once
    (a callback that is not https, or whose host resolves to a private, loopback, link-local,
    multicast or reserved address, is refused: 422 `webhook-target-refused`). With
    `addressed_to_us`, it names no subject and follows the early warnings (`warning.raised`)
    addressed to the client's own authorities, those it was granted to record for, of whatever
    subject; a client with none is refused (403, rule `addressed-to-own-authorities`)."""
    try:
        made, not_found, secret = await run_in_threadpool(
            services.subscriptions.subscribe,
            caller.client_id,
            body.kinds,
            codes=body.codes,
            subject_ids=body.subject_ids,
            addressed_to=list(caller.client.authority_codes) if body.addressed_to_us else None,
            callback_url=body.callback_url,
            now=services.clock.now(),
        )
    except NothingToSubscribe as nothing:
        raise InvalidRequest(str(nothing)) from None
    except TargetRefused as refused:
        raise WebhookTargetRefused(f"callback_url: {refused}") from None
    return SubscriptionCreated(
        subscription=shown_subscription(made),
        not_found=[
            NotFound(index=n.index, submitted=n.submitted, reason=n.reason) for n in not_found
        ],
        webhook_secret=secret,
    )


@router.get(
    "/subscriptions",
    operation_id="listSubscriptions",
    summary="The calling client's subscriptions",
    response_model=SubscriptionList,
)
async def list_subscriptions(services: ServicesDep, caller: Reader) -> SubscriptionList:
    """The subscriptions the calling client made, oldest first; never another client's."""
    found = await run_in_threadpool(services.subscriptions.of_client, caller.client_id)
    return SubscriptionList(subscriptions=[shown_subscription(s) for s in found])


@router.get(
    "/subscriptions/{subscription_id}",
    operation_id="getSubscription",
    summary="One of the calling client's subscriptions",
    response_model=Subscription,
    responses=problems(404),
)
async def get_subscription(
    subscription_id: SubscriptionId, services: ServicesDep, caller: Reader
) -> Subscription:
    """The subscription, if the calling client made it; another client's is not found (404),
    as one that does not exist."""
    found = await run_in_threadpool(services.subscriptions.get, caller.client_id, subscription_id)
    if found is None:
        raise SubscriptionNotFound(NOT_HERE)
    return shown_subscription(found)


@router.delete(
    "/subscriptions/{subscription_id}",
    operation_id="cancelSubscription",
    summary="Stop following a subscription's subjects",
    status_code=204,
    response_class=Response,
    responses={
        204: {"description": "Cancelled: its changes are no longer in the feed"},
        **problems(404),
    },
)
async def cancel_subscription(
    subscription_id: SubscriptionId, services: ServicesDep, caller: Reader
) -> Response:
    """Cancel the calling client's subscription; another client's is not found (404)."""
    if not await run_in_threadpool(
        services.subscriptions.cancel, caller.client_id, subscription_id
    ):
        raise SubscriptionNotFound(NOT_HERE)
    return Response(status_code=204)
