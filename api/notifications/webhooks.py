"""The webhook routes of a subscription: resuming a paused webhook, and its delivery log. Only
the subscription's own client sees either; another client's is not found (404)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from starlette.concurrency import run_in_threadpool

from api.auth import READ, Reader, require
from api.deps import ServicesDep
from api.errors import AUTHENTICATED, NoWebhook, SubscriptionNotFound, problems
from api.notifications.schemas import DeliveryAttempt, DeliveryLog, Subscription
from api.notifications.subscriptions import (
    NOT_HERE,
    SubscriptionId,
    shown_subscription,
    shown_webhook,
)

router = APIRouter(
    prefix="/v1",
    tags=["notifications"],
    dependencies=[require(READ)],
    responses=problems(*AUTHENTICATED, 404, 422),
)
NO_WEBHOOK = "this subscription has no webhook (it was made without a callback_url)"


@router.post(
    "/subscriptions/{subscription_id}/resume",
    operation_id="resumeWebhook",
    summary="Deliver again to a paused webhook, the changes missed meanwhile included",
    response_model=Subscription,
    responses=problems(409),
)
async def resume_webhook(
    subscription_id: SubscriptionId, services: ServicesDep, caller: Reader
) -> Subscription:
    """A webhook pauses after too many failed deliveries in a row (docs/notifications.md);
    resuming it makes its pending deliveries due at once (the change it paused on first, and
    those recorded while it was paused, in log order per subject), each with a whole retry
    window again. Resuming an active webhook changes nothing. A subscription without a
    webhook: 409 `no-webhook`."""
    found = await run_in_threadpool(services.subscriptions.get, caller.client_id, subscription_id)
    if found is None:
        raise SubscriptionNotFound(NOT_HERE)
    if found.webhook is None:
        raise NoWebhook(NO_WEBHOOK)
    await run_in_threadpool(
        services.webhooks.resume, caller.client_id, subscription_id, services.clock.now()
    )
    resumed = await run_in_threadpool(services.subscriptions.get, caller.client_id, subscription_id)
    if resumed is None:  # cancelled in between
        raise SubscriptionNotFound(NOT_HERE)
    return shown_subscription(resumed)


@router.get(
    "/subscriptions/{subscription_id}/deliveries",
    operation_id="listWebhookDeliveries",
    summary="The delivery log of a subscription's webhook",
    response_model=DeliveryLog,
    responses=problems(409),
)
async def webhook_deliveries(
    subscription_id: SubscriptionId,
    services: ServicesDep,
    caller: Reader,
    limit: Annotated[int, Query(ge=1, le=500, description="attempts to show")] = 100,
) -> DeliveryLog:
    """Every attempt to deliver a change to the webhook, newest first: when, the receiver's
    status code or the error instead (a timeout, a refused connection, an address refused at
    that moment), and how long it took. A subscription without a webhook: 409 `no-webhook`."""
    found = await run_in_threadpool(services.subscriptions.get, caller.client_id, subscription_id)
    if found is None:
        raise SubscriptionNotFound(NOT_HERE)
    if found.webhook is None:
        raise NoWebhook(NO_WEBHOOK)
    attempts = await run_in_threadpool(
        services.webhooks.attempts, caller.client_id, subscription_id, limit
    )
    return DeliveryLog(
        webhook=shown_webhook(found.webhook),
        attempts=[
            DeliveryAttempt(
                change_id=a.change_id,
                attempted_at=a.attempted_at,
                status_code=a.status_code,
                error=a.error,
                duration_ms=a.duration_ms,
            )
            for a in attempts
        ],
    )
