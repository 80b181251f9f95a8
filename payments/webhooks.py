"""Stripe webhooks, two endpoints as Stripe has them: the platform's own events (transfers)
and the Connect endpoint's events on connected accounts (account.updated, payout.*), each
verified with its own signing secret on the raw body, stored once (unique Stripe event id),
then processed idempotently with a recorded processing status.

Receiving is cheap (verify, one insert) so the endpoint answers fast; processing is a few
row updates, done right after in its own transaction (a failure is recorded on the event
row and retried by `webhook_retry_failed`, or by Stripe's own redelivery). A payout event
first reads, outside that transaction, which payments the payout carries (Stripe's payout
reconciliation); matching is always within the event's `account`."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from payments import gateway
from payments.gateway import CONNECT as CONNECT  # re-exported: the endpoints the product names
from payments.gateway import PLATFORM as PLATFORM
from payments.models import WebhookEvent
from payments.payouts import (
    PAYOUT_EVENTS,
    TRANSFER_EVENTS,
    connected_account_apply,
    payout_apply_account_payout,
    payout_apply_transfer_event,
    payout_event_sources,
)

log = logging.getLogger(__name__)


@dataclass
class Outcome:
    event: WebhookEvent
    created: bool
    processed_now: bool = False
    changes: list[tuple[str, Any, Any]] = field(default_factory=list)  # (kind, object, detail)


def _account_updated(event: WebhookEvent, obj: dict[str, Any], prepared: Any) -> list[Any]:
    account, changed = connected_account_apply(data=obj, account_id=event.account)
    return [("account", account, changed)] if account is not None and changed else []


def _transfer(event: WebhookEvent, obj: dict[str, Any], prepared: Any) -> list[Any]:
    return [("payout", payout, old) for payout, old in payout_apply_transfer_event(event_type=event.type, transfer=obj)]


def _account_payout(event: WebhookEvent, obj: dict[str, Any], prepared: Any) -> list[Any]:
    return [
        ("payout", payout, old)
        for payout, old in payout_apply_account_payout(
            account_id=event.account, stripe_payout=obj, sources=prepared or []
        )
    ]


def _payout_sources(event: WebhookEvent, obj: dict[str, Any]) -> list[dict[str, Any]]:
    return payout_event_sources(account_id=event.account, stripe_payout=obj)


# What each endpoint handles. Other types are stored and marked ignored; an event of the
# other endpoint's kind (a transfer event signed with the Connect secret) is ignored too.
HANDLERS: dict[str, dict[str, Callable[[WebhookEvent, dict[str, Any], Any], list[Any]]]] = {
    PLATFORM: {event_type: _transfer for event_type in TRANSFER_EVENTS},
    CONNECT: {"account.updated": _account_updated, **{event_type: _account_payout for event_type in PAYOUT_EVENTS}},
}
# Reads (Stripe calls) a handler needs, made before its transaction opens.
PREPARE: dict[str, dict[str, Callable[[WebhookEvent, dict[str, Any]], Any]]] = {
    PLATFORM: {},
    CONNECT: {event_type: _payout_sources for event_type in PAYOUT_EVENTS},
}


def webhook_receive(*, payload: bytes, signature_header: str | None, endpoint: str = PLATFORM) -> Outcome:
    """Verify and store (once). Raises WebhookSignatureInvalid before anything is written."""
    event = gateway.event_verify(payload=payload, signature_header=signature_header, endpoint=endpoint)
    try:
        with transaction.atomic():
            row = WebhookEvent.objects.create(
                stripe_event_id=event["id"][:80],
                type=event["type"][:80],
                payload=event,
                endpoint=endpoint,
                account=str(event.get("account") or "")[:64],
            )
        return Outcome(event=row, created=True)
    except IntegrityError:
        return Outcome(event=WebhookEvent.objects.get(stripe_event_id=event["id"][:80]), created=False)


def webhook_process(*, event_id: int) -> Outcome:
    """Process one stored event exactly once: the row is locked, its status checked, the
    handler run and the status set in one transaction. Unknown types are marked ignored."""
    outcome = Outcome(event=WebhookEvent.objects.get(pk=event_id), created=False)
    try:
        stored = outcome.event
        if stored.status in (WebhookEvent.Status.PROCESSED, WebhookEvent.Status.IGNORED):
            return outcome
        obj = (stored.payload.get("data") or {}).get("object") or {}
        prepare = PREPARE.get(stored.endpoint, {}).get(stored.type)
        prepared = prepare(stored, obj) if prepare is not None else None
        with transaction.atomic():
            event = WebhookEvent.objects.select_for_update().get(pk=event_id)
            outcome.event = event
            if event.status in (WebhookEvent.Status.PROCESSED, WebhookEvent.Status.IGNORED):
                return outcome
            handler = HANDLERS.get(event.endpoint, {}).get(event.type)
            if handler is None:
                event.status = WebhookEvent.Status.IGNORED
            else:
                outcome.changes = handler(event, obj, prepared)
                event.status = WebhookEvent.Status.PROCESSED
            event.processed_at = timezone.now()
            event.error = ""
            event.attempts += 1
            event.save(update_fields=["status", "processed_at", "error", "attempts"])
            outcome.processed_now = True
    except Exception as exc:  # recorded on the row; Stripe redelivers on our non-2xx answer
        log.exception("webhook event %s failed", event_id)
        WebhookEvent.objects.filter(pk=event_id).exclude(status=WebhookEvent.Status.PROCESSED).update(
            status=WebhookEvent.Status.FAILED, error=f"{type(exc).__name__}: {exc}"[:2000], attempts=F("attempts") + 1
        )
        outcome.event.refresh_from_db()
    return outcome


def webhook_retry_failed(*, limit: int = 100) -> list[Outcome]:
    ids = list(
        WebhookEvent.objects.filter(status__in=[WebhookEvent.Status.FAILED, WebhookEvent.Status.RECEIVED])
        .order_by("received_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )
    return [webhook_process(event_id=pk) for pk in ids]
