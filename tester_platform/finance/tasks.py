from __future__ import annotations

from celery import shared_task


@shared_task(name="finance.payout_run_execute", ignore_result=True)
def payout_run_execute_task(run_id: int) -> str:
    """Send a run's pending payouts. Safe to retry or deliver twice: finished runs send
    nothing, and an attempted payout is looked up at Stripe before it is sent."""
    from tester_platform.finance.services import payout_run_execute

    return payout_run_execute(run_id=run_id).status


@shared_task(name="finance.scheduled_payout_runs", ignore_result=True)
def scheduled_payout_runs_task(period_end: str | None = None) -> list[int]:
    """One run per active program for the period ending yesterday (beat, optional)."""
    import datetime as dt

    from django.utils import timezone

    from tester_platform.finance.services import payout_run_start
    from tester_platform.programs.models import Program

    end = dt.date.fromisoformat(period_end) if period_end else timezone.localdate() - dt.timedelta(days=1)
    runs = []
    for program in Program.objects.filter(status=Program.Status.ACTIVE).order_by("pk"):
        runs.append(payout_run_start(actor=None, period_end=end, program=program, scheduled=True).pk)
    return runs


@shared_task(name="finance.webhook_retry_failed", ignore_result=True)
def webhook_retry_failed_task() -> int:
    from payments.webhooks import webhook_retry_failed

    return len(webhook_retry_failed())
