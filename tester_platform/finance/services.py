"""Finance workflows over the payments engine: the platform decides who may do what and
records every sensitive action in the audit trail; the engine moves the money."""
from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.db import transaction

from payments import payouts as engine
from payments import webhooks
from payments.models import ConnectedAccount, Payout, PayoutRun
from tester_platform.audit.services import audit_record
from tester_platform.errors import InvalidInput
from tester_platform.policy import Act, authorize
from tester_platform.programs.models import Program

log = logging.getLogger(__name__)


def payout_account_connect(*, artist, refresh_url: str, return_url: str) -> tuple[ConnectedAccount, str]:
    """Create the artist's Stripe Express account if needed and an onboarding link."""
    existed = engine.connected_account_for(artist=artist) is not None
    account, url = engine.connected_account_start(artist=artist, email=artist.email, refresh_url=refresh_url,
                                                  return_url=return_url)
    audit_record(action="payout_account.onboarding_started" if existed else "payout_account.created",
                 actor=artist, subject=artist, target=account, data={"stripe_account": account.stripe_account_id})
    return account, url


def payout_account_refresh(*, artist) -> ConnectedAccount | None:
    account = engine.connected_account_for(artist=artist)
    if account is None:
        return None
    account, changed = engine.connected_account_refresh(account=account)
    if changed:
        audit_record(action="payout_account.updated", actor=artist, subject=artist, target=account,
                     data={"changed": changed, "via": "return from onboarding"})
    return account


def payout_run_start(*, actor: Any, period_end: dt.date, program: Program | None = None,
                     scheduled: bool = False, enqueue: bool = True) -> PayoutRun:
    """Plan a run (amounts fixed now) and execute it in a Celery task after commit."""
    from tester_platform.finance.tasks import payout_run_execute_task

    authorize(actor, Act.FINANCE)
    with transaction.atomic():
        run = engine.payout_run_create(period_end=period_end, program_id=program.pk if program else None,
                                       created_by=actor, scheduled=scheduled)
        audit_record(action="payout_run.created", actor=actor, program=program, target=run,
                     data={"period_end": period_end.isoformat(), "payouts": run.payout_count,
                           "total_minor": run.total_minor, "skipped": len(run.skipped), "scheduled": scheduled})
        if enqueue:
            transaction.on_commit(lambda: payout_run_execute_task.delay(run.pk))
    return run


def _audit_payout_change(payout: Payout, old_status: str, *, via: str) -> None:
    audit_record(action=f"payout.{payout.status}", subject=payout.artist, target=payout,
                 program=payout.run.program if payout.run_id else None,
                 data={"from": old_status, "amount_minor": payout.amount_minor, "currency": payout.currency,
                       "stripe_transfer": payout.stripe_transfer_id or "", "failure_code": payout.failure_code,
                       "failure_reason": payout.failure_reason, "run": payout.run_id, "via": via})


def payout_run_execute(*, run_id: int, actor: Any = None) -> PayoutRun:
    """Send the run's pending payouts (also how a run is resumed). Safe to repeat."""
    authorize(actor, Act.FINANCE)
    run = engine.payout_run_execute(
        run_id=run_id, on_change=lambda payout, old: _audit_payout_change(payout, old, via="payout run"))
    if actor is not None:
        audit_record(action="payout_run.executed", actor=actor, program=run.program, target=run,
                     data={"status": run.status})
    return run


def webhook_handle(*, payload: bytes, signature_header: str | None) -> webhooks.Outcome:
    """Verify, store once, process once; audit what the event changed."""
    outcome = webhooks.webhook_receive(payload=payload, signature_header=signature_header)
    if outcome.event.status in ("processed", "ignored"):
        return outcome
    processed = webhooks.webhook_process(event_id=outcome.event.pk)
    processed.created = outcome.created
    for kind, obj, detail in processed.changes:
        if kind == "payout":
            _audit_payout_change(obj, detail, via=f"stripe {processed.event.type}")
        elif kind == "account":
            audit_record(action="payout_account.updated", subject=obj.artist, target=obj,
                         data={"changed": detail, "via": f"stripe {processed.event.type}"})
    return processed


def parse_period_end(value: Any) -> dt.date:
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise InvalidInput("period_end is a date (YYYY-MM-DD).", field="period_end") from None
