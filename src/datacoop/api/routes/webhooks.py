"""Webhooks: a signed-in participant's endpoints, and the log of what was delivered to each."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from datacoop.api.deps import CurrentCaller, WebhooksDep
from datacoop.api.params import PAGED, After, Id, Page, page_of
from datacoop.webhooks.schemas import (
    DeliveryPublic,
    SubscriptionCreate,
    SubscriptionCreated,
    SubscriptionPublic,
)

router = APIRouter(prefix="/webhooks", tags=["webhooks"])


@router.post("", response_model=SubscriptionCreated, status_code=status.HTTP_201_CREATED)
def create_webhook(
    webhooks: WebhooksDep, who: CurrentCaller, body: SubscriptionCreate
) -> SubscriptionCreated:
    """Register an endpoint for the event types you want; you get only those you are entitled to
    (a task's requester: its submissions decided, epochs posted, versions frozen; a buyer: its orders
    delivered). The answer holds the signing secret, shown this once."""
    return webhooks.subscribe(who, body)


@router.get("", response_model=list[SubscriptionPublic], responses=PAGED)
def list_webhooks(
    webhooks: WebhooksDep, who: CurrentCaller, response: Response, after: After = None, limit: Page = 100
) -> list[SubscriptionPublic]:
    """Your endpoints (without their secrets), oldest first, a page at a time (X-Next-Cursor: the next)."""
    return page_of(response, webhooks.subscriptions(who, after=after, limit=limit + 1), limit)


@router.delete("/{subscription_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_webhook(webhooks: WebhooksDep, who: CurrentCaller, subscription_id: Id) -> Response:
    """Delete one of your endpoints, with its pending deliveries and its log."""
    webhooks.unsubscribe(who, subscription_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{subscription_id}/deliveries", response_model=list[DeliveryPublic], responses=PAGED)
def list_deliveries(
    webhooks: WebhooksDep, who: CurrentCaller, response: Response, subscription_id: Id, after: After = None,
    limit: Page = 100,
) -> list[DeliveryPublic]:  # fmt: skip
    """The delivery log of one of your endpoints: each event, newest first (a log is read from its end),
    with every attempt, a page at a time: X-Next-Cursor is the next page's ``after``, which lists the
    deliveries below that id."""
    return page_of(response, webhooks.deliveries(who, subscription_id, limit + 1, before=after), limit)
