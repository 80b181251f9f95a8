"""Stripe webhooks: verify the signature on the raw body, store each event once (unique
Stripe event id), then process it idempotently with a recorded processing status.

Receiving is cheap (verify, one insert) so the endpoint answers fast; processing is a few
row updates, done right after in its own transaction (a failure is recorded on the event
row and retried by `webhook_retry_failed`, or by Stripe's own redelivery)."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Callable

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from payments import gateway
from payments.models import WebhookEvent
from payments.payouts import connected_account_apply, payout_apply_transfer_event

log = logging.getLogger(__name__)


@dataclass
class Outcome:
    event: WebhookEvent
    created: bool
    processed_now: bool = False
    changes: list[tuple[str, Any, Any]] = field(default_factory=list)  # (kind, object, detail)


def _account_updated(obj: dict) -> list:
    account, changed = connected_account_apply(data=obj)
    return [("account", account, changed)] if account is not None and changed else []


def _transfer(event_type: str) -> Callable[[dict], list]:
    def handle(obj: dict) -> list:
        return [("payout", payout, old) for payout, old in
                payout_apply_transfer_event(event_type=event_type, transfer=obj)]
    return handle


HANDLERS: dict[str, Callable[[dict], list]] = {
    "account.updated": _account_updated,
    "transfer.created": _transfer("transfer.created"),
    "transfer.updated": _transfer("transfer.updated"),
    "transfer.paid": _transfer("transfer.paid"),
    "transfer.failed": _transfer("transfer.failed"),
    "transfer.reversed": _transfer("transfer.reversed"),
}


def webhook_receive(*, payload: bytes, signature_header: str | None) -> Outcome:
    """Verify and store (once). Raises WebhookSignatureInvalid before anything is written."""
    event = gateway.event_verify(payload=payload, signature_header=signature_header)
    try:
        with transaction.atomic():
            row = WebhookEvent.objects.create(stripe_event_id=event["id"][:80], type=event["type"][:80],
                                              payload=event)
        return Outcome(event=row, created=True)
    except IntegrityError:
        return Outcome(event=WebhookEvent.objects.get(stripe_event_id=event["id"][:80]), created=False)


def webhook_process(*, event_id: int) -> Outcome:
    """Process one stored event exactly once: the row is locked, its status checked, the
    handler run and the status set in one transaction. Unknown types are marked ignored."""
    outcome = Outcome(event=WebhookEvent.objects.get(pk=event_id), created=False)
    try:
        with transaction.atomic():
            event = WebhookEvent.objects.select_for_update().get(pk=event_id)
            outcome.event = event
            if event.status in (WebhookEvent.Status.PROCESSED, WebhookEvent.Status.IGNORED):
                return outcome
            handler = HANDLERS.get(event.type)
            if handler is None:
                event.status = WebhookEvent.Status.IGNORED
            else:
                obj = (event.payload.get("data") or {}).get("object") or {}
                outcome.changes = handler(obj)
                event.status = WebhookEvent.Status.PROCESSED
            event.processed_at = timezone.now()
            event.error = ""
            event.attempts += 1
            event.save(update_fields=["status", "processed_at", "error", "attempts"])
            outcome.processed_now = True
    except Exception as exc:  # recorded on the row; Stripe redelivers on our non-2xx answer
        log.exception("webhook event %s failed", event_id)
        WebhookEvent.objects.filter(pk=event_id).exclude(status=WebhookEvent.Status.PROCESSED).update(
            status=WebhookEvent.Status.FAILED, error=f"{type(exc).__name__}: {exc}"[:2000],
            attempts=F("attempts") + 1)
        outcome.event.refresh_from_db()
    return outcome


def webhook_retry_failed(*, limit: int = 100) -> list[Outcome]:
    ids = list(WebhookEvent.objects.filter(status__in=[WebhookEvent.Status.FAILED, WebhookEvent.Status.RECEIVED])
               .order_by("received_at").values_list("pk", flat=True)[:limit])
    return [webhook_process(event_id=pk) for pk in ids]
