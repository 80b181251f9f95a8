"""Periodic tasks of finance, for settings.py to merge into CELERY_BEAT_SCHEDULE (optional).

Importable from settings.py: no Django imports here."""

from __future__ import annotations

from celery.schedules import crontab

BEAT_SCHEDULE: dict[str, dict] = {
    # 1st of the month, 04:00 UTC: one run per active program is PREPARED for everything
    # owed up to the last closed period. The schedule never approves: a finance user does,
    # after reading the preview (and a run prepared by a person needs a second person).
    "finance-payout-runs-monthly": {
        "task": "finance.scheduled_payout_runs",
        "schedule": crontab(minute=0, hour=4, day_of_month=1),
        "options": {"expires": 12 * 3600},
    },
    "finance-webhook-retry": {"task": "finance.webhook_retry_failed", "schedule": 300},
    # Every day at 05:30 UTC: ledger, payouts and what Stripe lists, compared; differences
    # are kept for finance (the reconciliation page).
    "finance-reconcile-daily": {
        "task": "finance.reconcile",
        "schedule": crontab(minute=30, hour=5),
        "options": {"expires": 6 * 3600},
    },
}


def beat_schedule(*, resume_every: int = 60) -> dict[str, dict]:
    schedule = {name: dict(entry) for name, entry in BEAT_SCHEDULE.items()}
    # Interrupted runs, and runs without progress for PAYOUT_RUN_STALL_SECONDS (a killed
    # worker), are resumed through the same idempotent path; nobody has to click.
    schedule["finance-payout-runs-resume"] = {
        "task": "finance.payout_runs_resume",
        "schedule": resume_every,
        "options": {"expires": max(resume_every, 30)},
    }
    return schedule
