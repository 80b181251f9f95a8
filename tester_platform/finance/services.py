"""Finance workflows over the payments engine: the platform decides who may do what and
records every sensitive action in the audit trail; the engine moves the money."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.db import transaction

from payments import payouts as engine
from payments import webhooks
from payments.gateway import CONNECT, PLATFORM  # noqa: F401  (the endpoints, for views)
from payments.models import ConnectedAccount, Payout, PayoutRun
from tester_platform.audit.services import audit_record
from tester_platform.common.days import local_day
from tester_platform.policy import Act, authorize
from tester_platform.programs.models import Program

log = logging.getLogger(__name__)


def payout_account_connect(*, artist, refresh_url: str, return_url: str) -> tuple[ConnectedAccount, str]:
    """Create the artist's Stripe Express account if needed and an onboarding link."""
    existed = engine.connected_account_for(artist=artist) is not None
    account, url = engine.connected_account_start(
        artist=artist, email=artist.email, refresh_url=refresh_url, return_url=return_url
    )
    audit_record(
        action="payout_account.onboarding_started" if existed else "payout_account.created",
        actor=artist,
        subject=artist,
        target=account,
        data={"stripe_account": account.stripe_account_id},
    )
    return account, url


def payout_account_refresh(*, artist) -> ConnectedAccount | None:
    account = engine.connected_account_for(artist=artist)
    if account is None:
        return None
    account, changed = engine.connected_account_refresh(account=account)
    if changed:
        audit_record(
            action="payout_account.updated",
            actor=artist,
            subject=artist,
            target=account,
            data={"changed": changed, "via": "return from onboarding"},
        )
    return account


def closed_period_end(today: dt.date | None = None) -> dt.date:
    """The last day of the last closed period: the Sunday that ended the last ISO week (the
    week the pay floor was last assessed for, so its top-ups are in the ledger)."""
    today = today or local_day()
    return today - dt.timedelta(days=today.weekday() + 1)


def payout_run_prepare(
    *, actor: Any, period_end: dt.date | None = None, program: Program | None = None, scheduled: bool = False
) -> PayoutRun:
    """Fix a run's amounts and show them: nothing is sent until a second finance user
    approves (`payout_run_approve`). A run with nothing to pay is not created
    (NothingToPay says who is owed but cannot be paid, and why)."""
    authorize(actor, Act.FINANCE)
    period_end = period_end or closed_period_end()
    with transaction.atomic():
        run = engine.payout_run_create(
            period_end=period_end, program_id=program.pk if program else None, created_by=actor, scheduled=scheduled
        )
        audit_record(
            action="payout_run.prepared",
            actor=actor,
            program=program,
            target=run,
            data={
                "period_end": period_end.isoformat(),
                "payouts": run.payout_count,
                "total_minor": run.total_minor,
                "skipped": len(run.skipped),
                "scheduled": scheduled,
                "digest": engine.run_preview_digest(run_id=run.pk),
            },
        )
    return run


def payout_run_approve(*, actor: Any, run: PayoutRun, digest: str | None = None) -> PayoutRun:
    """Four eyes: a finance user other than the preparer approves exactly the previewed
    amounts; the transfers are then created by a task, after commit."""
    from tester_platform.finance.tasks import payout_run_execute_task

    authorize(actor, Act.FINANCE)
    with transaction.atomic():
        run = engine.payout_run_approve(run_id=run.pk, approved_by=actor, digest=digest)
        audit_record(
            action="payout_run.approved",
            actor=actor,
            program=run.program,
            target=run,
            data={
                "prepared_by": run.created_by_id,
                "payouts": run.payout_count,
                "total_minor": run.total_minor,
                "digest": engine.run_preview_digest(run_id=run.pk),
            },
        )
        run_id = run.pk
        transaction.on_commit(lambda: payout_run_execute_task.delay(run_id, "approval"))
    return run


def payout_run_discard(*, actor: Any, run: PayoutRun) -> PayoutRun:
    """Drop a run awaiting approval: nothing was sent, the money stays owed."""
    authorize(actor, Act.FINANCE)
    with transaction.atomic():
        run = engine.payout_run_discard(run_id=run.pk, discarded_by=actor)
        audit_record(
            action="payout_run.discarded",
            actor=actor,
            program=run.program,
            target=run,
            data={"payouts": run.payout_count, "total_minor": run.total_minor},
        )
    return run


