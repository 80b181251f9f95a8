from __future__ import annotations

import logging

from celery import shared_task

log = logging.getLogger(__name__)


@shared_task(name="finance.payout_run_execute", ignore_result=True)
def payout_run_execute_task(run_id: int, trigger: str = "approval") -> str:
    """Send an approved run's pending payouts. Safe to retry or deliver twice: finished runs
    send nothing, and an attempted payout is looked up at Stripe before it is sent. If this
    worker dies mid-run, the beat task `finance.payout_runs_resume` finishes the run."""
    from tester_platform.finance.services import payout_run_execute

    return payout_run_execute(run_id=run_id, trigger=trigger).status


@shared_task(name="finance.payout_runs_resume", ignore_result=True)
def payout_runs_resume_task() -> dict:
    """Beat: resume interrupted runs and runs without progress for PAYOUT_RUN_STALL_SECONDS."""
    from tester_platform.finance.services import payout_runs_resume

    return {str(k): v for k, v in payout_runs_resume().items()}


@shared_task(name="finance.scheduled_payout_runs", ignore_result=True)
def scheduled_payout_runs_task(period_end: str | None = None) -> list[int]:
    """One PREPARED run per active program, up to the last closed period (beat, monthly).
    Never approved here: a finance user approves after reading the preview."""
    import datetime as dt

    from payments.errors import NothingToPay
    from tester_platform.finance.services import closed_period_end, payout_run_prepare
    from tester_platform.programs.models import Program

    end = dt.date.fromisoformat(period_end) if period_end else closed_period_end()
    runs = []
    for program in Program.objects.filter(status=Program.Status.ACTIVE).order_by("pk"):
        try:
            runs.append(payout_run_prepare(actor=None, period_end=end, program=program, scheduled=True).pk)
        except NothingToPay as nothing:
            log.info("scheduled payout run for %s: %s", program.slug, nothing.message)
    return runs


@shared_task(name="finance.webhook_retry_failed", ignore_result=True)
def webhook_retry_failed_task() -> int:
    from payments.webhooks import webhook_retry_failed

    return len(webhook_retry_failed())


@shared_task(name="finance.reconcile", ignore_result=True)
def reconcile_task() -> int:
    """Beat, daily: compare the ledger, our payouts and what Stripe lists; keep the report."""
    from tester_platform.finance.services import reconciliation_run

    return reconciliation_run(actor=None).difference_count
