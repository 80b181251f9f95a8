"""Periodic tasks of finance, for settings.py to merge into CELERY_BEAT_SCHEDULE (optional).

Importable from settings.py: no Django imports here."""
from __future__ import annotations

from celery.schedules import crontab

BEAT_SCHEDULE: dict[str, dict] = {
    # 1st of the month, 04:00 UTC: one payout run per active program for everything earned
    # up to the end of yesterday (amounts fixed at creation, execution exactly once).
    "finance-payout-runs-monthly": {
        "task": "finance.scheduled_payout_runs",
        "schedule": crontab(minute=0, hour=4, day_of_month=1),
        "options": {"expires": 12 * 3600},
    },
    "finance-webhook-retry": {"task": "finance.webhook_retry_failed", "schedule": 300},
}


def beat_schedule() -> dict[str, dict]:
    return {name: dict(entry) for name, entry in BEAT_SCHEDULE.items()}