def _audit_payout_change(payout: Payout, old_status: str, *, via: str) -> None:
    audit_record(
        action=f"payout.{payout.status}",
        subject=payout.artist,
        target=payout,
        program=payout.run.program if payout.run_id else None,
        data={
            "from": old_status,
            "amount_minor": payout.amount_minor,
            "currency": payout.currency,
            "stripe_transfer": payout.stripe_transfer_id or "",
            "stripe_payout": payout.stripe_payout_id,
            "failure_code": payout.failure_code,
            "failure_reason": payout.failure_reason,
            "run": payout.run_id,
            "via": via,
        },
    )
    # The notification hook of the payout lifecycle (sent, arrived, failed, reversed).
    from tester_platform.notifications.payouts import payout_status_changed

    payout_status_changed(payout)


def payout_run_execute(*, run_id: int, actor: Any = None, trigger: str = "manual") -> PayoutRun:
    """Send the approved run's pending payouts (also how a run is resumed). Safe to repeat:
    each call is an attempt finance sees, with its outcome."""
    authorize(actor, Act.FINANCE)
    try:
        run = engine.payout_run_execute(
            run_id=run_id,
            trigger=trigger,
            actor=actor,
            on_change=lambda payout, old: _audit_payout_change(payout, old, via="payout run"),
        )
    except Exception as exc:
        try:
            run = PayoutRun.objects.select_related("program").get(pk=run_id)
            if run.status == PayoutRun.Status.INTERRUPTED:
                audit_record(
                    action="payout_run.interrupted",
                    actor=actor,
                    program=run.program,
                    target=run,
                    data={"trigger": trigger, "error": run.last_error},
                )
        except Exception:  # the database itself is what failed; the stalled run is resumed later
            log.exception("could not audit the interruption of payout run %s", run_id)
        raise exc
    attempt = run.attempts.order_by("-pk").first()
    if attempt is not None and attempt.outcome == attempt.Outcome.FINISHED and attempt.trigger == trigger[:20]:
        audit_record(
            action="payout_run.executed",
            actor=actor,
            program=run.program,
            target=run,
            data={"trigger": trigger, "status": run.status, "attempt": attempt.pk, "recorded": attempt.recorded},
        )
    return run


def payout_runs_resume(*, stall_seconds: int | None = None) -> dict[int, str]:
    """The beat task's body: every interrupted run, and every approved or running one without
    progress for PAYOUT_RUN_STALL_SECONDS, goes through the same idempotent execution.
    {run id: status or error}; one run's failure does not stop the others."""
    from django.conf import settings

    results: dict[int, str] = {}
    stall = stall_seconds if stall_seconds is not None else settings.PAYOUT_RUN_STALL_SECONDS
    for run_id in engine.payout_runs_to_resume(stall_seconds=stall):
        try:
            results[run_id] = payout_run_execute(run_id=run_id, actor=None, trigger="resume").status
        except Exception as exc:  # recorded on the run and its attempt; the next beat tries again
            log.warning("payout run %s not resumed yet: %s", run_id, exc)
            results[run_id] = f"error: {exc}"
    return results


def reconciliation_run(*, actor: Any = None):
    """Compare the ledger, our payouts and what Stripe lists; keep and audit the report (the
    daily beat task runs it with actor None; finance can run it now)."""
    from payments.reconciliation import reconcile

    authorize(actor, Act.FINANCE)
    report = reconcile(requested_by=actor)
    audit_record(
        action="reconciliation.run",
        actor=actor,
        target=report,
        data={
            "differences": report.difference_count,
            "codes": sorted({d["code"] for d in report.differences}),
            "accounts": report.accounts_checked,
            "transfers": report.transfers_checked,
            "error": report.error,
        },
    )
    return report


def webhook_handle(
    *, payload: bytes, signature_header: str | None, endpoint: str = webhooks.PLATFORM
) -> webhooks.Outcome:
    """Verify (with the endpoint's own secret), store once, process once; audit what the
    event changed."""
    outcome = webhooks.webhook_receive(payload=payload, signature_header=signature_header, endpoint=endpoint)
    if outcome.event.status in ("processed", "ignored"):
        return outcome
    processed = webhooks.webhook_process(event_id=outcome.event.pk)
    processed.created = outcome.created
    for kind, obj, detail in processed.changes:
        if kind == "payout":
            _audit_payout_change(obj, detail, via=f"stripe {processed.event.type}")
        elif kind == "account":
            audit_record(
                action="payout_account.updated",
                subject=obj.artist,
                target=obj,
                data={"changed": detail, "via": f"stripe {processed.event.type}"},
            )
    return processed
